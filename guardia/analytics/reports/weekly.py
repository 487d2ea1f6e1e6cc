"""`report weekly` (000 §9 B, bitácora semanal): every ticket touched in the week with its trajectory
(stages, escalations, SLA outcome), KPIs against the previous week, the committee's status (001), the
categories and areas with most incidents; charts of the daily flow and of attainment by type."""

from __future__ import annotations

from datetime import timedelta

import duckdb

from guardia.analytics import metrics
from guardia.analytics.reports.common import (
    OUTCOME_ES,
    STATUS_ES,
    Chart,
    Report,
    Section,
    Window,
    fetch,
    hours,
    local_midnight,
    pct,
)
from guardia.policy import TenantPolicy


def _kpis(con: duckdb.DuckDBPyConnection, tenant: str, w: Window) -> dict[str, float | int | None]:
    res = metrics.resolution(con, tenant, w.start, w.end)
    att = metrics.attainment(con, tenant, w.start, w.end)
    reopened, resolved_t = metrics.reopen_rate(con, tenant, w.start, w.end)
    one, resolved_o = metrics.one_touch(con, tenant, w.start, w.end)
    return {
        "opened": metrics.opened(con, tenant, w.start, w.end),
        "resolved": metrics.resolved(con, tenant, w.start, w.end),
        "backlog": metrics.backlog(con, tenant, w.end),
        "attainment": att.rate,
        "reopen_rate": pct(reopened, resolved_t),
        "median_h": hours(res.median_seconds),
        "median_bh": hours(res.median_business_seconds),
        "p90_h": hours(res.p90_seconds),
        "p90_bh": hours(res.p90_business_seconds),
        "one_touch": pct(one, resolved_o),
    }


KPI_LABELS = {"opened": "Abiertos", "resolved": "Resueltos", "backlog": "Pendientes al cierre",
              "attainment": "Cumplimiento ANS (%)", "reopen_rate": "Tasa de reapertura (%)",
              "median_h": "Mediana de resolución (h calendario)", "median_bh": "Mediana de resolución (h hábiles)",
              "p90_h": "P90 de resolución (h calendario)", "p90_bh": "P90 de resolución (h hábiles)",
              "one_touch": "Resueltos en un toque (%)"}


