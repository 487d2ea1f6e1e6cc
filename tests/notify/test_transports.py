"""Each transport against a real local server that answers as its provider documents (tests/notify/fakes.py)."""

from __future__ import annotations

from typing import Any

from services.notify.transports.base import Outgoing, Reason
from services.notify.transports.smtp import SmtpSettings, SmtpTransport
from services.notify.transports.telegram import TelegramTransport
from services.notify.transports.twilio import TwilioSmsTransport
from services.notify.transports.webhook import StaffWebhookTransport
from services.notify.transports.whatsapp import WhatsAppTransport

from .fakes import FakeSmtp, FakeStaffWebhook, FakeTelegram, FakeTwilio, FakeWhatsApp, Recorded


def body(r: Recorded) -> dict[str, Any]:
    assert isinstance(r.json, dict), r
    return r.json


def message(to: str, channel: str, body: str = "Su número de tique es NS-000123.", **extra: object) -> Outgoing:
    return Outgoing(notification_id="T1:acknowledgment", channel=channel, to=to, body=body,
                    ticket_number="NS-000123", **extra)  # type: ignore[arg-type]


# -- WhatsApp Cloud API ---------------------------------------------------------------------------------------


async def test_whatsapp_text_is_accepted_with_its_wamid(whatsapp_api: FakeWhatsApp) -> None:
    t = WhatsAppTransport(whatsapp_api.token, whatsapp_api.phone_number_id, whatsapp_api.base_url)
    outcome = await t.send(message("5214425550187", "whatsapp", reply_to="wamid.IN1"))
    await t.aclose()
    assert outcome.accepted and outcome.provider_id and outcome.provider_id.startswith("wamid.")
    sent = whatsapp_api.sent()[0]
    assert sent.headers["authorization"] == f"Bearer {whatsapp_api.token}"
    assert body(sent)["to"] == "5214425550187" and "NS-000123" in body(sent)["text"]["body"]
    assert body(sent)["context"] == {"message_id": "wamid.IN1"}


async def test_whatsapp_template_outside_the_window(whatsapp_api: FakeWhatsApp) -> None:
    whatsapp_api.approved_templates.add(("acuse_recibo", "es_MX"))
    t = WhatsAppTransport(whatsapp_api.token, whatsapp_api.phone_number_id, whatsapp_api.base_url)
    ok = await t.send(message("573001234567", "whatsapp", template=("acuse_recibo", "es_MX", ("NS-000123",))))
    missing = await t.send(message("573001234567", "whatsapp", template=("no_existe", "es_MX", ())))
    await t.aclose()
    assert ok.accepted
    assert not missing.accepted and missing.reason is Reason.template_missing and not missing.retry


async def test_whatsapp_errors_get_their_reason_codes(whatsapp_api: FakeWhatsApp) -> None:
    whatsapp_api.script((400, FakeWhatsApp.error(130429, "Rate limit hit"), {}),
                        (400, FakeWhatsApp.error(131047, "Re-engagement message"), {}),
                        (500, FakeWhatsApp.error(131000, "Something went wrong"), {}))
    t = WhatsAppTransport(whatsapp_api.token, whatsapp_api.phone_number_id, whatsapp_api.base_url)
    rate, window, generic = [await t.send(message("573001234567", "whatsapp")) for _ in range(3)]
    bad_token = await WhatsAppTransport("wrong", whatsapp_api.phone_number_id, whatsapp_api.base_url).send(
        message("573001234567", "whatsapp"))
    await t.aclose()
    assert (rate.reason, rate.retry) == (Reason.rate_limited, True)
    assert (window.reason, window.retry) == (Reason.outside_window, False)  # never retry the same free text
    assert (generic.reason, generic.retry) == (Reason.provider_unavailable, True)
    assert (bad_token.reason, bad_token.retry) == (Reason.auth_failed, False)


# -- Telegram Bot API -----------------------------------------------------------------------------------------


async def test_telegram_sends_plain_text_and_honours_retry_after(telegram_api: FakeTelegram) -> None:
    t = TelegramTransport(telegram_api.token, telegram_api.base_url)
    telegram_api.script(FakeTelegram.too_many(15))
    limited = await t.send(message("987654321", "telegram"))
    ok = await t.send(message("987654321", "telegram", body="Tique <NS-000123> & más", reply_to="987654321:42"))
    telegram_api.blocked.add("111")
    blocked = await t.send(message("111", "telegram"))
    await t.aclose()
    assert (limited.reason, limited.retry, limited.retry_after) == (Reason.rate_limited, True, 15.0)
    assert ok.accepted and ok.provider_id
    assert "parse_mode" not in body(telegram_api.sent()[0])  # a customer's "<" never breaks parsing
    assert body(telegram_api.sent()[0])["reply_parameters"]["message_id"] == 42
    assert (blocked.reason, blocked.retry) == (Reason.blocked_by_user, False)


