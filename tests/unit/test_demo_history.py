"""`guardia demo --history`'s generator (guardia/demo/history.py): a deterministic, realistic, well-dated past."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from guardia.demo.history import MARGIN, TENANTS, Call, History, builtin_calendars, generate, parse_span
from guardia.demo.history_send import confirmations_needed
from guardia.settings import Settings

#: A Wednesday; the 60 days before it hold Colombian (Nov 2, Nov 16, Dec 8, Dec 25), Mexican (Nov 16,
#: Dec 25) and Costa Rican (Dec 25) national holidays.
NOW = datetime(2026, 12, 30, 15, 0, tzinfo=UTC)
SPAN = timedelta(days=60)
CALENDARS = builtin_calendars()


@pytest.fixture(scope="module")
def history() -> History:
    return generate(7, SPAN, NOW)


def _when(call: Call) -> datetime:
    return datetime.fromisoformat(call.body["received_at"] if call.kind == "contact" else call.body["at"])


def _by_ticket(history: History) -> dict[str, list[Call]]:
    out: dict[str, list[Call]] = defaultdict(list)
    for call in history.calls:
        out[call.ticket].append(call)
    return out


def test_the_same_seed_gives_the_same_calls_in_the_same_order_and_another_seed_another(history: History) -> None:
    again = generate(7, SPAN, NOW)
    assert again.calls == history.calls
    other = generate(8, SPAN, NOW)
    assert other.calls != history.calls
    assert [c.body.get("text") for c in other.calls] != [c.body.get("text") for c in history.calls]


def test_every_call_is_dated_in_the_past_within_the_span_and_the_schedule_is_in_event_time_order(
    history: History,
) -> None:
    instants = [_when(c) for c in history.calls]
    assert all(c.at == w for c, w in zip(history.calls, instants, strict=True))  # the body says when
    assert instants == sorted(instants)
    assert min(instants) >= NOW - SPAN
    assert max(instants) <= NOW - MARGIN
    assert all(w.tzinfo is not None for w in instants)


def test_at_is_monotonic_per_ticket_and_never_before_its_opening(history: History) -> None:
    for key, calls in _by_ticket(history).items():
        assert calls[0].kind == "contact", key
        opened = _when(calls[0])
        told = [_when(c) for c in calls if c.kind != "contact"]
        assert all(at > opened for at in told), key
        assert told == sorted(told) and len(set(told)) == len(told), key  # strictly increasing
        if told:
            assert calls[1].kind == "status", key  # a status first: the sender waits for triage there


def test_every_tenant_and_each_of_its_channels_appear_with_hundreds_of_tickets(history: History) -> None:
    opened = [t for t in history.tickets if "duplicate" not in t.tags]
    assert 300 <= len(opened) <= 700  # 8-15 a working day across tenants, fewer on weekends and holidays
    assert {t.tenant for t in opened} == set(TENANTS)
    contacts = [c.body for c in history.calls if c.kind == "contact"]
    assert {(b["tenant"], b["channel"]) for b in contacts} >= {
        ("navegasoft", "email"), ("navegasoft", "whatsapp"), ("navegasoft", "webform"), ("mecodex", "whatsapp"),
        ("mecodex", "telegram"), ("miskuentas", "email"), ("wolk", "whatsapp"), ("wolk", "phone")}


def test_the_mix_has_resolutions_pauses_answers_reopens_cancellations_and_open_tickets(history: History) -> None:
    calls = _by_ticket(history)
    statuses = {key: [c.body["status"] for c in cs if c.kind == "status"] for key, cs in calls.items()}
    resolved = [k for k, s in statuses.items() if "resuelto" in s]
    assert len(resolved) > len(history.tickets) / 2
    paused = [k for k, s in statuses.items() if "en_proceso_del_solicitante" in s]
    answered = [k for k in paused if sum(c.kind == "contact" for c in calls[k]) == 2]
    assert len(paused) >= 20 and len(answered) >= 10
    reopened = [k for k, s in statuses.items() if ("resuelto", "en_proceso") in pairwise(s)]
    uncancelled = [k for k, s in statuses.items() if ("cancelado", "nuevo") in pairwise(s)]
    assert len(reopened) >= 5 and len(uncancelled) >= 3
    assert any(s and s[-1] == "cancelado" for s in statuses.values())
    assert any(s and s[-1] not in ("resuelto", "cancelado") for s in statuses.values())
    replies = [c for c in history.calls if c.kind == "reply"]
    assert len(replies) >= len(resolved) and all(c.body["text"].strip() for c in replies)
    resolution = next(c.body for c in history.calls if c.kind == "status" and c.body["status"] == "resuelto")
    assert resolution["reason"] and resolution["command_id"]  # the 004 resolution summary's words


def test_late_tickets_are_resolved_after_every_001_target_so_they_breach_whatever_their_type(
    history: History,
) -> None:
    late = [t for t in history.tickets if "late" in t.tags]
    assert len(late) >= 10
    calls = _by_ticket(history)
    for plan in late:
        cal = CALENDARS[plan.tenant]
        resolved = max(_when(c) for c in calls[plan.key] if c.kind == "status" and c.body["status"] == "resuelto")
        assert resolved - plan.opened_at > timedelta(hours=72), plan.key  # anomalía, the longest in hours
        assert resolved > cal.add_business_days(plan.opened_at, 3), plan.key  # solicitud, 3 working days


def test_contacts_arrive_on_national_holidays_and_weekends_of_the_tenants_own_calendar(history: History) -> None:
    holidays = {(b["tenant"], d) for c in history.calls if c.kind == "contact" and (b := c.body)
                if CALENDARS[b["tenant"]].holiday_name(d := _when(c).astimezone(CALENDARS[b["tenant"]].tz).date())}
    assert {t for t, _ in holidays} == set(TENANTS)  # each tenant's own holidays (CO, MX, CR)
    assert ("miskuentas", datetime(2026, 11, 16).date()) in holidays  # Día de la Revolución (MX)
    assert ("wolk", datetime(2026, 12, 25).date()) in holidays  # Navidad (CR)
    assert ("navegasoft", datetime(2026, 12, 8).date()) in holidays  # Inmaculada Concepción (CO)
    tagged = {t.key for t in history.tickets if "holiday" in t.tags}
    assert tagged and all(CALENDARS[t.tenant].holiday_name(t.opened_at.astimezone(CALENDARS[t.tenant].tz).date())
                          for t in history.tickets if t.key in tagged)
    assert any("weekend" in t.tags for t in history.tickets)


def test_agents_work_the_tenant_calendar_except_on_urgent_tickets(history: History) -> None:
    """A holiday or weekend contact waits for the next working day (its clock follows the calendar)."""
    plans = {t.key: t for t in history.tickets}
    for call in history.calls:
        plan = plans[call.ticket]
        if call.kind == "contact" or plan.urgent:
            continue
        at = _when(call)
        cal = CALENDARS[plan.tenant]
        assert cal.is_working_time(at) or cal.is_working_time(at - timedelta(minutes=1)), (plan.key, at)


def test_a_duplicate_is_the_same_customer_on_another_channel_before_the_first_ticket_is_touched(
    history: History,
) -> None:
    calls = _by_ticket(history)
    dups = [t for t in history.tickets if "duplicate" in t.tags]
    assert len(dups) >= 5
    for dup in dups:
        assert dup.duplicate_of is not None
        first = calls[dup.duplicate_of]
        [again] = calls[dup.key]
        assert again.body["channel"] != first[0].body["channel"]
        assert again.body["customer"]["phone"] == first[0].body["customer"]["phone"]
        touched = [_when(c) for c in first if c.kind == "status"]
        assert not touched or touched[0] > _when(again)


def test_customers_are_distinct_people_so_no_ticket_joins_another_by_accident(history: History) -> None:
    firsts = [cs[0].body for key, cs in _by_ticket(history).items()
              if not next(t for t in history.tickets if t.key == key).duplicate_of]
    keys = [(b["tenant"], b["customer"].get("email") or b["customer"]["phone"]) for b in firsts]
    phones = [(b["tenant"], b["customer"]["phone"]) for b in firsts]
    assert len(set(keys)) == len(keys) and len(set(phones)) == len(phones)


def test_spans_are_days_weeks_or_hours() -> None:
    assert parse_span("60d") == timedelta(days=60)
    assert parse_span("2w") == timedelta(days=14)
    assert parse_span("36h") == timedelta(hours=36)
    for bad in ("60", "d", "0d", "500d", "3m"):
        with pytest.raises(ValueError):
            parse_span(bad)


def test_history_is_refused_without_yes_unless_it_is_the_embedded_default_with_no_provider_accounts() -> None:
    assert confirmations_needed(Settings(), "http://127.0.0.1:8080") == []
    reasons = confirmations_needed(Settings(nats_url="nats://n1:4222", smtp_url="smtp://u:p@mail:587",
                                            env="production"), "https://help.example.co")
    assert len(reasons) == 4
    assert any("GUARDIA_SMTP_URL" in r for r in reasons)
