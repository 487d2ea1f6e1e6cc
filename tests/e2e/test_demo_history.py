"""`guardia demo --history` against the real pipeline: a short seeded past lands in GUARDIA_EVENTS dated when it
happened, the clocks run on those instants, and `guardia report daily` on a replay of it is not empty."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext
from rich.console import Console
from typer.testing import CliRunner

from guardia.analytics.reports.render import read_csv_sections
from guardia.cli import app
from guardia.demo.history import builtin_calendars, generate
from guardia.demo.history_send import send_history
from guardia.runner import Running
from tests.api import TEST_TOKEN

from .helpers import events


async def test_a_short_history_lands_with_its_event_times_and_makes_a_non_empty_daily_report(
    guardia: Running, js: JetStreamContext, tmp_path: Path
) -> None:
    history = generate(11, timedelta(days=3), datetime.now(UTC), volume=0.4)
    out, watch = await send_history(guardia.base_url, guardia.settings.nats_url or "", history, TEST_TOKEN,
                                    guardia.settings, Console(file=io.StringIO(), width=160))
    assert not out.rejected and not out.unexpected and not out.unclassified and not out.already_sent
    docs = await events(js)
    by_ticket: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        if doc.get("ticket_id"):
            by_ticket[doc["ticket_id"]].append(doc)

    def at(doc: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(doc["occurred_at"])

    checked = {"opened": 0, "status": 0, "reply": 0, "met": 0}
    for plan in history.tickets:
        if out.outcomes.get(plan.key) != "opened":
            continue
        mine = by_ticket[out.ticket_ids[plan.key]]
        [opened] = [d for d in mine if d["event_type"] == "ticket.opened"]
        assert at(opened) == plan.opened_at  # received_at is the event time
        checked["opened"] += 1
        calls = [c for c in history.calls if c.ticket == plan.key]
        told = [datetime.fromisoformat(c.body["at"]) for c in calls if c.kind == "status"]
        changes = [at(d) for d in mine if d["event_type"] == "ticket.status_changed"]
        assert changes == told, plan.key
        checked["status"] += len(told)
        replies = [datetime.fromisoformat(c.body["at"]) for c in calls if c.kind == "reply"]
        agent = [at(d) for d in mine if d["event_type"] == "ticket.message_added" and d["data"]["author"] == "agent"]
        assert agent == replies, plan.key
        checked["reply"] += len(replies)
        started = [d for d in mine if d["event_type"] == "sla.started"]
        if started:  # a clock counts from the opening (001 §3.2), not from when it was posted
            assert datetime.fromisoformat(started[0]["data"]["started_at"]) == plan.opened_at, plan.key
        met = [at(d) for d in mine if d["event_type"] == "sla.met"]
        if met and "reopened" not in plan.tags:
            resolved = max(t for t, c in zip(told, [c for c in calls if c.kind == "status"], strict=True)
                           if c.body["status"] == "resuelto")
            assert met[-1] == resolved, plan.key
            checked["met"] += 1
    assert all(checked.values()), checked
    assert sum(watch.clock_events.values()) > 0
    clock = [d for d in docs if d["event_type"].startswith("sla.")]
    assert all(at(d) <= datetime.now(UTC) for d in clock)

    dump = tmp_path / "events.jsonl"
    dump.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    first = min(history.tickets, key=lambda t: t.opened_at)
    day = first.opened_at.astimezone(builtin_calendars()[first.tenant].tz).date().isoformat()
    report = tmp_path / "diario.csv"
    result = CliRunner().invoke(app, ["report", "daily", "--tenant", first.tenant, "--from", day, "--to", day,
                                      "--input", str(dump), "--format", "csv", "--out", str(report)])
    assert result.exit_code == 0, result.output
    sections = read_csv_sections(report.read_text(encoding="utf-8"))
    summary = {r["Indicador"]: r[list(r)[1]] for r in sections["resumen"]}
    assert int(summary["Casos abiertos en el día"]) >= 1
    assert sections["abiertos"], sections.keys()
