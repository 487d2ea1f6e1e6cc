"""The whole pipeline delivering for real: a WhatsApp contact gets its ticket number on WhatsApp, an e-mail
contact gets a threaded reply, and a provider's rate limits delay a message without doubling it."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.js import JetStreamContext

from guardia.runner import SERVICES, Running, running
from guardia.settings import Settings
from tests.api import api_client
from tests.e2e.helpers import contact, eventually

from .fakes import FakeSmtp, FakeStaffWebhook, FakeTwilio, FakeWhatsApp, ScriptedResponse


def with_accounts(settings: Settings, whatsapp_api: FakeWhatsApp, smtp_server: FakeSmtp, **extra: Any) -> Settings:
    """Settings whose WhatsApp and e-mail accounts are the local provider servers (plus `extra`)."""
    return settings.model_copy(update={
        "whatsapp_access_token": whatsapp_api.token, "whatsapp_phone_number_id": whatsapp_api.phone_number_id,
        "whatsapp_api_base_url": whatsapp_api.base_url, "smtp_url": smtp_server.url,
        "mail_from": "Soporte Navegasoft <soporte@navegasoft.example>", **extra})


@pytest.fixture
async def delivering(settings: Settings, whatsapp_api: FakeWhatsApp, smtp_server: FakeSmtp,
                     twilio_api: FakeTwilio, staff_webhook: FakeStaffWebhook) -> AsyncIterator[Running]:
    """guardia with WhatsApp, SMS and e-mail accounts pointing at the local provider servers."""
    configured = with_accounts(
        settings, whatsapp_api, smtp_server,
        twilio_account_sid=twilio_api.account_sid, twilio_auth_token=twilio_api.auth_token,
        twilio_from=twilio_api.from_number, twilio_api_base_url=twilio_api.url,
        staff_webhook_url=staff_webhook.hook_url, notify_retry_rounds=(1.0, 1.0, 1.0),
        public_base_url=f"http://127.0.0.1:{settings.http_port}",  # where providers call back
    )
    async with running(SERVICES, configured) as state:
        yield state


def whatsapp_webhook(wa_id: str, wamid: str, text: str, phone_number_id: str) -> dict[str, Any]:
    """A text message as Meta's messages webhook posts it (tests/intake/corpus/whatsapp/text.json)."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5716013350", "phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": "Marta Ruiz"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": text}}]}}]}]}


async def sent_events(js: JetStreamContext, ticket: str, notification_suffix: str) -> list[dict[str, Any]]:
    from tests.e2e.helpers import events

    return [d for d in await events(js, ticket) if d["event_type"] == "notification.sent"
            and d["data"]["notification_id"].endswith(notification_suffix)]


async def ticket_of(js: JetStreamContext, contact_id_hint: str) -> str:
    from tests.e2e.helpers import events

    for d in await events(js):
        if d["event_type"] == "ticket.opened" and contact_id_hint in str(d["data"]):
            return str(d["ticket_id"])
    raise LookupError(contact_id_hint)


async def test_a_whatsapp_customer_gets_the_ticket_number_on_whatsapp_once(
        delivering: Running, whatsapp_api: FakeWhatsApp, js: JetStreamContext) -> None:
    wa_id = f"52144255{uuid.uuid4().int % 100000:05d}"  # a Mexican id with the mobile digit E.164 drops
    wamid = f"wamid.{uuid.uuid4().hex}"
    async with api_client(delivering.base_url) as http:
        answer = await http.post("/webhooks/whatsapp", json=whatsapp_webhook(
            wa_id, wamid, "Buenas, no puedo timbrar ninguna factura, el SAT las rechaza todas",
            whatsapp_api.phone_number_id))
        assert answer.status_code < 300, answer.text
    ticket = await eventually(lambda: _maybe(ticket_of(js, wamid)), what="the ticket")
    acks = await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment")), what="the acknowledgment")
    number = next(d["data"]["ticket_number"] for d in await _events(js, ticket) if d["event_type"] == "ticket.opened")
    to_customer = [r for r in whatsapp_api.sent() if r.json and r.json.get("to") == wa_id]
    assert len(to_customer) == 1  # once
    body = to_customer[0].json or {}
    assert number in body["text"]["body"]  # 003: the customer always gets the ticket number
    assert body["context"] == {"message_id": wamid}  # quotes the customer's message
    assert len(acks) == 1 and acks[0]["data"]["transport"] == "whatsapp"
    assert acks[0]["data"]["provider_id"].startswith("wamid.") and not acks[0]["data"]["uncertain"]


