"""Twilio voice, SMS and recording callbacks: the corpus, X-Twilio-Signature, properties over arbitrary forms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.channels import twilio
from services.intake.channels.base import ChannelConfig, Normalization, RawRequest

from .mail_phone_support import (
    PUBLIC_BASE_URL,
    TWILIO_AUTH_TOKEN,
    Case,
    check_case,
    check_invariants,
    config,
    corpus_files,
    load_cases,
)

CASES = load_cases("twilio")
BY_NAME = {case.name: case for case in CASES}
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Handler = Callable[[RawRequest, ChannelConfig], Normalization]
HANDLERS: dict[str, Handler] = {
    "voice": twilio.normalize_voice,
    "sms": twilio.normalize_sms,
    "recording": twilio.normalize_recording,
    "status": twilio.normalize_status,
}


def signed(endpoint: str, fields: list[tuple[str, str]], query: str = "") -> RawRequest:
    path = f"/webhooks/twilio/{endpoint}" + (f"?{query}" if query else "")
    signature = twilio.signature_of(TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL + path, fields)
    body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return RawRequest(body=body, headers=headers, url=f"http://10.0.0.7:8080{path}")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_corpus(case: Case) -> None:
    check_case(case, HANDLERS[case.endpoint](case.request(), config()))


def test_corpus_is_complete() -> None:
    assert corpus_files("twilio") == set(BY_NAME)


def test_signature_matches_twilios_documented_example() -> None:
    # twilio.com/docs/usage/security: this URL, these parameters and auth token 12345 sign as below.
    params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
              ("From", "+12349013030"), ("To", "+18005551212")]  # fmt: skip
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio.signature_of("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_repeated_parameters_are_signed_in_sorted_order() -> None:
    one = twilio.signature_of("t", "u", [("a", "2"), ("a", "1")])
    assert one == twilio.signature_of("t", "u", [("a", "1"), ("a", "2")])


def test_without_public_base_url_the_request_url_is_signed() -> None:
    fields = [("CallSid", "CA1"), ("From", "+573001234567"), ("To", "+576015550100"), ("CallStatus", "ringing")]
    url = "https://voz.navegasoft.com/webhooks/twilio/voice"
    signature = twilio.signature_of(TWILIO_AUTH_TOKEN, url, fields)
    body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields).encode()
    request = RawRequest(body=body, headers={"X-Twilio-Signature": signature}, url=url)
    assert twilio.normalize_voice(request, config(public_base_url="")).outcome == "emit"


def test_get_webhooks_sign_the_url_with_its_query() -> None:
    query = {"CallSid": "CA9", "From": "+573001234567", "To": "+576015550100", "CallStatus": "ringing"}
    url = f"{PUBLIC_BASE_URL}/webhooks/twilio/voice?" + "&".join(f"{k}={quote_plus(v)}" for k, v in query.items())
    headers = {"X-Twilio-Signature": twilio.signature_of(TWILIO_AUTH_TOKEN, url, [])}
    internal = url.replace(PUBLIC_BASE_URL, "http://127.0.0.1:8080")
    request = RawRequest(body=b"", headers=headers, url=internal, method="GET", query=query)
    assert twilio.normalize_voice(request, config()).outcome == "emit"


def test_a_call_keeps_one_key_from_ringing_to_recording() -> None:
    names = ["voice_ringing.form", "voice_completed.form", "recording_completed.form"]
    results = [HANDLERS[BY_NAME[n].endpoint](BY_NAME[n].request(), config()) for n in names]
    keys = {result.contacts[0].provider_message_id for result in results}
    assert keys == {"CA5f7b1c2e8a1d4e0012c3b4a5d6e7f801"}


def without_signature(request: RawRequest) -> RawRequest:
    return replace(request, headers={k: v for k, v in request.headers.items() if k.lower() != "x-twilio-signature"})


def test_with_a_token_missing_and_wrong_signatures_are_refused() -> None:
    request = BY_NAME["voice_ringing.form"].request()
    assert twilio.normalize_voice(without_signature(request), config()).reason_code == "missing_signature"
    wrong = replace(request, headers={**request.headers, "X-Twilio-Signature": "bm9wZQ=="})
    assert twilio.normalize_voice(wrong, config()).reason_code == "invalid_signature"


@pytest.mark.parametrize("token", [None, ""], ids=["none", "empty"])
@pytest.mark.parametrize(
    ("name", "outcome"),
    [("voice_ringing.form", "emit"), ("voice_completed.form", "update"), ("sms_text.form", "emit"),
     ("recording_completed.form", "update")],
)  # fmt: skip
def test_no_token_configured_skips_the_check(token: str | None, name: str, outcome: str) -> None:
    unconfigured = config(twilio_auth_token=token)
    case = BY_NAME[name]
    handler = HANDLERS[case.endpoint]
    signed = handler(case.request(), config())
    assert signed.outcome == outcome
    assert handler(without_signature(case.request()), unconfigured) == signed
    wrong = replace(case.request(), headers={**case.request().headers, "X-Twilio-Signature": "bm9wZQ=="})
    assert handler(wrong, unconfigured) == signed


@pytest.mark.parametrize("token", [None, ""], ids=["none", "empty"])
def test_no_token_configured_accepts_the_unsigned_and_forged_corpus(token: str | None) -> None:
    for name in ("bad_voice_missing_signature.form", "bad_voice_signed_http.form", "bad_voice_other_token.form",
                 "bad_sms_tampered_body.form"):  # fmt: skip
        case = BY_NAME[name]
        result = HANDLERS[case.endpoint](case.request(), config(twilio_auth_token=token))
        assert result.outcome == "emit", (name, result.reason)


def test_a_status_callback_ties_an_sms_report_back_to_its_notification() -> None:
    fields = [("AccountSid", "AC1"), ("MessageSid", "SM0123"), ("MessageStatus", "undelivered"), ("ErrorCode", "30006"),
              ("To", "+573001234567"), ("From", "+15005550006")]
    result = twilio.normalize_status(signed("status", fields, query="n=T1%3Aacknowledgment"), config())
    assert result.outcome == "ignore" and not result.contacts  # no ticket is opened by a report
    [report] = result.statuses
    assert (report.notification_id, report.provider_id, report.status, report.error_code) == (
        "T1:acknowledgment", "SM0123", "failed", 30006)
    sent = twilio.normalize_status(signed("status", [("MessageSid", "SM1"), ("MessageStatus", "sent")],
                                          query="n=T1%3Aack"), config())
    assert sent.outcome == "ignore" and not sent.statuses  # "sent" says nothing new
    forged = twilio.normalize_status(signed("status", fields, query="n=T1%3Aacknowledgment"),
                                     config(twilio_auth_token="another-token"))
    assert forged.outcome == "reject" and forged.reason_code == "invalid_signature"


# -- properties ------------------------------------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["CallSid", "From", "To", "CallStatus", "Direction", "CallDuration", "Timestamp", "CallerName", "MessageSid",
     "SmsSid", "Body", "NumMedia", "MediaUrl0", "MediaContentType0", "MediaUrl1", "SmsStatus", "RecordingSid",
     "RecordingUrl", "RecordingStatus", "RecordingDuration", "RecordingStartTime", "MessageStatus", "ErrorCode", "n"]
)  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["ringing", "completed", "no-answer", "received", "2", "+573001234567", "whatsapp:+573001234567",
                     "Mon, 23 Nov 2026 14:00:00 +0000", "image/jpeg", "outbound-api", "99999999999", "undelivered",
                     "delivered", "30006"]),
)  # fmt: skip


@FAST
@given(st.sampled_from(sorted(HANDLERS)), st.lists(st.tuples(NAMES, VALUES), max_size=12))
def test_any_signed_form_gives_a_normalization(endpoint: str, fields: list[tuple[str, str]]) -> None:
    check_invariants(HANDLERS[endpoint](signed(endpoint, fields), config()))


@FAST
@given(st.sampled_from(sorted(HANDLERS)), st.binary(max_size=500), st.text(max_size=30))
def test_any_body_gives_a_normalization(endpoint: str, body: bytes, signature: str) -> None:
    request = RawRequest(body=body, headers={"X-Twilio-Signature": signature}, url="http://x/webhooks/twilio/sms")
    check_invariants(HANDLERS[endpoint](request, config()))


@FAST
@given(st.lists(st.tuples(NAMES, VALUES), min_size=1, max_size=8), st.text(min_size=1, max_size=20))
def test_changing_any_value_breaks_the_signature(fields: list[tuple[str, str]], extra: str) -> None:
    good = signed("voice", fields)
    name, value = fields[0]
    tampered_fields = [(name, value + extra), *fields[1:]]
    body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in tampered_fields).encode()
    tampered = RawRequest(body=body, headers=dict(good.headers), url=good.url)
    assert twilio.normalize_voice(tampered, config()).reason_code == "invalid_signature"
