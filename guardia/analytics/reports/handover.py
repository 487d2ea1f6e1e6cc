"""`report handover` (000 §9 C, retroalimentación antes del cambio de turno), at an instant: open tickets
ordered by SLA time left in business time, waiting on the customer with the follow-up due, breached and
at risk, escalated, and ineligible customers for the commercial advisor. Shift boundaries come from the
tenant policy (`reports.shifts`, default 07:00 / 15:00 / 23:00 local)."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from guardia.analytics.policy import ReportsPolicy
from guardia.analytics.reports.common import EXEMPT_ES, STATUS_ES, Report, Section, Window, fetch, hours, local
from guardia.policy import TenantPolicy


def shift_of(at: datetime, w: Window, reports: ReportsPolicy) -> tuple[datetime, datetime]:
    """(start of the shift `at` falls in, its end = the hand-over) as instants."""
    local_at = at.astimezone(w.tz)
    marks = []
    for offset in (-1, 0, 1):
        day = local_at.date() + timedelta(days=offset)
        marks += [datetime.combine(day, b, w.tz) for b in reports.boundaries()]
    start = max(m for m in marks if m <= local_at)
    end = min(m for m in marks if m > local_at)
    return start, end


def build(con: duckdb.DuckDBPyConnection, policy: TenantPolicy | None, tenant: str, w: Window,
          at: datetime) -> Report:
    tz = w.tz
    reports = policy.reports if policy is not None else ReportsPolicy()
    cal = policy.business_calendar if policy is not None else None
    start, end = shift_of(at, w, reports)
    report = Report("handover", "Entrega de turno", tenant,
                    f"turno {start.strftime('%Y-%m-%d %H:%M')} a {end.strftime('%H:%M')}, corte {local(at, tz)}",
                    "000 §9 C: para el asesor comercial y la persona de soporte que recibe")
    p = {"t": tenant, "at": at, "s": start}
    # the state at `at`: statuses and clocks as of that instant, not the replay's end
    open_rows = fetch(con, """WITH st AS (SELECT ticket_id, arg_max(to_status, ("at", seq)) AS status,
                max("at") AS since FROM status_changes WHERE tenant = $t AND "at" <= $at GROUP BY 1),
            ck AS (SELECT ticket_id, arg_max(event_type, ("at", seq)) AS last_event,
                arg_max(deadline, ("at", seq)) FILTER (WHERE deadline IS NOT NULL) AS deadline,
                arg_max(remaining_seconds, ("at", seq)) FILTER (WHERE event_type = 'sla.paused') AS remaining,
                count(*) FILTER (WHERE event_type = 'sla.warning') AS warnings,
                bool_or(event_type = 'sla.breached') AS breached,
                arg_max(target_unit, ("at", seq)) FILTER (WHERE target_unit IS NOT NULL) AS unit
                FROM clock_events WHERE tenant = $t AND clock = 'resolution' AND "at" <= $at GROUP BY 1),
            fu AS (SELECT ticket_id, arg_max(due_at, ("at", seq)) AS due_at, max(attempt) AS attempts,
                bool_or(event_type = 'followup.exhausted') AS exhausted
                FROM clock_events WHERE tenant = $t AND event_type LIKE 'followup.%' AND "at" <= $at GROUP BY 1),
            esc AS (SELECT ticket_id, count(*) AS n, arg_max(to_level, ("at", seq)) AS level,
                arg_max(reason, ("at", seq)) AS reason FROM escalations WHERE tenant = $t AND "at" <= $at GROUP BY 1)
        SELECT t.ticket_number, t.type, t.priority, coalesce(st.status, 'nuevo') AS status, st.since, t.opened_at,
            ck.last_event, ck.deadline, ck.remaining, ck.warnings, coalesce(ck.breached, false) AS breached, ck.unit,
            fu.due_at AS followup_due, fu.attempts, fu.exhausted, coalesce(esc.n, 0) AS escalations, esc.level,
            esc.reason AS escalation_reason, t.eligible, t.eligibility_reason, t.route_to, t.customer_key,
            t.customer_name, t.company, t.sla_exempt_reason
        FROM tickets t LEFT JOIN st USING (ticket_id) LEFT JOIN ck USING (ticket_id) LEFT JOIN fu USING (ticket_id)
            LEFT JOIN esc USING (ticket_id)
        WHERE t.tenant = $t AND t.opened_at <= $at AND coalesce(st.status, 'nuevo') NOT IN ('resuelto', 'cancelado')
            AND (t.merged_at IS NULL OR t.merged_at > $at)
        ORDER BY t.opened_at, t.ticket_number""", {"t": tenant, "at": at})

    def left(r: dict[str, object]) -> tuple[float | None, float | None]:
        deadline = r["deadline"]
        if r["last_event"] == "sla.paused" or not isinstance(deadline, datetime):
            return None, None
        calendar_left = (deadline - at).total_seconds()
        if cal is None:
            return calendar_left, None
        business = cal.business_seconds_between(min(at, deadline), max(at, deadline))
        return calendar_left, business if deadline >= at else -business

    for r in open_rows:
        r["left_s"], r["left_b"] = left(r)
    clocked = sorted((r for r in open_rows if r["left_b"] is not None or r["left_s"] is not None),
                     key=lambda r: (r["left_b"] if r["left_b"] is not None else r["left_s"], r["ticket_number"]))
    waiting = [r for r in open_rows if r["status"] == "en_proceso_del_solicitante"]
    breached = [r for r in open_rows if r["breached"]]
    at_risk = [r for r in open_rows if not r["breached"] and (r["warnings"] or 0) > 0
               and r["last_event"] not in ("sla.paused", "sla.met", "sla.cancelled")]
    escalated = [r for r in open_rows if r["escalations"]]
    ineligible = fetch(con, """SELECT ticket_number, opened_at, customer_key, customer_name, company,
            eligibility_reason, route_to, status FROM tickets WHERE tenant = $t AND eligible = false
            AND opened_at <= $at AND (opened_at >= $s OR status NOT IN ('resuelto', 'cancelado'))
        ORDER BY opened_at, ticket_number""", p)
    report.sections.append(Section("resumen", "Resumen del turno", [("metric", "Indicador"), ("value", "Valor")], [
        {"metric": "Tiques abiertos", "value": len(open_rows)},
        {"metric": "Con reloj en curso", "value": len(clocked)},
        {"metric": "En espera del cliente", "value": len(waiting)},
        {"metric": "Incumplidos", "value": len(breached)},
        {"metric": "En riesgo (alerta sin incumplir)", "value": len(at_risk)},
        {"metric": "Escalados", "value": len(escalated)},
        {"metric": "Clientes no elegibles (área comercial)", "value": len(ineligible)},
    ]))
    report.sections.append(Section("por_vencer", "Abiertos por tiempo restante del ANS (horas hábiles)", [
        ("ticket_number", "Tique"), ("type", "Tipo"), ("priority", "Prioridad"), ("status", "Etapa"),
        ("deadline", "Vence"), ("left_h", "Restante (h calendario)"), ("left_bh", "Restante (h hábiles)")],
        [{"ticket_number": r["ticket_number"], "type": r["type"], "priority": r["priority"],
          "status": STATUS_ES.get(str(r["status"]), r["status"]), "deadline": local(r["deadline"], tz),
          "left_h": hours(r["left_s"]), "left_bh": hours(r["left_b"])} for r in clocked]))
    report.sections.append(Section("en_espera", "En espera del cliente", [
        ("ticket_number", "Tique"), ("since", "Esperando desde"), ("wait_h", "Espera (h calendario)"),
        ("wait_bh", "Espera (h hábiles)"), ("followup", "Seguimiento vence"), ("attempts", "Intentos")],
        [{"ticket_number": r["ticket_number"], "since": local(r["since"], tz),
          "wait_h": hours((at - r["since"]).total_seconds()) if isinstance(r["since"], datetime) else None,
          "wait_bh": hours(cal.business_seconds_between(r["since"], at))
          if cal is not None and isinstance(r["since"], datetime) else None,
          "followup": "agotado: pasa al área comercial" if r["exhausted"] else local(r["followup_due"], tz),
          "attempts": r["attempts"] or 0} for r in waiting]))
    report.sections.append(Section("incumplidos_y_en_riesgo", "Incumplidos y en riesgo", [
        ("ticket_number", "Tique"), ("state", "Situación"), ("deadline", "Vence"), ("left_bh", "Restante (h hábiles)"),
        ("left_h", "Restante (h calendario)")],
        [{"ticket_number": r["ticket_number"], "state": "incumplido" if r["breached"] else "en riesgo",
          "deadline": local(r["deadline"], tz), "left_h": hours(r["left_s"]),
          "left_bh": hours(r["left_b"])} for r in breached + at_risk]))
    report.sections.append(Section("escalados", "Escalados", [
        ("ticket_number", "Tique"), ("level", "Nivel actual"), ("escalations", "Escalamientos"),
        ("escalation_reason", "Motivo")], [{k: r[k] for k in ("ticket_number", "level", "escalations",
                                                                  "escalation_reason")} for r in escalated]))
    report.sections.append(Section("no_elegibles", "Clientes no elegibles (para el asesor comercial)", [
        ("ticket_number", "Tique"), ("opened_at", "Abierto"), ("customer", "Cliente"), ("reason", "Motivo"),
        ("route_to", "Enviar a"), ("status", "Etapa")],
        [{"ticket_number": r["ticket_number"], "opened_at": local(r["opened_at"], tz),
          "customer": r["company"] or r["customer_name"] or r["customer_key"],
          "reason": EXEMPT_ES.get(r["eligibility_reason"], r["eligibility_reason"]), "route_to": r["route_to"],
          "status": STATUS_ES.get(r["status"], r["status"])} for r in ineligible],
        note="Sin --keep-names el cliente aparece como su clave (hash)."))
    return report
