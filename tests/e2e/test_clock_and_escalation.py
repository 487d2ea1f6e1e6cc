"""Clocks armed inside NATS fire in event time: warnings, then the breach, then the escalation, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from nats.js import JetStreamContext

from guardia.runner import Running, running
from guardia.settings import Settings
from tests.api import api_client

from .helpers import contact, events, eventually, outbox


def _almost_due(seconds_left: float) -> float:
    """minutes_ago for a problema (24 h) contact whose deadline is `seconds_left` from now."""
    return (24 * 3600 - seconds_left) / 60


async def test_clock_warns_then_breaches_then_escalates_each_exactly_once(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("No cuadra el reporte de cartera con el saldo contable", pid="clock-1",
                   minutes_ago=_almost_due(4.0))
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]

    async def escalated() -> list[dict[str, object]]:
        return [d for d in await events(js, ticket) if d["event_type"] == "ticket.escalated"]

    await eventually(escalated, within=20, what="the escalation after the breach")
    await asyncio.sleep(2.5)  # anything doubled would have arrived by now
    docs = await events(js, ticket)
    clock = [(d["event_type"], d["data"].get("fraction")) for d in docs if d["event_type"].startswith("sla.")]
    assert clock == [("sla.started", None), ("sla.warning", 0.5), ("sla.warning", 0.8), ("sla.warning", 0.95),
                     ("sla.breached", None)]
    breach = next(d for d in docs if d["event_type"] == "sla.breached")
    assert breach["occurred_at"] == breach["data"]["deadline"]  # event time: the instant it was due
    assert datetime.fromisoformat(breach["data"]["deadline"]) > datetime.now(UTC) - timedelta(seconds=30)
    escalations = [d["data"] for d in docs if d["event_type"] == "ticket.escalated"]
    assert escalations == [{"from_level": "nivel_1", "to_level": "nivel_2", "reason": "sla_breached",
                            "rule": "001 §3.5 problema: nivel_1 -> nivel_2", "alert_emergency": False}]
    sent = [n["kind"] for n in outbox(guardia.settings.outbox_path) if n["ticket_id"] == ticket]
    assert sorted(sent) == ["acknowledgment", "escalation", "sla_warning", "sla_warning", "sla_warning"]


async def test_timer_that_came_due_while_sla_watch_was_down_fires_once_on_its_return(
    settings: Settings, js: JetStreamContext
) -> None:
    async with running(("intake", "triage", "sla_watch", "escalation", "notify"), settings) as state:
        async with api_client(state.base_url) as http:
            body = contact("El reporte de ventas muestra los totales mal calculados", pid="down-1",
                           minutes_ago=_almost_due(3.0))
            ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
        await eventually(lambda: _has(js, ticket, "sla.started"), what="the clock to start")
        await state.services["sla_watch"].stop()
        await asyncio.sleep(4.0)  # the deadline passes; the schedule fires into NATS with nobody listening
        assert not await _has(js, ticket, "sla.breached")
    async with running(("sla_watch",), settings):
        await eventually(lambda: _has(js, ticket, "sla.breached"), what="the breach after the restart")
        await asyncio.sleep(2.0)
    breaches = [d for d in await events(js, ticket) if d["event_type"] == "sla.breached"]
    assert len(breaches) == 1


async def test_resolution_before_the_deadline_cancels_the_armed_breach(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("No genera el informe de inventario", pid="met-1", minutes_ago=_almost_due(3.0))
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    await eventually(lambda: _has(js, ticket, "sla.started"), what="the clock to start")
    await http.post(f"/v1/tickets/{ticket}/status", json={"status": "resuelto"})
    await eventually(lambda: _has(js, ticket, "sla.met"), what="sla.met")
    await asyncio.sleep(4.0)  # past the old deadline
    assert not await _has(js, ticket, "sla.breached")
    assert not await _has(js, ticket, "ticket.escalated")


async def _has(js: JetStreamContext, ticket: str, event_type: str) -> bool:
    return any(d["event_type"] == event_type for d in await events(js, ticket))
