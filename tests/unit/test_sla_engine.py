"""The SLA engine and sla_watch's rules with seed 001's policy (navegasoft)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardia.policy import Policies
from services.sla_watch.engine import Clock, Engine
from services.sla_watch.rules import SlaRules, TicketClocks
from shared.schemas import (
    Area,
    Channel,
    Priority,
    SlaBreached,
    SlaCancelled,
    SlaExempted,
    SlaPaused,
    SlaResumed,
    SlaStarted,
    Status,
    Target,
    TicketClassified,
    TicketType,
)

BOG = ZoneInfo("America/Bogota")
POLICY = Policies.load()["navegasoft"]
CAL = POLICY.business_calendar
ENGINE = Engine(CAL)
WARNINGS = (0.5, 0.8, 0.95)
H24 = Target(amount=24, unit="calendar_hours")
BD3 = Target(amount=3, unit="business_days")


def bog(*args: int) -> datetime:
    return datetime(*args, tzinfo=BOG)


def classified(ticket_type: TicketType | None, priority: Priority = Priority.media) -> TicketClassified:
    return TicketClassified(ticket_type=ticket_type, priority=priority, area=Area.otro, confidence=0.9,
                            classifier="test")


def rules() -> SlaRules:
    return SlaRules(POLICY.sla, Engine(CAL), POLICY.channels.whatsapp_official, POLICY.version)


def ticket(opened_at: datetime, channel: Channel = Channel.email) -> TicketClocks:
    return TicketClocks(tenant="navegasoft", opened_at=opened_at, channel=channel, correlation_id="c")


def start_clock(target: Target, opened_at: datetime) -> Clock:
    clock, _ = ENGINE.start(target, opened_at, WARNINGS, "v")
    return clock


def kinds(emitted) -> list[str]:
    return [type(e.payload).__name__ for e in emitted]


# -- seed 001 targets through SlaRules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ticket_type", "hours"),
    [(TicketType.problema, 24), (TicketType.pregunta, 48), (TicketType.anomalia, 72)],
)
def test_calendar_hour_targets_of_001_ignore_weekends_and_holidays(ticket_type: TicketType, hours: int) -> None:
    opened = bog(2026, 12, 4, 17, 0)  # Friday evening, before a weekend and the 8 Dec holiday
    t = ticket(opened)
    out = rules().on_classified(t, classified(ticket_type), bog(2026, 12, 4, 17, 5))
    started = out[0].payload
    assert isinstance(started, SlaStarted)
    assert started.target == Target(amount=hours, unit="calendar_hours")
    assert started.deadline == opened + timedelta(hours=hours)
    assert started.started_at == opened  # counts from the opening, not from the classification
    assert started.ticket_type == ticket_type.value
    assert t.clocks["resolution"].deadline == started.deadline


def test_solicitud_gets_three_business_days_skipping_weekend_and_holiday() -> None:
    t = ticket(bog(2026, 12, 4, 10, 0))  # Fri; Tue 8 Dec is Inmaculada Concepción
    started = rules().on_classified(t, classified(TicketType.solicitud, Priority.baja), bog(2026, 12, 4, 10, 1))[0]
    assert started.payload.target == Target(amount=3, unit="business_days")
    assert started.payload.deadline == bog(2026, 12, 10, 10, 0)


def test_usabilidad_gets_two_business_days_skipping_reyes_magos_monday() -> None:
    t = ticket(bog(2027, 1, 8, 10, 0))
    started = rules().on_classified(t, classified(TicketType.usabilidad, Priority.baja), bog(2027, 1, 8, 10, 1))[0]
    assert started.payload.target == Target(amount=2, unit="business_days")
    assert started.payload.deadline == bog(2027, 1, 13, 10, 0)


@pytest.mark.parametrize("ticket_type", [TicketType.solicitud, TicketType.anomalia, TicketType.pregunta])
def test_urgent_gets_eight_calendar_hours_whatever_the_type(ticket_type: TicketType) -> None:
    opened = bog(2026, 12, 4, 16, 0)
    t = ticket(opened)
    started = rules().on_classified(t, classified(ticket_type, Priority.urgente), opened)[0].payload
    assert started.target == Target(amount=8, unit="calendar_hours")
    assert started.deadline == opened + timedelta(hours=8)
    assert started.priority == "urgente"


def test_bug_gets_no_support_deadline_and_no_clock() -> None:
    t = ticket(bog(2026, 12, 14, 9, 0))
    out = rules().on_classified(t, classified(TicketType.bug, Priority.alta), bog(2026, 12, 14, 9, 1))
    assert kinds(out) == ["SlaExempted"]
    assert out[0].payload.reason == "no_support_deadline"
    assert t.clocks == {}
    assert t.exempt == "no_support_deadline"


def test_whatsapp_is_exempt_where_it_is_not_an_official_channel() -> None:
    assert POLICY.channels.whatsapp_official is False
    t = ticket(bog(2026, 12, 14, 9, 0), channel=Channel.whatsapp)
    out = rules().on_classified(t, classified(TicketType.problema, Priority.urgente), bog(2026, 12, 14, 9, 1))
    assert [e.payload for e in out] == [SlaExempted(reason="whatsapp_not_official", policy_version=POLICY.version)]
    assert t.clocks == {}


def test_whatsapp_gets_a_clock_where_it_is_official() -> None:
    r = SlaRules(POLICY.sla, Engine(CAL), whatsapp_official=True, version="v")
    t = ticket(bog(2026, 12, 14, 9, 0), channel=Channel.whatsapp)
    out = r.on_classified(t, classified(TicketType.problema), bog(2026, 12, 14, 9, 1))
    assert isinstance(out[0].payload, SlaStarted)


def test_a_message_that_is_no_request_gets_no_clock() -> None:
    t = ticket(bog(2026, 12, 14, 9, 0))
    out = rules().on_classified(t, classified(None, Priority.baja), bog(2026, 12, 14, 9, 1))
    assert kinds(out) == ["SlaExempted"]
    assert out[0].payload.reason == "not_a_request"


def test_a_second_classification_retargets_instead_of_starting_a_second_clock() -> None:
    r = rules()
    opened = bog(2026, 12, 14, 9, 0)
    t = ticket(opened)
    r.on_classified(t, classified(TicketType.problema), bog(2026, 12, 14, 9, 1))
    out = r.on_classified(t, classified(TicketType.pregunta), bog(2026, 12, 14, 10, 0))
    assert kinds(out) == ["SlaRetargeted"]
    assert out[0].payload.deadline == opened + timedelta(hours=48)  # from the original start
    assert len(t.clocks) == 1


def test_late_classification_emits_the_warnings_already_due() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    out = rules().on_classified(ticket(opened), classified(TicketType.problema), opened + timedelta(hours=13))
    assert kinds(out) == ["SlaStarted", "SlaWarning"]
    assert out[1].payload.fraction == 0.5
    assert out[1].at == opened + timedelta(hours=13)  # already due when classified: fires at once, then


def test_classified_while_waiting_on_the_customer_starts_paused() -> None:
    t = ticket(bog(2026, 12, 14, 9, 0))
    t.status = Status.en_proceso_del_solicitante
    out = rules().on_classified(t, classified(TicketType.problema), bog(2026, 12, 14, 10, 0))
    assert kinds(out) == ["SlaStarted", "SlaPaused"]
    assert out[1].payload.remaining_seconds == 23 * 3600
    assert t.clocks["resolution"].state == "paused"


# -- business days started outside working hours --------------------------------------------------------------


def test_business_day_clock_started_outside_working_hours_counts_from_the_next_opening() -> None:
    opened = bog(2026, 12, 4, 20, 0)  # Friday evening
    clock = start_clock(BD3, opened)
    assert clock.total == 30 * 3600  # three full working days: Mon 7, Wed 9, Thu 10 (Tue 8 is a holiday)
    calendar_deadline = CAL.add_business_days(opened, 3)
    assert calendar_deadline == bog(2026, 12, 11, 8, 0)
    # the engine's deadline is the same point of working time as the calendar's (no working time between)
    assert CAL.business_seconds_between(min(clock.deadline, calendar_deadline),
                                        max(clock.deadline, calendar_deadline)) == 0
    assert CAL.business_seconds_between(opened, clock.deadline) == 30 * 3600


# -- warnings and breach ----------------------------------------------------------------------------------------


def test_warnings_fire_in_fraction_order_then_the_breach() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    out = ENGINE.due(clock, opened + timedelta(days=5))
    assert kinds(out) == ["SlaWarning", "SlaWarning", "SlaWarning", "SlaBreached"]
    assert [e.payload.fraction for e in out[:3]] == [0.5, 0.8, 0.95]
    assert [e.at for e in out] == [opened + timedelta(hours=h) for h in (12, 19.2, 22.8, 24)]
    assert [e.key for e in out] == ["warning:0.5", "warning:0.8", "warning:0.95", "breached"]
    assert clock.state == "breached"


def test_each_warning_and_the_breach_fire_at_most_once() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    first = ENGINE.due(clock, opened + timedelta(hours=13))
    assert kinds(first) == ["SlaWarning"]
    assert ENGINE.due(clock, opened + timedelta(hours=13)) == []
    second = ENGINE.due(clock, opened + timedelta(hours=30))
    assert kinds(second) == ["SlaWarning", "SlaWarning", "SlaBreached"]
    assert ENGINE.due(clock, opened + timedelta(hours=31)) == []
    assert ENGINE.due(clock, opened + timedelta(days=40)) == []


def test_nothing_is_due_before_the_first_warning() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    assert ENGINE.due(clock, opened + timedelta(hours=11, minutes=59)) == []


def test_next_instant_walks_the_warnings_then_the_deadline_then_stops() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    assert ENGINE.next_instant(clock) == opened + timedelta(hours=12)
    ENGINE.due(clock, opened + timedelta(hours=12))
    assert ENGINE.next_instant(clock) == opened + timedelta(hours=19.2)
    ENGINE.due(clock, opened + timedelta(hours=23))
    assert ENGINE.next_instant(clock) == opened + timedelta(hours=24)
    ENGINE.due(clock, opened + timedelta(hours=24))
    assert ENGINE.next_instant(clock) is None


def test_business_clock_warnings_fall_in_working_time() -> None:
    opened = bog(2026, 12, 14, 9, 0)  # Monday
    clock = start_clock(BD3, opened)
    assert clock.deadline == bog(2026, 12, 17, 9, 0)
    out = ENGINE.due(clock, bog(2026, 12, 15, 23, 0))
    assert [e.payload.fraction for e in out] == [0.5]
    assert out[0].at == bog(2026, 12, 15, 14, 0)  # 15 working hours after Mon 09:00


# -- pause / resume ------------------------------------------------------------------------------------------------


def test_pause_reports_what_is_left_and_resume_pushes_the_deadline_by_the_pause() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    paused = ENGINE.pause(clock, opened + timedelta(hours=4), "s1")
    assert kinds(paused) == ["SlaPaused"]
    assert paused[0].payload == SlaPaused(deadline=None, policy_version="v", remaining_seconds=20 * 3600)
    assert ENGINE.next_instant(clock) is None
    assert ENGINE.due(clock, opened + timedelta(days=10)) == []  # a paused clock never fires
    resumed = ENGINE.resume(clock, opened + timedelta(hours=10), "s2")
    assert kinds(resumed) == ["SlaResumed"]
    assert resumed[0].payload.deadline == opened + timedelta(hours=30)
    assert clock.deadline == opened + timedelta(hours=30)


def test_a_business_clock_paused_overnight_loses_no_working_time() -> None:
    clock = start_clock(BD3, bog(2026, 12, 14, 9, 0))
    before = clock.deadline
    ENGINE.pause(clock, bog(2026, 12, 14, 18, 0), "evening")
    ENGINE.resume(clock, bog(2026, 12, 15, 8, 0), "morning")
    assert clock.deadline == before


def test_pause_first_emits_what_was_already_due() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    out = ENGINE.pause(clock, opened + timedelta(hours=20), "late")
    assert kinds(out) == ["SlaWarning", "SlaWarning", "SlaPaused"]


def test_resume_of_a_running_clock_does_nothing() -> None:
    clock = start_clock(H24, bog(2026, 12, 14, 9, 0))
    deadline = clock.deadline
    assert ENGINE.resume(clock, bog(2026, 12, 14, 10, 0), "x") == []
    assert clock.deadline == deadline


_TARGETS = st.sampled_from([
    H24, Target(amount=8, unit="calendar_hours"), BD3, Target(amount=2, unit="business_days"),
    Target(amount=6, unit="business_hours"),
])
_OPENED = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC))
_SECONDS = st.integers(min_value=0, max_value=10 * 24 * 3600)


@settings(max_examples=150, deadline=None, database=None)
@given(target=_TARGETS, opened=_OPENED, steps=st.lists(st.tuples(_SECONDS, _SECONDS), min_size=1, max_size=3))
def test_pausing_never_shortens_the_deadline(target: Target, opened: datetime, steps) -> None:
    clock = start_clock(target, opened)
    original = clock.deadline
    at = opened
    for run, wait in steps:
        at += timedelta(seconds=run)
        ENGINE.pause(clock, at, f"p{at}")
        if clock.state != "paused":
            break  # it breached before the pause
        at += timedelta(seconds=wait)
        ENGINE.resume(clock, at, f"r{at}")
        assert clock.deadline >= original


@settings(max_examples=100, deadline=None, database=None)
@given(opened=_OPENED, days=st.integers(1, 5))
def test_business_day_deadline_always_falls_inside_working_time(opened: datetime, days: int) -> None:
    clock = start_clock(Target(amount=days, unit="business_days"), opened)
    local_day = clock.deadline.astimezone(BOG).date()
    assert any(a <= clock.deadline <= b for a, b in CAL.intervals(local_day))
    assert CAL.business_seconds_between(opened, clock.deadline) == pytest.approx(clock.total)


# -- met / cancelled ----------------------------------------------------------------------------------------------


def test_resolved_exactly_at_the_deadline_is_met() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    out = ENGINE.meet(clock, clock.deadline)
    assert kinds(out) == ["SlaWarning", "SlaWarning", "SlaWarning", "SlaMet"]
    assert out[-1].at == opened + timedelta(hours=24)
    assert clock.state == "met"
    assert ENGINE.due(clock, opened + timedelta(days=3)) == []


def test_resolved_a_microsecond_after_the_deadline_is_breached_then_met_late() -> None:
    clock = start_clock(H24, bog(2026, 12, 14, 9, 0))
    out = ENGINE.meet(clock, clock.deadline + timedelta(microseconds=1))
    assert kinds(out)[-2:] == ["SlaBreached", "SlaMet"]
    assert out[-1].payload.breached is True
    assert out[-1].payload.overdue_seconds == pytest.approx(1e-6)
    assert clock.state == "met"


def test_resolved_while_paused_is_met() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    ENGINE.pause(clock, opened + timedelta(hours=1), "p")
    out = ENGINE.meet(clock, opened + timedelta(days=9))
    assert kinds(out) == ["SlaMet"]


def test_cancel_stops_everything() -> None:
    opened = bog(2026, 12, 14, 9, 0)
    clock = start_clock(H24, opened)
    out = ENGINE.cancel(clock, opened + timedelta(hours=1), "duplicado")
    assert [e.payload for e in out] == [
        SlaCancelled(deadline=opened + timedelta(hours=24), policy_version="v", reason="duplicado")
    ]
    assert clock.state == "cancelled"
    assert ENGINE.next_instant(clock) is None
    assert ENGINE.due(clock, opened + timedelta(days=10)) == []
    assert ENGINE.pause(clock, opened + timedelta(hours=2), "p") == []
    assert ENGINE.resume(clock, opened + timedelta(hours=3), "r") == []
    assert ENGINE.meet(clock, opened + timedelta(hours=4)) == []
    assert ENGINE.cancel(clock, opened + timedelta(hours=5), "again") == []


def test_a_met_clock_cannot_be_cancelled() -> None:
    clock = start_clock(H24, bog(2026, 12, 14, 9, 0))
    ENGINE.meet(clock, bog(2026, 12, 14, 10, 0))
    assert ENGINE.cancel(clock, bog(2026, 12, 14, 11, 0), "late") == []
    assert clock.state == "met"


# -- status changes through SlaRules ------------------------------------------------------------------------------


def test_waiting_on_the_customer_pauses_and_their_answer_resumes() -> None:
    r = rules()
    opened = bog(2026, 12, 14, 9, 0)
    t = ticket(opened)
    r.on_classified(t, classified(TicketType.problema), opened)
    paused = r.on_status(t, Status.en_proceso_del_solicitante, opened + timedelta(hours=2), "k1")
    assert kinds(paused) == ["SlaPaused"]
    assert r.on_customer_message(t, opened + timedelta(hours=5), "k2")[0].payload == SlaResumed(
        deadline=opened + timedelta(hours=27), policy_version=POLICY.version
    )
    assert t.status is Status.en_proceso
    assert r.on_customer_message(t, opened + timedelta(hours=6), "k3") == []  # not waiting any more


def test_resolved_status_meets_and_cancelled_status_cancels() -> None:
    r = rules()
    opened = bog(2026, 12, 14, 9, 0)
    a, b = ticket(opened), ticket(opened)
    r.on_classified(a, classified(TicketType.problema), opened)
    r.on_classified(b, classified(TicketType.problema), opened)
    assert kinds(r.on_status(a, Status.resuelto, opened + timedelta(hours=1), "k")) == ["SlaMet"]
    out = r.on_status(b, Status.cancelado, opened + timedelta(hours=1), "k")
    assert kinds(out) == ["SlaCancelled"]
    assert r.on_timer(b, "resolution", opened + timedelta(days=2)) == []


def test_a_timer_recomputes_what_is_due_and_ignores_unknown_clocks() -> None:
    r = rules()
    opened = bog(2026, 12, 14, 9, 0)
    t = ticket(opened)
    r.on_classified(t, classified(TicketType.problema), opened)
    assert r.on_timer(t, "first_response", opened + timedelta(days=2)) == []
    out = r.on_timer(t, "resolution", opened + timedelta(hours=24))
    assert kinds(out) == ["SlaWarning", "SlaWarning", "SlaWarning", "SlaBreached"]
    assert isinstance(out[-1].payload, SlaBreached)
    assert out[-1].payload.deadline == opened + timedelta(hours=24)
    assert r.on_timer(t, "resolution", opened + timedelta(hours=25)) == []  # a second wake-up: nothing new
