"""Real-format channel payloads posted to the running gateway with real signatures, read back from NATS."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from guardia.runner import SERVICES, running
from guardia.settings import Settings
from tests.intake import corpus_support, mail_phone_support

from .helpers import dead_letters, events, eventually

CORPUS = Path(__file__).resolve().parents[1] / "intake" / "corpus"
PROVIDERS = {
    "whatsapp": "/webhooks/whatsapp", "telegram": "/webhooks/telegram", "webform": "/webhooks/webform",
    "crisp": "/webhooks/crisp", "tawkto": "/webhooks/tawkto", "email": "/webhooks/email",
    "mailgun": "/webhooks/mailgun", "sendgrid": "/webhooks/sendgrid", "zadarma": "/webhooks/zadarma",
    "twilio": "/webhooks/twilio/{endpoint}",
}


def _cases(outcome: str, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for provider in PROVIDERS:
        expected = json.loads((CORPUS / provider / "expected.json").read_text())
        picked = [(provider, name, want) for name, want in sorted(expected.items())
                  if want.get("outcome") == outcome and want.get("request", {}).get("method", "POST") == "POST"]
        found += picked[:limit]
    return found


def _request(provider: str, name: str, want: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
    folder = CORPUS / provider
    sidecar = folder / f"{name}.headers.json"
    headers = json.loads(sidecar.read_text()) if sidecar.exists() else dict(
        mail_phone_support.DEFAULT_HEADERS.get(provider, {}))
    path = PROVIDERS[provider].format(endpoint=want.get("request", {}).get("endpoint", ""))
    return path, (folder / name).read_bytes(), headers


@pytest.fixture
def signed_settings(settings: Settings) -> Settings:
    s = corpus_support.SECRETS
    return settings.model_copy(update={
        "whatsapp_app_secret": s["whatsapp"], "telegram_secret_token": s["telegram"],
        "webform_secret": s["webform"], "crisp_secret": s["crisp"], "tawkto_secret": s["tawkto"],
        "mailgun_signing_key": mail_phone_support.MAILGUN_SIGNING_KEY,
        "sendgrid_token": mail_phone_support.SENDGRID_TOKEN, "zadarma_secret": mail_phone_support.ZADARMA_SECRET,
        "twilio_auth_token": mail_phone_support.TWILIO_AUTH_TOKEN,
        "public_base_url": mail_phone_support.PUBLIC_BASE_URL,
        "zadarma_timezone": mail_phone_support.ZADARMA_TIMEZONE,
        "webhook_replay_window": 0,  # the corpus is signed at a fixed instant
    })


async def test_each_provider_payload_becomes_contacts_and_tickets_on_nats(
    signed_settings: Settings, js: JetStreamContext
) -> None:
    cases = _cases("emit", limit=2)
    async with running(SERVICES, signed_settings) as guardia, httpx.AsyncClient(base_url=guardia.base_url) as http:
        expected_contacts = 0
        for provider, name, want in cases:
            path, body, headers = _request(provider, name, want)
            response = await http.post(path, content=body, headers=headers)
            assert response.status_code == 200, (provider, name, response.text)
            answer = response.json()
            assert answer["outcome"] == "emit", (provider, name, answer)
            assert len(answer["contacts"]) == want.get("count", 1), (provider, name)
            assert all(c["ticket_number"].startswith("NS-") for c in answer["contacts"])
            # two corpus files may carry the same provider message (a retry): one contact
            expected_contacts += sum(c["outcome"] in ("opened", "appended") for c in answer["contacts"])

        async def received() -> list[dict[str, Any]] | None:
            found = await events(js, subject="ev.*.*.contact.received")
            return found if len(found) >= expected_contacts else None

        contacts = await eventually(received, what="every contact on NATS")
        assert len(contacts) == expected_contacts
        channels = {c["data"]["channel"] for c in contacts}
        assert {"whatsapp", "telegram", "email", "phone", "webchat", "webform"} <= channels
        offsets = {datetime.fromisoformat(c["data"]["received_at"]).utcoffset() for c in contacts}
        assert offsets == {timedelta(0)}  # UTC, from the provider's own timestamp


async def test_malformed_or_badly_signed_payloads_get_4xx_and_land_in_the_dead_letters(
    signed_settings: Settings, js: JetStreamContext
) -> None:
    cases = _cases("reject", limit=1)
    async with running(("intake",), signed_settings) as guardia, httpx.AsyncClient(base_url=guardia.base_url) as http:
        for provider, name, want in cases:
            path, body, headers = _request(provider, name, want)
            response = await http.post(path, content=body, headers=headers)
            assert 400 <= response.status_code < 500, (provider, name, response.text)
            assert response.json()["error"] == want["reason_code"], (provider, name)
        letters = await eventually(lambda: _at_least(js, len(cases)), what="the dead letters")
    assert sorted(d["data"]["reason_code"] for d in letters) == sorted(w["reason_code"] for _, _, w in cases)
    assert all(d["data"]["source"].startswith("gateway POST /webhooks/") for d in letters)


async def test_whatsapp_subscription_check_answers_the_challenge(signed_settings: Settings) -> None:
    settings = signed_settings.model_copy(update={"whatsapp_verify_token": "token-de-prueba"})
    async with running(("intake",), settings) as guardia, httpx.AsyncClient(base_url=guardia.base_url) as http:
        ok = await http.get("/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token":
                                                          "token-de-prueba", "hub.challenge": "1158201444"})
        assert (ok.status_code, ok.text) == (200, "1158201444")
        bad = await http.get("/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": "otro",
                                                           "hub.challenge": "1"})
        assert bad.status_code == 401


async def _at_least(js: JetStreamContext, n: int) -> list[dict[str, Any]] | None:
    found = await dead_letters(js)
    return found if len(found) >= n else None


async def test_a_dead_letter_is_re_fed_after_the_fix_with_dead_letters_retry(
    signed_settings: Settings, js: JetStreamContext
) -> None:
    from typer.testing import CliRunner

    from guardia.cli import app as cli

    path, body, headers = _request("webform", "basic.form", {})
    wrong = signed_settings.model_copy(update={"webform_secret": "a-secret-nobody-signed-with"})
    async with running(("intake",), wrong) as guardia, httpx.AsyncClient(base_url=guardia.base_url) as http:
        assert (await http.post(path, content=body, headers=headers)).status_code == 401
    letters = await eventually(lambda: dead_letters(js), what="the dead letter")
    assert letters[0]["data"]["reason_code"] == "invalid_signature"

    async with running(("intake",), signed_settings) as guardia:  # the operator fixed the secret
        env = {"NATS_URL": guardia.settings.nats_url or "", "GUARDIA_HTTP_PORT": str(guardia.settings.http_port)}
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["dead-letters", "retry",
                                                                   letters[0]["event_id"][:13]], env=env)
        assert result.exit_code == 0, result.output
        assert "-> 200" in result.output
        contacts = await eventually(lambda: events(js, subject="ev.*.*.contact.received"), what="the contact")
    assert contacts[0]["data"]["channel"] == "webform"


def _eml(sender: str, message_id: str, body: str, reply_to: str | None = None) -> bytes:
    headers = [f"From: {sender}", "To: soporte@navegasoft.com", f"Message-ID: {message_id}",
               "Date: Mon, 23 Nov 2026 09:00:00 -0500", "Subject: Factura rechazada por la DIAN",
               "Content-Type: text/plain; charset=utf-8"]
    if reply_to:
        headers += [f"In-Reply-To: {reply_to}", f"References: {reply_to}"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


async def test_a_reply_in_an_email_thread_joins_its_ticket_whoever_writes_it(
    signed_settings: Settings, js: JetStreamContext
) -> None:
    async with running(("intake",), signed_settings) as guardia, httpx.AsyncClient(base_url=guardia.base_url) as http:
        first = (await http.post("/webhooks/email", headers={"content-type": "message/rfc822"}, content=_eml(
            "Laura Gómez <laura@elsol.co>", "<root-1@elsol.co>", "La DIAN rechaza la factura FE-88."))).json()
        reply = (await http.post("/webhooks/email", headers={"content-type": "message/rfc822"}, content=_eml(
            "Pedro Ruiz <contador@elsol.co>", "<reply-2@elsol.co>", "Adjunto el XML que pidieron.",
            reply_to="<root-1@elsol.co>"))).json()
        other = (await http.post("/webhooks/email", headers={"content-type": "message/rfc822"}, content=_eml(
            "Pedro Ruiz <contador@elsol.co>", "<new-3@elsol.co>", "Otra consulta: ¿cómo cierro el mes?"))).json()
    assert reply["contacts"][0]["ticket_id"] == first["contacts"][0]["ticket_id"]
    assert reply["contacts"][0]["outcome"] == "appended"
    assert other["contacts"][0]["ticket_id"] != first["contacts"][0]["ticket_id"]
