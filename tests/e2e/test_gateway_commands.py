"""Agents' commands through the real gateway: a bounded `at` on status and classification (event time for
offline agents and imports), and the replies endpoint's rejections (4xx with a reason code, raw kept)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from nats.js import JetStreamContext

from guardia.runner import Running

from .helpers import contact, dead_letters, events, eventually


async def _open(http: httpx.AsyncClient, js: JetStreamContext, hours_ago: float) -> tuple[str, datetime]:
    """A problema (24 h clock) received `hours_ago`, with its clock started."""
    body = contact("No cuadra el reporte de cartera con el saldo contable", pid=f"at-{uuid.uuid4().hex}",
                   minutes_ago=hours_ago * 60, email=f"{uuid.uuid4().hex[:8]}@ferreteriaelsol.co")
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    await eventually(lambda: _of(js, ticket, "sla.started"), what="the clock")
    return ticket, datetime.fromisoformat(body["received_at"])


async def _of(js: JetStreamContext, ticket: str, kind: str) -> list[dict[str, Any]] | None:
    return [d for d in await events(js, ticket) if d["event_type"] == kind] or None


async def test_a_status_change_told_with_at_happens_then_and_the_clock_pauses_then(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    ticket, opened = await _open(http, js, hours_ago=5)
    at = opened + timedelta(hours=2)
    answer = await http.post(f"/v1/tickets/{ticket}/status", json={
        "status": "en_proceso_del_solicitante", "by": "ana", "at": at.isoformat()})
    assert answer.status_code == 202, answer.text
    [change] = await eventually(lambda: _of(js, ticket, "ticket.status_changed"), what="the change")
    assert datetime.fromisoformat(change["occurred_at"]) == at
    [paused] = await eventually(lambda: _of(js, ticket, "sla.paused"), what="the pause")
    assert datetime.fromisoformat(paused["occurred_at"]) == at  # sla_watch computes with event time
    assert paused["data"]["remaining_seconds"] == 22 * 3600


async def test_at_in_the_future_before_the_opening_or_before_the_last_change_is_refused(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    ticket, opened = await _open(http, js, hours_ago=5)
    url = f"/v1/tickets/{ticket}/status"
    told = opened + timedelta(hours=3)
    assert (await http.post(url, json={"status": "en_proceso", "at": told.isoformat()})).status_code == 202
    cases = {  # what the message says -> the instant told
        "in the future": datetime.now(UTC) + timedelta(minutes=10),
        "before the ticket was opened": opened - timedelta(minutes=1),
        "earlier than the ticket's last recorded change": told - timedelta(minutes=1),
    }
    for why, at in cases.items():
        answer = await http.post(url, json={"status": "en_proceso_del_solicitante", "at": at.isoformat()})
        assert answer.status_code == 422, why
        assert answer.json()["error"] == "invalid_at" and answer.json()["problems"][0]["field"] == "at", why
        assert why in answer.json()["message"], answer.json()
    naive = await http.post(url, json={"status": "en_proceso_del_solicitante", "at": "2026-11-23T09:15:00"})
    assert naive.status_code == 422 and naive.json()["error"] == "invalid_at"
    skewed = datetime.now(UTC) + timedelta(seconds=60)  # an agent's clock a minute ahead is tolerated
    assert (await http.post(url, json={"status": "en_proceso_del_solicitante",
                                       "at": skewed.isoformat()})).status_code == 202
    letters = [d["data"] for d in await dead_letters(js) if d["data"]["reason_code"] == "invalid_at"]
    assert len(letters) == 4
    assert "at" in json.loads(base64.b64decode(letters[0]["raw_base64"]))


async def test_a_classification_told_with_at_is_recorded_then(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    ticket, opened = await _open(http, js, hours_ago=5)
    at = opened + timedelta(hours=1)
    answer = await http.post(f"/v1/tickets/{ticket}/classification", json={
        "ticket_type": "pregunta", "priority": "media", "area": "contabilidad", "by": "ana",
        "reason": "es una consulta", "at": at.isoformat()})
    assert answer.status_code == 202, answer.text
    agent = await eventually(lambda: _agent_classified(js, ticket), what="the agent's classification")
    assert datetime.fromisoformat(agent["occurred_at"]) == at
    late = await http.post(f"/v1/tickets/{ticket}/classification", json={
        "ticket_type": "pregunta", "priority": "alta", "area": "contabilidad", "by": "ana", "reason": "x",
        "at": (opened + timedelta(minutes=30)).isoformat()})
    assert late.status_code == 422 and late.json()["error"] == "invalid_at"


async def _agent_classified(js: JetStreamContext, ticket: str) -> dict[str, Any] | None:
    return next((d for d in await events(js, ticket) if d["event_type"] == "ticket.classified"
                 and d["data"]["by"] == "agent"), None)


async def test_a_reply_with_no_text_or_to_an_unknown_ticket_is_refused_and_dead_lettered(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    ticket, _ = await _open(http, js, hours_ago=1)
    empty = await http.post(f"/v1/tickets/{ticket}/replies", json={"text": "  ", "by": "ana"})
    assert empty.status_code == 422 and empty.json()["error"] == "empty_reply"
    unknown = await http.post(f"/v1/tickets/{uuid.uuid4()}/replies", json={"text": "Hola", "by": "ana"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_ticket"
    codes = sorted(d["data"]["reason_code"] for d in await dead_letters(js))
    assert codes == ["empty_reply", "unknown_ticket"]
    assert not await _of(js, ticket, "ticket.message_added")


async def test_a_reply_told_with_at_is_dated_then_and_bounded_like_a_status_change(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    """Imports and `guardia demo --history` tell when an agent answered: first-reply times stay true."""
    ticket, opened = await _open(http, js, hours_ago=5)
    at = opened + timedelta(hours=1)
    answer = await http.post(f"/v1/tickets/{ticket}/replies", json={
        "text": "Ya revisamos el reporte de cartera, le enviamos el detalle.", "command_id": "r-at",
        "at": at.isoformat()})
    assert answer.status_code == 202, answer.text
    assert datetime.fromisoformat(answer.json()["occurred_at"]) == at
    [reply] = await eventually(lambda: _of(js, ticket, "ticket.message_added"), what="the reply")
    assert datetime.fromisoformat(reply["occurred_at"]) == at and reply["data"]["author"] == "agent"
    earlier = await http.post(f"/v1/tickets/{ticket}/status", json={
        "status": "en_proceso", "at": (at - timedelta(minutes=5)).isoformat()})
    assert earlier.status_code == 422 and earlier.json()["error"] == "invalid_at"  # the reply is a change
    before = await http.post(f"/v1/tickets/{ticket}/replies", json={
        "text": "Hola", "at": (opened - timedelta(minutes=1)).isoformat()})
    assert before.status_code == 422 and before.json()["error"] == "invalid_at"
