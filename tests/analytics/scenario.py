"""One week of navegasoft (America/Bogota, Mon-Fri 08:00-18:00, Colombian holidays) with a holiday
(Tue 2026-12-08), a weekend, a pause, a re-target, a merge and its undo, a reopen, an ineligible
customer, an event of unknown type and a back-dated status change. The metrics the tests expect are
computed by hand in the docstrings of tests/analytics/test_reports.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.schemas import (
    SlaCancelled,
    SlaExempted,
    SlaPaused,
    SlaResumed,
    SlaRetargeted,
    Target,
    TicketEscalated,
    TicketMerged,
)

from .builders import VERSION, Log, tid

BOG = ZoneInfo("America/Bogota")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BOG)


def week_log(path: Path) -> Path:
    log = Log()
    # C: previous Friday 17:00 -> Monday 10:00 (the weekend in between)
    log.opened("c", at(4, 17), "NS-000003")
    log.classified("c", at(4, 17), "anomalia")
    log.started("c", at(4, 17), at(7, 17), amount=72, type_="anomalia")
    log.status("c", at(7, 10), "resuelto")
    log.met("c", at(7, 10), at(7, 17))
    # D: pregunta re-targeted to problema, warned, breached on the holiday, escalated, still open
    log.opened("d", at(7, 8), "NS-000004")
    log.classified("d", at(7, 8), "pregunta")
    log.started("d", at(7, 8), at(9, 8), amount=48, type_="pregunta")
    log.classified("d", at(7, 8, 30), "problema", by="agent")
    log.add(SlaRetargeted(deadline=at(8, 8), policy_version=VERSION, target=Target(amount=24, unit="calendar_hours"),
                          previous_deadline=at(9, 8), rule="retarget"), at(7, 8, 30), "d", "sla_watch")
    log.status("d", at(7, 9), "en_proceso")
    log.warning("d", at(7, 20), at(8, 8), 0.5)
    log.breached("d", at(8, 8))
    log.add(TicketEscalated(from_level="nivel_1", to_level="nivel_2", reason="sla_breached", rule="001 §3.5"),
            at(8, 8), "d", "escalation")
    # A: a pause of 2 h; its first `en_proceso` is stored late (back-dated), after its later events
    log.opened("a", at(7, 9), "NS-000001")
    log.classified("a", at(7, 9), "problema")
    log.started("a", at(7, 9), at(8, 9))
    log.status("a", at(7, 11), "en_proceso_del_solicitante")
    log.add(SlaPaused(deadline=None, policy_version=VERSION, remaining_seconds=22 * 3600), at(7, 11), "a", "sla_watch")
    log.status("a", at(7, 13), "en_proceso")
    log.add(SlaResumed(deadline=at(8, 11), policy_version=VERSION), at(7, 13), "a", "sla_watch")
    log.status("a", at(7, 15), "resuelto")
    log.met("a", at(7, 15), at(8, 11))
    # B: Monday 17:00 -> Wednesday 09:00 across the holiday
    log.opened("b", at(7, 17), "NS-000002")
    log.classified("b", at(7, 17), "pregunta")
    log.started("b", at(7, 17), at(9, 17), amount=48, type_="pregunta")
    log.status("a", at(7, 10), "en_proceso")  # A's, back-dated
    log.status("b", at(9, 9), "resuelto")
    log.met("b", at(9, 9), at(9, 17))
    # E: merged into A, the merge undone, then resolved: one clock, counted once
    log.opened("e", at(9, 9), "NS-000005")
    log.classified("e", at(9, 9), "solicitud")
    log.started("e", at(9, 9), at(14, 9), amount=3, unit="business_days", type_="solicitud")
    log.add(TicketMerged(into_ticket_id=tid("a"), into_ticket_number="NS-000001"), at(9, 9, 30), "e", "intake")
    log.add(SlaCancelled(deadline=None, policy_version=VERSION, reason="fusionado"), at(9, 9, 30), "e", "sla_watch")
    log.add(TicketMerged(into_ticket_id=tid("a"), into_ticket_number="NS-000001", undone=True), at(9, 10), "e",
            "intake")
    log.started("e", at(9, 9), at(14, 9), amount=3, unit="business_days", type_="solicitud")
    log.status("e", at(9, 12), "resuelto")
    log.met("e", at(9, 12), at(14, 9))
    # F: resolved, reopened the next day, resolved again
    log.opened("f", at(9, 10), "NS-000006")
    log.classified("f", at(9, 10), "problema")
    log.started("f", at(9, 10), at(10, 10))
    log.status("f", at(9, 11), "resuelto")
    log.met("f", at(9, 11), at(10, 10))
    log.status("f", at(10, 9), "en_proceso")
    log.status("f", at(10, 10), "resuelto")
    # G: an ineligible customer (in arrears), exempt, cancelled
    log.opened("g", at(10, 9), "NS-000007", eligible=False, reason="in_arrears")
    log.classified("g", at(10, 9), "problema")
    log.add(SlaExempted(reason="ineligible", policy_version=VERSION), at(10, 9), "g", "sla_watch")
    log.status("g", at(10, 9, 30), "cancelado")
    # an event type this build does not know, and a line that is not JSON
    log.doc({"event_id": "0190f0f0-0000-7000-8000-000000000001", "event_type": "ticket.teleported",
             "schema_version": 1, "occurred_at": "2026-12-10T15:00:00+00:00", "tenant": "navegasoft",
             "ticket_id": str(tid("a")), "correlation_id": "0190f0f0-0000-7000-8000-000000000001",
             "producer": "future", "data": {"to": "mars"}})
    return log.write(path)


WEEK_FIRST = at(7, 0).date()
WEEK_LAST = WEEK_FIRST + timedelta(days=6)
