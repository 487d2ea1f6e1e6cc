"""Bad input at every boundary: a clear error for the sender, the raw bytes kept (invariant 3)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
from nats.js import JetStreamContext
from typer.testing import CliRunner

from guardia.bus.runtime import ServiceRuntime
from guardia.bus.topology import EVENTS, INTAKE
from guardia.cli import app as cli
from guardia.runner import Running
from guardia.settings import Settings
from shared.schemas import Status, StatusChanged, make_event

from .helpers import contact, dead_letters, eventually


async def test_malformed_json_gets_400_and_its_raw_bytes_are_dead_lettered(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    raw = b'{"channel": "email", "text": "hola",'
    response = await http.post("/v1/contacts", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    letters = await eventually(lambda: dead_letters(js), what="the dead letter")
    assert letters[0]["data"]["reason_code"] == "malformed_json"
    assert base64.b64decode(letters[0]["data"]["raw_base64"]) == raw
    assert letters[0]["data"]["source"] == "gateway POST /v1/contacts"


async def test_invalid_contact_gets_422_naming_each_field_and_the_problem(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("x")
    del body["text"]
    body["channel"] = "fax"
    body["customer"]["email"] = "not-an-email"
    response = await http.post("/v1/contacts", json=body)
    assert response.status_code == 422
    problems = {p["field"]: p["problem"] for p in response.json()["problems"]}
    assert set(problems) == {"text", "channel", "customer.email"}
    assert "email" in problems["customer.email"]
    letters = await eventually(lambda: dead_letters(js), what="the dead letter")
    assert letters[0]["data"]["reason_code"] == "schema_violation"
    assert "customer.email" in letters[0]["data"]["reason"]
    assert json.loads(base64.b64decode(letters[0]["data"]["raw_base64"])) == body


async def test_other_gateway_rejections_carry_their_reason_codes(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    future = contact("hola", pid="future-1")
    future["received_at"] = (datetime.now(UTC) + timedelta(hours=30)).isoformat()
    cases = [
        (await http.post("/v1/contacts", content=b"text", headers={"content-type": "text/plain"}), 415,
         "unsupported_media_type"),
        (await http.post("/v1/contacts", content=b'{"a":"' + b"x" * (1024 * 1024) + b'"}',
                         headers={"content-type": "application/json"}), 413, "payload_too_large"),
        (await http.post("/v1/contacts", json=future), 422, "timestamp_out_of_range"),
        (await http.post("/v1/contacts", json={**contact("hola"), "tenant": "nadie"}), 422, "unknown_tenant"),
        (await http.post("/v1/contacts", content=b"\xff\xfe{}", headers={"content-type": "application/json"}),
         400, "invalid_encoding"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.json()["error"]) == (status, code)
    letters = await eventually(lambda: _at_least(js, len(cases)), what="every rejection dead-lettered")
    assert sorted(d["data"]["reason_code"] for d in letters) == sorted(code for _, _, code in cases)


async def test_message_failing_validation_on_a_subject_is_dead_lettered_not_retried(
    guardia: Running, js: JetStreamContext
) -> None:
    bad_envelope = {"event_id": "not-a-uuid", "event_type": "ticket.opened"}
    await js.publish("ev.navegasoft.0.ticket.opened", json.dumps(bad_envelope).encode(), stream=EVENTS)
    await js.publish("intake.raw.email", b'{"channel": "email", "text": ""}', stream=INTAKE)
    letters = await eventually(lambda: _at_least(js, 5), what="dead letters from every consumer")
    await asyncio.sleep(1.0)
    letters = await dead_letters(js)
    by_source = {d["data"]["source"]: d["data"] for d in letters}
    assert by_source["consumer triage"]["reason_code"] == "schema_violation"
    assert "event_id" in by_source["consumer triage"]["reason"]
    assert by_source["consumer intake"]["reason_code"] == "schema_violation"
    assert "customer" in by_source["consumer intake"]["reason"]
    assert all(d["data"]["deliveries"] == 1 for d in letters)  # rejected at once, never redelivered
    assert len(letters) == 5  # triage, sla_watch, escalation, notify on ev.*.ticket.opened; intake raw


async def test_a_handler_that_keeps_failing_stops_after_max_deliver_and_is_dead_lettered(
    settings: Settings, js: JetStreamContext
) -> None:
    rt = ServiceRuntime("flaky", settings)
    calls: list[int] = []

    @rt.handles("ticket.status_changed")
    async def always_fails(event, ctx):  # type: ignore[no-untyped-def]
        calls.append(1)
        raise RuntimeError("downstream is down")

    await rt.start()
    try:
        ev = make_event(StatusChanged(status=Status.en_proceso), tenant="navegasoft",
                        occurred_at=datetime.now(UTC), producer="test")
        await rt.publish([ev])
        letters = await eventually(lambda: dead_letters(js), within=20, what="the dead letter")
        await asyncio.sleep(2.5)
    finally:
        await rt.stop()
    assert len(calls) == settings.max_deliver == 3
    assert letters[0]["data"]["reason_code"] == "handler_failed"
    assert letters[0]["data"]["deliveries"] == 3
    assert "downstream is down" in letters[0]["data"]["reason"]
    assert len(await dead_letters(js)) == 1


async def test_dead_letters_command_lists_what_was_rejected_and_why(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext, monkeypatch: object
) -> None:
    await http.post("/v1/contacts", content=b"{oops", headers={"content-type": "application/json"})
    await eventually(lambda: dead_letters(js), what="the dead letter")
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["dead-letters", "--json"], env={"NATS_URL": guardia.settings.nats_url or ""}
    )
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [d["data"]["reason_code"] for d in docs] == ["malformed_json"]


async def _at_least(js: JetStreamContext, n: int) -> list[dict[str, object]] | None:
    found = await dead_letters(js)
    return found if len(found) >= n else None
