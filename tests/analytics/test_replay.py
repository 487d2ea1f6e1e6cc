"""`guardia replay`: every message kept (errors included), event-time order, no personal data by
default, same bytes for the same input, and the same tables from a real nats-server stream."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import nats
from typer.testing import CliRunner

from guardia.analytics.replay import ReplayOptions, replay_file, replay_nats
from guardia.analytics.tables import REDACT, REDACT_UNKNOWN, TABLES
from guardia.bus.topology import EVENTS, ensure_streams
from guardia.cli import app
from shared.schemas import REGISTRY, Customer, DeadLettered, TicketOpened, decode_event

from .builders import Log, tid
from .scenario import week_log


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.suffix == ".parquet" or p.name == "manifest.json"}


def test_same_input_gives_the_same_parquet_and_manifest_bytes(tmp_path: Path) -> None:
    log = week_log(tmp_path / "events.jsonl")
    replay_file(log, tmp_path / "one")
    replay_file(log, tmp_path / "two")
    first = digests(tmp_path / "one")
    assert len(first) == len(TABLES) + 1
    assert first == digests(tmp_path / "two")


def test_undecodable_and_unknown_events_are_kept_with_their_error(tmp_path: Path) -> None:
    log = week_log(tmp_path / "events.jsonl")
    with log.open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
        newer = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
        newer["schema_version"] = 9
        fh.write(json.dumps(newer) + "\n")
    lines = log.read_text(encoding="utf-8").splitlines()
    result = replay_file(log, tmp_path / "out")
    m = result.manifest
    assert m["events"] == len(lines)
    assert m["decode_errors"]["by_reason"] == {"malformed_json": 1, "unknown_event_type": 1,
                                               "unsupported_version": 1}
    con = duckdb.connect(str(tmp_path / "out" / "guardia.duckdb"))
    errors = dict(con.execute("SELECT seq, decode_error FROM events WHERE decode_error IS NOT NULL").fetchall())
    assert errors[len(lines) - 1] == "malformed_json: not a JSON object"
    assert errors[len(lines)] == "unsupported_version: contact.received v9 is newer than this build knows (v1)" \
        or errors[len(lines)].startswith("unsupported_version: ticket.opened v9 is newer")
    assert con.execute("SELECT raw_text FROM events WHERE seq = ?", [len(lines) - 1]).fetchone() == ("{not json",)
    # every line the SQL checks accept, decode_event accepts too
    ok = {s for s, in con.execute("SELECT seq FROM events WHERE decode_error IS NULL").fetchall()}
    for number, line in enumerate(lines, start=1):
        if number in ok:
            decode_event(line)


def test_back_dated_events_are_placed_by_event_time(tmp_path: Path) -> None:
    """A's en_proceso at 10:00 was stored after its 15:00 resolution: from_status follows event time."""
    result = replay_file(week_log(tmp_path / "events.jsonl"), None)
    rows = result.connection.execute("""SELECT from_status, to_status FROM status_changes s JOIN tickets t
        USING (ticket_id) WHERE t.ticket_number = 'NS-000001' ORDER BY s."at", s.seq""").fetchall()
    assert rows[0] == ("nuevo", "en_proceso")
    assert rows[-1] == ("en_proceso", "resuelto")
    # events dated before one stored earlier (the scenario interleaves tickets, and A's is back-dated)
    assert result.manifest["late_events"] == result.connection.execute("""SELECT count(*) FROM (
        SELECT occurred_at < max(occurred_at) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        AS late FROM events WHERE decode_error IS NULL) WHERE late""").fetchone()[0] > 0


def test_analytic_tables_hold_no_personal_data_unless_asked(tmp_path: Path) -> None:
    log = week_log(tmp_path / "events.jsonl")
    replay_file(log, tmp_path / "plain")
    replay_file(log, tmp_path / "names", ReplayOptions(keep_names=True))
    for name in TABLES:
        plain = (tmp_path / "plain" / f"{name}.parquet").read_bytes()
        assert b"Ana P" not in plain and b"@cliente.co" not in plain and b"No puedo facturar" not in plain, name
    con = duckdb.connect(str(tmp_path / "names" / "guardia.duckdb"))
    assert con.execute("SELECT DISTINCT customer_name FROM tickets").fetchall() == [("Ana Pérez",)]


def test_every_event_type_with_a_personal_field_is_redacted_by_name() -> None:
    """The replay keeps `data` as it is for a known type that REDACT does not name: so no such type may
    have a field that REDACT_UNKNOWN would strip from a type it does not know."""
    for name, cls in REGISTRY.latest.items():
        if name not in REDACT:
            fields = set(cls.model_json_schema().get("properties", {}))
            assert not fields & set(REDACT_UNKNOWN), (name, fields & set(REDACT_UNKNOWN))


