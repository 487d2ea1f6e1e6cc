"""`guardia migrate`: an installation from before partitions (one consumer per service on
`ev.<tenant>.<aggregate>.<event>`, with messages still waiting) moves to the partitioned layout with
nothing lost, in order, and its ticket numbering continues."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType

from guardia.bus.runtime import LegacyLayout
from guardia.bus.topology import EVENTS, ensure_streams
from guardia.migrate import migrate
from guardia.policy import Policies
from guardia.runner import SERVICES, build_service, running
from guardia.settings import Settings
from shared.schemas import Channel, Customer, TicketOpened, make_event
from tests.api import api_client

from .helpers import contact, eventually, outbox


async def _legacy_installation(settings: Settings, js: JetStreamContext) -> str:
    """Streams, the old durables, an old counter at 41, and ticket NS-000041 opened but not yet handled."""
    await ensure_streams(js)
    policies = Policies.load(settings.policy_dir)
    for name in SERVICES:
        rt, _ = build_service(name, settings, policies)
        types = sorted(t for t in rt.handlers if t != "committee.candidate")  # what the old version handled
        await js.add_consumer(EVENTS, ConsumerConfig(
            name=name, durable_name=name, filter_subjects=[f"ev.*.{t}" for t in types],
            ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, max_deliver=5, ack_wait=30.0))
    counters = await js.create_key_value(KeyValueConfig(bucket="intake_counters", storage=StorageType.FILE))
    await counters.put("navegasoft", b"41")
    ticket = uuid4()
    opened = make_event(
        TicketOpened(ticket_number="NS-000041", channel=Channel.email, subject="Factura rechazada",
                     customer=Customer(name="Laura Gómez", email="laura@ferreteriaelsol.co"), contact_id="old-1",
                     text="La DIAN rechaza todas las facturas electrónicas desde esta mañana, no podemos facturar"),
        tenant="navegasoft", occurred_at=datetime.now(UTC), producer="intake", ticket_id=ticket)
    await js.publish("ev.navegasoft.ticket.opened", opened.to_json(), headers={"Nats-Msg-Id": str(opened.event_id)},
                     stream=EVENTS)
    return str(ticket)


async def test_the_layout_before_partitions_is_migrated_and_its_waiting_ticket_is_served_in_order(
    settings: Settings, js: JetStreamContext
) -> None:
    old_ticket = await _legacy_installation(settings, js)

    with pytest.raises(LegacyLayout, match="guardia migrate"):
        async with running(("triage",), settings):
            pass

    handled = await migrate(settings)
    assert handled == {"intake": 0, "triage": 1, "sla_watch": 1, "escalation": 1, "notify": 1}
    names = {c.name for c in await js.consumers_info(EVENTS)}
    assert not names & set(SERVICES)  # the legacy durables are gone
    assert await migrate(settings) == dict.fromkeys(SERVICES)  # a second run finds nothing to do

    async with running(SERVICES, settings) as guardia:
        acks = await eventually(lambda: _acknowledged(guardia.settings, old_ticket), what="the old ticket's ack")
        assert "NS-000041" in acks[0]["subject"]
        async with api_client(guardia.base_url) as http:
            answer = await http.post("/v1/contacts", json=contact("No puedo entrar al sistema", pid="new-1"))
        assert answer.json()["ticket_number"] == "NS-000042"  # numbering continues after the old counter

    kinds = [json.loads(m.data)["event_type"] async for m in _ticket_events(js, old_ticket)]
    assert kinds[:2] == ["ticket.opened", "ticket.classified"]
    assert kinds.index("sla.started") < kinds.index("ticket.assigned")


async def _acknowledged(settings: Settings, ticket: str) -> list[dict[str, object]]:
    return [n for n in outbox(settings.outbox_path) if n["ticket_id"] == ticket and n["kind"] == "acknowledgment"]


async def _ticket_events(js: JetStreamContext, ticket: str):  # type: ignore[no-untyped-def]
    from guardia.eventlog import read_stream

    async for m in read_stream(js, EVENTS, "ev.>", idle=0.5):
        if json.loads(m.data).get("ticket_id") == ticket:
            yield m
