"""The listing commands print every field in full when stdout is not a terminal (CliRunner is not one),
against the session's real nats-server."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from uuid import uuid4

from nats.js import JetStreamContext
from typer.testing import CliRunner

from guardia.bus.topology import DLQ, EVENTS, ensure_streams
from guardia.cli import app as cli
from guardia.commands.listing import tsv_field
from shared.schemas import DeadLettered, make_event

LONG_CODE = "invalid_signature_outside_the_replay_window_of_the_provider"
LONG_REASON = "X-Hub-Signature-256 does not match the body; " + "the app secret may have been rotated. " * 6
RAW = "{\"entry\": [\"" + "x" * 400 + "\"]}\tend"


async def _dead_letter(js: JetStreamContext) -> str:
    payload = DeadLettered(source="gateway POST /webhooks/whatsapp", reason_code=LONG_CODE, reason=LONG_REASON,
                           raw_base64=base64.b64encode(RAW.encode()).decode(), raw_size=len(RAW))
    ev = make_event(payload, tenant="navegasoft", occurred_at=datetime.now(UTC), producer="intake")
    await js.publish("dlq.navegasoft.intake", ev.to_json(), stream=DLQ)
    return str(ev.event_id)


async def _invoke(nats_url: str, *args: str) -> tuple[str, str]:
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env={"NATS_URL": nats_url})
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


async def test_dead_letters_piped_prints_the_whole_reason_code_reason_and_raw_bytes(
    nats_url: str, js: JetStreamContext
) -> None:
    await ensure_streams(js)
    letter_id = await _dead_letter(js)
    out, err = await _invoke(nats_url, "dead-letters", "--raw")
    header, *rows = out.splitlines()
    assert header.split("\t") == ["id", "at", "tenant", "source", "reason_code", "reason", "body", "raw"]
    assert len(rows) == 1
    fields = rows[0].split("\t")
    assert fields[0] == letter_id
    assert fields[4] == LONG_CODE  # not `invalid_si…`
    assert fields[5] == LONG_REASON
    assert fields[6] == f"inline ({len(RAW)} bytes)"
    assert fields[7] == tsv_field(RAW) and "x" * 400 in fields[7]  # the tab inside stays escaped
    assert "…" not in out
    assert "1 dead letters" in err and "dead letters" not in out


async def test_events_piped_prints_each_event_s_data_as_whole_json(nats_url: str, js: JetStreamContext) -> None:
    await ensure_streams(js)
    ticket = uuid4()
    data = {"note": "nota interna " * 30, "ticket": str(ticket)}
    doc = {"event_id": str(uuid4()), "event_type": "ticket.note_added", "schema_version": 1,
           "occurred_at": "2026-12-02T10:00:00.123456+00:00", "tenant": "navegasoft", "ticket_id": str(ticket),
           "correlation_id": str(uuid4()), "producer": "intake", "data": data}
    await js.publish("ev.navegasoft.3.ticket.note_added", json.dumps(doc).encode(), stream=EVENTS)
    out, _ = await _invoke(nats_url, "events")
    header, row = out.splitlines()
    fields = row.split("\t")
    assert header.split("\t") == ["occurred_at", "tenant", "event", "ticket", "producer", "data"]
    assert fields[0] == "2026-12-02T10:00:00.123456+00:00" and fields[3] == str(ticket)
    assert json.loads(fields[5]) == data


async def test_notify_status_piped_prints_the_whole_failure_detail(nats_url: str, js: JetStreamContext) -> None:
    await ensure_streams(js)
    ticket, error = str(uuid4()), "131026 message undeliverable: " + "the recipient's phone is not on WhatsApp " * 5

    async def publish(event_type: str, **data: object) -> None:
        doc = {"event_type": event_type, "ticket_id": ticket, "data": data}
        await js.publish(f"ev.navegasoft.1.{event_type}", json.dumps(doc).encode(), stream=EVENTS)

    await publish("notification.requested", notification_id=f"{ticket}:acknowledgment", kind="acknowledgment",
                  channel="whatsapp", to="5214425550187")
    await publish("notification.failed", notification_id=f"{ticket}:acknowledgment", attempt=1, will_retry=False,
                  reason_code="invalid_recipient", error=error)
    out, _ = await _invoke(nats_url, "notify", "status", ticket)
    fields = out.splitlines()[1].split("\t")
    assert fields[0] == f"{ticket}:acknowledgment"
    assert fields[5:] == ["failed", f"invalid_recipient: {error}"]


def test_a_value_with_tabs_and_newlines_stays_one_tsv_field() -> None:
    assert tsv_field("a\tb\nc\\d") == "a\\tb\\nc\\\\d"
