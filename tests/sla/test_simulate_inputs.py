"""What a timeline line carries so that a replay of recorded events takes the same decisions as live."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from guardia.policy import Policies
from services.sla_watch.engine import Engine
from services.sla_watch.rules import SlaRules
from services.sla_watch.simulate import TicketRun, parse_timeline, run_ticket


def run(*lines: dict[str, Any], until: str = "2026-11-30T00:00:00-05:00") -> TicketRun:
    p = Policies.load()["navegasoft"]
    rules = SlaRules(p.sla, Engine(p.business_calendar), p.channels.whatsapp_official, p.version)
    timeline = parse_timeline(json.dumps({"ticket_id": "T", **x}) for x in lines)
    return run_ticket(rules, rules.engine, timeline, datetime.fromisoformat(until))


def kinds(result: TicketRun) -> list[str]:
    return [f"{name} {e.payload.event_type} {e.at.isoformat()}" for name, e in result.emitted]


def test_an_ineligible_opening_is_exempt_and_gets_no_clock_as_live() -> None:
    result = run({"type": "opened", "at": "2026-11-10T09:00:00-05:00", "eligible": False},
                 {"type": "classified", "at": "2026-11-10T09:00:00-05:00", "ticket_type": "problema",
                  "priority": "media"})
    assert kinds(result) == ["resolution sla.exempted 2026-11-10T09:00:00-05:00"]
    assert result.state is not None and (result.state.exempt, result.state.clocks) == ("ineligible", {})


def test_an_undone_merge_gives_the_ticket_a_new_clock_from_its_opening() -> None:
    result = run({"type": "opened", "at": "2026-11-10T09:00:00-05:00"},
                 {"type": "classified", "at": "2026-11-10T09:00:00-05:00", "ticket_type": "problema",
                  "priority": "media"},
                 {"type": "merged", "at": "2026-11-10T10:00:00-05:00", "into": "S"},
                 {"type": "merged", "at": "2026-11-10T11:00:00-05:00", "into": "S", "undone": True},
                 {"type": "status", "at": "2026-11-10T12:00:00-05:00", "status": "resuelto"})
    assert kinds(result) == [
        "resolution sla.started 2026-11-10T09:00:00-05:00",
        "resolution sla.cancelled 2026-11-10T10:00:00-05:00",
        "resolution_2 sla.started 2026-11-10T11:00:00-05:00",
        "resolution_2 sla.met 2026-11-10T12:00:00-05:00",
    ]
    assert result.state is not None
    assert result.state.clocks["resolution_2"].deadline == datetime.fromisoformat("2026-11-11T09:00:00-05:00")
