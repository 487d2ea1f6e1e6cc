"""001 §3.1 / 004: the customer directory decides who gets support; the others go to the commercial area."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from nats.js import JetStreamContext

from guardia.runner import SERVICES, running
from guardia.settings import Settings
from tests.api import api_client

from .helpers import contact, events, eventually, outbox


def _directory(folder: Path) -> Path:
    today = datetime.now(ZoneInfo("America/Bogota")).date()  # the tenant's day, as intake judges it
    customers = [
        {"customer_id": "C-OK", "name": "Laura Gómez", "company": "Ferretería El Sol", "country": "CO",
         "emails": ["laura@elsol.co"], "phones": ["+573001112233"], "tax_ids": ["900.123.456-7"],
         "subscription": {"status": "active", "invoices": [
             {"number": "FV-1", "due_date": str(today - timedelta(days=10)), "paid": False}]}},
        {"customer_id": "C-MORA", "name": "Jorge Ramírez", "company": "Distribuidora Andina", "country": "CO",
         "emails": ["compras@andina.co"], "phones": ["+573004445566"],
         "subscription": {"status": "active", "invoices": [
             {"number": "FV-2", "due_date": str(today - timedelta(days=11)), "paid": False}]}},
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "navegasoft.yaml").write_text(yaml.safe_dump(customers, allow_unicode=True))
    return folder


async def test_a_customer_in_arrears_gets_a_ticket_for_the_commercial_area_and_no_clock(
    settings: Settings, js: JetStreamContext, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"directory_dir": _directory(tmp_path / "directories")})
    async with running(SERVICES, settings) as guardia, api_client(guardia.base_url) as http:
        late = (await http.post("/v1/contacts", json=contact("No me deja generar facturas", pid="mora-1",
                                                             email="compras@andina.co"))).json()
        ok = (await http.post("/v1/contacts", json=contact("No me deja generar facturas", pid="ok-1",
                                                           email="laura@elsol.co"))).json()
        assigned = await eventually(lambda: _of(js, late["ticket_id"], "ticket.assigned"), what="the assignment")
        opened = (await _of(js, late["ticket_id"], "ticket.opened"))[0]
        assert opened["data"]["standing"]["customer_id"] == "C-MORA"
        assert opened["data"]["standing"]["reason"] == "in_arrears"
        exempt = await _of(js, late["ticket_id"], "sla.exempted")
        assert exempt[0]["data"]["reason"] == "ineligible"
        assert assigned[0]["data"]["level"] == "area_comercial"
        started = await eventually(lambda: _of(js, ok["ticket_id"], "sla.started"), what="the eligible clock")
        assert started  # exactly 10 days overdue is not arrears yet (001 §3.1: more than 10 days)
        acks = await eventually(lambda: _async([n for n in outbox(guardia.settings.outbox_path)
                                                if n["ticket_id"] == late["ticket_id"]]), what="the ack")
        assert "área comercial" in acks[0]["body"]


async def _of(js: JetStreamContext, ticket: str, event_type: str) -> list[dict[str, object]]:
    return [d for d in await events(js, ticket) if d["event_type"] == event_type]


async def _async(value: list[dict[str, object]]) -> list[dict[str, object]]:
    return value