async def test_an_email_customer_gets_a_threaded_reply_with_the_number_in_the_subject(
        delivering: Running, smtp_server: FakeSmtp, js: JetStreamContext) -> None:
    message_id = f"<{uuid.uuid4().hex}@ferreteriaelsol.co>"
    email = f"{uuid.uuid4().hex[:8]}@ferreteriaelsol.co"
    async with api_client(delivering.base_url) as http:
        answer = await http.post("/v1/contacts", json=contact(
            "No podemos timbrar la nómina, el PAC rechaza todos los recibos", email=email, pid=message_id,
            subject="Nómina sin timbrar"))
        assert answer.status_code == 202, answer.text
        ticket = answer.json()["ticket_id"]
    await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment")), what="the acknowledgment")
    mails = [m for m in smtp_server.messages if m.rcpt_tos == [email]]
    assert len(mails) == 1
    mail = mails[0].message
    number = next(d["data"]["ticket_number"] for d in await _events(js, ticket) if d["event_type"] == "ticket.opened")
    assert mail["Subject"].startswith(f"[{number}]")
    assert mail["In-Reply-To"] == message_id and message_id in mail["References"]
    assert mail["Auto-Submitted"] == "auto-replied"


async def test_a_rate_limited_provider_delivers_exactly_once_when_it_recovers(
        delivering: Running, whatsapp_api: FakeWhatsApp, js: JetStreamContext) -> None:
    wa_id = f"57300{uuid.uuid4().int % 10_000_000:07d}"
    wamid = f"wamid.{uuid.uuid4().hex}"
    limit: ScriptedResponse = (400, FakeWhatsApp.error(130429, "Rate limit hit"), {})
    whatsapp_api.script(limit, limit)  # the next two sends are refused, the third accepted
    async with api_client(delivering.base_url) as http:
        await http.post("/webhooks/whatsapp", json=whatsapp_webhook(
            wa_id, wamid, "el reporte de cartera no cuadra con el saldo contable", whatsapp_api.phone_number_id))
    ticket = await eventually(lambda: _maybe(ticket_of(js, wamid)), what="the ticket")
    acks = await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment")), within=20,
                            what="the acknowledgment after two 429s")
    failed = [d["data"] for d in await _events(js, ticket) if d["event_type"] == "notification.failed"]
    assert [(f["reason_code"], f["will_retry"]) for f in failed] == [("rate_limited", True)] * 2
    assert len([r for r in whatsapp_api.sent() if (r.json or {}).get("to") == wa_id]) == 1
    assert len(acks) == 1 and acks[0]["data"]["attempt"] == 3


def status_webhook(wamid: str, wa_id: str, status: str, notification_id: str, phone_number_id: str,
                   code: int | None = None) -> dict[str, Any]:
    """A `statuses` webhook as Meta posts it, with the notification id guardia sent coming back."""
    report: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                              "recipient_id": wa_id, "biz_opaque_callback_data": notification_id}
    if code is not None:
        report["errors"] = [{"code": code, "title": "Message undeliverable",
                             "error_data": {"details": "Message Undeliverable."}}]
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5716013350", "phone_number_id": phone_number_id},
            "statuses": [report]}}]}]}


