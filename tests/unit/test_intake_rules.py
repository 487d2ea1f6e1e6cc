"""Intake's pure decisions: contact validation, idempotency keys, time sanity, threads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.rules import (
    ContactIn,
    appended_event,
    check_received_at,
    contact_event,
    contact_key,
    opened_event,
    thread_key,
    ticket_id_for,
    ticket_number,
)
from shared.schemas import Channel, ContactReceived, Customer, MessageAdded, TicketOpened

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def contact(**overrides: Any) -> ContactIn:
    doc: dict[str, Any] = {
        "channel": "email",
        "provider_message_id": "<msg-1@mail.cliente.co>",
        "customer": {"name": "Ana", "email": "ana@cliente.co"},
        "subject": "Factura rechazada",
        "text": "La DIAN rechaza la factura electrónica",
    }
    doc.update(overrides)
    return ContactIn.model_validate(doc)


# -- validation ---------------------------------------------------------------------------------------------------


def test_a_customer_with_no_email_phone_or_channel_id_is_rejected_naming_customer() -> None:
    with pytest.raises(ValidationError) as info:
        contact(customer={"name": "Ana", "company": "Tiendas Ana", "tax_id": "900123456"})
    assert "customer" in str(info.value)
    assert "email, phone or channel_ids" in str(info.value)


@pytest.mark.parametrize(
    "customer",
    [{"email": "ana@cliente.co"}, {"phone": "+573001234567"}, {"channel_ids": {"whatsapp": "573001234567"}}],
)
def test_any_one_way_to_reach_the_customer_is_enough(customer: dict[str, Any]) -> None:
    assert contact(customer=customer).customer.key() != "anonymous"


def test_a_phone_that_is_not_e164_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        contact(customer={"phone": "300 123 4567"})
    assert "phone" in str(info.value)


def test_an_invalid_email_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        contact(customer={"email": "ana-at-cliente"})
    assert "email" in str(info.value)


def test_whitespace_only_text_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        contact(text="   \n ")
    assert "text" in str(info.value)


def test_unknown_fields_and_channels_are_rejected() -> None:
    with pytest.raises(ValidationError):
        contact(priority="urgente")
    with pytest.raises(ValidationError):
        contact(channel="fax")


def test_a_naive_received_at_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        contact(received_at="2026-12-04T10:00:00")
    assert "received_at" in str(info.value)


def test_a_tenant_that_is_not_a_subject_token_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        contact(tenant="navega soft")
    assert "tenant" in str(info.value)
    assert contact(tenant="navega-soft_2").tenant == "navega-soft_2"


# -- idempotency keys -----------------------------------------------------------------------------------------------


def test_the_same_provider_id_gives_the_same_key_whatever_the_content() -> None:
    a = contact_key("navegasoft", contact(), NOW)
    b = contact_key("navegasoft", contact(text="otro texto"), NOW + timedelta(minutes=5))
    assert a == b == "navegasoft:email:<msg-1@mail.cliente.co>"


def test_the_key_is_scoped_by_tenant_and_channel() -> None:
    assert contact_key("navegasoft", contact(), NOW) != contact_key("wolk", contact(), NOW)
    assert contact_key("navegasoft", contact(), NOW) != contact_key("navegasoft", contact(channel="webform"), NOW)


def test_with_no_provider_id_the_key_is_a_content_digest() -> None:
    first = contact_key("navegasoft", contact(provider_message_id=None), NOW)
    assert first.startswith("navegasoft:email:sha256:")
    assert len(first.rsplit(":", 1)[-1]) == 32
    assert contact_key("navegasoft", contact(provider_message_id=None), NOW) == first  # a retry: same key
    assert contact_key("navegasoft", contact(provider_message_id=None, text="otra cosa"), NOW) != first
    assert contact_key("navegasoft", contact(provider_message_id=None), NOW + timedelta(seconds=1)) != first
    assert contact_key("navegasoft", contact(provider_message_id=None, subject="otro"), NOW) != first


def test_the_content_digest_ignores_the_case_of_the_email() -> None:
    upper = contact(provider_message_id=None, customer={"email": "Ana@Cliente.CO"})
    lower = contact(provider_message_id=None, customer={"email": "ana@cliente.co"})
    assert contact_key("navegasoft", upper, NOW) == contact_key("navegasoft", lower, NOW)


# -- received_at sanity ---------------------------------------------------------------------------------------------


def test_received_at_more_than_24_hours_ahead_is_rejected() -> None:
    with pytest.raises(ValueError, match="more than 24 h in the future"):
        check_received_at(NOW + timedelta(hours=24, seconds=1), NOW)


@pytest.mark.parametrize("offset", [timedelta(hours=24), timedelta(hours=3), timedelta(0), timedelta(days=-30)])
def test_received_at_up_to_24_hours_ahead_or_in_the_past_is_accepted(offset: timedelta) -> None:
    check_received_at(NOW + offset, NOW)  # raises if rejected


# -- threads, ids and events ----------------------------------------------------------------------------------------


def test_a_customer_on_one_channel_has_one_thread_key() -> None:
    a = Customer(email="Ana@Cliente.co", name="Ana")
    b = Customer(email="ana@cliente.co", phone="+573001234567")
    assert thread_key("navegasoft", Channel.email, a) == thread_key("navegasoft", Channel.email, b)
    assert thread_key("navegasoft", Channel.email, a) == ("navegasoft", "email", "email:ana@cliente.co")


def test_another_channel_or_customer_is_another_thread() -> None:
    ana = Customer(email="ana@cliente.co")
    assert thread_key("navegasoft", Channel.email, ana) != thread_key("navegasoft", Channel.webchat, ana)
    assert thread_key("navegasoft", Channel.email, ana) != thread_key(
        "navegasoft", Channel.email, Customer(email="luis@cliente.co")
    )


def test_customer_key_prefers_email_then_phone_then_tax_id_then_channel_id() -> None:
    assert Customer(email="A@B.co", phone="+573001234567").key() == "email:a@b.co"
    assert Customer(phone="+573001234567", tax_id="nit1").key() == "phone:+573001234567"
    assert Customer(tax_id="nit1", channel_ids={"telegram": "9"}).key() == "tax:NIT1"
    assert Customer(channel_ids={"whatsapp": "57300", "telegram": "9"}).key() == "telegram:9"


def test_ticket_ids_and_numbers_are_stable() -> None:
    assert ticket_id_for("navegasoft:email:x") == ticket_id_for("navegasoft:email:x")
    assert ticket_id_for("navegasoft:email:x") != ticket_id_for("navegasoft:email:y")
    assert ticket_number("NS", 123) == "NS-000123"


def test_the_contact_event_is_deterministic_and_carries_the_contact() -> None:
    c = contact()
    key = contact_key("navegasoft", c, NOW)
    first = contact_event("navegasoft", c, key, NOW)
    again = contact_event("navegasoft", c, key, NOW)
    assert first.event_id == again.event_id  # a retried contact republishes the same id (dedup)
    assert first.occurred_at == NOW
    payload = first.payload
    assert isinstance(payload, ContactReceived)
    assert payload.thread_key == "email:email:ana@cliente.co"
    assert payload.body_text == c.text


def test_a_contact_without_provider_id_uses_its_digest_as_provider_id() -> None:
    c = contact(provider_message_id=None)
    key = contact_key("navegasoft", c, NOW)
    payload = contact_event("navegasoft", c, key, NOW).payload
    assert payload.provider_message_id == key.split(":", 2)[-1]  # "sha256:<digest>"


def test_opened_and_appended_events_derive_from_the_contact() -> None:
    c = contact()
    key = contact_key("navegasoft", c, NOW)
    received = contact_event("navegasoft", c, key, NOW)
    tid = ticket_id_for(key)
    opened = opened_event(received, tid, "NS-000001")
    assert isinstance(opened.payload, TicketOpened)
    assert opened.ticket_id == tid
    assert opened.envelope.causation_id == received.event_id
    assert opened.payload.ticket_number == "NS-000001"
    assert opened_event(received, tid, "NS-000001").event_id == opened.event_id
    appended = appended_event(received, uuid.uuid4())
    assert isinstance(appended.payload, MessageAdded)
    assert appended.payload.author == "customer"
