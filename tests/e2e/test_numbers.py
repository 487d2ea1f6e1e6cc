"""Ticket numbers are unique and gap-free per tenant (services/intake/numbers.py), even when the
contact that claimed a number dies before opening its ticket and no retry ever comes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from guardia.runner import SERVICES, running
from guardia.settings import Settings
from services.intake import numbers, rules
from services.intake.channels.base import CanonicalContact
from services.intake.state import IntakeState
from shared.schemas import Channel, Customer
from tests.api import api_client

from .helpers import contact, eventually, outbox


async def test_a_number_claimed_by_an_opener_that_died_becomes_its_ticket_so_no_number_is_lost(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(numbers, "COMPLETE_AFTER", timedelta(seconds=1))
    monkeypatch.setattr(numbers, "CHECK_EVERY", 0.5)
    async with running(SERVICES, settings) as guardia, api_client(guardia.base_url) as http:
        # An opener that won its thread and claimed NS-000001, then died (kill -9) before publishing
        # anything; its provider never retries.
        state = IntakeState(guardia.services["intake"])
        orphan = CanonicalContact(
            channel=Channel.email, provider="rfc822", provider_message_id="orphan-1",
            customer=Customer(name="Laura Gómez", email="laura@ferreteriaelsol.co"),
            subject="No podemos facturar", body_text="La DIAN rechaza todas las facturas desde esta mañana",
            received_at=datetime.now(UTC))
        contact_id = rules.canonical_key("navegasoft", orphan)
        tkey = "t-orphan"
        ticket_id, number, opener = await state._reserve_thread(tkey, contact_id, "navegasoft", "NS", orphan,
                                                                datetime.now(UTC))
        assert (number, opener) == ("NS-000001", True)

        # Meanwhile another customer writes and gets the next number.
        answer = (await http.post("/v1/contacts", json=contact("No puedo entrar al sistema", pid="next-1",
                                                                  email="otro@cliente.co"))).json()
        assert answer["ticket_number"] == "NS-000002"

        # The sweep finds the claim with no ticket and opens it from the contact it carries.
        acks = await eventually(lambda: _acks(guardia.settings, str(ticket_id)), within=20,
                                what="the orphan claim opened and acknowledged")
        assert "NS-000001" in acks[0]["subject"]

        # The provider's retry after all: the same ticket, nothing new.
        retry = await state.accept_contact(orphan, "navegasoft", "NS")
        assert (retry.outcome, retry.ticket_number) == ("duplicate", "NS-000001")
        await asyncio.sleep(1.0)
        assert len(await _acks(guardia.settings, str(ticket_id))) == 1


async def _acks(settings: Settings, ticket: str) -> list[dict[str, Any]]:
    return [n for n in outbox(settings.outbox_path) if n["ticket_id"] == ticket and n["kind"] == "acknowledgment"]
