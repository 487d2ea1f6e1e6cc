"""`guardia sla simulate` and the explanation behind `guardia sla explain`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from guardia.cli import app as cli
from guardia.policy import Policies
from services.sla_watch.engine import Engine
from services.sla_watch.explain import explain, pieces
from services.sla_watch.rules import SlaRules, TicketClocks
from shared.schemas import Channel, Priority, Status, TicketType

TIMELINE = [
    {"type": "opened", "ticket_id": "A", "at": "2026-12-04T17:00:00-05:00", "channel": "webform"},
    {"type": "classified", "ticket_id": "A", "at": "2026-12-04T17:01:00-05:00", "ticket_type": "solicitud",
     "priority": "media"},
    {"type": "status", "ticket_id": "A", "at": "2026-12-10T16:00:00-05:00", "status": "resuelto"},
]


def test_simulate_prints_the_clock_events_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in TIMELINE) + "\n")
    result = CliRunner().invoke(cli, ["sla", "simulate", "--tenant", "navegasoft", str(path)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["event"] for r in records] == ["started", "warning", "warning", "warning", "met"]
    assert set(records[0]) == {"ticket_id", "clock", "event", "at", "deadline", "fraction"}
    assert records[0]["deadline"] == "2026-12-10T17:00:00-05:00"
    assert records[1]["fraction"] == 0.5


def test_simulate_stops_at_until_and_rejects_a_bad_line_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in TIMELINE[:2]) + "\n")
    result = CliRunner().invoke(cli, ["sla", "simulate", "--tenant", "navegasoft", "--until",
                                      "2026-12-07T00:00:00-05:00", str(path)])
    assert [json.loads(x)["event"] for x in result.output.splitlines()] == ["started"]
    path.write_text(json.dumps(TIMELINE[0]) + "\n" + '{"type": "status", "ticket_id": "A", "at": "x"}\n')
    bad = CliRunner().invoke(cli, ["sla", "simulate", "--tenant", "navegasoft", str(path)])
    assert bad.exit_code == 2
    assert "line 2" in bad.output and "at" in bad.output


def test_explain_accounts_for_every_minute_running_paused_outside_hours_and_holiday() -> None:
    policy = Policies.load()["navegasoft"]
    engine = Engine(policy.business_calendar)
    rules = SlaRules(policy.sla, engine, False, policy.version)
    t = TicketClocks(tenant="navegasoft", opened_at=datetime.fromisoformat("2026-12-04T17:00:00-05:00"),
                     channel=Channel.email, correlation_id="c", ticket_number="NS-000042")
    rules.classify(t, TicketType.solicitud, Priority.media, datetime.fromisoformat("2026-12-04T17:01:00-05:00"))
    rules.on_status(t, Status.en_proceso_del_solicitante, datetime.fromisoformat("2026-12-09T10:00:00-05:00"), "k1",
                    "ticket.status_changed e1")
    rules.on_status(t, Status.en_proceso, datetime.fromisoformat("2026-12-09T15:00:00-05:00"), "k2",
                    "ticket.status_changed e2")
    now = datetime.fromisoformat("2026-12-10T12:00:00-05:00")
    parts = pieces(t.clocks["resolution"], engine, now)
    kinds = [p.kind for p in parts]
    assert "holiday (Immaculate Conception)" in kinds and "paused" in kinds and "outside working hours" in kinds
    counted = sum(p.counted_seconds for p in parts)
    assert counted == engine.consumed(t.clocks["resolution"], now)
    # Fri 17-18 (1 h) + Mon 10 h + Wed 8-10 (2 h) + Wed 15-18 (3 h) + Thu 8-12 (4 h) = 20 h
    assert counted == 20 * 3600
    text = explain("id", t, engine, now)
    assert "NS-000042" in text and "3 días hábiles" in text and "ticket.status_changed e1" in text
    assert "used 20 h 00 min of 30 h 00 min" in text
