"""Properties of the SLA engine that must hold for every timeline (hypothesis)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from guardia.policy import Policies
from services.sla_watch.engine import Engine
from services.sla_watch.simulate import parse_timeline, simulate

POLICY = Policies.load()["navegasoft"]
ENGINE = Engine(POLICY.business_calendar)
START = datetime(2026, 11, 2, tzinfo=UTC)
TYPES = ["problema", "pregunta", "anomalia", "solicitud", "usabilidad", "bug", None]
PRIORITIES = ["urgente", "alta", "media", "baja"]
STAGES = ["en_proceso", "en_proceso_del_solicitante", "resuelto", "cancelado", "nuevo"]


@st.composite
def timelines(draw: st.DrawFn, tickets: int = 3) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, tickets))):
        ticket = f"T{n}"
        at = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
        channel = draw(st.sampled_from(["email", "webform", "whatsapp", "phone"]))
        lines.append({"type": "opened", "ticket_id": ticket, "at": at.isoformat(), "channel": channel})
        for _ in range(draw(st.integers(1, 6))):
            at += timedelta(minutes=draw(st.integers(0, 60 * 30)))
            kind = draw(st.sampled_from(["classified", "status", "message"]))
            line: dict[str, Any] = {"type": kind, "ticket_id": ticket, "at": at.isoformat()}
            if kind == "classified":
                line.update(ticket_type=draw(st.sampled_from(TYPES)), priority=draw(st.sampled_from(PRIORITIES)))
            elif kind == "status":
                line["status"] = draw(st.sampled_from(STAGES))
            else:
                line["author"] = draw(st.sampled_from(["customer", "agent"]))
            lines.append(line)
    return lines


def run(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    timeline = parse_timeline(json.dumps(x) for x in lines)
    return simulate(timeline, POLICY.sla, ENGINE, POLICY.channels.whatsapp_official, POLICY.version)


@settings(max_examples=150, deadline=None, database=None)
@given(timelines())
def test_replaying_a_timeline_gives_identical_clocks_whatever_the_order_of_other_tickets(lines: list[dict[str, Any]]
                                                                                         ) -> None:
    first = run(lines)
    assert run(lines) == first
    shuffled = list(lines)
    random.Random(7).shuffle(shuffled)  # same-ticket inputs at distinct instants keep their order by time
    per_ticket = sorted(first, key=lambda r: (r["ticket_id"], r["at"], r["event"]))
    again = sorted(run(sorted(shuffled, key=lambda x: (x["ticket_id"], lines.index(x)))),
                   key=lambda r: (r["ticket_id"], r["at"], r["event"]))
    assert again == per_ticket


@settings(max_examples=150, deadline=None, database=None)
@given(timelines())
def test_business_deadlines_always_fall_inside_working_time(lines: list[dict[str, Any]]) -> None:
    breached: set[str] = set()
    for record in run(lines):
        if record["event"] == "breached":
            breached.add(record["ticket_id"])
        if record["deadline"] is None or record["ticket_id"] in breached:
            continue  # after a breach the clock's events carry the deadline it missed, whatever its kind
        deadline = datetime.fromisoformat(record["deadline"])
        # calendar-hour clocks may end any time; business clocks end inside working time (or at a closing)
        if record["event"] in ("started", "resumed", "retargeted") and _business(record, lines):
            cal = POLICY.business_calendar
            assert cal.is_working_time(deadline) or cal.is_working_time(deadline - timedelta(microseconds=1))


def _business(record: dict[str, Any], lines: list[dict[str, Any]]) -> bool:
    """Was the ticket's last classification before this record of a business-time type (not urgent)?"""
    at = datetime.fromisoformat(record["at"])
    same_instant = [x for x in lines if x["ticket_id"] == record["ticket_id"] and x["type"] == "classified"
                    and datetime.fromisoformat(x["at"]) == at]
    if len(same_instant) > 1:
        return False  # several classifications at one instant: which one produced the record is ambiguous here
    if same_instant and record["event"] == "resumed":
        # resumed by a status change at the instant of a reclassification: whichever came first in the
        # timeline decides which clock the resumption restarts (hypothesis found a calendar one here)
        return False
    last = None
    for line in lines:
        if line["ticket_id"] == record["ticket_id"] and line["type"] == "classified" and \
                datetime.fromisoformat(line["at"]) <= at:
            last = line
    return last is not None and last["ticket_type"] in ("solicitud", "usabilidad") and last["priority"] != "urgente"


@settings(max_examples=200, deadline=None, database=None)
@given(st.sampled_from(TYPES[:5]), st.sampled_from(PRIORITIES), st.integers(0, 60 * 24 * 30),
       st.integers(0, 60 * 24 * 3), st.integers(1, 60 * 24 * 6))
def test_pausing_never_shortens_a_deadline(ticket_type: str, priority: str, open_at: int, pause_after: int,
                                           pause_for: int) -> None:
    opened = START + timedelta(minutes=open_at)
    base = [{"type": "opened", "ticket_id": "T", "at": opened.isoformat(), "channel": "email"},
            {"type": "classified", "ticket_id": "T", "at": opened.isoformat(), "ticket_type": ticket_type,
             "priority": priority}]
    pause = opened + timedelta(minutes=pause_after)
    resume = pause + timedelta(minutes=pause_for)
    plain = run(base)
    paused = run([*base, {"type": "status", "ticket_id": "T", "at": pause.isoformat(),
                          "status": "en_proceso_del_solicitante"},
                  {"type": "status", "ticket_id": "T", "at": resume.isoformat(), "status": "en_proceso"}])
    before = datetime.fromisoformat(plain[0]["deadline"])
    resumed = [r for r in paused if r["event"] == "resumed"]
    if not resumed:  # the deadline passed before the pause: nothing was left to freeze
        assert any(r["event"] == "breached" for r in paused)
        return
    assert datetime.fromisoformat(resumed[-1]["deadline"]) >= before
