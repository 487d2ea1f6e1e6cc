"""Zadarma PBX notifications: the corpus, the Signature scheme per event, local time, properties."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.channels import zadarma
from services.intake.channels.base import RawRequest

from .mail_phone_support import ZADARMA_SECRET, Case, check_case, check_invariants, config, corpus_files, load_cases

CASES = load_cases("zadarma")
BY_NAME = {case.name: case for case in CASES}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SIGNED = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
}


def php_signature(text: str, secret: str = ZADARMA_SECRET) -> str:
    """base64_encode(hash_hmac('sha1', $text, $secret)) — hash_hmac's default output is lowercase hex."""
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest().encode()).decode()


def request(fields: dict[str, str], signature: str | None = None) -> RawRequest:
    names = SIGNED.get(fields.get("event", ""), ())
    sig = signature if signature is not None else php_signature("".join(fields.get(n, "") for n in names))
    body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields.items()).encode()
    return RawRequest(body=body, headers={"Content-Type": "application/x-www-form-urlencoded", "Signature": sig})


START = {"event": "NOTIFY_START", "call_start": "2026-11-23 09:58:10", "pbx_call_id": "in_1",
         "caller_id": "573001234567", "called_did": "576015550100"}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_corpus(case: Case) -> None:
    check_case(case, zadarma.normalize(case.request(), config()))


def test_corpus_is_complete() -> None:
    assert corpus_files("zadarma") == set(BY_NAME)


def test_signature_is_base64_of_the_hex_hmac() -> None:
    expected = base64.b64encode(hmac.new(b"s", b"abc", hashlib.sha1).hexdigest().encode()).decode()
    assert zadarma.signature_of("s", "abc") == expected
    assert len(base64.b64decode(zadarma.signature_of("s", "abc"))) == 40  # 40 hex characters, not 20 raw bytes


def test_call_start_is_read_in_the_account_timezone() -> None:
    when = zadarma.normalize(request(START), config(zadarma_timezone="Europe/Madrid")).contacts[0].received_at
    assert when == datetime(2026, 11, 23, 8, 58, 10, tzinfo=UTC)
    when = zadarma.normalize(request(START), config(zadarma_timezone="America/Mexico_City")).contacts[0].received_at
    assert when == datetime(2026, 11, 23, 15, 58, 10, tzinfo=UTC)


def test_an_unknown_timezone_reads_utc_and_says_so() -> None:
    result = zadarma.normalize(request(START), config(zadarma_timezone="Marte/Olympus"))
    assert result.contacts[0].received_at == datetime(2026, 11, 23, 9, 58, 10, tzinfo=UTC)
    assert "zadarma_timezone" in result.reason


def unsigned(fields: dict[str, str]) -> RawRequest:
    body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields.items()).encode()
    return RawRequest(body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_with_a_secret_missing_and_wrong_signatures_are_refused() -> None:
    assert zadarma.normalize(unsigned(START), config()).reason_code == "missing_signature"
    assert zadarma.normalize(request(START, signature="bm9wZQ=="), config()).reason_code == "invalid_signature"


@pytest.mark.parametrize("secret", [None, ""], ids=["none", "empty"])
def test_no_secret_configured_skips_the_check(secret: str | None) -> None:
    unconfigured = config(zadarma_secret=secret)
    signed = zadarma.normalize(request(START), config())
    assert signed.outcome == "emit"
    assert zadarma.normalize(unsigned(START), unconfigured) == signed
    assert zadarma.normalize(request(START, signature="bm9wZQ=="), unconfigured) == signed
    internal = {**START, "event": "NOTIFY_INTERNAL", "internal": "101"}
    assert zadarma.normalize(unsigned(internal), unconfigured) == zadarma.normalize(request(internal), config())
    assert zadarma.normalize(unsigned(internal), unconfigured).outcome == "update"
    for name in ("bad_missing_signature.form", "bad_wrong_signature.form", "bad_signature_raw_digest.form",
                 "bad_tampered_caller.form"):  # fmt: skip
        result = zadarma.normalize(BY_NAME[name].request(), unconfigured)
        assert result.outcome in ("emit", "update"), (name, result.reason)


def test_no_secret_configured_still_needs_the_signed_fields() -> None:
    fields = {k: v for k, v in START.items() if k != "called_did"}
    assert zadarma.normalize(unsigned(fields), config(zadarma_secret=None)).reason_code == "schema_violation"


def test_one_call_is_one_contact_key() -> None:
    keys = {zadarma.normalize(BY_NAME[name].request(), config()).contacts[0].provider_message_id
            for name in ("notify_start.form", "notify_internal.form", "notify_answer.form",
                         "notify_end_answered.form", "notify_record.form")}  # fmt: skip
    assert keys == {"1763909890.2817"}


@pytest.mark.parametrize(
    ("disposition", "words"),
    [("cancel", "colgó antes de ser atendida"), ("failed", "fallida"), ("no money", "sin saldo"), ("rara", "rara")],
)
def test_every_unanswered_end_is_a_missed_call(disposition: str, words: str) -> None:
    fields = {**START, "event": "NOTIFY_END", "duration": "0", "disposition": disposition}
    result = zadarma.normalize(request(fields), config())
    assert result.outcome == "emit"
    assert result.contacts[0].body_text.startswith("Llamada perdida de +573001234567")
    assert words in result.contacts[0].body_text


def test_zd_echo_answers_only_printable_tokens() -> None:
    bad = RawRequest(body=b"", headers={}, method="GET", query={"zd_echo": "<script>\n"})
    assert zadarma.normalize(bad, config()).reason_code == "schema_violation"


# -- properties ------------------------------------------------------------------------------------------------------

EVENTS = st.sampled_from([*SIGNED, "NOTIFY_IVR", "NOTIFY_OUT_START", "SMS", ""])
FIELDS = st.sampled_from(["call_start", "pbx_call_id", "caller_id", "called_did", "internal", "destination",
                          "duration", "disposition", "is_recorded", "call_id_with_rec", "status_code"])  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["2026-11-23 10:00:00", "answered", "no answer", "1", "0", "9999999999", "+573001234567", "2026-13-45 99:99"]
    ),
)


@FAST
@given(EVENTS, st.dictionaries(FIELDS, VALUES, max_size=11))
def test_any_signed_notification_gives_a_normalization(event: str, fields: dict[str, str]) -> None:
    result = zadarma.normalize(request({"event": event, **fields}), config())
    check_invariants(result)
    if result.outcome in ("emit", "update"):
        assert result.contacts[0].channel.value == "phone"


@FAST
@given(EVENTS, st.dictionaries(FIELDS, VALUES, max_size=11), st.text(max_size=60))
def test_a_forged_signature_is_always_refused(event: str, fields: dict[str, str], forged: str) -> None:
    names = SIGNED.get(event, ())
    real = php_signature("".join({"event": event, **fields}.get(n, "") for n in names))
    result = zadarma.normalize(request({"event": event, **fields}, signature=forged), config())
    check_invariants(result)
    if forged.strip() != real:
        assert result.outcome == "reject"


@FAST
@given(
    st.binary(max_size=500),
    st.sampled_from(["GET", "POST"]),
    st.dictionaries(st.text(max_size=8), st.text(max_size=20)),
)
def test_any_request_gives_a_normalization(body: bytes, method: str, query: dict[str, str]) -> None:
    raw = RawRequest(body=body, headers={"Signature": "x"}, method=method, query=query)
    check_invariants(zadarma.normalize(raw, config()))