async def test_telegram_splits_a_long_message_in_order(telegram_api: FakeTelegram) -> None:
    t = TelegramTransport(telegram_api.token, telegram_api.base_url)
    outcome = await t.send(message("987654321", "telegram", body="\n\n".join(["línea " * 300] * 4)))
    await t.aclose()
    assert outcome.accepted and len(outcome.parts) == len(telegram_api.sent()) > 1
    assert all(len(body(r)["text"]) <= 4096 for r in telegram_api.sent())


# -- Twilio SMS ---------------------------------------------------------------------------------------------


async def test_twilio_sends_form_fields_with_basic_auth(twilio_api: FakeTwilio) -> None:
    t = TwilioSmsTransport(twilio_api.account_sid, twilio_api.auth_token, twilio_api.from_number, twilio_api.url)
    twilio_api.script(FakeTwilio.too_many())
    limited = await t.send(message("+573001234567", "sms"))
    ok = await t.send(message("+573001234567", "sms"))
    twilio_api.unsubscribed.add("+573009999999")
    stopped = await t.send(message("+573009999999", "sms"))
    invalid = await t.send(message("3001234567", "sms"))
    await t.aclose()
    assert (limited.reason, limited.retry) == (Reason.rate_limited, True)
    assert ok.accepted and ok.provider_id and ok.provider_id.startswith("SM")
    assert twilio_api.sent()[0].form == {"To": "+573001234567", "From": twilio_api.from_number,
                                         "Body": "Su número de tique es NS-000123."}
    assert (stopped.reason, stopped.retry) == (Reason.blocked_by_user, False)
    assert (invalid.reason, invalid.retry) == (Reason.invalid_recipient, False)


# -- staff webhook ------------------------------------------------------------------------------------------


async def test_staff_webhook_posts_text_and_reads_retry_after(staff_webhook: FakeStaffWebhook) -> None:
    t = StaffWebhookTransport(staff_webhook.hook_url)
    staff_webhook.script((429, "rate_limited", {"Retry-After": "7"}))
    limited = await t.send(message("", "webhook", subject="Urgente NS-000123"))
    ok = await t.send(message("", "webhook", subject="Urgente NS-000123"))
    await t.aclose()
    assert (limited.reason, limited.retry_after) == (Reason.rate_limited, 7.0)
    assert ok.accepted and staff_webhook.texts == ["*Urgente NS-000123*\nSu número de tique es NS-000123."]


# -- SMTP ---------------------------------------------------------------------------------------------------


async def test_email_is_a_threaded_mime_reply_through_an_authenticated_server(smtp_server: FakeSmtp) -> None:
    t = SmtpTransport(SmtpSettings.from_url(smtp_server.url), "Soporte <soporte@navegasoft.example>")
    ok = await t.send(message("ana@cliente.example", "email", subject="No puedo timbrar", html="<p>Hola</p>",
                              reply_to="<m1@cliente.example>", auto_submitted="auto-replied"))
    assert ok.accepted and ok.provider_id and ok.provider_id.endswith("@navegasoft.example>")
    mail = smtp_server.messages[0].message
    assert smtp_server.messages[0].rcpt_tos == ["ana@cliente.example"]
    assert mail["Subject"] == "[NS-000123] No puedo timbrar"
    assert mail["In-Reply-To"] == "<m1@cliente.example>" and mail["Auto-Submitted"] == "auto-replied"
    assert mail["Message-ID"] == ok.provider_id
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]


async def test_email_failures_say_whether_to_retry(smtp_server: FakeSmtp) -> None:
    t = SmtpTransport(SmtpSettings.from_url(smtp_server.url), "soporte@navegasoft.example")
    smtp_server.script_data("451 4.3.0 try later")
    later = await t.send(message("ana@cliente.example", "email"))
    smtp_server.rejected.add("nadie@cliente.example")
    unknown = await t.send(message("nadie@cliente.example", "email"))
    wrong = SmtpSettings.from_url(smtp_server.url.replace("notify%40", "otro%40"))
    refused = await SmtpTransport(wrong, "soporte@navegasoft.example").send(message("ana@cliente.example", "email"))
    down = await SmtpTransport(SmtpSettings.from_url("smtp://127.0.0.1:9"), "s@n.example").send(
        message("ana@cliente.example", "email"))
    assert (later.reason, later.retry) == (Reason.provider_unavailable, True)
    assert (unknown.reason, unknown.retry) == (Reason.invalid_recipient, False)
    assert (refused.reason, refused.retry) == (Reason.auth_failed, False)
    assert (down.reason, down.retry) == (Reason.provider_unavailable, True)
