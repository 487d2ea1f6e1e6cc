"""001 §3.5 follow-up calls and 001 §3.4.1 No.6's suspension notice."""

from __future__ import annotations

from datetime import datetime

from guardia.policy import Policies
from services.sla_watch.engine import Engine
from services.sla_watch.rules import FOLLOWUP_TIMER, SlaRules, TicketClocks
from shared.schemas import (
    Area,
    Category,
    Channel,
    FollowUpDue,
    FollowUpExhausted,
    Priority,
    Status,
    TicketClassified,
    TicketType,
)

POLICY = Policies.load()["navegasoft"]


def setup() -> tuple[SlaRules, TicketClocks]:
    rules = SlaRules(POLICY.sla, Engine(POLICY.business_calendar), False, POLICY.version)
    t = TicketClocks(tenant="navegasoft", opened_at=datetime.fromisoformat("2026-12-03T09:00:00-05:00"),
                     channel=Channel.email, correlation_id="c")
    rules.classify(t, TicketType.problema, Priority.media, datetime.fromisoformat("2026-12-03T09:01:00-05:00"))
    return rules, t


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_silent_customer_gets_a_call_each_next_working_day_then_goes_to_the_commercial_area() -> None:
    rules, t = setup()
    rules.on_status(t, Status.en_proceso_del_solicitante, at("2026-12-03T10:00:00-05:00"), "k")
    # Thu 3 Dec 10:00 -> Fri 4 (call 1) -> Mon 7 (call 2; weekend skipped) -> Wed 9 (Tue 8 is a holiday)
    assert t.followups.next_instant() == at("2026-12-04T10:00:00-05:00")
    out = rules.on_timer(t, FOLLOWUP_TIMER, at("2026-12-09T10:00:00-05:00"))
    assert [(type(e.payload).__name__, e.at) for e in out] == [
        ("FollowUpDue", at("2026-12-04T10:00:00-05:00")),
        ("FollowUpDue", at("2026-12-07T10:00:00-05:00")),
        ("FollowUpExhausted", at("2026-12-09T10:00:00-05:00")),
    ]
    first = out[0].payload
    assert isinstance(first, FollowUpDue) and first.kind == "llamada_seguimiento" and first.attempt == 1
    assert isinstance(out[2].payload, FollowUpExhausted) and out[2].payload.attempts == 2
    assert rules.on_timer(t, FOLLOWUP_TIMER, at("2026-12-20T10:00:00-05:00")) == []  # once


def test_an_answer_from_the_customer_cancels_the_pending_calls() -> None:
    rules, t = setup()
    rules.on_status(t, Status.en_proceso_del_solicitante, at("2026-12-03T10:00:00-05:00"), "k")
    rules.on_timer(t, FOLLOWUP_TIMER, at("2026-12-04T10:00:00-05:00"))
    rules.on_customer_message(t, at("2026-12-04T15:00:00-05:00"), "m")
    assert t.followups.next_instant() is None
    assert rules.on_timer(t, FOLLOWUP_TIMER, at("2026-12-09T10:00:00-05:00")) == []


def test_a_suspension_schedules_the_seven_day_notice() -> None:
    rules = SlaRules(POLICY.sla, Engine(POLICY.business_calendar), False, POLICY.version)
    t = TicketClocks(tenant="navegasoft", opened_at=at("2026-12-03T09:00:00-05:00"), channel=Channel.email,
                     correlation_id="c")
    rules.on_classified(t, TicketClassified(ticket_type=TicketType.solicitud, priority=Priority.baja,
                                            area=Area.comercial, categories=(Category.bajar_base,), confidence=0.9,
                                            classifier="test"), at("2026-12-03T09:05:00-05:00"))
    assert t.followups.next_instant() == at("2026-12-10T09:05:00-05:00")
    out = rules.on_timer(t, FOLLOWUP_TIMER, at("2026-12-10T09:05:00-05:00"))
    assert len(out) == 1 and isinstance(out[0].payload, FollowUpDue) and out[0].payload.kind == "aviso_baja"
    assert rules.on_timer(t, FOLLOWUP_TIMER, at("2026-12-11T09:05:00-05:00")) == []
