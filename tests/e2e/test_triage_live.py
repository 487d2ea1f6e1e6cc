"""Triage in the pipeline: corrections by agents, new messages, abusive language."""

from __future__ import annotations

import asyncio
import json

import httpx
from nats.js import JetStreamContext
from typer.testing import CliRunner

from guardia.cli import app as cli
from guardia.runner import Running
from tests.api import api_headers, token_for

from .helpers import contact, events, eventually, outbox


async def _of(js: JetStreamContext, ticket: str, event_type: str) -> list[dict[str, object]]:
    return [d for d in await events(js, ticket) if d["event_type"] == event_type]


async def test_an_agent_correction_is_honoured_downstream_and_kept_as_labeled_data(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("Tengo una duda sobre cómo generar el reporte de cartera por edades", pid="fix-1")
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    await eventually(lambda: _of(js, ticket, "ticket.assigned"), what="the first assignment")
    fix = {"ticket_type": "problema", "priority": "urgente", "area": "contabilidad", "categories": [],
           "by": "ana", "reason": "el cliente no puede cerrar el mes: no opera la contabilidad"}
    ana = api_headers(await token_for(js, "ana"))  # `by` is the token's name
    answer = await http.post(f"/v1/tickets/{ticket}/classification", json=fix, headers=ana)
    assert answer.status_code == 202, answer.text

    agent = await eventually(lambda: _agent_classification(js, ticket), what="the agent's classification")
    assert agent["data"]["priority"] == "urgente" and agent["data"]["classifier"] == "agent:ana"
    retargeted = await eventually(lambda: _of(js, ticket, "sla.retargeted"), what="the clock re-targeted")
    assert retargeted[0]["data"]["target"] == {"amount": 8.0, "unit": "calendar_hours"}
    assigned = await eventually(lambda: _at_least(js, ticket, "ticket.assigned", 2), what="the re-assignment")
    assert assigned[-1]["data"]["alert_emergency"] is True and "reclasificado" in assigned[-1]["data"]["reason"]

    env = {"NATS_URL": guardia.settings.nats_url or ""}
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["triage", "corrections"], env=env)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [(r["type"], r["priority"], r["area"]) for r in rows] == [("problema", "urgente", "contabilidad")]
    assert "reporte de cartera" in rows[0]["text"] and "ana" in rows[0]["note"]

    bad = await http.post(f"/v1/tickets/{ticket}/classification", json={**fix, "priority": "altisima"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "priority"


async def test_a_new_customer_message_that_changes_the_matter_reclassifies_the_ticket(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    first = (await http.post("/v1/contacts", json=contact("Hola, tengo una consulta", pid="msg-1"))).json()
    ticket = first["ticket_id"]
    await eventually(lambda: _of(js, ticket, "ticket.classified"), what="the first classification")
    more = contact("No podemos timbrar ninguna factura: el SAT rechaza todos los CFDI desde las 9", pid="msg-2")
    assert (await http.post("/v1/contacts", json=more)).json()["ticket_id"] == ticket
    both = await eventually(lambda: _at_least(js, ticket, "ticket.classified", 2), what="a second classification")
    assert both[-1]["data"]["priority"] == "alta"
    assert "nuevo mensaje" in both[-1]["data"]["note"]


async def test_an_auto_reply_later_in_the_conversation_does_not_undo_the_request(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    first = contact("El reporte de cartera no cuadra con los saldos del balance", pid="ooo-1")
    ticket = (await http.post("/v1/contacts", json=first)).json()["ticket_id"]
    await eventually(lambda: _of(js, ticket, "ticket.classified"), what="the first classification")
    reply = contact("Respuesta automática: estaré fuera de la oficina hasta el lunes, sin acceso a correo.",
                    pid="ooo-2")
    later = contact("Además no podemos timbrar ninguna factura: el SAT rechaza todos los CFDI", pid="ooo-3")
    for body in (reply, later):
        assert (await http.post("/v1/contacts", json=body)).json()["ticket_id"] == ticket
    # triage handles a ticket's messages in order: once the third one is classified, the second was seen
    both = await eventually(lambda: _at_least(js, ticket, "ticket.classified", 2), what="the third message's")
    assert [c["data"]["ticket_type"] for c in both] == ["problema", "problema"]  # type: ignore[index]
    assert both[-1]["data"]["priority"] == "alta"  # type: ignore[index]
    assert not await _of(js, ticket, "sla.exempted")


async def test_abusive_language_ends_the_attention_politely(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("Son unos inútiles, ladrones, llevo dos días sin poder facturar y nadie responde", pid="abuse-1")
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    classified = await eventually(lambda: _of(js, ticket, "ticket.classified"), what="the classification")
    assert classified[0]["data"]["abusive"] is True
    closes = await eventually(
        lambda: _async([n for n in outbox(guardia.settings.outbox_path) if n["kind"] == "abusive_language_close"]),
        what="the polite closing message",
    )
    assert closes[0]["audience"] == "customer" and "respeto" in closes[0]["body"]


async def _agent_classification(js: JetStreamContext, ticket: str) -> dict[str, object] | None:
    found = [d for d in await _of(js, ticket, "ticket.classified") if d["data"]["by"] == "agent"]  # type: ignore[index]
    return found[0] if found else None


async def _at_least(js: JetStreamContext, ticket: str, event_type: str, n: int) -> list[dict[str, object]] | None:
    found = await _of(js, ticket, event_type)
    return found if len(found) >= n else None


async def _async(value: list[dict[str, object]]) -> list[dict[str, object]]:
    return value
