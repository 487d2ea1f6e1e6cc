"""Email core (POST /webhooks/email, message/rfc822): the corpus, the pieces, and properties over arbitrary input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.channels import email
from services.intake.channels.base import Normalization, RawRequest

from .mail_phone_support import Case, check_case, check_invariants, config, corpus_files, load_cases

CASES = load_cases("email")
BY_NAME = {case.name: case for case in CASES}
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RFC822 = {"Content-Type": "message/rfc822"}


def run(raw: bytes, **overrides: object) -> Normalization:
    return email.normalize(RawRequest(body=raw, headers=RFC822), config(**overrides))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_corpus(case: Case) -> None:
    check_case(case, email.normalize(case.request(), config()))


def test_corpus_is_complete() -> None:
    assert corpus_files("email") == set(BY_NAME)
    good = [name for name in BY_NAME if not name.startswith("bad_")]
    assert len(good) >= 20
    assert len(BY_NAME) - len(good) >= 5


def test_a_thread_of_three_messages_shares_its_root() -> None:
    keys = {run(BY_NAME[f"thread_{n}.eml"].body).contacts[0].thread_key for n in (1, 2, 3)}
    assert keys == {"email:<thread-root-100@autopartessoto.co>"}
    replies = [run(BY_NAME[f"thread_{n}.eml"].body).contacts[0].is_reply for n in (1, 2, 3)]
    assert replies == [False, True, True]


def test_parse_message_exposes_what_mailgun_and_sendgrid_reuse() -> None:
    parsed = email.parse_message(BY_NAME["gmail_reply_es.eml"].body)
    assert parsed.message_id == "<CAGmail-reply-41@mail.gmail.com>"
    assert parsed.references == ("<20261123091200.4411@ferreteriaelsol.co>", "<ticket-NS-000041-ack@navegasoft.com>")
    assert (parsed.sender_name, parsed.sender_email) == ("Laura Gómez", "laura.gomez@ferreteriaelsol.co")
    assert parsed.date == datetime(2026, 11, 23, 15, 31, tzinfo=UTC)
    assert "escribió:" in parsed.text  # the full text; stripping happens when the contact is built
    assert parsed.automatic is None


def test_missing_message_id_is_a_stable_hash_of_the_bytes() -> None:
    raw = BY_NAME["missing_message_id.eml"].body
    first, second = run(raw).contacts[0], run(raw).contacts[0]
    assert first.provider_message_id == second.provider_message_id
    assert first.provider_message_id == email.sha256_id(raw)
    assert run(raw + b"\r\nOtra linea.\r\n").contacts[0].provider_message_id != first.provider_message_id


def test_unparseable_date_falls_back_to_the_clock_and_says_so() -> None:
    raw = BY_NAME["plain.eml"].body.replace(b"Mon, 23 Nov 2026 09:12:00 -0500", b"el lunes por la tarde")
    result = run(raw)
    assert result.contacts[0].received_at == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert "unparseable Date" in result.reason


def test_a_date_within_24_hours_ahead_is_accepted() -> None:
    raw = BY_NAME["plain.eml"].body.replace(b"Mon, 23 Nov 2026 09:12:00 -0500", b"Tue, 24 Nov 2026 09:00:00 -0500")
    assert run(raw).outcome == "emit"


def test_content_type_may_carry_parameters_or_be_absent() -> None:
    raw = BY_NAME["plain.eml"].body
    for headers in ({"content-type": "message/rfc822; charset=binary"}, {}):
        assert email.normalize(RawRequest(body=raw, headers=headers), config()).outcome == "emit"


def test_oversized_message_is_payload_too_large() -> None:
    raw = BY_NAME["plain.eml"].body + b"x" * (email.MAX_MESSAGE_BYTES + 1)
    assert run(raw).reason_code == "payload_too_large"


@pytest.mark.parametrize(
    ("text", "kept", "cut"),
    [
        ("Hola\n\nOn Mon, Nov 23, 2026 at 9:00 AM Ana <ana@x.co> wrote:\n> viejo", "Hola", "viejo"),
        ("Hola\nEl 23/11/2026, a las 10:00, Ana <ana@x.co> escribió:\n> viejo", "Hola", "viejo"),
        ("Nuevo\n> citado\nsigue\n", "Nuevo\nsigue", "citado"),
        ("Texto\n-----Mensaje original-----\nDe: x", "Texto", "De: x"),
        ("Texto\n--\nFirma", "Texto", "Firma"),
        ("El sistema no deja facturar.\nEl error aparece al guardar.", "El error aparece al guardar.", "@@"),
        ("> solo cita", "> solo cita", "@@"),  # nothing of the customer's left: keep the whole text
    ],
)
def test_strip_reply(text: str, kept: str, cut: str) -> None:
    stripped = email.strip_reply(text)
    assert kept in stripped
    assert cut not in stripped


def test_html_to_text_keeps_structure_and_drops_code() -> None:
    html = (
        "<html><head><style>p{}</style></head><body><h1>Error</h1><p>L&iacute;nea&nbsp;1<br>L&iacute;nea 2</p>"
        "<ul><li>uno</li><li>dos</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
        "<blockquote>citado</blockquote><script>evil()</script></body></html>"
    )
    text = email.html_to_text(html)
    assert text.splitlines()[:3] == ["Error", "", "Línea 1"]
    assert "- uno\n- dos" in text
    assert "a b" in text
    assert "> citado" in text
    assert "evil" not in text and "p{}" not in text


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Auto-Submitted", "auto-generated"),
        ("Auto-Submitted", "auto-notified; owner-email=x@y.co"),
        ("X-Autorespond", "1"),
        ("Precedence", "junk"),
        ("Precedence", "auto_reply"),
    ],
)
def test_machine_mail_headers_are_ignored(header: str, value: str) -> None:
    raw = BY_NAME["plain.eml"].body.replace(b"MIME-Version: 1.0", f"{header}: {value}\r\nMIME-Version: 1.0".encode())
    assert run(raw).outcome == "ignore"


def test_auto_submitted_no_is_a_person() -> None:
    raw = BY_NAME["plain.eml"].body.replace(b"MIME-Version: 1.0", b"Auto-Submitted: no\r\nMIME-Version: 1.0")
    assert run(raw).outcome == "emit"


@pytest.mark.parametrize("subject", ["Out of Office: Factura", "Automatic reply: Factura", "RE: Respuesta automática"])
def test_auto_reply_subjects(subject: str) -> None:
    message = EmailMessage()
    message["From"] = "Ana <ana@cliente.co>"
    message["Subject"] = subject
    message["Message-ID"] = "<s-1@cliente.co>"
    message.set_content("x")
    assert run(message.as_bytes(policy=SMTP)).outcome == "ignore"


# -- properties ------------------------------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_always_give_a_normalization(raw: bytes) -> None:
    check_invariants(run(raw))


@FAST
@given(st.binary(max_size=400), st.sampled_from(sorted(BY_NAME)), st.integers(min_value=0, max_value=4000))
def test_corrupted_corpus_messages_always_give_a_normalization(noise: bytes, name: str, at: int) -> None:
    raw = BY_NAME[name].body
    check_invariants(run(raw[:at] + noise + raw[at:]))


HEADER_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
CHARSETS = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "utf-16", "koi8-r", "x-desconocido", "us-ascii"])
CTES = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "binary", "x-raro"])
TYPES = st.sampled_from(
    ["text/plain", "text/html", "application/pdf", "image/png", "message/rfc822", "multipart/mixed", "text/x-raro"]
)


@st.composite
def mime_parts(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(TYPES)
    if kind == "multipart/mixed" and depth < 3:
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report; report-type=delivery-status"]))
        boundary = f"b{depth}{draw(st.integers(0, 99))}"
        parts = draw(st.lists(mime_parts(depth + 1), max_size=4))
        inner = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
        return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n{inner}--{boundary}--\r\n'
    headers = [f"Content-Type: {kind}; charset={draw(CHARSETS)}", f"Content-Transfer-Encoding: {draw(CTES)}"]
    if draw(st.booleans()):
        name = draw(HEADER_TEXT)
        headers.append(f"Content-Disposition: {draw(st.sampled_from(['attachment', 'inline']))}; filename=\"{name}\"")
    if draw(st.booleans()):
        headers.append(f"Content-ID: <{draw(HEADER_TEXT)}>")
    body = draw(st.text(max_size=200))
    return "\r\n".join(headers) + "\r\n\r\n" + body


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    names = ["From", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Auto-Submitted", "Return-Path"]
    lines = [f"{name}: {draw(HEADER_TEXT)}" for name in names if draw(st.booleans())]
    if draw(st.booleans()):
        lines.append(f"From: {draw(HEADER_TEXT)} <{draw(st.emails())}>")
    if draw(st.booleans()):
        lines.append(f"Date: {draw(st.datetimes(timezones=st.just(UTC))).strftime('%a, %d %b %Y %H:%M:%S +0000')}")
    if draw(st.booleans()):
        lines.append(f"Subject: =?{draw(CHARSETS)}?{draw(st.sampled_from(['Q', 'B', 'X']))}?{draw(HEADER_TEXT)}?=")
    text = "\r\n".join(lines) + "\r\nMIME-Version: 1.0\r\n" + draw(mime_parts())
    return text.encode("utf-8", "surrogatepass")


@FAST
@given(messages())
def test_arbitrary_mime_always_gives_a_normalization(raw: bytes) -> None:
    check_invariants(run(raw))


@FAST
@given(st.text(max_size=500), st.text(max_size=100))
def test_any_plain_text_from_a_valid_sender_is_emitted_or_ignored(body: str, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "Ana Pérez <ana@cliente.co>"
    message["Subject"] = " ".join(subject.splitlines())
    message["Date"] = "Mon, 23 Nov 2026 09:00:00 -0500"
    message["Message-ID"] = "<p-1@cliente.co>"
    message.set_content(body)
    result = run(message.as_bytes(policy=SMTP))
    check_invariants(result)
    assert result.outcome in ("emit", "ignore")  # ignore: a subject that reads like an auto-reply
    if result.outcome == "emit":
        contact = result.contacts[0]
        assert contact.customer.email == "ana@cliente.co"
        assert contact.received_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
        assert contact.received_at - datetime(2026, 11, 23, 15, 0, tzinfo=UTC) < timedelta(hours=24)