def build(con: duckdb.DuckDBPyConnection, policy: TenantPolicy | None, tenant: str, w: Window) -> Report:
    tz = w.tz
    p = {"t": tenant, "s": w.start, "e": w.end}
    report = Report("weekly", "Bitácora semanal", tenant, w.label(), "000 §9 B: seguimiento de todos los casos")
    previous = Window.of_days(w.first_day - timedelta(days=7), w.last_day - timedelta(days=7), tz)
    now, before = _kpis(con, tenant, w), _kpis(con, tenant, previous)
    rows = []
    for key, label in KPI_LABELS.items():
        a, b = now[key], before[key]
        delta = None if a is None or b is None else round(float(a) - float(b), 2)
        rows.append({"kpi": label, "week": a, "previous": b, "delta": delta})
    report.sections.append(Section("kpis", "Indicadores frente a la semana anterior", [
        ("kpi", "Indicador"), ("week", "Esta semana"), ("previous", "Semana anterior"), ("delta", "Diferencia")], rows))
    touched = fetch(con, """WITH touched AS (SELECT DISTINCT ticket_id FROM events WHERE tenant = $t
            AND decode_error IS NULL AND ticket_id IS NOT NULL AND occurred_at >= $s AND occurred_at < $e)
        SELECT t.ticket_number, t.type, t.priority, t.area, t.status, t.sla_outcome, t.escalations, t.reopens,
            t.merged_into IS NOT NULL AS merged,
            (SELECT string_agg(to_status, ' → ' ORDER BY "at", seq) FROM status_changes sc
             WHERE sc.tenant = t.tenant AND sc.ticket_id = t.ticket_id AND sc."at" < $e) AS stages,
            (SELECT string_agg(coalesce(from_level, '') || '→' || to_level, ', ' ORDER BY "at", seq) FROM escalations x
             WHERE x.tenant = t.tenant AND x.ticket_id = t.ticket_id AND x."at" < $e) AS escalation_path,
            t.opened_at
        FROM tickets t JOIN touched USING (ticket_id) WHERE t.tenant = $t ORDER BY t.opened_at, t.ticket_number""", p)
    report.sections.append(Section("bitacora", "Casos con movimiento en la semana", [
        ("ticket_number", "Tique"), ("type", "Tipo"), ("priority", "Prioridad"), ("area", "Área"),
        ("stages", "Trayectoria (etapas)"), ("escalation_path", "Escalamientos"), ("reopens", "Reaperturas"),
        ("sla", "ANS"), ("status", "Etapa actual")],
        [{**r, "stages": "nuevo → " + r["stages"] if r["stages"] else "nuevo",
          "escalation_path": r["escalation_path"] or "", "sla": OUTCOME_ES.get(r["sla_outcome"], r["sla_outcome"]),
          "status": str(STATUS_ES.get(r["status"], r["status"])) + (" (fusionado)" if r["merged"] else "")}
         for r in touched]))
    every = policy.escalation.committee.every if policy is not None else 5
    c = metrics.committee(con, tenant, w.start, w.end, every)
    report.sections.append(Section("comite", "Comité de mejora (001)", [("metric", "Indicador"), ("value", "Valor")], [
        {"metric": "Comités convocados en la semana", "value": c.convened_in_window},
        {"metric": "Comités convocados en total", "value": c.convened_total},
        {"metric": f"Tiques contados para el próximo comité (de {c.every})", "value": c.toward_next},
        {"metric": "Días del 5.º tique a la convocatoria", "value": ", ".join(str(d) for d in c.days_to_convene)},
    ]))
    cats = fetch(con, """SELECT cat, count(*) AS n FROM (SELECT unnest(categories) AS cat FROM tickets
        WHERE tenant = $t AND opened_at >= $s AND opened_at < $e) GROUP BY 1 ORDER BY n DESC, cat""", p)
    report.sections.append(Section("categorias", "Categorías con más incidencias", [("cat", "Categoría"),
                                                                                  ("n", "Tiques")], cats))
    areas = fetch(con, """SELECT coalesce(area, '(sin clasificar)') AS area, count(*) AS n FROM tickets
        WHERE tenant = $t AND opened_at >= $s AND opened_at < $e GROUP BY 1 ORDER BY n DESC, area""", p)
    report.sections.append(Section("areas", "Áreas (módulos) con más incidencias", [("area", "Área"),
                                                                                  ("n", "Tiques")], areas))
    daily = []
    for day in w.days():
        s, e = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        daily.append({"day": day.isoformat(), "opened": metrics.opened(con, tenant, s, e),
                      "resolved": metrics.resolved(con, tenant, s, e), "backlog": metrics.backlog(con, tenant, e)})
    report.sections.append(Section("diario", "Flujo diario", [("day", "Día"), ("opened", "Abiertos"),
                                                             ("resolved", "Resueltos"), ("backlog", "Pendientes")],
                                   daily, Chart("Abiertos, resueltos y pendientes por día", "day",
                                                ("opened", "resolved", "backlog"), mark="line")))
    by_type = [{"type": k or "(sin dato)", "met": m, "breached": b, "rate": pct(m, m + b)}
               for k, m, b in metrics.attainment_rows(con, tenant, w.start, w.end, by="type")]
    report.sections.append(Section("cumplimiento_por_tipo", "Cumplimiento ANS por tipo", [
        ("type", "Tipo"), ("met", "Cumplidos"), ("breached", "Incumplidos"), ("rate", "Cumplimiento (%)")],
        by_type, Chart("Cumplimiento por tipo (%)", "type", ("rate",))))
    return report
