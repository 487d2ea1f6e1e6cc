"""A breached clock keeps its ledger (analysts' resolution time and time over the deadline): after
`sla.breached` it still reports pauses, resumptions and the late resolution, arms nothing new, and a
cancellation still retracts it. Pure: the engine and sla_watch's rules with seed 001's policy."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from guardia.policy import Policies
from services.sla_watch.engine import Engine
from services.sla_watch.rules import SlaRules, TicketClocks
from shared.schemas import (
    Area,
    Channel,
    Priority,
    SlaCancelled,
    SlaMet,
    SlaPaused,
    SlaResumed,
    Status,
    TicketClassified,
    TicketType,
)

BOG = ZoneInfo("America/Bogota")
POLICY = Policies.load()["navegasoft"]


def bog(*args: int) -> datetime:
    return datetime(*args, tzinfo=BOG)


def breached_problema() -> tuple[SlaRules, TicketClocks, datetime]:
    """A problema (001 §3.2: 24 calendar hours) opened Monday 09:00, breached Tuesday 09:00."""
    rules = SlaRules(POLICY.sla, Engine(POLICY.business_calendar), POLICY.channels.whatsapp_official, POLICY.version)
    opened = bog(2026, 12, 14, 9, 0)
    t = TicketClocks(tenant="navegasoft", opened_at=opened, channel=Channel.email, correlation_id="c")
    rules.on_classified(t, TicketClassified(ticket_type=TicketType.problema, priority=Priority.media, area=Area.otro,
                                            confidence=0.9, classifier="test"), opened)
    deadline = opened + timedelta(hours=24)
    fired = rules.on_timer(t, "resolution", deadline + timedelta(hours=1))
    assert [e.payload.event_type for e in fired][-1] == "sla.breached"
    return rules, t, deadline


def test_a_breached_clock_still_reports_its_pause_and_resumption_with_the_missed_deadline() -> None:
    rules, t, deadline = breached_problema()
    paused = rules.on_status(t, Status.en_proceso_del_solicitante, bog(2026, 12, 15, 11, 0), "p")
    assert [type(e.payload) for e in paused] == [SlaPaused]
    assert paused[0].payload.deadline == deadline
    assert paused[0].payload.remaining_seconds == 0
    resumed = rules.on_status(t, Status.en_proceso, bog(2026, 12, 15, 15, 0), "r")
    assert [type(e.payload) for e in resumed] == [SlaResumed]
    assert resumed[0].payload.deadline == deadline
    clock = t.clocks["resolution"]
    assert clock.state == "breached"
    assert [x.what for x in clock.ledger][-3:] == ["breached", "paused", "resumed"]


def test_a_breached_clock_arms_nothing_and_fires_nothing_more_while_it_runs_on() -> None:
    rules, t, _ = breached_problema()
    rules.on_status(t, Status.en_proceso_del_solicitante, bog(2026, 12, 15, 11, 0), "p")
    rules.on_status(t, Status.en_proceso, bog(2026, 12, 15, 15, 0), "r")
    clock = t.clocks["resolution"]
    assert rules.engine.next_instant(clock) is None
    assert rules.on_timer(t, "resolution", bog(2026, 12, 30, 9, 0)) == []


def test_a_late_resolution_is_met_with_the_time_over_the_deadline_in_calendar_and_business_seconds() -> None:
    rules, t, deadline = breached_problema()  # deadline Tue 15 Dec 09:00; working hours 08:00-18:00
    rules.on_status(t, Status.en_proceso_del_solicitante, bog(2026, 12, 15, 11, 0), "p")
    rules.on_status(t, Status.en_proceso, bog(2026, 12, 15, 15, 0), "r")
    out = rules.on_status(t, Status.resuelto, bog(2026, 12, 16, 9, 0), "m")
    assert [type(e.payload) for e in out] == [SlaMet]
    met = out[0].payload
    assert isinstance(met, SlaMet)
    assert met.breached is True and met.deadline == deadline
    assert met.overdue_seconds == 24 * 3600
    assert met.overdue_business_seconds == (9 + 1) * 3600  # Tue 09:00-18:00 and Wed 08:00-09:00
    assert t.clocks["resolution"].state == "met"
    assert rules.on_status(t, Status.resuelto, bog(2026, 12, 16, 10, 0), "again") == []


def test_a_late_resolution_while_paused_is_met_late_too() -> None:
    rules, t, _ = breached_problema()
    rules.on_status(t, Status.en_proceso_del_solicitante, bog(2026, 12, 15, 11, 0), "p")
    out = rules.on_status(t, Status.resuelto, bog(2026, 12, 15, 12, 0), "m")
    assert [type(e.payload) for e in out] == [SlaMet]
    assert out[0].payload.breached is True and out[0].payload.overdue_seconds == 3 * 3600


def test_a_clock_met_on_time_says_it_did_not_breach() -> None:
    rules = SlaRules(POLICY.sla, Engine(POLICY.business_calendar), POLICY.channels.whatsapp_official, POLICY.version)
    opened = bog(2026, 12, 14, 9, 0)
    t = TicketClocks(tenant="navegasoft", opened_at=opened, channel=Channel.email, correlation_id="c")
    rules.on_classified(t, TicketClassified(ticket_type=TicketType.problema, priority=Priority.media, area=Area.otro,
                                            confidence=0.9, classifier="test"), opened)
    met = rules.on_status(t, Status.resuelto, opened + timedelta(hours=2), "m")[-1].payload
    assert isinstance(met, SlaMet)
    assert (met.breached, met.overdue_seconds, met.overdue_business_seconds) == (False, None, None)


def test_cancelling_a_breached_clock_still_retracts_it_and_nothing_follows() -> None:
    rules, t, _ = breached_problema()
    rules.on_status(t, Status.en_proceso_del_solicitante, bog(2026, 12, 15, 11, 0), "p")
    out = rules.on_status(t, Status.cancelado, bog(2026, 12, 15, 12, 0), "c")
    assert [type(e.payload) for e in out] == [SlaCancelled]
    assert rules.on_status(t, Status.resuelto, bog(2026, 12, 15, 13, 0), "m") == []
