"""tawk.to webhooks normalizer: the corpus, chat start / end / transcript, tickets, HMAC-SHA1, properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.channels import tawkto
from services.intake.channels.base import CanonicalContact, Normalization, RawRequest, hmac_hex
from shared.schemas import Channel

from .checks import FUZZ, FUZZ_LIGHT, check_result, json_values, mutated, valid_documents
from .corpus_support import SECRETS, Case, config, load_cases, payload_files, unsigned_config

CASES = load_cases("tawkto")
BY_NAME = {case.name: case for case in CASES}
CHAT = "4c7e5ed0-6e34-11ea-9e24-b14c5c3e48e6"


def signed(doc: dict[str, Any]) -> RawRequest:
    body = json.dumps(doc).encode()
    return RawRequest(body=body, headers={"X-Tawk-Signature": hmac_hex(SECRETS["tawkto"], body, "sha1")})


def run(name: str, **overrides: Any) -> Normalization:
    return tawkto.normalize(BY_NAME[name].request(), config(**overrides))


def one(name: str, outcome: str = "emit") -> CanonicalContact:
    result = run(name)
    assert result.outcome == outcome, result.reason
    (contact,) = result.contacts
    return contact


def test_expected_names_every_corpus_file() -> None:
    expected = json.loads((payload_files("tawkto")[0].parent / "expected.json").read_text())
    assert set(expected) == {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_corpus(case: Case) -> None:
    result = tawkto.normalize(case.request(), config())
    check_result(result)
    assert result.outcome == case.expected["outcome"], result.reason
    assert result.reason_code == case.expected.get("reason_code"), result.reason
    assert len(result.contacts) == case.expected["count"]


# -- signature --------------------------------------------------------------------------------------------------


def test_missing_and_wrong_signatures() -> None:
    assert run("bad_missing_signature.json").reason_code == "missing_signature"
    assert run("bad_wrong_signature.json").reason_code == "invalid_signature"


def test_signature_is_sha1_not_sha256() -> None:
    case = BY_NAME["chat_start_plain.json"]
    sha256 = {"X-Tawk-Signature": hmac_hex(SECRETS["tawkto"], case.body, "sha256")}
    assert tawkto.normalize(RawRequest(body=case.body, headers=sha256), config()).reason_code == "invalid_signature"


@pytest.mark.parametrize("secret", [None, ""], ids=["none", "empty"])
def test_no_secret_configured_skips_verification(secret: str | None) -> None:
    assert run("bad_missing_signature.json", tawkto_secret=secret).outcome == "emit"
    assert run("bad_wrong_signature.json", tawkto_secret=secret).outcome == "emit"


# -- events -----------------------------------------------------------------------------------------------------


def test_chat_start_with_the_prechat_form() -> None:
    contact = one("chat_start_prechat.json")
    assert contact.channel is Channel.webchat
    assert contact.provider_message_id == CHAT
    assert contact.thread_key == f"tawkto:{CHAT}"
    assert contact.customer.name == "Laura Gómez"
    assert contact.customer.phone == "+573001234567"  # "Teléfono : 300 123 4567", read in the visitor's CO
    assert contact.customer.email == "laura@ferreteriaelsol.co"
    assert contact.body_text.startswith("Nombre : Laura Gómez\r\n")
    assert contact.received_at == datetime(2026, 11, 23, 14, 0, 2, 512000, tzinfo=UTC)


def test_chat_start_plain() -> None:
    contact = one("chat_start_plain.json")
    assert contact.customer.email == "jorge.ramirez@abarroteslaesperanza.mx"
    assert contact.customer.phone is None
    assert contact.body_text == "Buenas, ¿el sistema tiene caída? No carga el punto de venta."


def test_chat_started_by_an_agent_is_ignored() -> None:
    assert run("chat_start_by_agent.json").outcome == "ignore"


def test_chat_end_and_transcript_update_the_chats_contact() -> None:
    start = one("chat_start_prechat.json")
    end = one("chat_end.json", outcome="update")
    transcript = one("chat_transcript.json", outcome="update")
    assert start.provider_message_id == end.provider_message_id == transcript.provider_message_id
    assert start.thread_key == end.thread_key == transcript.thread_key
    assert end.customer.email == "laura@ferreteriaelsol.co"
    assert transcript.body_text.splitlines() == [
        "[2026-11-23T14:00:02.512Z] Visitante: No me deja timbrar la nómina, sale error 90 de la DIAN",
        "[2026-11-23T14:01:10.000Z] Agente Ana: Hola Laura, ¿me comparte una captura del error?",
        "[2026-11-23T14:02:30.000Z] Visitante: captura.png [1 adjunto(s)]",
        "[2026-11-23T14:20:11.003Z] Sistema: El chat ha finalizado",
    ]


def test_ticket_create_is_a_webform_contact() -> None:
    contact = one("ticket_create.json")
    assert contact.channel is Channel.webform
    assert contact.provider_message_id == "ticket:7d0f6c3e-8b78-11ef-a1b2-0242ac120004"
    assert contact.subject == "Cotización de licencias adicionales"
    assert contact.body_text.startswith("Buenas tardes, necesito cotizar 3 licencias")
    assert contact.customer.email == "jorge.ramirez@abarroteslaesperanza.mx"
    assert contact.customer.channel_ids == {"tawkto_ticket": "1045"}
    assert contact.hints == {"rfc": ["AEJ010203AB4"]}


def test_hostile_ticket_is_kept_verbatim() -> None:
    contact = one("hostile_ticket.json")
    assert contact.subject == "<script>alert(1)</script>"
    assert contact.body_text == "'; UPDATE usuarios SET rol='admin' WHERE '1'='1; --"
    assert contact.customer.name == "<b>Hacker</b>"


def test_anonymous_visitor_name_is_not_a_name() -> None:
    doc = json.loads(BY_NAME["chat_start_plain.json"].body)
    doc["visitor"]["name"] = "V1582225683446316"
    (contact,) = tawkto.normalize(signed(doc), config()).contacts
    assert contact.customer.name is None


def test_unknown_event_naive_and_future_times() -> None:
    assert run("bad_unknown_event.json").reason_code == "unknown_event_type"
    naive = run("bad_naive_time.json")
    assert (naive.reason_code, naive.reason.split(":")[0]) == ("schema_violation", "time")
    assert run("bad_future_time.json").reason_code == "timestamp_out_of_range"
    assert run("bad_missing_chat_id.json").reason.startswith("chatId")


# -- properties -------------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    check_result(tawkto.normalize(RawRequest(body=body, headers={}), unsigned_config()))


@FUZZ_LIGHT
@given(json_values)
def test_arbitrary_json_never_raises(doc: Any) -> None:
    check_result(tawkto.normalize(RawRequest(body=json.dumps(doc).encode(), headers={}), unsigned_config()))


@FUZZ
@given(mutated(valid_documents(CASES)))
def test_mutated_events_never_raise(body: bytes) -> None:
    check_result(tawkto.normalize(RawRequest(body=body, headers={}), unsigned_config()))
