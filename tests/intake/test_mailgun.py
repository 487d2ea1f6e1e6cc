"""Mailgun forward() routes: the corpus, the signature and replay window, and properties over arbitrary forms."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.channels import mailgun
from services.intake.channels.base import RawRequest

from .mail_phone_support import (
    MAILGUN_SIGNING_KEY,
    NOW,
    Case,
    check_case,
    check_invariants,
    config,
    corpus_files,
    load_cases,
)

CASES = load_cases("mailgun")
BY_NAME = {case.name: case for case in CASES}
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TOKEN = "a" * 50


def signed_body(fields: list[tuple[str, str]], timestamp: int | None = None, key: str = MAILGUN_SIGNING_KEY) -> bytes:
    stamp = str(int(NOW.timestamp()) - 10 if timestamp is None else timestamp)
    signature = hmac.new(key.encode(), (stamp + TOKEN).encode(), hashlib.sha256).hexdigest()
    pairs = [*fields, ("timestamp", stamp), ("token", TOKEN), ("signature", signature)]
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs).encode()


BASIC = [("from", "Ana Pérez <ana@cliente.co>"), ("subject", "Factura"), ("body-plain", "No abre la factura FE-1")]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_corpus(case: Case) -> None:
    check_case(case, mailgun.normalize(case.request(), config()))


def test_corpus_is_complete() -> None:
    assert corpus_files("mailgun") == set(BY_NAME)


def test_replay_window_zero_turns_the_age_check_off() -> None:
    old = BY_NAME["bad_old_timestamp.form"].request()
    assert mailgun.normalize(old, config()).reason_code == "timestamp_out_of_range"
    assert mailgun.normalize(old, config(replay_window_seconds=0)).outcome == "emit"


def test_future_timestamps_up_to_24_hours_are_accepted() -> None:
    soon = int((NOW + timedelta(hours=23)).timestamp())
    result = mailgun.normalize(RawRequest(body=signed_body(BASIC, soon), headers=FORM), config())
    assert result.outcome == "emit"


def unsigned_body(fields: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields).encode()


def test_with_a_signing_key_missing_and_wrong_signatures_are_refused() -> None:
    assert mailgun.normalize(BY_NAME["bad_missing_signature.form"].request(), config()).reason_code == (
        "missing_signature"
    )
    assert mailgun.normalize(BY_NAME["bad_wrong_signature.form"].request(), config()).reason_code == (
        "invalid_signature"
    )
    unsigned = RawRequest(body=unsigned_body(BASIC), headers=FORM)
    assert mailgun.normalize(unsigned, config()).reason_code == "missing_signature"


@pytest.mark.parametrize("key", [None, ""], ids=["none", "empty"])
def test_no_signing_key_configured_skips_the_check(key: str | None) -> None:
    unconfigured = config(mailgun_signing_key=key)
    signed = mailgun.normalize(BY_NAME["plain.form"].request(), config())
    assert signed.outcome == "emit"
    assert mailgun.normalize(BY_NAME["plain.form"].request(), unconfigured) == signed
    for name in ("bad_missing_signature.form", "bad_wrong_signature.form"):
        result = mailgun.normalize(BY_NAME[name].request(), unconfigured)
        assert result.outcome == "emit", (name, result.reason)
        assert result.contacts[0].customer.email == "laura.gomez@ferreteriaelsol.co"
    bare = mailgun.normalize(RawRequest(body=unsigned_body(BASIC), headers=FORM), unconfigured)
    assert bare.outcome == "emit", bare.reason
    forged = [*BASIC, ("timestamp", str(int(NOW.timestamp()))), ("token", TOKEN), ("signature", "0" * 64)]
    assert mailgun.normalize(RawRequest(body=unsigned_body(forged), headers=FORM), unconfigured).outcome == "emit"


@pytest.mark.parametrize("key", [None, ""], ids=["none", "empty"])
def test_no_signing_key_skips_the_timestamp_check_and_the_timestamp(key: str | None) -> None:
    unconfigured = config(mailgun_signing_key=key)
    for name in ("bad_old_timestamp.form", "bad_future_timestamp.form"):  # no Date: received_at is the clock
        result = mailgun.normalize(BY_NAME[name].request(), unconfigured)
        assert result.outcome == "emit", (name, result.reason)
        assert result.contacts[0].received_at == NOW
        assert "the receiving clock" in result.reason
    garbage = [*BASIC, ("timestamp", "ayer"), ("token", TOKEN), ("signature", "x")]
    assert mailgun.normalize(RawRequest(body=unsigned_body(garbage), headers=FORM), unconfigured).outcome == "emit"


def test_stripped_text_wins_over_body_plain() -> None:
    fields = [*BASIC, ("stripped-text", "Solo lo nuevo")]
    contact = mailgun.normalize(RawRequest(body=signed_body(fields), headers=FORM), config()).contacts[0]
    assert contact.body_text == "Solo lo nuevo"


def test_headers_posted_as_top_level_fields_are_used_when_message_headers_is_absent() -> None:
    fields = [*BASIC, ("Message-Id", "<top-1@cliente.co>"), ("In-Reply-To", "<a@navegasoft.com>")]
    contact = mailgun.normalize(RawRequest(body=signed_body(fields), headers=FORM), config()).contacts[0]
    assert contact.provider_message_id == "<top-1@cliente.co>"
    assert contact.thread_key == "email:<a@navegasoft.com>"


def test_stored_attachments_json_variant() -> None:
    fields = [*BASIC, ("attachments", '[{"url": "https://storage.mailgun.net/v3/x/a1", "content-type": '
                                      '"application/pdf", "name": "acta.pdf", "size": 2048}]')]  # fmt: skip
    contact = mailgun.normalize(RawRequest(body=signed_body(fields), headers=FORM), config()).contacts[0]
    assert [(a.name, a.size, a.reference) for a in contact.attachments] == [
        ("acta.pdf", 2048, "https://storage.mailgun.net/v3/x/a1")
    ]


# -- properties ------------------------------------------------------------------------------------------------------

FIELD_NAMES = st.sampled_from(
    ["from", "sender", "subject", "body-plain", "stripped-text", "body-html", "message-headers", "attachment-count",
     "content-id-map", "attachments", "Message-Id", "References", "In-Reply-To", "Date", "body-mime", "recipient"]
)  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ['[["Auto-Submitted", "auto-replied"]]', "[]", "{}", "[[1, 2]]", "3", "-1", "Ana <ana@cliente.co>"]
    ),
)


@FAST
@given(st.lists(st.tuples(FIELD_NAMES, VALUES), max_size=10))
def test_any_signed_form_gives_a_normalization(fields: list[tuple[str, str]]) -> None:
    check_invariants(mailgun.normalize(RawRequest(body=signed_body(fields), headers=FORM), config()))


@FAST
@given(st.binary(max_size=600), st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                                  "multipart/form-data", "text/plain", ""]))  # fmt: skip
def test_any_body_gives_a_normalization(body: bytes, content_type: str) -> None:
    check_invariants(mailgun.normalize(RawRequest(body=body, headers={"Content-Type": content_type}), config()))


@FAST
@given(st.lists(st.tuples(FIELD_NAMES, VALUES), max_size=6), st.text(min_size=1, max_size=20))
def test_a_wrong_key_is_always_refused(fields: list[tuple[str, str]], key: str) -> None:
    if key == MAILGUN_SIGNING_KEY:
        return
    body = signed_body(fields, key=key)
    assert mailgun.normalize(RawRequest(body=body, headers=FORM), config()).outcome == "reject"
