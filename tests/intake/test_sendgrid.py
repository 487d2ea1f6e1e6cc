"""SendGrid Inbound Parse (parsed and raw modes): the corpus, the bearer token, properties over arbitrary forms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.channels import sendgrid
from services.intake.channels.base import RawRequest

from .mail_phone_support import SENDGRID_TOKEN, Case, check_case, check_invariants, config, corpus_files, load_cases

CASES = load_cases("sendgrid")
BY_NAME = {case.name: case for case in CASES}
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AUTH = {"Authorization": f"Bearer {SENDGRID_TOKEN}"}


def form(fields: Sequence[tuple[str, bytes]], files: Sequence[tuple[str, str, bytes]] = ()) -> RawRequest:
    out = b""
    for name, value in fields:
        out += f'--B0undary\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
    for name, filename, data in files:
        out += (
            f'--B0undary\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode() + data + b"\r\n"
    out += b"--B0undary--\r\n"
    return RawRequest(body=out, headers={"Content-Type": "multipart/form-data; boundary=B0undary", **AUTH})


@pytest.mark.parametrize("case", CASES, ids=str)
def test_corpus(case: Case) -> None:
    check_case(case, sendgrid.normalize(case.request(), config()))


def test_corpus_is_complete() -> None:
    assert corpus_files("sendgrid") == set(BY_NAME)


def test_token_is_checked_before_the_body_is_read() -> None:
    request = RawRequest(body=b"\x00garbage", headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert sendgrid.normalize(request, config()).reason_code == "missing_signature"


def without_authorization(request: RawRequest) -> RawRequest:
    return replace(request, headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"})


def test_with_a_token_missing_and_wrong_authorizations_are_refused() -> None:
    plain = BY_NAME["parsed_plain.multipart"].request()
    assert sendgrid.normalize(without_authorization(plain), config()).reason_code == "missing_signature"
    assert sendgrid.normalize(BY_NAME["bad_no_authorization.multipart"].request(), config()).reason_code == (
        "missing_signature"
    )
    for name in ("bad_wrong_token.multipart", "bad_basic_auth.multipart"):
        assert sendgrid.normalize(BY_NAME[name].request(), config()).reason_code == "invalid_signature"


@pytest.mark.parametrize("token", [None, ""], ids=["none", "empty"])
def test_no_token_configured_skips_the_check(token: str | None) -> None:
    unconfigured = config(sendgrid_token=token)
    plain = BY_NAME["parsed_plain.multipart"].request()
    authorized = sendgrid.normalize(plain, config())
    assert authorized.outcome == "emit"
    assert sendgrid.normalize(without_authorization(plain), unconfigured) == authorized
    wrong = replace(plain, headers={**plain.headers, "Authorization": "Bearer not-the-token"})
    assert sendgrid.normalize(wrong, unconfigured) == authorized
    for name in ("bad_no_authorization.multipart", "bad_wrong_token.multipart", "bad_basic_auth.multipart"):
        result = sendgrid.normalize(BY_NAME[name].request(), unconfigured)
        assert result.outcome == "emit", (name, result.reason)


def test_binary_attachment_size_survives_the_multipart_parser() -> None:
    blob = bytes(range(256)) * 4 + b"\r\n--B0und" + b"\r\r\n\n"
    request = form(
        [("headers", b"Message-ID: <bin-1@cliente.co>\nFrom: ana@cliente.co\n"), ("from", b"ana@cliente.co"),
         ("text", b"Adjunto"), ("attachments", b"1"),
         ("attachment-info", b'{"attachment1": {"filename": "datos.bin", "type": "application/octet-stream"}}')],
        [("attachment1", "datos.bin", blob)],
    )  # fmt: skip
    contact = sendgrid.normalize(request, config()).contacts[0]
    assert [(a.name, a.size) for a in contact.attachments] == [("datos.bin", len(blob))]


def test_missing_date_uses_the_clock() -> None:
    request = form([("headers", b"Message-ID: <nd-1@cliente.co>\n"), ("from", b"Ana <ana@cliente.co>"),
                    ("text", b"Hola")])  # fmt: skip
    result = sendgrid.normalize(request, config())
    assert result.outcome == "emit"
    assert "missing Date header" in result.reason


# -- properties ------------------------------------------------------------------------------------------------------

NAMES = st.sampled_from(
    ["headers", "text", "html", "from", "to", "subject", "envelope", "charsets", "attachments", "attachment-info",
     "content-ids", "email", "attachment1", "spam_score"]
)  # fmt: skip
VALUES = st.one_of(
    st.binary(max_size=120),
    st.sampled_from([b"{}", b"[]", b'{"text": "x-desconocido"}', b'{"attachment1": 3}', b"2", b"Ana <ana@cliente.co>",
                     b"From: a@b.co\nAuto-Submitted: auto-replied\n", b'{"from": ""}']),
)  # fmt: skip


@FAST
@given(
    st.lists(st.tuples(NAMES, VALUES), max_size=10),
    st.lists(st.tuples(NAMES, st.text(max_size=10), VALUES), max_size=2),
)
def test_any_authorized_form_gives_a_normalization(
    fields: list[tuple[str, bytes]], files: list[tuple[str, str, bytes]]
) -> None:
    check_invariants(sendgrid.normalize(form(fields, files), config()))


@FAST
@given(
    st.binary(max_size=600),
    st.sampled_from(
        ["multipart/form-data; boundary=B", "multipart/form-data", "application/x-www-form-urlencoded", "text/json"]
    ),
)
def test_any_body_gives_a_normalization(body: bytes, content_type: str) -> None:
    request = RawRequest(body=body, headers={"Content-Type": content_type, **AUTH})
    check_invariants(sendgrid.normalize(request, config()))


@FAST
@given(st.text(max_size=40))
def test_any_other_authorization_is_refused(header: str) -> None:
    if header.strip() in (f"Bearer {SENDGRID_TOKEN}", f"bearer {SENDGRID_TOKEN}"):
        return
    case = BY_NAME["parsed_plain.multipart"]
    request = RawRequest(body=case.body, headers={**case.headers, "Authorization": header})
    assert sendgrid.normalize(request, config()).outcome == "reject"
