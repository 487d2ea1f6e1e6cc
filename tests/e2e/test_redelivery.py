"""At-least-once in, effectively-once out (design.md invariant 2)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
from nats.js import JetStreamContext

from guardia.bus.topology import EVENTS
from guardia.runner import SERVICES, Running, running
from guardia.settings import Settings
from shared.schemas import event_subject
from tests.api import api_client

from .helpers import contact, events, eventually, outbox, types_of


async def test_same_contact_posted_twice_with_the_same_provider_id_is_one_contact(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("No me deja confirmar la factura electrónica, la DIAN la rechaza", pid="retry-1")
    first = await http.post("/v1/contacts", json=body)
    second = await http.post("/v1/contacts", json=body)
    assert first.status_code == second.status_code == 202
    assert second.json()["outcome"] == "duplicate"
    assert second.json()["ticket_id"] == first.json()["ticket_id"]
    ticket = first.json()["ticket_id"]
    await eventually(lambda: _acks(guardia, ticket), what="the acknowledgment")
    await asyncio.sleep(1.0)
    docs = await events(js)
    assert sum(1 for d in docs if d["event_type"] == "contact.received") == 1
    assert types_of(await events(js, ticket)).count("ticket.opened") == 1
    assert len(await _acks(guardia, ticket)) == 1


async def test_republishing_an_event_with_its_id_is_deduplicated_by_nats(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    ticket = (await http.post("/v1/contacts", json=contact("Duda sobre el cierre contable", pid="dup-1"))).json()
    opened = (await eventually(lambda: _typed(js, ticket["ticket_id"], "ticket.opened"), what="opened"))[0]
    subject = event_subject("navegasoft", "ticket.opened", opened["ticket_id"])
    ack = await js.publish(subject, json.dumps(opened).encode(),
                           headers={"Nats-Msg-Id": opened["event_id"]}, stream=EVENTS)
    assert ack.duplicate is True


async def test_events_delivered_twice_past_the_dedup_window_change_nothing_the_second_time(
    settings: Settings, js: JetStreamContext
) -> None:
    # A one-second dedup window: re-derived events would no longer be dropped by NATS, so only the
    # handlers' own state can keep a redelivery from doubling an effect.
    settings = settings.model_copy(update={"dedup_window_seconds": 1})
    async with running(SERVICES, settings) as guardia, api_client(guardia.base_url) as http:
        body = contact("No cuadra el balance de prueba con el libro mayor", pid="again-1", minutes_ago=24 * 60 - 0.05)
        ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
        await eventually(lambda: _typed(js, ticket, "ticket.escalated"), within=20, what="the escalation")
        await eventually(lambda: _kinds(guardia, ticket, "escalation"), what="the escalation notice")
        await asyncio.sleep(1.5)  # past the dedup window
        before = await events(js, ticket)

        # Deliver every event of the ticket again, as a redelivery after the dedup window would.
        for doc in before:
            await js.publish(event_subject(doc["tenant"], doc["event_type"], doc["ticket_id"] or doc["correlation_id"]),
                             json.dumps(doc).encode(),
                             headers={"Nats-Msg-Id": f"replay-{doc['event_id']}"}, stream=EVENTS)
        await asyncio.sleep(3.0)

        after = await events(js, ticket)
        counts = Counter(d["event_id"] for d in after)
        extra = [(d["event_type"], d["data"]) for d in after if counts[d["event_id"]] != 2]
        assert len(after) == 2 * len(before), f"redelivery produced: {extra}"
        assert Counter(d["event_id"] for d in after) == Counter({d["event_id"]: 2 for d in before})
        kinds = sorted(n["kind"] for n in outbox(guardia.settings.outbox_path) if n["ticket_id"] == ticket)
        assert kinds == ["acknowledgment", "escalation", "sla_warning", "sla_warning", "sla_warning"]


async def _typed(js: JetStreamContext, ticket: str, event_type: str) -> list[dict[str, object]]:
    return [d for d in await events(js, ticket) if d["event_type"] == event_type]


async def _acks(guardia: Running, ticket: str) -> list[dict[str, object]]:
    return await _kinds(guardia, ticket, "acknowledgment")


async def _kinds(guardia: Running, ticket: str, kind: str) -> list[dict[str, object]]:
    return [n for n in outbox(guardia.settings.outbox_path) if n["ticket_id"] == ticket and n["kind"] == kind]
