"""WhatsApp Cloud API normalizer: the corpus, each message type, signatures, the GET handshake, properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.channels import whatsapp
from services.intake.channels.base import CanonicalContact, Normalization, RawRequest, hmac_hex
from shared.schemas import Channel

from .checks import FUZZ, FUZZ_LIGHT, check_result, json_values, mutated, valid_documents
from .corpus_support import (
    NOW,
    SECRETS,
    WHATSAPP_VERIFY_TOKEN,
    Case,
    config,
    load_cases,
    payload_files,
    unsigned_config,
)

CASES = load_cases("whatsapp")
BY_NAME = {case.name: case for case in CASES}


def run(name: str, **overrides: Any) -> Normalization:
    return whatsapp.normalize(BY_NAME[name].request(), config(**overrides))


def one(name: str) -> CanonicalContact:
    result = run(name)
    assert result.outcome == "emit", result.reason
    assert len(result.contacts) == 1
    return result.contacts[0]


def signed(doc: dict[str, Any] | bytes) -> RawRequest:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return RawRequest(body=body, headers={"X-Hub-Signature-256": "sha256=" + hmac_hex(SECRETS["whatsapp"], body)})


# -- the corpus -------------------------------------------------------------------------------------------------


def test_expected_names_every_corpus_file() -> None:
    expected = json.loads((payload_files("whatsapp")[0].parent / "expected.json").read_text())
    assert set(expected) == {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_corpus(case: Case) -> None:
    result = whatsapp.normalize(case.request(), config())
    check_result(result)
    assert result.outcome == case.expected["outcome"], result.reason
    assert result.reason_code == case.expected.get("reason_code"), result.reason
    assert len(result.contacts) == case.expected["count"]


# -- signature --------------------------------------------------------------------------------------------------


def test_missing_and_wrong_signatures_are_told_apart() -> None:
    assert run("bad_missing_signature.json").reason_code == "missing_signature"
    assert run("bad_wrong_signature.json").reason_code == "invalid_signature"


@pytest.mark.parametrize("secret", [None, ""], ids=["none", "empty"])
def test_no_app_secret_configured_skips_verification(secret: str | None) -> None:
    assert run("bad_missing_signature.json", whatsapp_app_secret=secret).outcome == "emit"
    assert run("bad_wrong_signature.json", whatsapp_app_secret=secret).outcome == "emit"


def test_signature_of_other_bytes_is_invalid() -> None:
    case = BY_NAME["text.json"]
    tampered = RawRequest(body=case.body.replace(b"Hola", b"HOLA"), headers=case.headers)
    assert whatsapp.normalize(tampered, config()).reason_code == "invalid_signature"


def test_signature_without_the_sha256_prefix_is_invalid() -> None:
    case = BY_NAME["text.json"]
    bare = {"X-Hub-Signature-256": hmac_hex(SECRETS["whatsapp"], case.body)}
    assert whatsapp.normalize(RawRequest(body=case.body, headers=bare), config()).reason_code == "invalid_signature"


def test_header_name_is_case_insensitive() -> None:
    case = BY_NAME["text.json"]
    lower = {key.lower(): value for key, value in case.headers.items()}
    assert whatsapp.normalize(RawRequest(body=case.body, headers=lower), config()).outcome == "emit"


def test_body_over_one_mebibyte_is_too_large() -> None:
    body = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert whatsapp.normalize(signed(body), config()).reason_code == "payload_too_large"


# -- the GET subscription handshake -----------------------------------------------------------------------------


def test_verify_subscription_echoes_the_challenge() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": WHATSAPP_VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert whatsapp.verify_subscription(query, config()) == "1158201444"
    result = whatsapp.normalize(RawRequest(body=b"", headers={}, method="GET", query=query), config())
    assert result.reply == "1158201444"
    assert result.outcome == "ignore"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "otro", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": WHATSAPP_VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": WHATSAPP_VERIFY_TOKEN},
    ],
)
def test_verify_subscription_refuses(query: dict[str, str]) -> None:
    assert whatsapp.verify_subscription(query, config()) is None
    result = whatsapp.normalize(RawRequest(body=b"", headers={}, method="GET", query=query), config())
    assert result.outcome == "reject"
    assert result.reply is None


def test_verify_subscription_needs_a_configured_token() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": WHATSAPP_VERIFY_TOKEN, "hub.challenge": "1"}
    assert whatsapp.verify_subscription(query, config(whatsapp_verify_token=None)) is None


# -- message types ----------------------------------------------------------------------------------------------


def test_text_message() -> None:
    contact = one("text.json")
    assert contact.channel is Channel.whatsapp
    assert contact.provider == "whatsapp_cloud"
    assert contact.provider_message_id.startswith("wamid.")
    assert contact.customer.name == "Laura Gómez"
    assert contact.customer.phone == "+573001234567"
    assert contact.customer.channel_ids == {"whatsapp": "573001234567"}
    assert contact.thread_key == "whatsapp:573001234567"
    assert contact.received_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert contact.received_at.tzinfo is UTC
    assert contact.body_text.startswith("Hola, buenos días. No puedo timbrar la nómina")
    assert contact.hints == {"rfc": ["FES850101AB1"]}
    assert not contact.is_reply
    assert contact.raw_event == "messages.text"


def test_image_with_caption_is_an_attachment() -> None:
    contact = one("image_caption.json")
    assert contact.body_text == "Así sale el error cuando intento facturar"
    (attachment,) = contact.attachments
    assert attachment.content_type == "image/jpeg"
    assert attachment.reference == "2754859441498128"
    assert attachment.name == "image.jpg"


def test_document_keeps_its_file_name() -> None:
    contact = one("document.json")
    (attachment,) = contact.attachments
    assert attachment.name == "factura-FE-10234.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.reference == "1062459871234598"
    assert contact.body_text == "Adjunto la factura que la DIAN rechazó"


def test_mexican_wa_id_with_the_legacy_mobile_1_is_still_a_phone() -> None:
    assert one("document.json").customer.phone == "+525512345678"
    assert whatsapp.wa_phone("5215512345678") == "+525512345678"
    assert whatsapp.wa_phone("573001234567") == "+573001234567"
    assert whatsapp.wa_phone("12") is None


def test_video_without_caption_gets_a_placeholder() -> None:
    contact = one("video_no_caption.json")
    assert contact.body_text == "[video]"
    assert contact.attachments[0].name == "video.mp4"


def test_voice_note_and_audio_file() -> None:
    voice = one("voice_note.json")
    assert voice.body_text == "[nota de voz]"
    assert voice.attachments[0].name == "nota_de_voz.ogg"
    assert voice.attachments[0].content_type == "audio/ogg; codecs=opus"
    audio = one("audio_file.json")
    assert audio.body_text == "[audio]"
    assert audio.attachments[0].name == "audio.mp3"


def test_interactive_replies_are_the_tapped_option_and_replies() -> None:
    button = one("interactive_button_reply.json")
    assert button.body_text == "Facturación"
    assert button.is_reply
    listed = one("interactive_list_reply.json")
    assert listed.body_text == "Timbrado de nómina\nErrores al timbrar recibos de nómina"
    assert listed.is_reply


def test_template_quick_reply_button() -> None:
    contact = one("button_template_reply.json")
    assert contact.body_text == "Hablar con un asesor"
    assert contact.is_reply


def test_location_goes_into_the_body() -> None:
    body = one("location.json").body_text
    assert body.splitlines() == [
        "Ubicación compartida:",
        "Oficinas Ferretería El Sol",
        "Av. Insurgentes Sur 1602, Crédito Constructor, 03940 Ciudad de México, CDMX",
        "19.3633, -99.1808",
        "https://maps.app.goo.gl/abc123",
    ]


def test_context_makes_a_reply_but_forwarding_does_not() -> None:
    assert one("reply_with_context.json").is_reply
    assert not one("forwarded_text.json").is_reply


@pytest.mark.parametrize("name", ["reaction.json", "sticker.json", "statuses_only.json", "other_field.json"])
def test_non_contacts_are_ignored(name: str) -> None:
    result = run(name)
    assert result.outcome == "ignore"
    assert result.reason


def test_unsupported_message_is_kept_with_a_note() -> None:
    contact = one("unsupported.json")
    assert "poll_creation" in contact.body_text
    assert "Message type unknown" in contact.body_text


def test_several_messages_give_several_contacts() -> None:
    result = run("multiple_messages.json")
    laura, jorge = result.contacts
    assert (laura.customer.name, jorge.customer.name) == ("Laura Gómez", "Jorge Ramírez")
    assert laura.thread_key == "whatsapp:573001234567"
    assert jorge.thread_key == "whatsapp:5215512345678"
    assert jorge.received_at - laura.received_at == timedelta(seconds=60)
    assert laura.provider_message_id != jorge.provider_message_id


def test_hostile_text_is_kept_verbatim() -> None:
    assert one("hostile_text.json").body_text == (
        "<script>alert('hola')</script> Robert'); DROP TABLE tickets;-- <b>urgente</b>"
    )


def test_user_with_username_is_identified_by_bsuid() -> None:
    contact = one("username_bsuid.json")
    assert contact.customer.phone is None
    assert contact.customer.channel_ids == {"whatsapp_bsuid": "CO.13491208655302741918"}
    assert contact.thread_key == "whatsapp:CO.13491208655302741918"


# -- time -------------------------------------------------------------------------------------------------------


def test_future_timestamp_is_out_of_range_but_a_skewed_clock_is_fine() -> None:
    assert run("bad_future_timestamp.json").reason_code == "timestamp_out_of_range"
    doc = json.loads(BY_NAME["text.json"].body)
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(
        int((NOW + timedelta(hours=23)).timestamp())
    )
    assert whatsapp.normalize(signed(doc), config()).outcome == "emit"


def test_schema_violation_names_the_field_path() -> None:
    result = run("bad_missing_message_id.json")
    assert result.reason_code == "schema_violation"
    assert result.reason.startswith("entry[0].changes[0].value.messages[0].id")


# -- properties -------------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    check_result(whatsapp.normalize(RawRequest(body=body, headers={}), unsigned_config()))
    check_result(whatsapp.normalize(RawRequest(body=body, headers={}), config()))


@FUZZ_LIGHT
@given(json_values)
def test_arbitrary_json_never_raises(doc: Any) -> None:
    body = json.dumps(doc).encode()
    check_result(whatsapp.normalize(RawRequest(body=body, headers={}), unsigned_config()))


@FUZZ
@given(mutated(valid_documents(CASES)))
def test_mutated_webhooks_never_raise(body: bytes) -> None:
    check_result(whatsapp.normalize(RawRequest(body=body, headers={}), unsigned_config()))


@FUZZ_LIGHT
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=4), st.sampled_from(["GET", "POST", "PUT"]))
def test_arbitrary_headers_and_queries_never_raise(fields: dict[str, str], method: str) -> None:
    request = RawRequest(body=BY_NAME["text.json"].body, headers=fields, method=method, query=fields)
    check_result(whatsapp.normalize(request, config()))