async def test_a_provider_down_longer_than_the_quick_retries_is_tried_again_in_later_rounds(
        delivering: Running, whatsapp_api: FakeWhatsApp, js: JetStreamContext) -> None:
    wa_id = f"57300{uuid.uuid4().int % 10_000_000:07d}"
    wamid = f"wamid.{uuid.uuid4().hex}"
    down: ScriptedResponse = (500, FakeWhatsApp.error(131000, "Something went wrong"), {})
    whatsapp_api.script(down, down, down, down)  # two quick retries, a timer, one quick retry, a timer
    async with api_client(delivering.base_url) as http:
        await http.post("/webhooks/whatsapp", json=whatsapp_webhook(
            wa_id, wamid, "no abre el modulo de compras desde esta mañana", whatsapp_api.phone_number_id))
    ticket = await eventually(lambda: _maybe(ticket_of(js, wamid)), what="the ticket")
    acks = await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment")), within=30,
                            what="the acknowledgment after the outage")
    failed = [d["data"] for d in await _events(js, ticket) if d["event_type"] == "notification.failed"]
    assert [(f["attempt"], f["reason_code"], f["will_retry"]) for f in failed] == [
        (i, "provider_unavailable", True) for i in range(1, 5)]
    assert acks[0]["data"]["attempt"] == 5
    assert len([r for r in whatsapp_api.sent() if (r.json or {}).get("to") == wa_id]) == 1
    from tests.e2e.helpers import dead_letters

    lost = [d for d in await dead_letters(js) if ticket in base64.b64decode(d["data"]["raw_base64"]).decode()]
    assert lost == []  # the outage outlasted the redeliveries, and nothing was dead-lettered for it


