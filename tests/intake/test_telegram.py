"""Telegram Bot API normalizer: the corpus, each update kind, the secret token, properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.channels import telegram
from services.intake.channels.base import CanonicalContact, Normalization, RawRequest
from shared.schemas import Channel

from .checks import FUZZ, FUZZ_LIGHT, check_result, json_values, mutated, valid_documents
from .corpus_support import NOW, SECRETS, Case, config, load_cases, payload_files, unsigned_config

CASES = load_cases("telegram")
BY_NAME = {case.name: case for case in CASES}
TOKEN = {"X-Telegram-Bot-Api-Secret-Token": SECRETS["telegram"]}


def run(name: str, **overrides: Any) -> Normalization:
    return telegram.normalize(BY_NAME[name].request(), config(**overrides))


def one(name: str, outcome: str = "emit") -> CanonicalContact:
    result = run(name)
    assert result.outcome == outcome, result.reason
    (contact,) = result.contacts
    return contact


def test_expected_names_every_corpus_file() -> None:
    expected = json.loads((payload_files("telegram")[0].parent / "expected.json").read_text())
    assert set(expected) == {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_corpus(case: Case) -> None:
    result = telegram.normalize(case.request(), config())
    check_result(result)
    assert result.outcome == case.expected["outcome"], result.reason
    assert result.reason_code == case.expected.get("reason_code"), result.reason
    assert len(result.contacts) == case.expected["count"]


# -- secret token -----------------------------------------------------------------------------------------------


def test_missing_and_wrong_secret_tokens() -> None:
    assert run("bad_missing_signature.json").reason_code == "missing_signature"
    assert run("bad_wrong_signature.json").reason_code == "invalid_signature"


@pytest.mark.parametrize("secret", [None, ""], ids=["none", "empty"])
def test_no_token_configured_skips_the_check(secret: str | None) -> None:
    assert run("bad_missing_signature.json", telegram_secret_token=secret).outcome == "emit"
    assert run("bad_wrong_signature.json", telegram_secret_token=secret).outcome == "emit"


def test_a_prefix_of_the_token_is_not_the_token() -> None:
    request = RawRequest(body=BY_NAME["text.json"].body, headers={"X-Telegram-Bot-Api-Secret-Token": "guardia"})
    assert telegram.normalize(request, config()).reason_code == "invalid_signature"


def test_body_over_one_mebibyte_is_too_large() -> None:
    body = b'{"update_id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert telegram.normalize(RawRequest(body=body, headers=TOKEN), config()).reason_code == "payload_too_large"


# -- update kinds -----------------------------------------------------------------------------------------------


def test_text_message() -> None:
    contact = one("text.json")
    assert contact.channel is Channel.telegram
    assert contact.provider_message_id == "612345678:1201"
    assert contact.customer.name == "Laura Gómez"
    assert contact.customer.channel_ids == {"telegram": "612345678"}
    assert contact.thread_key == "telegram:612345678"
    assert contact.received_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert contact.hints == {"nit": ["900.123.456-7"]}
    assert not contact.is_reply


def test_edited_message_updates_the_original() -> None:
    original = one("text.json")
    edited = one("edited_message.json", outcome="update")
    assert edited.provider_message_id == original.provider_message_id
    assert edited.received_at == datetime(2026, 11, 23, 14, 2, tzinfo=UTC)  # edit_date
    assert "desde el lunes" in edited.body_text


def test_photo_takes_the_largest_size() -> None:
    contact = one("photo_caption.json")
    assert contact.body_text == "Este es el error que aparece al cerrar el mes"
    (photo,) = contact.attachments
    assert photo.reference == "AgACAgEAAxkBAAIBS2c1_large"
    assert photo.size == 84211


def test_document_voice_and_audio() -> None:
    (document,) = one("document.json").attachments
    assert (document.name, document.content_type, document.size) == ("CFDI-A-1045.xml", "application/xml", 15234)
    voice = one("voice.json")
    assert voice.body_text == "[nota de voz]"
    assert voice.attachments[0].content_type == "audio/ogg"
    audio = one("audio.json")
    assert audio.attachments[0].name == "grabacion-llamada.mp3"
    assert audio.body_text == "[audio: grabacion-llamada.mp3]"


def test_reply_to_message_is_a_reply() -> None:
    assert one("reply.json").is_reply


def test_callback_query_is_a_contact_with_the_button_data() -> None:
    contact = one("callback_query.json")
    assert contact.provider_message_id == "2631877451248103945"
    assert contact.body_text == "modulo:nomina"
    assert contact.thread_key == "telegram:612345678"
    assert contact.received_at == NOW  # CallbackQuery has no date: the receiving clock
    assert contact.is_reply


def test_own_contact_card_gives_the_phone() -> None:
    contact = one("contact_share.json")
    assert contact.customer.phone == "+573104567890"


def test_someone_elses_contact_card_does_not() -> None:
    doc = json.loads(BY_NAME["contact_share.json"].body)
    doc["message"]["contact"]["user_id"] = 111
    result = telegram.normalize(RawRequest(body=json.dumps(doc).encode(), headers=TOKEN), config())
    assert result.contacts[0].customer.phone is None


def test_location_goes_into_the_body() -> None:
    assert one("location.json").body_text == "Ubicación compartida:\n4.710989, -74.072092"


@pytest.mark.parametrize(
    "name", ["my_chat_member.json", "channel_post.json", "sticker.json", "group_service_message.json"]
)
def test_non_contacts_are_ignored(name: str) -> None:
    assert run(name).outcome == "ignore"


def test_messages_from_bots_are_ignored() -> None:
    doc = json.loads(BY_NAME["text.json"].body)
    doc["message"]["from"]["is_bot"] = True
    assert telegram.normalize(RawRequest(body=json.dumps(doc).encode(), headers=TOKEN), config()).outcome == "ignore"


def test_hostile_text_is_kept_verbatim() -> None:
    assert one("hostile_text.json").body_text == "<img src=x onerror=alert(1)> '; DELETE FROM clientes WHERE '1'='1"


def test_future_date_and_missing_chat() -> None:
    assert run("bad_future_date.json").reason_code == "timestamp_out_of_range"
    missing = run("bad_missing_chat.json")
    assert missing.reason_code == "schema_violation"
    assert missing.reason.startswith("message.chat")


# -- properties -------------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    check_result(telegram.normalize(RawRequest(body=body, headers={}), unsigned_config()))


@FUZZ_LIGHT
@given(json_values)
def test_arbitrary_json_never_raises(doc: Any) -> None:
    check_result(telegram.normalize(RawRequest(body=json.dumps(doc).encode(), headers={}), unsigned_config()))


@FUZZ
@given(mutated(valid_documents(CASES)))
def test_mutated_updates_never_raise(body: bytes) -> None:
    check_result(telegram.normalize(RawRequest(body=body, headers={}), unsigned_config()))


@FUZZ_LIGHT
@given(st.dictionaries(st.text(max_size=40), st.text(max_size=40), max_size=3))
def test_arbitrary_headers_never_raise(headers: dict[str, str]) -> None:
    check_result(telegram.normalize(RawRequest(body=BY_NAME["text.json"].body, headers=headers), config()))
