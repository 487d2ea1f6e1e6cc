"""An agent's reply (`POST /v1/tickets/{id}/replies`) reaches the customer on their own channel, quoting or
threaded under their message, once, even when the agent's client retries the POST."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from guardia.runner import SERVICES, Running, running
from guardia.settings import Settings
from services.notify.rules import NotifyRules, TicketView
from shared.schemas import Channel, MessageAdded, make_event
from tests.api import api_client, api_headers, token_for
from tests.e2e.helpers import contact, events, eventually

from .fakes import FakeSmtp, FakeWhatsApp
from .test_delivery_pipeline import whatsapp_webhook

REPLY = "Ya regeneramos el certificado del PAC; vuelve a timbrar la nómina y nos cuentas."


@pytest.fixture
async def delivering(settings: Settings, whatsapp_api: FakeWhatsApp, smtp_server: FakeSmtp) -> AsyncIterator[Running]:
    configured = settings.model_copy(update={
        "whatsapp_access_token": whatsapp_api.token, "whatsapp_phone_number_id": whatsapp_api.phone_number_id,
        "whatsapp_api_base_url": whatsapp_api.base_url, "smtp_url": smtp_server.url,
        "mail_from": "Soporte Navegasoft <soporte@navegasoft.example>",
    })
    async with running(SERVICES, configured) as state:
        yield state


async def _sent(js: JetStreamContext, ticket: str, part: str) -> list[dict[str, Any]] | None:
    found = [d for d in await events(js, ticket) if d["event_type"] == "notification.sent"
             and part in d["data"]["notification_id"]]
    return found or None


def _text(mail: Any) -> str:
    """The plain-text body of a received e-mail, decoded."""
    return "".join(str(p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8"))
                   for p in mail.walk() if p.get_content_type() == "text/plain")


async def _reply_twice(http: httpx.AsyncClient, js: JetStreamContext, ticket: str) -> list[dict[str, Any]]:
    """The agent's client posts the reply, loses the answer and posts it again with the same command id.
    The body's `by` is ignored: who replies is the token's name."""
    token = await token_for(js, f"ana.soporte.{uuid.uuid4().hex[:6]}")
    body = {"text": REPLY, "by": "alguien.mas", "command_id": f"reply-{uuid.uuid4().hex}"}
    answers = [await http.post(f"/v1/tickets/{ticket}/replies", json=body, headers=api_headers(token))
               for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202], answers[0].text
    return [a.json() for a in answers]


async def test_an_email_customer_gets_the_agent_s_reply_threaded_under_their_message_once(
        delivering: Running, smtp_server: FakeSmtp, js: JetStreamContext) -> None:
    message_id = f"<{uuid.uuid4().hex}@ferreteriaelsol.co>"
    email = f"{uuid.uuid4().hex[:8]}@ferreteriaelsol.co"
    async with api_client(delivering.base_url) as http:
        opened = await http.post("/v1/contacts", json=contact(
            "No podemos timbrar la nómina, el PAC rechaza todos los recibos", email=email, pid=message_id,
            subject="Nómina sin timbrar"))
        ticket = opened.json()["ticket_id"]
        await eventually(lambda: _sent(js, ticket, ":acknowledgment"), what="the acknowledgment")
        first, again = await _reply_twice(http, js, ticket)
    assert first["event_id"] == again["event_id"]
    await eventually(lambda: _sent(js, ticket, ":respuesta:"), what="the reply delivered")
    await asyncio.sleep(1.0)  # a doubled delivery would have arrived by now
    replies = [m.message for m in smtp_server.messages if m.rcpt_tos == [email] and REPLY in _text(m.message)]
    assert len(replies) == 1
    mail = replies[0]
    number = next(d["data"]["ticket_number"] for d in await events(js, ticket) if d["event_type"] == "ticket.opened")
    assert number in mail["Subject"]
    assert mail["In-Reply-To"] == message_id  # threaded under the customer's own message
    added = [d for d in await events(js, ticket) if d["event_type"] == "ticket.message_added"]
    assert [(d["data"]["author"], d["data"]["by"].split(".")[:2], d["data"]["channel"]) for d in added] == [
        ("agent", ["ana", "soporte"], "email")]


async def test_a_whatsapp_customer_gets_the_agent_s_reply_quoting_their_message_once(
        delivering: Running, whatsapp_api: FakeWhatsApp, js: JetStreamContext) -> None:
    wa_id = f"57300{uuid.uuid4().int % 10_000_000:07d}"
    wamid = f"wamid.{uuid.uuid4().hex}"
    async with api_client(delivering.base_url) as http:
        answer = await http.post("/webhooks/whatsapp", json=whatsapp_webhook(
            wa_id, wamid, "No puedo timbrar la nómina, el PAC rechaza los recibos", whatsapp_api.phone_number_id))
        ticket = answer.json()["contacts"][0]["ticket_id"]
        await eventually(lambda: _sent(js, ticket, ":acknowledgment"), what="the acknowledgment")
        await _reply_twice(http, js, ticket)
    await eventually(lambda: _sent(js, ticket, ":respuesta:"), what="the reply delivered")
    await asyncio.sleep(1.0)
    replies = [r.json or {} for r in whatsapp_api.sent()
               if r.json and r.json.get("to") == wa_id and REPLY in str(r.json.get("text"))]
    assert len(replies) == 1
    assert replies[0]["context"] == {"message_id": wamid}


def test_the_reply_rule_writes_to_the_customer_in_spanish_with_the_ticket_number() -> None:
    from guardia.policy import Policies

    policy = Policies.load()["navegasoft"]
    rules = NotifyRules(policy.notify, policy.calendar.timezone)
    view = TicketView(tenant="navegasoft", number="NS-000042", channel="email", subject="Nómina",
                      customer={"name": "Laura Gómez", "email": "laura@ferreteriaelsol.co"}, reply_to="<m1@x>")
    ev = make_event(MessageAdded(author="agent", channel=Channel.email, text=REPLY, by="ana"), tenant="navegasoft",
                    occurred_at=datetime.now(UTC), producer="intake", ticket_id=uuid.uuid4())
    [n] = rules.agent_reply(ev, view)
    assert n.notification_id == f"{ev.ticket_id}:respuesta:{ev.event_id}"
    assert (n.kind, n.audience, n.channel, n.to, n.reply_to) == (
        "agent_reply", "customer", "email", "laura@ferreteriaelsol.co", "<m1@x>")
    assert n.body.startswith("Hola Laura,") and REPLY in n.body and "NS-000042" in n.body
    assert policy.notify.signature in n.body