def test_a_newer_version_of_a_known_type_loses_every_usual_personal_field(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    envelope = {"event_id": "00000000-0000-4000-8000-000000000001", "event_type": "ticket.status_changed",
                "schema_version": 99, "occurred_at": "2026-12-07T10:00:00Z", "tenant": "navegasoft",
                "ticket_id": "00000000-0000-4000-8000-000000000002",
                "correlation_id": "00000000-0000-4000-8000-000000000003", "producer": "intake",
                "data": {"status": "en_proceso", "customer": {"name": "Ana Pérez"}, "text": "No puedo facturar"}}
    log.write_text(json.dumps(envelope) + "\n", encoding="utf-8")
    result = replay_file(log, None)
    error, data = result.connection.execute("SELECT decode_error, data FROM events").fetchone()
    assert error.startswith("unsupported_version"), error
    assert json.loads(data) == {"status": "en_proceso"}


def test_a_dead_letter_loses_the_body_it_kept(tmp_path: Path) -> None:
    raw = b'{"from": "+573001234567", "text": "Laura: no puedo facturar"}'
    log = Log()
    log.add(DeadLettered(source="gateway /v1/contacts", reason_code="schema_violation", reason="channel: missing",
                         subject="ev.navegasoft", headers={"X-Forwarded-For": "10.1.2.3"},
                         raw_base64=base64.b64encode(raw).decode(), raw_size=len(raw)),
            datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    data = replay_file(log.write(tmp_path / "events.jsonl"), None).connection.execute(
        "SELECT data FROM events").fetchone()[0]
    assert json.loads(data) == {"source": "gateway /v1/contacts", "reason_code": "schema_violation",
                                "reason": "channel: missing", "subject": "ev.navegasoft", "raw_size": len(raw),
                                "deliveries": 1, "raw_ref": None}


def test_customer_key_is_a_hash_of_the_key_intake_uses(tmp_path: Path) -> None:
    customers = {
        "mail": Customer(name="Ana", email="Ana@Cliente.co", phone="+573001234567"),
        "phone": Customer(name="Luis", phone="+573001234567", tax_id="900123"),
        "tax": Customer(name="Eva", tax_id="nit-900123"),
        "chat": Customer(name="Tom", channel_ids={"whatsapp": "5730012", "telegram": "77"}),
        "nobody": Customer(),
    }
    log = Log()
    for n, (ticket, customer) in enumerate(customers.items(), start=1):
        log.add(TicketOpened(ticket_number=f"NS-{n:06d}", channel="email", customer=customer, text="hola",
                             contact_id=f"ct-{ticket}"), datetime(2026, 12, 7, 9, n, tzinfo=UTC), ticket, "intake")
    keys = dict(replay_file(log.write(tmp_path / "events.jsonl"), None).connection.execute(
        "SELECT ticket_id, customer_key FROM tickets").fetchall())
    for ticket, customer in customers.items():
        assert customer.key() in ("email:ana@cliente.co", "phone:+573001234567", "tax:NIT-900123", "telegram:77",
                                  "anonymous")
        assert keys[tid(ticket)] == hashlib.sha256(f"navegasoft|{customer.key()}".encode()).hexdigest()[:16], ticket


def test_replay_command_writes_the_folder(tmp_path: Path) -> None:
    log = week_log(tmp_path / "events.jsonl")
    out = CliRunner().invoke(app, ["replay", "--input", str(log), "--to", str(tmp_path / "out"),
                                   "--tenant", "navegasoft"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.strip().splitlines()[-1])["tickets"] == 7
    assert (tmp_path / "out" / "run.json").exists()
    report = CliRunner().invoke(app, ["report", "weekly", "--tenant", "navegasoft", "--from", "2026-12-07",
                                      "--to", "2026-12-13", "--at", "2026-12-14T00:00:00-05:00", "--format", "csv",
                                      "--from-dir", str(tmp_path / "out")])
    assert report.exit_code == 0, report.output
    assert "Abiertos,6,1,5" in report.stdout


async def test_replay_from_a_real_nats_stream_equals_the_file_replay(nats_url: str, tmp_path: Path) -> None:
    """The week published to GUARDIA_EVENTS on a real nats-server, read back by the ordered consumer."""
    log = week_log(tmp_path / "events.jsonl")
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        for number, line in enumerate(log.read_text(encoding="utf-8").splitlines()):
            await js.publish(f"ev.navegasoft.{number % 16}.x", line.encode())
    finally:
        await nc.close()
    import asyncio

    from_nats = await asyncio.to_thread(replay_nats, nats_url, tmp_path / "nats", ReplayOptions(tenant="navegasoft"),
                                        EVENTS)
    from_file = replay_file(log, tmp_path / "file")
    assert from_nats.manifest["tables"] == from_file.manifest["tables"]
    assert from_nats.manifest["stream"] == {"first_seq": 1, "last_seq": from_file.manifest["events"]}
    con = duckdb.connect(str(tmp_path / "nats" / "guardia.duckdb"))
    assert con.execute("SELECT count(*) FROM events WHERE stored_at IS NULL OR subject IS NULL").fetchone() == (0,)
    for table in ("tickets", "clocks", "status_changes"):
        a = con.execute(f"SELECT * EXCLUDE (opened_stored_at) FROM {table} ORDER BY ALL" if table == "tickets"
                        else f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        b = duckdb.connect(str(tmp_path / "file" / "guardia.duckdb")).execute(
            f"SELECT * EXCLUDE (opened_stored_at) FROM {table} ORDER BY ALL" if table == "tickets"
            else f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        assert a == b, table
