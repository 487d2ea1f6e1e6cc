"""The provider fakes answer with the shapes the providers document (notify-facts §1-§5).

The transports' tests trust these fakes; these tests are what makes that trust earned. They talk to the fakes
the way a transport will (httpx over loopback, aiosmtplib over SMTP) and assert on the documented bodies.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import aiosmtplib
import httpx
import pytest

from .conftest import (
    SMTP_PASSWORD,
    SMTP_USERNAME,
    TELEGRAM_TOKEN,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_FROM,
    WHATSAPP_PHONE_NUMBER_ID,
    WHATSAPP_TOKEN,
)
from .fakes import FakeSmtp, FakeStaffWebhook, FakeTelegram, FakeTwilio, FakeWhatsApp, sms_segments


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


# ---------------------------------------------------------------------------------------------------- lifecycle


async def test_fake_starts_fast_and_stops_without_leaving_tasks_or_a_listening_port(http: httpx.AsyncClient) -> None:
    before = asyncio.all_tasks()
    started = time.perf_counter()
    fake = FakeStaffWebhook()
    await fake.start()
    assert time.perf_counter() - started < 1.0
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake.url)
    assert (await http.post(fake.hook_url, json={"text": "hola"})).text == "ok"  # leaves a keep-alive connection
    stopping = time.perf_counter()
    await fake.stop()
    assert time.perf_counter() - stopping < 0.5
    assert asyncio.all_tasks() == before
    with pytest.raises(httpx.ConnectError):
        await http.post(fake.hook_url, json={"text": "hola"})
    await fake.stop()  # idempotent


async def test_smtp_fake_stops_without_leaving_tasks_even_with_a_session_open() -> None:
    before = asyncio.all_tasks()
    fake = FakeSmtp()
    await fake.start()
    client = aiosmtplib.SMTP(hostname=fake.host, port=fake.port, start_tls=False)
    await client.connect()
    await fake.stop()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == before
    client.close()


async def test_requests_to_unknown_paths_are_recorded_and_do_not_consume_the_script(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    whatsapp_api.script((500, FakeWhatsApp.error(131000, "Something went wrong"), {}))
    wrong = await http.post(f"{whatsapp_api.url}/v24.0/{WHATSAPP_PHONE_NUMBER_ID}/message", json={})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == 2500
    assert whatsapp_api.requests[0].path.endswith("/message")
    right = await http.post(f"{whatsapp_api.base_url}/{WHATSAPP_PHONE_NUMBER_ID}/messages", json={})
    assert right.status_code == 500


# ---------------------------------------------------------------------------------------------------- WhatsApp


def _wa_text(to: str = "573001234567", body: str = "Tu número de tique es NS-000123") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"preview_url": False, "body": body}}


def _wa_template(name: str = "acuse_recibo", code: str = "es_MX") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": "573001234567", "type": "template",
            "template": {"name": name, "language": {"code": code, "policy": "deterministic"},
                         "components": [{"type": "body", "parameters": [{"type": "text", "text": "Laura"},
                                                                        {"type": "text", "text": "NS-000123"}]}]}}


async def _wa_send(http: httpx.AsyncClient, fake: FakeWhatsApp, payload: Any, *, token: str = WHATSAPP_TOKEN,
                   phone_number_id: str = WHATSAPP_PHONE_NUMBER_ID, base: str | None = None) -> httpx.Response:
    return await http.post(f"{base or fake.base_url}/{phone_number_id}/messages", json=payload,
                           headers={"Authorization": f"Bearer {token}"})


def _assert_wa_error(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["type"] in {"OAuthException", "GraphMethodException"}
    assert error["fbtrace_id"]
    return error


async def test_whatsapp_text_is_accepted_with_a_unique_wamid_and_recorded(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    first = await _wa_send(http, whatsapp_api, _wa_text())
    second = await _wa_send(http, whatsapp_api, _wa_text())
    assert first.status_code == 200
    body = first.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "573001234567", "wa_id": "573001234567"}]
    assert body["messages"][0]["id"].startswith("wamid.")
    assert body["messages"][0]["id"] != second.json()["messages"][0]["id"]
    recorded = whatsapp_api.requests[0]
    assert recorded.method == "POST"
    assert recorded.path == f"/v24.0/{WHATSAPP_PHONE_NUMBER_ID}/messages"
    assert recorded.headers["authorization"] == f"Bearer {WHATSAPP_TOKEN}"
    assert recorded.json == _wa_text()
    assert recorded.status == 200
    assert len(whatsapp_api.sent()) == 2


@pytest.mark.parametrize("prefix", ["/v19.0", "/v24.0", ""])
async def test_whatsapp_accepts_any_graph_version_or_none(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient, prefix: str) -> None:
    response = await _wa_send(http, whatsapp_api, _wa_text(), base=whatsapp_api.url + prefix)
    assert response.status_code == 200


async def test_whatsapp_type_defaults_to_text_as_meta_documents(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    payload = _wa_text()
    del payload["type"]
    assert (await _wa_send(http, whatsapp_api, payload)).status_code == 200


async def test_whatsapp_wrong_or_missing_token_is_190_with_401(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    error = _assert_wa_error(await _wa_send(http, whatsapp_api, _wa_text(), token="expired"), 401, 190)
    assert error["message"] == "Error validating access token"
    missing = await http.post(f"{whatsapp_api.base_url}/{WHATSAPP_PHONE_NUMBER_ID}/messages", json=_wa_text())
    _assert_wa_error(missing, 401, 190)
    assert whatsapp_api.sent() == []


async def test_whatsapp_unknown_phone_number_id_is_code_100(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    error = _assert_wa_error(await _wa_send(http, whatsapp_api, _wa_text(), phone_number_id="999"), 400, 100)
    assert "'999' does not exist" in error["message"]


@pytest.mark.parametrize(("mutate", "details"), [
    (lambda p: p.update(messaging_product="sms"), "messaging_product"),
    (lambda p: p.pop("to"), "to"),
    (lambda p: p["text"].update(body=""), "text['body']"),
    (lambda p: p["text"].update(body="x" * 4097), "4096"),
    (lambda p: p.pop("text"), "text"),
    (lambda p: p.update(type="sticker"), "sticker"),
    (lambda p: p.update(biz_opaque_callback_data="n" * 513), "biz_opaque_callback_data"),
])
async def test_whatsapp_invalid_body_is_code_100_with_details(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient, mutate: Any, details: str) -> None:
    payload = _wa_text()
    mutate(payload)
    error = _assert_wa_error(await _wa_send(http, whatsapp_api, payload), 400, 100)
    assert error["message"] == "(#100) Invalid parameter"
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert details in error["error_data"]["details"]


async def test_whatsapp_text_of_exactly_4096_chars_is_accepted(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    assert (await _wa_send(http, whatsapp_api, _wa_text(body="é" * 4096))).status_code == 200


async def test_whatsapp_body_that_is_not_json_is_code_100(whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    response = await http.post(f"{whatsapp_api.base_url}/{WHATSAPP_PHONE_NUMBER_ID}/messages",
                               data={"to": "573001234567"}, headers={"Authorization": f"Bearer {WHATSAPP_TOKEN}"})
    _assert_wa_error(response, 400, 100)


async def test_whatsapp_template_is_accepted_with_message_status(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    whatsapp_api.approved_templates = {("acuse_recibo", "es_MX")}
    response = await _wa_send(http, whatsapp_api, _wa_template())
    assert response.status_code == 200
    assert response.json()["messages"][0]["message_status"] == "accepted"


async def test_whatsapp_template_not_approved_in_that_language_is_132001(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    whatsapp_api.approved_templates = {("acuse_recibo", "es_MX")}
    error = _assert_wa_error(await _wa_send(http, whatsapp_api, _wa_template(code="en_US")), 404, 132001)
    assert error["message"] == "(#132001) Template name does not exist in the translation"
    assert "en_US" in error["error_data"]["details"]


@pytest.mark.parametrize("template", [
    {"name": "acuse_recibo"},
    {"language": {"code": "es_MX"}},
    {"name": "acuse_recibo", "language": {"code": "es_MX"}, "components": [{"type": "button", "parameters": []}]},
    {"name": "acuse_recibo", "language": {"code": "es_MX"},
     "components": [{"type": "body", "parameters": [{"type": "emoji"}]}]},
])
async def test_whatsapp_template_without_name_language_or_valid_components_is_code_100(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient, template: dict[str, Any]) -> None:
    payload = {"messaging_product": "whatsapp", "to": "573001234567", "type": "template", "template": template}
    _assert_wa_error(await _wa_send(http, whatsapp_api, payload), 400, 100)


async def test_whatsapp_undeliverable_recipient_is_accepted_and_fails_later_by_webhook(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    whatsapp_api.undeliverable = {"5215512345678"}
    payload = _wa_text(to="5215512345678") | {"biz_opaque_callback_data": "notif-1"}
    response = await _wa_send(http, whatsapp_api, payload)
    assert response.status_code == 200
    [status] = whatsapp_api.failed_statuses
    assert status["id"] == response.json()["messages"][0]["id"]
    assert status["status"] == "failed"
    assert status["recipient_id"] == "5215512345678"
    assert status["errors"][0]["code"] == 131026
    assert status["biz_opaque_callback_data"] == "notif-1"


async def test_whatsapp_free_text_outside_the_24h_window_is_accepted_then_fails_131047(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient) -> None:
    whatsapp_api.window_closed = {"573001234567"}
    assert (await _wa_send(http, whatsapp_api, _wa_text())).status_code == 200
    assert (await _wa_send(http, whatsapp_api, _wa_template())).status_code == 200
    assert [s["errors"][0]["code"] for s in whatsapp_api.failed_statuses] == [131047]


@pytest.mark.parametrize(("status", "code", "message"), [
    (429, 130429, "(#130429) Rate limit hit"),
    (400, 131047, "(#131047) Re-engagement message"),
    (500, 131000, "(#131000) Something went wrong"),
])
async def test_whatsapp_scripted_errors_come_first_then_normal_behaviour(
        whatsapp_api: FakeWhatsApp, http: httpx.AsyncClient, status: int, code: int, message: str) -> None:
    whatsapp_api.script((status, FakeWhatsApp.error(code, message), {}))
    error = _assert_wa_error(await _wa_send(http, whatsapp_api, _wa_text(), token="even-a-wrong-token"), status, code)
    assert error["message"] == message
    assert error["error_data"] == {"messaging_product": "whatsapp", "details": message}
    assert (await _wa_send(http, whatsapp_api, _wa_text())).status_code == 200
    assert len(whatsapp_api.requests) == 2
    assert [r.status for r in whatsapp_api.requests] == [status, 200]
    assert whatsapp_api.sent() == whatsapp_api.requests[1:]


# ---------------------------------------------------------------------------------------------------- Telegram


async def _tg_send(http: httpx.AsyncClient, fake: FakeTelegram, token: str = TELEGRAM_TOKEN, *,
                   form: bool = False, **params: Any) -> httpx.Response:
    url = f"{fake.base_url}/bot{token}/sendMessage"
    if form:
        return await http.post(url, data={k: str(v) for k, v in params.items()})
    return await http.post(url, json=params)


def _assert_tg_error(response: httpx.Response, code: int, description: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    body: dict[str, Any] = response.json()
    assert body["ok"] is False
    assert body["error_code"] == code
    assert body["description"].startswith(description), body["description"]
    return body


async def test_telegram_send_message_json_returns_the_message_with_incrementing_ids(
        telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    first = await _tg_send(http, telegram_api, chat_id=987654321, text="Tu tique es NS-000123")
    second = await _tg_send(http, telegram_api, chat_id=987654321, text="otra")
    assert first.status_code == 200
    result = first.json()["result"]
    assert first.json()["ok"] is True
    assert result["chat"] == {"id": 987654321, "type": "private"}
    assert result["text"] == "Tu tique es NS-000123"
    assert abs(result["date"] - time.time()) < 5
    assert second.json()["result"]["message_id"] == result["message_id"] + 1
    assert telegram_api.requests[0].path == f"/bot{TELEGRAM_TOKEN}/sendMessage"
    assert telegram_api.requests[0].json == {"chat_id": 987654321, "text": "Tu tique es NS-000123"}


async def test_telegram_send_message_accepts_form_urlencoded(
        telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await _tg_send(http, telegram_api, form=True, chat_id="987654321", text="hola",
                              reply_parameters='{"message_id": 42}')
    assert response.status_code == 200
    assert response.json()["result"]["chat"]["id"] == 987654321
    assert telegram_api.requests[0].form == {"chat_id": "987654321", "text": "hola",
                                             "reply_parameters": '{"message_id": 42}'}


async def test_telegram_wrong_token_is_401_unauthorized(telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await _tg_send(http, telegram_api, "123456789:wrong", chat_id=1, text="hola")
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert response.status_code == 401


@pytest.mark.parametrize(("params", "description"), [
    ({"text": "hola"}, "Bad Request: chat_id is empty"),
    ({"chat_id": 1}, "Bad Request: message text is empty"),
    ({"chat_id": 1, "text": " \n\t "}, "Bad Request: message text is empty"),
    ({"chat_id": 1, "text": "x" * 4097}, "Bad Request: message is too long"),
    ({"chat_id": 1, "text": "hola", "reply_parameters": "not json"},
     "Bad Request: can't parse reply parameters JSON object"),
])
async def test_telegram_bad_parameters_are_400_with_the_bot_api_description(
        telegram_api: FakeTelegram, http: httpx.AsyncClient, params: dict[str, Any], description: str) -> None:
    body = _assert_tg_error(await _tg_send(http, telegram_api, **params), 400, description)
    assert body["description"] == description


async def test_telegram_text_length_counts_after_stripping(telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await _tg_send(http, telegram_api, chat_id=1, text="  " + "x" * 4096 + "\n")
    assert response.status_code == 200


@pytest.mark.parametrize(("text", "parse_mode"), [
    ("Asunto: a < b", "HTML"),
    ("Te quiero <3", "HTML"),
    ("<b>abierto</i>", "HTML"),
    ("Tique NS-000123.", "MarkdownV2"),
    ("un *solo asterisco", "Markdown"),
])
async def test_telegram_text_that_does_not_parse_in_its_parse_mode_is_cant_parse_entities(
        telegram_api: FakeTelegram, http: httpx.AsyncClient, text: str, parse_mode: str) -> None:
    _assert_tg_error(await _tg_send(http, telegram_api, chat_id=1, text=text, parse_mode=parse_mode), 400,
                     "Bad Request: can't parse entities: ")


async def test_telegram_html_with_known_tags_and_entities_is_sent_as_plain_text(
        telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await _tg_send(http, telegram_api, chat_id=1, parse_mode="HTML",
                              text='<b>NS-000123</b> a &lt; b <a href="https://x.test">ver</a>')
    assert response.status_code == 200
    assert response.json()["result"]["text"] == "NS-000123 a < b ver"
    escaped = await _tg_send(http, telegram_api, chat_id=1, parse_mode="MarkdownV2", text=r"Tique NS\-000123\.")
    assert escaped.json()["result"]["text"] == "Tique NS-000123."


async def test_telegram_blocked_chat_is_403_forbidden(telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    telegram_api.blocked = {"555"}
    response = await _tg_send(http, telegram_api, chat_id=555, text="hola")
    assert response.json() == {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
    assert telegram_api.sent() == []


async def test_telegram_unknown_chat_is_400_chat_not_found_when_chats_are_known(
        telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    telegram_api.known_chats = {"987654321"}
    _assert_tg_error(await _tg_send(http, telegram_api, chat_id=1, text="hola"), 400, "Bad Request: chat not found")
    assert (await _tg_send(http, telegram_api, chat_id=987654321, text="hola")).status_code == 200


async def test_telegram_scripted_429_carries_retry_after_then_succeeds(
        telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    telegram_api.script(FakeTelegram.too_many(15))
    limited = await _tg_send(http, telegram_api, chat_id=1, text="hola")
    assert limited.status_code == 429
    assert limited.json() == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 15",
                              "parameters": {"retry_after": 15}}
    assert (await _tg_send(http, telegram_api, chat_id=1, text="hola")).status_code == 200
    assert [r.status for r in telegram_api.requests] == [429, 200]
    assert len(telegram_api.sent()) == 1


# ---------------------------------------------------------------------------------------------------- Twilio


def _twilio_url(fake: FakeTwilio, sid: str = TWILIO_ACCOUNT_SID) -> str:
    return f"{fake.base_url}/2010-04-01/Accounts/{sid}/Messages.json"


async def _twilio_send(http: httpx.AsyncClient, fake: FakeTwilio, *, auth: tuple[str, str] | None = None,
                       **form: str) -> httpx.Response:
    return await http.post(_twilio_url(fake), data=form, auth=auth or (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN))


def _assert_twilio_error(response: httpx.Response, status: int, code: int, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    if message is not None:
        assert body["message"] == message


async def test_twilio_create_message_is_201_queued_with_a_message_resource(
        twilio_api: FakeTwilio, http: httpx.AsyncClient) -> None:
    response = await _twilio_send(http, twilio_api, To="+573001234567", From=TWILIO_FROM, Body="Tique NS-000123",
                                  StatusCallback="https://guardia.test/webhooks/twilio/status?n=abc")
    assert response.status_code == 201
    message = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", message["sid"])
    assert message["account_sid"] == TWILIO_ACCOUNT_SID
    assert (message["to"], message["from"], message["body"]) == ("+573001234567", TWILIO_FROM, "Tique NS-000123")
    assert message["status"] == "queued"
    assert message["num_segments"] == "1"
    assert message["direction"] == "outbound-api"
    assert message["error_code"] is None and message["error_message"] is None
    assert parsedate_to_datetime(message["date_created"]).tzinfo is not None
    assert message["uri"] == f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}/Messages/{message['sid']}.json"
    recorded = twilio_api.requests[0]
    assert recorded.form is not None and recorded.form["StatusCallback"].endswith("?n=abc")
    assert recorded.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_twilio_messaging_service_is_accepted_instead_of_from(
        twilio_api: FakeTwilio, http: httpx.AsyncClient) -> None:
    response = await _twilio_send(http, twilio_api, To="+573001234567", MessagingServiceSid="MG" + "0" * 32,
                                  Body="hola")
    assert response.status_code == 201
    assert response.json()["status"] == "accepted"


async def test_twilio_counts_ucs2_segments_for_spanish_text(twilio_api: FakeTwilio, http: httpx.AsyncClient) -> None:
    body = "Tu número de tique es NS-000123. " * 3  # "ú" forces UCS-2: 99 chars > 70
    response = await _twilio_send(http, twilio_api, To="+573001234567", From=TWILIO_FROM, Body=body)
    assert response.json()["num_segments"] == "2"
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2


@pytest.mark.parametrize("auth", [(TWILIO_ACCOUNT_SID, "wrong"), ("ACother", TWILIO_AUTH_TOKEN)])
async def test_twilio_bad_basic_auth_is_20003_authenticate(
        twilio_api: FakeTwilio, http: httpx.AsyncClient, auth: tuple[str, str]) -> None:
    response = await _twilio_send(http, twilio_api, auth=auth, To="+573001234567", From=TWILIO_FROM, Body="x")
    _assert_twilio_error(response, 401, 20003, "Authenticate")
    assert twilio_api.sent() == []


async def test_twilio_json_body_is_21604_because_twilio_reads_only_form_parameters(
        twilio_api: FakeTwilio, http: httpx.AsyncClient) -> None:
    response = await http.post(_twilio_url(twilio_api), auth=(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN),
                               json={"To": "+573001234567", "From": TWILIO_FROM, "Body": "hola"})
    _assert_twilio_error(response, 400, 21604, "A 'To' phone number is required.")


@pytest.mark.parametrize(("form", "code"), [
    ({"From": TWILIO_FROM, "Body": "x"}, 21604),
    ({"To": "3001234567", "From": TWILIO_FROM, "Body": "x"}, 21211),
    ({"To": "+57", "From": TWILIO_FROM, "Body": "x"}, 21211),
    ({"To": "+573001234567", "Body": "x"}, 21603),
    ({"To": "+573001234567", "From": "+15551234567", "Body": "x"}, 21606),
    ({"To": "+573001234567", "From": TWILIO_FROM}, 21602),
    ({"To": "+573001234567", "From": TWILIO_FROM, "Body": "x" * 1601}, 21617),
])
async def test_twilio_invalid_parameters_are_400_with_the_documented_code(
        twilio_api: FakeTwilio, http: httpx.AsyncClient, form: dict[str, str], code: int) -> None:
    response = await http.post(_twilio_url(twilio_api), data=form, auth=(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN))
    _assert_twilio_error(response, 400, code)


async def test_twilio_unsubscribed_recipient_is_21610(twilio_api: FakeTwilio, http: httpx.AsyncClient) -> None:
    twilio_api.unsubscribed = {"+573001234567"}
    response = await _twilio_send(http, twilio_api, To="+573001234567", From=TWILIO_FROM, Body="hola")
    _assert_twilio_error(response, 400, 21610, "Attempt to send to unsubscribed recipient")


async def test_twilio_scripted_429_is_20429_then_the_message_is_created(
        twilio_api: FakeTwilio, http: httpx.AsyncClient) -> None:
    twilio_api.script(FakeTwilio.too_many())
    limited = await _twilio_send(http, twilio_api, To="+573001234567", From=TWILIO_FROM, Body="hola")
    _assert_twilio_error(limited, 429, 20429, "Too Many Requests")
    assert (await _twilio_send(http, twilio_api, To="+573001234567", From=TWILIO_FROM, Body="hola")).status_code == 201
    assert len(twilio_api.requests) == 2
    assert len(twilio_api.sent()) == 1
    assert len(twilio_api.messages) == 1


# ---------------------------------------------------------------------------------------------------- staff webhook


async def test_staff_webhook_with_text_answers_plain_ok(staff_webhook: FakeStaffWebhook,
                                                        http: httpx.AsyncClient) -> None:
    response = await http.post(staff_webhook.hook_url, json={"text": "NS-000123 vence en 15 min"})
    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["content-type"].startswith("text/plain")
    assert staff_webhook.texts == ["NS-000123 vence en 15 min"]
    assert staff_webhook.requests[0].json == {"text": "NS-000123 vence en 15 min"}


@pytest.mark.parametrize(("content", "answer"), [
    (b'{"blocks": []}', "no_text"),
    (b'{"text": ""}', "no_text"),
    (b"{not json", "invalid_payload"),
    (b'["text"]', "invalid_payload"),
])
async def test_staff_webhook_without_text_or_with_bad_json_is_400_plain(
        staff_webhook: FakeStaffWebhook, http: httpx.AsyncClient, content: bytes, answer: str) -> None:
    response = await http.post(staff_webhook.hook_url, content=content, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.text) == (400, answer)
    assert staff_webhook.sent() == []


async def test_staff_webhook_scripted_429_carries_retry_after(staff_webhook: FakeStaffWebhook,
                                                              http: httpx.AsyncClient) -> None:
    staff_webhook.script((429, "rate_limited", {"Retry-After": "3"}))
    limited = await http.post(staff_webhook.hook_url, json={"text": "hola"})
    assert (limited.status_code, limited.text, limited.headers["retry-after"]) == (429, "rate_limited", "3")
    assert (await http.post(staff_webhook.hook_url, json={"text": "hola"})).text == "ok"
    assert [r.status for r in staff_webhook.requests] == [429, 200]


async def test_staff_webhook_accepts_any_hook_path(staff_webhook: FakeStaffWebhook, http: httpx.AsyncClient) -> None:
    response = await http.post(f"{staff_webhook.url}/hooks/abc123", json={"text": "hola"})
    assert response.text == "ok"
    assert (await http.post(f"{staff_webhook.url}/services/abc", json={"text": "x"})).status_code == 404


# ---------------------------------------------------------------------------------------------------- SMTP


def _mail(to: str = "laura@cliente.test") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "soporte@guardia.test"
    message["To"] = to
    message["Subject"] = "[NS-000123] Re: Sin conexión"
    message["Message-ID"] = "<notif-1@guardia.test>"
    message["In-Reply-To"] = "<cliente-1@cliente.test>"
    message["Auto-Submitted"] = "auto-replied"
    message.set_content("Recibimos su mensaje. Número de tique: NS-000123.")
    return message


async def test_smtp_receives_an_authenticated_message_with_its_headers(smtp_server: FakeSmtp) -> None:
    await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port, username=SMTP_USERNAME,
                          password=SMTP_PASSWORD, timeout=5)
    [mail] = smtp_server.messages
    assert mail.mail_from == "soporte@guardia.test"
    assert mail.rcpt_tos == ["laura@cliente.test"]
    assert mail.login == SMTP_USERNAME
    assert mail.message["Subject"] == "[NS-000123] Re: Sin conexión"
    assert mail.message["In-Reply-To"] == "<cliente-1@cliente.test>"
    assert mail.message["Auto-Submitted"] == "auto-replied"
    assert "NS-000123" in mail.message.get_content()
    assert b"Message-ID: <notif-1@guardia.test>" in mail.content
    assert smtp_server.url.startswith("smtp://notify%40guardia.test:p%40ss%3Aw%2Frd@127.0.0.1:")


async def test_smtp_requires_auth_when_configured(smtp_server: FakeSmtp) -> None:
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port, timeout=5)
    assert refused.value.code == 530
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
        await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port, username=SMTP_USERNAME,
                              password="wrong", timeout=5)
    assert wrong.value.code == 535
    assert smtp_server.messages == []


async def test_smtp_open_relay_accepts_without_auth(open_smtp_server: FakeSmtp) -> None:
    await aiosmtplib.send(_mail(), hostname=open_smtp_server.host, port=open_smtp_server.port, timeout=5)
    assert open_smtp_server.messages[0].login is None


async def test_smtp_rejected_recipient_gets_550_at_rcpt(open_smtp_server: FakeSmtp) -> None:
    open_smtp_server.rejected = {"nadie@cliente.test"}
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(_mail("nadie@cliente.test"), hostname=open_smtp_server.host,
                              port=open_smtp_server.port, timeout=5)
    [error] = refused.value.recipients
    assert (error.code, error.message) == (550, "5.1.1 mailbox unavailable")
    assert open_smtp_server.messages == []


async def test_smtp_partly_rejected_recipients_deliver_to_the_others(open_smtp_server: FakeSmtp) -> None:
    open_smtp_server.rejected = {"nadie@cliente.test"}
    errors, _ = await aiosmtplib.send(_mail(), recipients=["laura@cliente.test", "nadie@cliente.test"],
                                      hostname=open_smtp_server.host, port=open_smtp_server.port, timeout=5)
    assert errors["nadie@cliente.test"].code == 550
    assert open_smtp_server.messages[0].rcpt_tos == ["laura@cliente.test"]


async def test_smtp_scripted_451_at_data_then_success(smtp_server: FakeSmtp) -> None:
    smtp_server.script_data("451 4.3.0 try later")
    options: dict[str, Any] = {"hostname": smtp_server.host, "port": smtp_server.port, "username": SMTP_USERNAME,
                               "password": SMTP_PASSWORD, "timeout": 5}
    with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
        await aiosmtplib.send(_mail(), **options)
    assert (deferred.value.code, deferred.value.message) == (451, "4.3.0 try later")
    assert smtp_server.messages == []
    await aiosmtplib.send(_mail(), **options)
    assert len(smtp_server.messages) == 1
    assert [a.answer for a in smtp_server.attempts] == ["451 4.3.0 try later", "250 OK"]


# ---------------------------------------------------------------------------------------------------- wrong URLs


async def test_telegram_get_with_query_parameters_works_and_unknown_methods_are_404(
        telegram_api: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{telegram_api.url}/bot{TELEGRAM_TOKEN}/sendMessage",
                              params={"chat_id": "7", "text": "hola"})
    assert response.json()["result"]["chat"]["id"] == 7
    unknown = await http.post(f"{telegram_api.url}/bot{TELEGRAM_TOKEN}/sendMesage", json={"chat_id": 7})
    _assert_tg_error(unknown, 404, "Not Found")


async def test_twilio_another_accounts_path_is_20404(twilio_api: FakeTwilio, http: httpx.AsyncClient) -> None:
    response = await http.post(_twilio_url(twilio_api, sid="AC" + "9" * 32),
                               auth=(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN),
                               data={"To": "+573001234567", "From": TWILIO_FROM, "Body": "hola"})
    _assert_twilio_error(response, 404, 20404)
