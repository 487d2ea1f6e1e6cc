"""`report daily` (000 §9 A, informe diario): the cases opened and resolved on one local day, with a
summary of each resolution; breaches and warnings of the day; the open count at the end of the day; a
chart of opened vs resolved by hour."""

from __future__ import annotations

import duckdb

from guardia.analytics import metrics
from guardia.analytics.reports.common import OUTCOME_ES, STATUS_ES, Chart, Report, Section, Window, fetch, hours, local
from guardia.policy import TenantPolicy


def build(con: duckdb.DuckDBPyConnection, policy: TenantPolicy | None, tenant: str, w: Window) -> Report:
    tz = w.tz
    p = {"t": tenant, "s": w.start, "e": w.end}
    report = Report("daily", "Informe diario de casos", tenant, w.label(), "000 §9 A: casos del día y resumen "
                    "de los resueltos")
    opened = fetch(con, """SELECT ticket_number, channel, type, priority, area, status, opened_at FROM tickets
        WHERE tenant = $t AND opened_at >= $s AND opened_at < $e ORDER BY opened_at, ticket_number""", p)
    resolved = fetch(con, """WITH r AS (SELECT DISTINCT ticket_id FROM status_changes WHERE tenant = $t
            AND to_status = 'resuelto' AND "at" >= $s AND "at" < $e)
        SELECT t.ticket_number, t.type, t.priority, t.opened_at, t.resolved_at, t.resolution_seconds,
            t.resolution_business_seconds, t.sla_outcome,
            coalesce((SELECT arg_max(coalesce(a.solution, a.reason), (a."at", a.seq)) FROM activities a
                      WHERE a.tenant = t.tenant AND a.ticket_id = t.ticket_id AND a."at" <= t.resolved_at
                      AND coalesce(a.solution, a.reason, '') <> ''),
                     (SELECT arg_max(sc.reason, (sc."at", sc.seq)) FROM status_changes sc
                      WHERE sc.tenant = t.tenant AND sc.ticket_id = t.ticket_id
                      AND sc.to_status = 'resuelto')) AS summary
        FROM tickets t JOIN r USING (ticket_id) WHERE t.tenant = $t ORDER BY t.resolved_at, t.ticket_number""", p)
    alerts = fetch(con, """SELECT t.ticket_number, e.event_type, e.fraction, e."at", e.deadline FROM clock_events e
        JOIN tickets t USING (tenant, ticket_id) WHERE e.tenant = $t AND e.event_type IN ('sla.breached', 'sla.warning')
        AND e."at" >= $s AND e."at" < $e ORDER BY e."at", e.seq""", p)
    backlog = metrics.backlog(con, tenant, w.end)
    n_resolved = metrics.resolved(con, tenant, w.start, w.end)
    report.sections.append(Section("resumen", "Resumen del día", [("metric", "Indicador"), ("value", "Valor")], [
        {"metric": "Casos abiertos en el día", "value": len(opened)},
        {"metric": "Casos resueltos en el día", "value": n_resolved},
        {"metric": "Incumplimientos", "value": sum(a["event_type"] == "sla.breached" for a in alerts)},
        {"metric": "Alertas de vencimiento", "value": sum(a["event_type"] == "sla.warning" for a in alerts)},
        {"metric": "Casos abiertos al cierre del día", "value": backlog},
    ]))
    report.sections.append(Section("abiertos", "Casos abiertos en el día", [
        ("ticket_number", "Tique"), ("opened_at", "Hora"), ("channel", "Canal"), ("type", "Tipo"),
        ("priority", "Prioridad"), ("area", "Área"), ("status", "Etapa actual")],
        [{**r, "opened_at": local(r["opened_at"], tz), "status": STATUS_ES.get(r["status"], r["status"])}
         for r in opened]))
    report.sections.append(Section("resueltos", "Casos resueltos en el día (resumen)", [
        ("ticket_number", "Tique"), ("type", "Tipo"), ("priority", "Prioridad"), ("opened_at", "Abierto"),
        ("resolved_at", "Resuelto"), ("res_h", "Resolución (h calendario)"), ("res_bh", "Resolución (h hábiles)"),
        ("sla", "ANS"), ("summary", "Resumen de la solución")],
        [{"ticket_number": r["ticket_number"], "type": r["type"], "priority": r["priority"],
          "opened_at": local(r["opened_at"], tz), "resolved_at": local(r["resolved_at"], tz),
          "res_h": hours(r["resolution_seconds"]), "res_bh": hours(r["resolution_business_seconds"]),
          "sla": OUTCOME_ES.get(r["sla_outcome"], r["sla_outcome"]), "summary": r["summary"] or ""} for r in resolved]))
    report.sections.append(Section("incumplimientos_y_alertas", "Incumplimientos y alertas del día", [
        ("ticket_number", "Tique"), ("what", "Evento"), ("at", "Hora"), ("deadline", "Vence")],
        [{"ticket_number": a["ticket_number"],
          "what": "Incumplimiento" if a["event_type"] == "sla.breached" else f"Alerta {round(a['fraction'] * 100)} %",
          "at": local(a["at"], tz), "deadline": local(a["deadline"], tz)} for a in alerts]))
    by_hour = fetch(con, """WITH h AS (SELECT range AS hour FROM range(24)),
        o AS (SELECT hour(timezone($tz, opened_at)) AS hour, count(*) AS n FROM tickets
              WHERE tenant = $t AND opened_at >= $s AND opened_at < $e GROUP BY 1),
        r AS (SELECT hour(timezone($tz, "at")) AS hour, count(DISTINCT ticket_id) AS n FROM status_changes
              WHERE tenant = $t AND to_status = 'resuelto' AND "at" >= $s AND "at" < $e GROUP BY 1)
        SELECT h.hour, coalesce(o.n, 0) AS opened, coalesce(r.n, 0) AS resolved
        FROM h LEFT JOIN o USING (hour) LEFT JOIN r USING (hour) ORDER BY h.hour""", {**p, "tz": tz.key})
    report.sections.append(Section("por_hora", "Abiertos y resueltos por hora", [
        ("hour", "Hora"), ("opened", "Abiertos"), ("resolved", "Resueltos")], by_hour,
        Chart("Abiertos vs resueltos por hora", "hour", ("opened", "resolved"))))
    return report