async def test_a_late_failure_on_whatsapp_moves_the_message_to_sms(
        delivering: Running, whatsapp_api: FakeWhatsApp, twilio_api: FakeTwilio, js: JetStreamContext) -> None:
    wa_id = f"52144255{uuid.uuid4().int % 100000:05d}"
    wamid = f"wamid.{uuid.uuid4().hex}"
    async with api_client(delivering.base_url) as http:
        await http.post("/webhooks/whatsapp", json=whatsapp_webhook(
            wa_id, wamid, "no me deja timbrar el complemento de pago, sale error del SAT",
            whatsapp_api.phone_number_id))
        ticket = await eventually(lambda: _maybe(ticket_of(js, wamid)), what="the ticket")
        ack = (await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment")), what="the ack"))[0]
        # WhatsApp answered 200; later it reports that the message could not be delivered (131026)
        answer = await http.post("/webhooks/whatsapp", json=status_webhook(
            ack["data"]["provider_id"], wa_id, "failed", ack["data"]["notification_id"],
            whatsapp_api.phone_number_id, code=131026))
        assert answer.json()["statuses"] == 1
    sms = await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment~sms")), what="the SMS")
    number = next(d["data"]["ticket_number"] for d in await _events(js, ticket) if d["event_type"] == "ticket.opened")
    texts = [m for m in twilio_api.messages if number in m["body"]]
    assert len(texts) == 1 and texts[0]["to"] == "+52" + wa_id[3:]  # E.164 for SMS: the mobile digit dropped
    assert sms[0]["data"]["transport"] == "sms" and sms[0]["data"]["provider_id"].startswith("SM")
    failed = [d["data"] for d in await _events(js, ticket) if d["event_type"] == "notification.failed"]
    assert [(f["reason_code"], f["will_retry"]) for f in failed] == [("invalid_recipient", False)]


async def test_a_message_no_channel_can_deliver_becomes_a_task_for_a_person(
        delivering: Running, whatsapp_api: FakeWhatsApp, twilio_api: FakeTwilio, smtp_server: FakeSmtp,
        staff_webhook: FakeStaffWebhook, js: JetStreamContext) -> None:
    wa_id = f"57300{uuid.uuid4().int % 10_000_000:07d}"
    wamid = f"wamid.{uuid.uuid4().hex}"
    twilio_api.unsubscribed.add(f"+{wa_id}")  # the customer texted STOP to the SMS number
    async with api_client(delivering.base_url) as http:
        await http.post("/webhooks/whatsapp", json=whatsapp_webhook(
            wa_id, wamid, "el inventario no descuenta las ventas del punto de venta", whatsapp_api.phone_number_id))
        ticket = await eventually(lambda: _maybe(ticket_of(js, wamid)), what="the ticket")
        ack = (await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment")), what="the ack"))[0]
        await http.post("/webhooks/whatsapp", json=status_webhook(
            ack["data"]["provider_id"], wa_id, "failed", ack["data"]["notification_id"],
            whatsapp_api.phone_number_id, code=131026))

    async def lost() -> list[dict[str, Any]] | None:
        found = [d["data"] for d in await _events(js, ticket) if d["event_type"] == "notification.undeliverable"]
        return found or None

    undeliverable = (await eventually(lost, what="the undeliverable event"))[0]
    assert undeliverable["tried"] == ["whatsapp", "sms"]
    assert undeliverable["reasons"] == ["invalid_recipient", "blocked_by_user"]
    number = next(d["data"]["ticket_number"] for d in await _events(js, ticket) if d["event_type"] == "ticket.opened")
    task = await eventually(lambda: _nonempty(_mails_about(smtp_server, number)), what="the task mail")
    assert "No pudimos avisar" in task[0]["Subject"] and "por teléfono" in task[0].get_body(("plain",)).get_content()
    # and the staff channel hears of it too
    await eventually(lambda: _nonempty(_texts_about(staff_webhook, number)), what="the staff webhook")


async def _texts_about(hook: FakeStaffWebhook, number: str) -> list[str]:
    return [t for t in hook.texts if number in t and "No pudimos avisar" in t]


async def _mails_about(smtp: FakeSmtp, number: str) -> list[Any]:
    return [m.message for m in smtp.messages if number in str(m.message["Subject"])]


async def test_an_sms_twilio_reports_undelivered_moves_on_to_the_next_channel(
        delivering: Running, twilio_api: FakeTwilio, smtp_server: FakeSmtp, js: JetStreamContext) -> None:
    from urllib.parse import parse_qsl, urlsplit

    from services.intake.channels.twilio import signature_of

    email = f"{uuid.uuid4().hex[:8]}@ferreteriaelsol.co"
    async with api_client(delivering.base_url) as http:
        answer = await http.post("/v1/contacts", json=contact(
            "Llamó Pedro: el punto de venta no imprime el cierre de caja", email=email, channel="phone",
            pid=f"call-{uuid.uuid4().hex}"))
        ticket = answer.json()["ticket_id"]
        sms = (await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment")), what="the SMS"))[0]
        assert sms["data"]["transport"] == "sms"
        created = next(r for r in twilio_api.sent() if r.form and r.form["To"] == sms["data"]["to"])
        callback = (created.form or {})["StatusCallback"]  # Twilio will report on this message there
        assert dict(parse_qsl(urlsplit(callback).query))["n"] == sms["data"]["notification_id"]
        report = {"AccountSid": twilio_api.account_sid, "MessageSid": sms["data"]["provider_id"],
                  "MessageStatus": "undelivered", "ErrorCode": "30006", "To": sms["data"]["to"],
                  "From": twilio_api.from_number}
        signed = {"X-Twilio-Signature": signature_of(twilio_api.auth_token, callback, list(report.items()))}
        answer = await http.post(callback, data=report, headers=signed)
        assert answer.status_code == 200 and answer.json()["statuses"] == 1, answer.text
    mail = await eventually(lambda: _nonempty(_mails_to(smtp_server, email)), what="the e-mail after the SMS")
    number = next(d["data"]["ticket_number"] for d in await _events(js, ticket) if d["event_type"] == "ticket.opened")
    assert number in mail[0]["Subject"]
    failed = [d["data"] for d in await _events(js, ticket) if d["event_type"] == "notification.failed"]
    assert ("invalid_recipient", False) in [(f["reason_code"], f["will_retry"]) for f in failed]


async def _mails_to(smtp: FakeSmtp, address: str) -> list[Any]:
    return [m.message for m in smtp.messages if m.rcpt_tos == [address]]


async def test_delivered_and_read_reports_become_events_once(
        delivering: Running, whatsapp_api: FakeWhatsApp, js: JetStreamContext) -> None:
    wa_id = f"57300{uuid.uuid4().int % 10_000_000:07d}"
    wamid = f"wamid.{uuid.uuid4().hex}"
    async with api_client(delivering.base_url) as http:
        await http.post("/webhooks/whatsapp", json=whatsapp_webhook(
            wa_id, wamid, "como exporto el reporte de ventas a excel?", whatsapp_api.phone_number_id))
        ticket = await eventually(lambda: _maybe(ticket_of(js, wamid)), what="the ticket")
        ack = (await eventually(lambda: _nonempty(sent_events(js, ticket, ":acknowledgment")), what="the ack"))[0]
        for status in ("delivered", "delivered", "read"):  # Meta retries webhooks: the same report twice
            await http.post("/webhooks/whatsapp", json=status_webhook(
                ack["data"]["provider_id"], wa_id, status, ack["data"]["notification_id"],
                whatsapp_api.phone_number_id))

    async def reports() -> list[dict[str, Any]] | None:
        found = [d["data"] for d in await _events(js, ticket) if d["event_type"] == "notification.delivered"]
        return found if len(found) >= 2 else None

    delivered = await eventually(reports, what="delivered and read")
    await asyncio.sleep(1.0)
    delivered = [d["data"] for d in await _events(js, ticket) if d["event_type"] == "notification.delivered"]
    assert sorted(d["read"] for d in delivered) == [False, True]


async def _events(js: JetStreamContext, ticket: str | None = None) -> list[dict[str, Any]]:
    from tests.e2e.helpers import events

    return await events(js, ticket)


async def _maybe(pending: Any) -> Any:
    try:
        return await pending
    except LookupError:
        return None


async def _nonempty(pending: Any) -> Any:
    found = await pending
    return found or None


async def test_a_request_redelivered_while_its_round_waits_arms_the_timer_again(
        settings: Settings, whatsapp_api: FakeWhatsApp, js: JetStreamContext) -> None:
    """A crash between recording `waiting` and arming the timer must not strand the message: the
    redelivered request finds `waiting` and arms the timer again (idempotent), without sending."""
    from datetime import UTC, datetime, timedelta

    from guardia.bus.state import kv_key
    from guardia.bus.topology import TIMERS
    from services.notify.app import retry_key
    from shared.schemas import NotificationRequested, make_event

    configured = settings.model_copy(update={
        "whatsapp_access_token": whatsapp_api.token, "whatsapp_phone_number_id": whatsapp_api.phone_number_id,
        "whatsapp_api_base_url": whatsapp_api.base_url})
    ticket = uuid.uuid4()
    n = NotificationRequested(notification_id=f"{ticket}:acknowledgment", kind="acknowledgment", audience="customer",
                              channel="whatsapp", to="573001234567", body="NS-000001", template="acuse.txt.j2")
    event = make_event(n, tenant="navegasoft", occurred_at=datetime.now(UTC), producer="test", ticket_id=ticket)
    due = datetime.now(UTC) + timedelta(minutes=30)
    async with running(("notify",), configured):
        kv = await js.key_value("notify_deliveries")
        await kv.put(kv_key("n", n.notification_id), json.dumps(
            {"state": "waiting", "attempt": 2, "round": 1, "round_start": 2, "retry_at": due.isoformat()}).encode())
        await js.publish(event.subject, event.to_json(), headers={"Nats-Msg-Id": str(event.event_id)})

        async def armed() -> bool | None:
            info = await js.stream_info(TIMERS, subjects_filter=f"timer.arm.{retry_key(n.notification_id)}")
            return bool(info.state.subjects) or None

        await eventually(armed, what="the retry timer armed again")
    assert whatsapp_api.requests == []  # nothing sent before its round
