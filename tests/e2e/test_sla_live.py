"""Live clocks: re-armed on reclassification, retracted on merge, durable across a NATS restart."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import nats
from nats.js import JetStreamContext

from guardia.bus.topology import TIMERS
from guardia.embedded import EmbeddedNats, free_port
from guardia.runner import SERVICES, Running, running
from guardia.settings import Settings
from shared.schemas import (
    Area,
    Priority,
    Status,
    StatusChanged,
    TicketClassified,
    TicketMerged,
    TicketType,
    make_event,
)
from tests.api import TEST_TOKEN, api_client

from .helpers import contact, events, eventually, outbox


async def _publish(guardia: Running, ticket: str, payload: object) -> None:
    ev = make_event(payload, tenant="navegasoft", occurred_at=datetime.now(UTC), producer="agent",  # type: ignore[arg-type]
                    ticket_id=UUID(ticket))
    await guardia.services["intake"].publish([ev])


async def _types(js: JetStreamContext, ticket: str) -> list[str]:
    return [d["event_type"] for d in await events(js, ticket)]


async def test_agent_reclassification_rearms_the_timer_so_the_breach_comes_at_the_new_deadline(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    # an anomalía (72 h) written 8 h minus 4 s ago; the agent makes it urgente (8 h): due in ~4 s
    body = contact("El módulo de inventario no me deja entrar aunque tengo permiso", pid="re-1",
                   minutes_ago=8 * 60 - 4 / 60)
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    await eventually(lambda: _has(js, ticket, "sla.started"), what="the clock")
    await _publish(guardia, ticket, TicketClassified(
        ticket_type=TicketType.anomalia, priority=Priority.urgente, area=Area.inventario, confidence=1.0,
        classifier="agent", by="agent", note="no pueden operar el inventario"))
    retargeted = await eventually(lambda: _of(js, ticket, "sla.retargeted"), what="sla.retargeted")
    assert retargeted[0]["data"]["target"] == {"amount": 8.0, "unit": "calendar_hours"}
    await eventually(lambda: _has(js, ticket, "sla.breached"), within=20, what="the breach at the new deadline")
    breach = (await _of(js, ticket, "sla.breached"))[0]
    assert breach["data"]["deadline"] == retargeted[0]["data"]["deadline"]
    assert (await _types(js, ticket)).count("sla.started") == 1


async def test_a_handled_timer_firing_leaves_nothing_behind_in_the_timers_stream(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    # a problema (24 h) written 24 h minus 3 s ago: its 95 % warning is due now and its breach in ~3 s
    body = contact("Me sale mal calculado el IVA en la factura", pid="purge-1", minutes_ago=24 * 60 - 3 / 60)
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    await eventually(lambda: _has(js, ticket, "sla.breached"), within=20, what="the breach")

    async def nothing_left() -> bool:
        info = await js.stream_info(TIMERS, subjects_filter=f"timer.*.sla.{ticket}.>")
        return not info.state.subjects

    # every firing was handled and purged, and nothing is armed after a breach
    await eventually(nothing_left, what="no timer subject left for the ticket")


async def test_a_merged_duplicate_loses_its_clock_and_nothing_fires_after(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("No cuadra el reporte de cartera", pid="merge-1", minutes_ago=24 * 60 - 3 / 60)
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    await eventually(lambda: _has(js, ticket, "sla.started"), what="the clock")
    await _publish(guardia, ticket, TicketMerged(into_ticket_id=UUID(int=1), reason="duplicado"))
    cancelled = await eventually(lambda: _of(js, ticket, "sla.cancelled"), what="sla.cancelled")
    assert "fusionado" in cancelled[0]["data"]["reason"]
    await asyncio.sleep(4.5)  # past the old deadline
    assert not await _has(js, ticket, "sla.breached")


async def test_breaches_fire_exactly_once_after_sla_watch_is_killed_and_nats_restarts(tmp_path: Path) -> None:
    store = Path(tempfile.mkdtemp(prefix="guardia-restart-"))
    port = free_port()
    server = EmbeddedNats(store, port=port).start()
    settings = Settings(nats_url=server.url, http_port=free_port(), data_dir=tmp_path, log_level="WARNING",
                        bootstrap_token=TEST_TOKEN)
    tickets = []
    try:
        async with running(SERVICES, settings) as state, api_client(state.base_url) as http:
            for i, seconds in enumerate((3, 5, 7)):
                body = contact(f"El informe {i} muestra los totales mal calculados", pid=f"restart-{i}",
                               email=f"c{i}@x.co", minutes_ago=24 * 60 - seconds / 60)
                tickets.append((await http.post("/v1/contacts", json=body)).json()["ticket_id"])
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            for ticket in tickets:
                await eventually(lambda t=ticket: _has(js, t, "sla.started"), what="the clocks")
            await nc.close()
        server.stop()  # NATS goes down with the timers armed; every deadline passes while it is down
        await asyncio.sleep(8)
        server = EmbeddedNats(store, port=port).start()
        async with running(SERVICES, settings):
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            for ticket in tickets:
                await eventually(lambda t=ticket: _has(js, t, "sla.breached"), within=20, what="each breach")
            await asyncio.sleep(3)
            for ticket in tickets:
                assert (await _types(js, ticket)).count("sla.breached") == 1
                assert (await _types(js, ticket)).count("ticket.escalated") == 1
            await nc.close()
    finally:
        server.stop()


async def _of(js: JetStreamContext, ticket: str, event_type: str) -> list[dict[str, object]]:
    return [d for d in await events(js, ticket) if d["event_type"] == event_type]


async def _has(js: JetStreamContext, ticket: str, event_type: str) -> bool:
    return bool(await _of(js, ticket, event_type))


async def test_a_silent_customer_gets_two_follow_up_calls_then_the_commercial_area(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("buenas, no me deja facturar", channel="whatsapp", pid="wamid.silent")
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    await eventually(lambda: _has(js, ticket, "ticket.assigned"), what="the assignment")
    # the agent asked for information ten days ago (event time) and the customer never answered
    waiting = make_event(StatusChanged(status=Status.en_proceso_del_solicitante, by="ana"), tenant="navegasoft",
                         occurred_at=datetime.now(UTC) - timedelta(days=10), producer="agent", ticket_id=UUID(ticket))
    await guardia.services["intake"].publish([waiting])
    escalated = await eventually(lambda: _of(js, ticket, "ticket.escalated"), what="the commercial area")
    assert escalated[0]["data"]["to_level"] == "area_comercial"
    assert escalated[0]["data"]["reason"] == "customer_unreachable"
    calls = [d["data"]["attempt"] for d in await _of(js, ticket, "followup.due")]
    assert calls == [1, 2]
    tasks = await eventually(lambda: _async([n for n in outbox(guardia.settings.outbox_path)
                                             if n["kind"] == "followup_call"]), what="the call tasks")
    await asyncio.sleep(1)
    tasks = [n for n in outbox(guardia.settings.outbox_path) if n["kind"] == "followup_call"]
    assert len(tasks) == 2 and "Zadarma" in tasks[0]["body"]


async def _async(value: list[dict[str, object]]) -> list[dict[str, object]]:
    return value
