"""`report sla` (001): attainment against 001's targets by type, priority, area and channel; the breach
list; warnings by fraction; the paused share; exemptions with their reasons; cancelled clocks apart."""

from __future__ import annotations

from collections import Counter

import duckdb

from guardia.analytics import metrics
from guardia.analytics.reports.common import (
    EXEMPT_ES,
    STATUS_ES,
    Chart,
    Report,
    Section,
    Window,
    fetch,
    hours,
    local,
    pct,
    target_label,
)
from guardia.policy import TenantPolicy

DIMENSIONS = {"type": "tipo", "priority": "prioridad", "area": "área", "channel": "canal"}


def build(con: duckdb.DuckDBPyConnection, policy: TenantPolicy | None, tenant: str, w: Window) -> Report:
    report = Report("sla", "Cumplimiento de ANS (SLA)", tenant, w.label(),
                    "Objetivos del 001: problema 24 h, pregunta 48 h, anomalía 72 h, solicitud 3 días hábiles, "
                    "usabilidad 2 días hábiles, urgente 8 h; bugs sin plazo")
    total = metrics.attainment(con, tenant, w.start, w.end)
    paused, clocked = metrics.paused_share(con, tenant, w.start, w.end)
    exempt = fetch(con, """SELECT sla_exempt_reason AS reason, count(*) AS n FROM tickets WHERE tenant = $t
        AND sla_outcome = 'exempt' AND opened_at >= $s AND opened_at < $e GROUP BY 1 ORDER BY 1""",
                   {"t": tenant, "s": w.start, "e": w.end})
    cancelled = fetch(con, """SELECT t.ticket_number, c.cancelled_at
        FROM clocks c JOIN tickets t USING (tenant, ticket_id)
        WHERE c.tenant = $t AND c.outcome = 'cancelled' AND c.cancelled_at >= $s AND c.cancelled_at < $e
        ORDER BY c.cancelled_at, t.ticket_number""", {"t": tenant, "s": w.start, "e": w.end})
    report.sections.append(Section("resumen", "Resumen", [("metric", "Indicador"), ("value", "Valor")], [
        {"metric": "Relojes cumplidos", "value": total.met},
        {"metric": "Relojes incumplidos", "value": total.breached},
        {"metric": "Cumplimiento (%)", "value": total.rate},
        {"metric": "Relojes cancelados", "value": len(cancelled)},
        {"metric": "Tiques exentos", "value": sum(r["n"] for r in exempt)},
        {"metric": "Tiempo en pausa (h hábiles)", "value": hours(paused)},
        {"metric": "Tiempo con reloj (h hábiles)", "value": hours(clocked)},
        {"metric": "Proporción en pausa (%)", "value": None if clocked == 0 else round(100 * paused / clocked, 1)},
    ], note="Cumplimiento = cumplidos / (cumplidos + incumplidos), sobre los relojes cuyo evento final "
            "(cumplido, o el primer incumplimiento) cae en el periodo; un reloj cuenta una vez aunque se "
            "haya reclasificado."))
    for dim, label in DIMENSIONS.items():
        rows = []
        for key, met, breached in metrics.attainment_rows(con, tenant, w.start, w.end, by=dim):
            row = {"key": key or "(sin dato)", "met": met, "breached": breached, "rate": pct(met, met + breached)}
            if dim == "type":
                row["target"] = target_label(policy, key)
            rows.append(row)
        columns = [("key", label.capitalize())] + ([("target", "Objetivo (001)")] if dim == "type" else []) + [
            ("met", "Cumplidos"), ("breached", "Incumplidos"), ("rate", "Cumplimiento (%)")]
        chart = Chart("Cumplimiento por tipo (%)", "key", ("rate",)) if dim == "type" else None
        report.sections.append(Section(f"cumplimiento_por_{label.replace('á', 'a')}",
                                       f"Cumplimiento por {label}", columns, rows, chart))
    breaches = fetch(con, """SELECT t.ticket_number, t.type, t.priority, t.area, t.channel, t.status, c.started_at,
            c.last_deadline, c.breached_at, c.target_amount, c.target_unit, t.resolved_at,
            epoch(t.resolved_at) - epoch(c.last_deadline) AS late_s,
            business_seconds(t.tenant, c.last_deadline, t.resolved_at) AS late_b
        FROM clocks c JOIN tickets t USING (tenant, ticket_id)
        WHERE c.tenant = $t AND c.outcome = 'breached' AND c.breached_at >= $s AND c.breached_at < $e
        ORDER BY c.breached_at, t.ticket_number""", {"t": tenant, "s": w.start, "e": w.end})
    tz = w.tz
    report.sections.append(Section("incumplimientos", "Incumplimientos", [
        ("ticket_number", "Tique"), ("type", "Tipo"), ("priority", "Prioridad"), ("area", "Área"), ("channel", "Canal"),
        ("deadline", "Vencía"), ("breached_at", "Incumplido"), ("resolved_at", "Resuelto"),
        ("late_h", "Retraso (h calendario)"), ("late_bh", "Retraso (h hábiles)"), ("status", "Etapa actual")],
        [{"ticket_number": r["ticket_number"], "type": r["type"], "priority": r["priority"], "area": r["area"],
          "channel": r["channel"], "deadline": local(r["last_deadline"], tz),
          "breached_at": local(r["breached_at"], tz),
          "resolved_at": local(r["resolved_at"], tz), "late_h": hours(r["late_s"]), "late_bh": hours(r["late_b"]),
          "status": STATUS_ES.get(r["status"], r["status"])} for r in breaches],
        note="El retraso se mide desde el vencimiento hasta la resolución (eventos de etapa)."))
    weekly = Counter(r["breached_at"].astimezone(tz).strftime("%G-W%V") for r in breaches)
    report.sections.append(Section("incumplimientos_por_semana", "Incumplimientos por semana",
                                   [("week", "Semana"), ("n", "Incumplimientos")],
                                   [{"week": k, "n": v} for k, v in sorted(weekly.items())],
                                   Chart("Incumplimientos por semana", "week", ("n",))))
    warnings = fetch(con, """SELECT fraction, count(*) AS n FROM clock_events WHERE tenant = $t
        AND event_type = 'sla.warning' AND "at" >= $s AND "at" < $e GROUP BY 1 ORDER BY 1""",
                     {"t": tenant, "s": w.start, "e": w.end})
    report.sections.append(Section("alertas_por_fraccion", "Alertas por fracción consumida",
                                   [("fraction", "Fracción (%)"), ("n", "Alertas")],
                                   [{"fraction": round(r["fraction"] * 100), "n": r["n"]} for r in warnings]))
    report.sections.append(Section("exenciones", "Exenciones (tiques abiertos en el periodo)",
                                   [("reason", "Motivo"), ("n", "Tiques")],
                                   [{"reason": EXEMPT_ES.get(r["reason"], r["reason"]), "n": r["n"]} for r in exempt]))
    report.sections.append(Section("cancelados", "Relojes cancelados (fusión o cancelación), aparte",
                                   [("ticket_number", "Tique"), ("at", "Cancelado")],
                                   [{"ticket_number": r["ticket_number"], "at": local(r["cancelled_at"], tz)}
                                    for r in cancelled]))
    return report
