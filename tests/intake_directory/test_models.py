"""DirectoryCustomer and Subscription: what they accept and how they normalize identifiers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from services.intake.directory import DirectoryCustomer, Subscription, normalize_email, normalize_tax_id


def customer(**overrides: Any) -> DirectoryCustomer:
    doc: dict[str, Any] = {"customer_id": "C-1", "name": "Laura Gómez", "subscription": {"status": "active"}}
    doc.update(overrides)
    return DirectoryCustomer.model_validate(doc)


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+57 300 123 4567", None, "+573001234567"),
        ("+57 300 123 4567", "CO", "+573001234567"),
        ("300 123 4567", "CO", "+573001234567"),  # local, read in the customer's country
        ("3001234567", "co", "+573001234567"),  # country is case-insensitive
        ("573001234567", "CO", "+573001234567"),  # a WhatsApp wa_id, no '+'
        ("573001234567", None, "+573001234567"),
        ("(604) 444 1122", "CO", "+576044441122"),  # landline with area code
        ("55 1234 5678", "MX", "+525512345678"),
        ("+52 55 1234 5678", "CO", "+525512345678"),  # an explicit code wins over the country
    ],
)
def test_phones_are_normalized_to_e164_with_the_country_as_default_region(
    raw: str, country: str | None, e164: str
) -> None:
    assert customer(phones=[raw], country=country).phones == (e164,)


@pytest.mark.parametrize(("raw", "country"), [("+57 300", "CO"), ("300 123 4567", None), ("not a phone", "CO")])
def test_an_invalid_phone_is_rejected_naming_it(raw: str, country: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        customer(phones=[raw], country=country)
    assert f"{raw!r} is not a valid phone number" in str(caught.value)
    assert caught.value.errors()[0]["loc"] == ("phones",)


def test_the_same_phone_written_twice_is_kept_once() -> None:
    assert customer(phones=["+57 300 123 4567", "3001234567"], country="CO").phones == ("+573001234567",)


def test_country_must_be_an_iso_code() -> None:
    assert customer(country="mx").country == "MX"
    with pytest.raises(ValidationError, match="ISO 3166-1"):
        customer(country="Colombia")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("900.123.456-7", "9001234567"),  # NIT with its check digit
        ("9001234567", "9001234567"),
        ("900 123 456 - 7", "9001234567"),
        ("900123456-7", "9001234567"),
        ("goml850101ab1", "GOML850101AB1"),  # RFC in lower case
        ("GOML-850101-AB1", "GOML850101AB1"),
        ("3-101-123456", "3101123456"),  # cédula jurídica
        ("30-12345678-9", "30123456789"),  # CUIT
    ],
)
def test_tax_ids_normalize_for_matching(raw: str, normalized: str) -> None:
    assert normalize_tax_id(raw) == normalized


def test_tax_ids_are_kept_as_written() -> None:
    c = customer(tax_ids=[" 900.123.456-7 ", "goml850101ab1"])
    assert c.tax_ids == ("900.123.456-7", "goml850101ab1")
    assert c.normalized_tax_ids() == ("9001234567", "GOML850101AB1")


def test_a_tax_id_with_nothing_but_separators_is_rejected() -> None:
    with pytest.raises(ValidationError, match="is not a tax id"):
        customer(tax_ids=["..--"])


def test_emails_are_checked_and_matched_case_insensitively() -> None:
    assert customer(emails=[" Laura@FerreteriaElSol.co "]).emails == ("Laura@FerreteriaElSol.co",)
    assert normalize_email(" Laura@FerreteriaElSol.CO ") == "laura@ferreteriaelsol.co"
    with pytest.raises(ValidationError, match="'laura-at-sol' is not a valid email address"):
        customer(emails=["laura-at-sol"])


def test_channel_ids_are_per_channel_lists() -> None:
    c = customer(channel_ids={" WhatsApp ": [" 573001234567 "], "telegram": ["123", "123"]})
    assert c.channel_ids == {"whatsapp": ("573001234567",), "telegram": ("123",)}
    with pytest.raises(ValidationError, match="empty id"):
        customer(channel_ids={"telegram": [""]})


def test_status_accepts_the_odoo_stage_en_progreso_as_active() -> None:
    assert Subscription.model_validate({"status": "En progreso"}).status == "active"
    assert Subscription.model_validate({"status": "Cancelada"}).status == "cancelled"
    with pytest.raises(ValidationError):
        Subscription.model_validate({"status": "suspended"})


def test_models_are_frozen_and_strict_about_fields() -> None:
    c = customer(emails=["a@b.co"])
    with pytest.raises(ValidationError):
        c.name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        customer(phone="+573001234567")
    sub = Subscription.model_validate(
        {"status": "active", "invoices": [{"number": "F-1", "due_date": "2026-11-01", "paid": False}]}
    )
    assert sub.invoices[0].due_date == date(2026, 11, 1)
    assert sub.agreement_broken is False
    assert sub.agreement_until is None and sub.maintenance_until is None


def test_a_single_identifier_may_be_written_without_a_list() -> None:
    c = customer(
        emails="a@sol.co", phones="+573001234567", tax_ids="900.123.456-7", channel_ids={"whatsapp": "573001234567"}
    )
    assert (c.emails, c.phones, c.tax_ids) == (("a@sol.co",), ("+573001234567",), ("900.123.456-7",))
    assert c.channel_ids == {"whatsapp": ("573001234567",)}
