"""What is said and to whom, delivered for real: stage changes reach the customer, a resolution mails 004's
summary to the customer and everyone involved, WhatsApp after 24 h of silence goes as an approved template,
and a tenant speaks through its own account with its own words."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.js import JetStreamContext

from guardia.policy import BUILTIN_DIR
from guardia.runner import SERVICES, Running, running
from guardia.settings import Settings
from tests.api import api_client
from tests.e2e.helpers import contact, events, eventually

from .fakes import FakeSmtp, FakeWhatsApp
from .test_delivery_pipeline import with_accounts

NAVEGASOFT: dict[str, Any] = yaml.safe_load((BUILTIN_DIR / "navegasoft.yaml").read_text(encoding="utf-8"))


def policy_folder(tmp_path: Path, tenant: str, change: Callable[[dict[str, Any]], None],
                  templates: dict[str, str] | None = None) -> Path:
    """An operator's policy folder holding one tenant derived from navegasoft's, with its own templates."""
    folder = tmp_path / "policies"
    folder.mkdir(exist_ok=True)
    doc = yaml.safe_load(yaml.safe_dump(NAVEGASOFT))
    doc["tenant"] = tenant
    change(doc)
    (folder / f"{tenant}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    if templates:
        (folder / tenant / "templates").mkdir(parents=True)
        for name, text in templates.items():
            (folder / tenant / "templates" / name).write_text(text, encoding="utf-8")
    return folder


async def status(http: httpx.AsyncClient, ticket: str, to: str, reason: str) -> None:
    answer = await http.post(f"/v1/tickets/{ticket}/status", json={"status": to, "reason": reason, "by": "ana"})
    assert answer.status_code == 202, answer.text


async def mails(smtp: FakeSmtp, to: str, subject_has: str, count: int = 1) -> list[EmailMessage] | None:
    found = [m.message for m in smtp.messages if m.rcpt_tos == [to] and subject_has in str(m.message["Subject"])]
    return found if len(found) >= count else None


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


@pytest.fixture
async def mailing(settings: Settings, whatsapp_api: FakeWhatsApp, smtp_server: FakeSmtp) -> AsyncIterator[Running]:
    async with running(SERVICES, with_accounts(settings, whatsapp_api, smtp_server)) as state:
        yield state


async def test_the_customer_hears_of_each_stage_and_everyone_involved_gets_the_resolution_summary(
        mailing: Running, smtp_server: FakeSmtp, js: JetStreamContext) -> None:
    email = f"{uuid.uuid4().hex[:8]}@ferreteriaelsol.co"
    message_id = f"<{uuid.uuid4().hex}@ferreteriaelsol.co>"
    async with api_client(mailing.base_url) as http:
        answer = await http.post("/v1/contacts", json=contact(
            "No podemos timbrar las facturas, el PAC responde error 301", email=email, pid=message_id,
            subject="Facturas sin timbrar"))
        assert answer.status_code == 202, answer.text
        ticket = answer.json()["ticket_id"]
        await eventually(lambda: mails(smtp_server, email, "Recibimos"), what="the acknowledgment")
        await status(http, ticket, "en_proceso_del_solicitante", "envíanos el XML de una factura rechazada")
        [waiting] = await eventually(lambda: mails(smtp_server, email, "Tu caso está"), what="the stage update")
        assert "envíanos el XML de una factura rechazada" in text_of(waiting)
        await status(http, ticket, "resuelto", "Renovamos el certificado del PAC y re-timbramos las facturas.")
        [summary] = await eventually(lambda: mails(smtp_server, email, "Resumen"), what="the customer's summary")
    evs = await events(js, ticket)
    number = next(d["data"]["ticket_number"] for d in evs if d["event_type"] == "ticket.opened")
    levels = {d["data"]["level"] for d in evs if d["event_type"] == "ticket.assigned"}
    assert levels, "the ticket was assigned"
    body = text_of(summary)
    assert summary["Subject"].startswith(f"[{number}]") and summary["In-Reply-To"] == message_id  # in her thread
    assert "Renovamos el certificado del PAC" in body and "el PAC responde error 301" in body
    html = summary.get_body(("html",))
    assert html is not None and f"<strong>{number}</strong>" in str(html.get_content())  # type: ignore[attr-defined]
    for level in levels:  # 004: "varios destinatarios involucrados en el tema"
        staff = NAVEGASOFT["notify"]["recipients"][level]["email"]
        [copy] = await eventually(lambda staff=staff: mails(smtp_server, staff, f"[{number}] Resumen"),
                                  what=f"the summary to {level}")
        assert "Renovamos el certificado del PAC" in text_of(copy)
    sent = [d for d in await events(js, ticket) if d["event_type"] == "notification.sent"
            and ":resumen:" in d["data"]["notification_id"]]
    assert len(sent) == 1 + len(levels)  # once each


def whatsapp_contact(phone: str, hours_ago: float, text: str) -> dict[str, Any]:
    body = contact(text, email=f"{uuid.uuid4().hex[:8]}@cliente.co", channel="whatsapp")
    body["customer"]["phone"] = phone
    body["received_at"] = (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()
    return body


async def test_after_24_hours_of_silence_the_customer_is_written_with_approved_templates(
        settings: Settings, whatsapp_api: FakeWhatsApp, smtp_server: FakeSmtp, js: JetStreamContext,
        tmp_path: Path) -> None:
    def templates(doc: dict[str, Any]) -> None:
        doc["channels"]["whatsapp_official"] = True
        doc["notify"]["whatsapp_templates"] = {
            "acknowledgment": {"name": "acuse_tique", "language": "es", "parameters": ["ticket_number"]},
            "stage_update": {"name": "avance_tique", "language": "es", "parameters": ["ticket_number"]}}
    folder = policy_folder(tmp_path, "navegasoft", templates)
    whatsapp_api.approved_templates |= {("acuse_tique", "es"), ("avance_tique", "es")}
    phone = f"+57310{uuid.uuid4().int % 10_000_000:07d}"
    async with running(SERVICES, with_accounts(settings, whatsapp_api, smtp_server).model_copy(
            update={"policy_dir": folder})) as state, api_client(state.base_url) as http:
        answer = await http.post("/v1/contacts", json=whatsapp_contact(
            phone, 25, "el módulo de inventario no abre desde ayer"))
        assert answer.status_code == 202, answer.text
        ticket = answer.json()["ticket_id"]

        async def to_customer(count: int) -> list[dict[str, Any]] | None:
            found = [r.json for r in whatsapp_api.sent() if r.json and r.json.get("to") == phone.lstrip("+")]
            return found if len(found) >= count else None

        await eventually(lambda: to_customer(1), what="the acknowledgment")
        await status(http, ticket, "en_proceso", "")
        sent = await eventually(lambda: to_customer(2), what="the stage update")
    assert [(m["type"], m["template"]["name"]) for m in sent] == [("template", "acuse_tique"),
                                                                  ("template", "avance_tique")]
    number = next(d["data"]["ticket_number"] for d in await events(js, ticket) if d["event_type"] == "ticket.opened")
    assert sent[0]["template"]["components"][0]["parameters"] == [{"type": "text", "text": number}]


async def test_a_tenant_speaks_through_its_own_account_with_its_own_words(
        settings: Settings, whatsapp_api: FakeWhatsApp, smtp_server: FakeSmtp, js: JetStreamContext,
        tmp_path: Path) -> None:
    (tmp_path / "acme_token").write_text("EAAGacmeOwnToken000\n", encoding="utf-8")

    def acme(doc: dict[str, Any]) -> None:
        doc["name"] = "ACME Software"
        doc["channels"]["whatsapp_official"] = True
        doc["intake"]["ticket_prefix"] = "AC"
        doc["notify"]["accounts"] = {"whatsapp_access_token": f"file:{tmp_path / 'acme_token'}",
                                     "whatsapp_phone_number_id": "209876543210987",
                                     "whatsapp_api_base_url": "{ACME_URL}"}
    async with FakeWhatsApp(token="EAAGacmeOwnToken000", phone_number_id="209876543210987") as acme_api:
        folder = policy_folder(tmp_path, "acme", acme, templates={
            "acuse_recibo.txt.j2": "¡Hola {{ customer_name }}! Bienvenido al soporte de ACME. Tu caso es "
                                   "*{{ ticket_number }}*.\n{{ signature }}"})
        path = folder / "acme.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("{ACME_URL}", acme_api.base_url), encoding="utf-8")
        phone = f"+57311{uuid.uuid4().int % 10_000_000:07d}"
        configured = with_accounts(settings, whatsapp_api, smtp_server).model_copy(update={"policy_dir": folder})
        async with running(SERVICES, configured) as state, api_client(state.base_url) as http:
            body = whatsapp_contact(phone, 0, "no carga el tablero de ventas desde esta mañana")
            body["tenant"] = "acme"
            answer = await http.post("/v1/contacts", json=body)
            assert answer.status_code == 202, answer.text

            async def acme_sent() -> list[dict[str, Any]] | None:
                return [r.json for r in acme_api.sent() if r.json and r.json.get("to") == phone.lstrip("+")] or None

            [ack] = await eventually(acme_sent, what="the acknowledgment through ACME's own number")
        assert ack["text"]["body"].startswith("¡Hola Laura! Bienvenido al soporte de ACME. Tu caso es *AC-")
        assert not [r for r in whatsapp_api.sent() if r.json and r.json.get("to") == phone.lstrip("+")]
