"""Directory.match: channel id, then email, then phone, then tax id; ambiguity gives no match (001 §3.1)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.intake.directory import Directory, DirectoryCustomer
from shared.schemas import Channel, Customer


def entry(customer_id: str, **fields: Any) -> DirectoryCustomer:
    doc: dict[str, Any] = {"customer_id": customer_id, "name": f"Cliente {customer_id}", "country": "CO"}
    doc.update(fields)
    doc.setdefault("subscription", {"status": "active"})
    return DirectoryCustomer.model_validate(doc)


ANA = entry(
    "A",
    emails=["ana@sol.co"],
    phones=["300 111 2233"],
    tax_ids=["900.123.456-7"],
    channel_ids={"whatsapp": ["573001112233"], "telegram": ["777"]},
)
BETO = entry("B", emails=["beto@luna.co"], phones=["+57 310 444 5566"], tax_ids=["GOML850101AB1"])
CARLA = entry("C", emails=["carla@mar.co"], channel_ids={"telegram": ["123"]})
DIRECTORY = Directory([ANA, BETO, CARLA])


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        (
            Customer(
                email="ana@sol.co", phone="+573001112233", tax_id="9001234567", channel_ids={"whatsapp": "573001112233"}
            ),
            "channel_id",
        ),
        (Customer(email="ana@sol.co", phone="+573001112233", tax_id="9001234567"), "email"),
        (Customer(phone="+573001112233", tax_id="9001234567"), "phone"),
        (Customer(tax_id="9001234567"), "tax_id"),
    ],
)
def test_the_strongest_identifier_that_hits_is_reported(contact: Customer, field: str) -> None:
    found = DIRECTORY.match(contact, "email")
    assert found is not None
    assert found.customer is ANA
    assert found.field == field


def test_every_identifier_that_led_to_the_customer_is_listed_strongest_first() -> None:
    contact = Customer(
        email="ana@sol.co", phone="+573001112233", tax_id="900.123.456-7", channel_ids={"whatsapp": "573001112233"}
    )
    found = DIRECTORY.match(contact, Channel.whatsapp)
    assert found is not None
    assert found.fields == ("channel_id", "email", "phone", "tax_id")
    assert (found.field, found.channel, found.value) == ("channel_id", "whatsapp", "573001112233")


def test_channel_ids_match_exactly_and_only_within_their_channel() -> None:
    assert DIRECTORY.match(Customer(channel_ids={"telegram": "123"}), "telegram") is not None
    # The same id on another channel is another person.
    assert DIRECTORY.match(Customer(channel_ids={"whatsapp": "123"}), "whatsapp") is None
    # Exact: a wa_id written as a phone is not the channel id (the phone field is there for that).
    assert DIRECTORY.match(Customer(channel_ids={"whatsapp": "+573001112233"}), "whatsapp") is None


def test_the_channel_the_contact_arrived_on_is_reported_first() -> None:
    contact = Customer(channel_ids={"whatsapp": "573001112233", "telegram": "777"})
    by_telegram = DIRECTORY.match(contact, "telegram")
    by_whatsapp = DIRECTORY.match(contact, "whatsapp")
    assert by_telegram is not None and by_telegram.channel == "telegram"
    assert by_whatsapp is not None and by_whatsapp.channel == "whatsapp"


def test_two_customers_by_different_fields_is_ambiguous() -> None:
    contact = Customer(email="ana@sol.co", phone="+573104445566")  # Ana's email, Beto's phone
    assert DIRECTORY.match(contact, "email") is None
    lookup = DIRECTORY.lookup(contact, "email")
    assert lookup.outcome == "ambiguous"
    assert lookup.match is None
    assert [(m.customer.customer_id, m.field) for m in lookup.candidates] == [("A", "email"), ("B", "phone")]
    assert DIRECTORY.match_all(contact, "email") == lookup.candidates
    assert "2 clientes distintos" in lookup.reason and "A por correo" in lookup.reason


def test_a_channel_id_does_not_outvote_another_customer_found_by_email() -> None:
    contact = Customer(email="beto@luna.co", channel_ids={"telegram": "123"})  # Beto's email, Carla's Telegram
    lookup = DIRECTORY.lookup(contact, "telegram")
    assert lookup.outcome == "ambiguous"
    assert [m.customer.customer_id for m in lookup.candidates] == ["C", "B"]


def test_two_customers_sharing_one_identifier_is_ambiguous(directory: Directory) -> None:
    # C-010 and C-011 of the example directory share their accountant's email.
    contact = Customer(email="contabilidad@asesoresjm.co")
    assert directory.match(contact, "email") is None
    lookup = directory.lookup(contact, "email")
    assert [m.customer.customer_id for m in lookup.candidates] == ["C-010", "C-011"]
    # One more identifier does not make it one customer: it is still two.
    assert directory.match(Customer(email="contabilidad@asesoresjm.co", phone="+573017654321"), "email") is None
    # Without the shared email, the phone alone is C-010.
    found = directory.match(Customer(phone="+573017654321"), "phone")
    assert found is not None and found.customer.customer_id == "C-010"


def test_several_identifiers_of_one_customer_are_one_match() -> None:
    lookup = DIRECTORY.lookup(Customer(email="beto@luna.co", phone="+573104445566", tax_id="goml850101ab1"), "email")
    assert lookup.outcome == "matched"
    assert lookup.match is not None and lookup.match.fields == ("email", "phone", "tax_id")
    assert "B" in lookup.reason


def test_no_match() -> None:
    lookup = DIRECTORY.lookup(Customer(email="nadie@ninguna.co", phone="+573209998877"), "email")
    assert (lookup.outcome, lookup.candidates, lookup.match) == ("no_match", (), None)
    assert DIRECTORY.match(Customer(), "webchat") is None


def test_email_is_case_insensitive() -> None:
    found = DIRECTORY.match(Customer(email="ANA@Sol.CO"), "email")
    assert found is not None and found.customer is ANA and found.value == "ana@sol.co"


def test_a_local_phone_in_the_directory_matches_the_contacts_e164() -> None:
    # ANA's phone was written '300 111 2233' with country CO.
    found = DIRECTORY.match(Customer(phone="+573001112233"), "phone")
    assert found is not None and found.customer is ANA


@pytest.mark.parametrize("written", ["9001234567", "900.123.456-7", "900 123 456-7", "900123456-7"])
def test_a_nit_matches_with_or_without_dots_and_dash(written: str) -> None:
    found = DIRECTORY.match(Customer(tax_id=written), "webform")
    assert found is not None and found.customer is ANA and found.value == "9001234567"


def test_a_nit_in_the_directory_without_separators_matches_a_contacts_formatted_one() -> None:
    plain = Directory([entry("N", tax_ids=["9001234567"])])
    assert plain.match(Customer(tax_id="900.123.456-7"), "webform") is not None


def test_a_nit_without_its_check_digit_is_another_key() -> None:
    assert DIRECTORY.match(Customer(tax_id="900.123.456"), "webform") is None


@pytest.mark.parametrize("written", ["GOML850101AB1", "goml850101ab1", "Goml-850101-ab1"])
def test_an_rfc_matches_whatever_its_case(written: str) -> None:
    found = DIRECTORY.match(Customer(tax_id=written), "webform")
    assert found is not None and found.customer is BETO


def test_the_readme_contacts_reach_the_example_customer(directory: Directory) -> None:
    by_email = directory.match(Customer(name="Laura Gómez", email="laura@ferreteriaelsol.co"), "email")
    assert by_email is not None and (by_email.customer.customer_id, by_email.field) == ("C-001", "email")
    # What the WhatsApp normalizer makes of a message from her phone.
    on_whatsapp = Customer(name="Laura", phone="+573001234567", channel_ids={"whatsapp": "573001234567"})
    found = directory.match(on_whatsapp, Channel.whatsapp)
    assert found is not None and found.customer.customer_id == "C-001"
    assert found.fields == ("channel_id", "phone")
    on_telegram = directory.match(Customer(channel_ids={"telegram": "123456789"}), Channel.telegram)
    assert on_telegram is not None and on_telegram.customer.customer_id == "C-009"


def test_a_directory_refuses_a_repeated_customer_id() -> None:
    with pytest.raises(ValueError, match="'A' appears twice"):
        Directory([ANA, ANA])


def test_a_directory_is_a_collection_of_its_customers() -> None:
    assert len(DIRECTORY) == 3
    assert "A" in DIRECTORY and "Z" not in DIRECTORY
    assert DIRECTORY.get("B") is BETO and DIRECTORY.get("Z") is None
    assert [c.customer_id for c in DIRECTORY] == ["A", "B", "C"]
    assert DIRECTORY.customers == (ANA, BETO, CARLA)


# --- property: match never raises, and only chooses when there is exactly one candidate --------------

KNOWN_EMAILS = ["ana@sol.co", "beto@luna.co", "carla@mar.co", "laura@ferreteriaelsol.co", "contabilidad@asesoresjm.co"]
KNOWN_PHONES = ["+573001112233", "+573104445566", "+573001234567", "+573017654321"]
KNOWN_TAX_IDS = ["900.123.456-7", "goml850101ab1", "CAZ150312AB1", "9001234567"]
KNOWN_CHANNEL_IDS = [("whatsapp", "573001112233"), ("telegram", "123"), ("telegram", "123456789"), ("whatsapp", "123")]

texts = st.text(max_size=30)
channels = st.sampled_from([c.value for c in Channel]) | texts
channel_ids = st.dictionaries(texts, texts, max_size=3) | st.lists(st.sampled_from(KNOWN_CHANNEL_IDS), max_size=2).map(
    dict
)


@st.composite
def valid_customers(draw: st.DrawFn) -> Customer:
    """Customers as the schema accepts them, often carrying identifiers the directories know."""
    try:
        return Customer(
            name=draw(st.none() | st.text(max_size=200)),
            email=draw(st.none() | st.sampled_from(KNOWN_EMAILS) | st.emails()),
            phone=draw(
                st.none() | st.sampled_from(KNOWN_PHONES) | st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
            ),
            company=draw(st.none() | st.text(max_size=200)),
            tax_id=draw(st.none() | st.sampled_from(KNOWN_TAX_IDS) | st.text(max_size=40)),
            channel_ids=draw(channel_ids),
        )
    except ValidationError:
        return Customer()


@st.composite
def unchecked_customers(draw: st.DrawFn) -> Customer:
    """Customers built without validation: any text in any field (what a careless caller could pass)."""
    return Customer.model_construct(
        name=draw(st.none() | texts),
        email=draw(st.none() | texts | st.sampled_from(KNOWN_EMAILS)),
        phone=draw(st.none() | texts | st.sampled_from(KNOWN_PHONES)),
        company=draw(st.none() | texts),
        tax_id=draw(st.none() | texts | st.sampled_from(KNOWN_TAX_IDS)),
        channel_ids=draw(channel_ids),
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(contact=valid_customers() | unchecked_customers(), channel=channels)
def test_match_never_raises_and_chooses_only_one_candidate(
    directory: Directory, contact: Customer, channel: str
) -> None:
    for where in (DIRECTORY, directory):
        candidates = where.match_all(contact, channel)
        found = where.match(contact, channel)
        assert len({m.customer.customer_id for m in candidates}) == len(candidates)
        if len(candidates) == 1:
            assert found == candidates[0]
        else:
            assert found is None
