"""guardia's web form normalizer: the corpus, field rules, multipart, signatures, properties."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.channels import webform
from services.intake.channels.base import CanonicalContact, Normalization, RawRequest, hmac_hex
from shared.schemas import Channel

from .checks import FUZZ, FUZZ_LIGHT, check_result
from .corpus_support import SECRETS, Case, config, load_cases, payload_files, unsigned_config

CASES = load_cases("webform")
BY_NAME = {case.name: case for case in CASES}
URLENCODED = "application/x-www-form-urlencoded"
BASE: dict[str, str] = dict(parse_qsl(BY_NAME["basic.form"].body.decode(), keep_blank_values=True))
FIELDS = [*sorted(BASE), "adjunto"]


def request(body: bytes, content_type: str = URLENCODED, secret: str | None = SECRETS["webform"]) -> RawRequest:
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["X-Webform-Signature"] = "sha256=" + hmac_hex(secret, body)
    return RawRequest(body=body, headers=headers)


def submit(**changes: str | None) -> Normalization:
    fields = {**BASE, **changes}
    body = urlencode({key: value for key, value in fields.items() if value is not None}).encode()
    return webform.normalize(request(body), config())


def emitted(result: Normalization) -> CanonicalContact:
    assert result.outcome == "emit", result.reason
    (contact,) = result.contacts
    return contact


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]], boundary: str = "XyZ-limite") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for filename, content_type, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="adjunto"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


# -- the corpus -------------------------------------------------------------------------------------------------


def test_expected_names_every_corpus_file() -> None:
    expected = json.loads((payload_files("webform")[0].parent / "expected.json").read_text())
    assert set(expected) == {case.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_corpus(case: Case) -> None:
    result = webform.normalize(case.request(), config())
    check_result(result)
    assert result.outcome == case.expected["outcome"], result.reason
    assert result.reason_code == case.expected.get("reason_code"), result.reason
    assert len(result.contacts) == case.expected["count"]


# -- signature and size -----------------------------------------------------------------------------------------


def test_missing_and_wrong_signatures() -> None:
    assert webform.normalize(BY_NAME["bad_missing_signature.form"].request(), config()).reason_code == (
        "missing_signature"
    )
    assert webform.normalize(BY_NAME["bad_wrong_signature.form"].request(), config()).reason_code == (
        "invalid_signature"
    )


@pytest.mark.parametrize("secret", [None, ""], ids=["none", "empty"])
def test_no_secret_configured_skips_verification(secret: str | None) -> None:
    for name in ("bad_missing_signature.form", "bad_wrong_signature.form"):
        assert webform.normalize(BY_NAME[name].request(), config(webform_secret=secret)).outcome == "emit", name


def test_large_bodies() -> None:
    big = urlencode({**BASE, "mensaje": "x" * (1024 * 1024)}).encode()
    assert webform.normalize(request(big), config()).reason_code == "payload_too_large"
    file_body = multipart(BASE, [("captura.png", "image/png", b"\x89PNG" + b"\0" * (2 * 1024 * 1024))])
    result = webform.normalize(request(file_body, "multipart/form-data; boundary=XyZ-limite"), config())
    assert emitted(result).attachments[0].size == 4 + 2 * 1024 * 1024


# -- fields -----------------------------------------------------------------------------------------------------


def test_basic_submission() -> None:
    contact = emitted(webform.normalize(BY_NAME["basic.form"].request(), config()))
    assert contact.channel is Channel.webform
    assert contact.provider_message_id == "soporte-web:sub_01JDX7Q4M2W8K9"
    customer = contact.customer
    assert (customer.name, customer.email, customer.phone) == (
        "Laura Gómez",
        "laura@ferreteriaelsol.co",
        "+573001234567",
    )
    assert (customer.company, customer.tax_id) == ("Ferretería El Sol S.A.S.", "900123456-7")
    assert contact.subject == "No puedo timbrar la nómina"
    assert contact.body_text.startswith("Desde ayer el sistema rechaza todos los documentos de nómina electrónica.")
    assert "Producto: Navegasoft ERP - Nómina" in contact.body_text
    assert "Motivo: Problema" in contact.body_text
    assert "Página: https://navegasoft.co/soporte?utm_source=menu" in contact.body_text
    assert "privacidad" not in contact.body_text
    assert contact.received_at.isoformat() == "2026-11-23T14:12:44+00:00"


def test_honeypot_is_ignored_silently() -> None:
    result = submit(hp_website="http://spam.example")
    assert result.outcome == "ignore"
    assert result.reason == "honeypot"
    assert submit(hp_website="   ").outcome == "emit"  # blank is not filled


def test_a_way_to_reach_the_customer_is_required() -> None:
    result = submit(correo=None, telefono=None)
    assert result.reason_code == "schema_violation"
    assert "correo" in result.reason and "telefono" in result.reason
    assert submit(correo="", telefono="  ").reason_code == "schema_violation"


def test_phone_only_is_parsed_in_the_forms_country() -> None:
    contact = emitted(submit(correo=None, telefono="55 1234 5678", pais="MX"))
    assert contact.customer.phone == "+525512345678"
    assert contact.customer.email is None
    assert emitted(submit(correo=None, telefono="+57 300 123 4567", pais=None)).customer.phone == "+573001234567"


def test_invalid_phone_is_kept_in_the_body_when_there_is_an_email() -> None:
    contact = emitted(submit(telefono="12"))
    assert contact.customer.phone is None
    assert "Teléfono (no válido): 12" in contact.body_text
    result = submit(correo=None, telefono="12")
    assert result.reason_code == "schema_violation"
    assert result.reason.startswith("telefono")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"correo": "laura(arroba)ferreteriaelsol.co"}, "correo"),
        ({"submitted_at": "2026-11-23T09:12:44"}, "submitted_at"),
        ({"submitted_at": "ayer por la tarde"}, "submitted_at"),
        ({"submitted_at": None}, "submitted_at"),
        ({"submission_id": None}, "submission_id"),
        ({"form_id": ""}, "form_id"),
        ({"pais": "Colombia"}, "pais"),
        ({"rfc_nit": "9" * 41}, "rfc_nit"),
        ({"empresa": "E" * 201}, "empresa"),
    ],
)
def test_schema_violations_name_the_field(changes: dict[str, str | None], field: str) -> None:
    result = submit(**changes)
    assert result.reason_code == "schema_violation", result.reason
    assert result.reason.startswith(field)


def test_naive_and_future_timestamps() -> None:
    assert submit(submitted_at="2026-11-23T09:12:44").reason_code == "schema_violation"
    assert submit(submitted_at="2026-11-26T09:12:44-05:00").reason_code == "timestamp_out_of_range"
    assert emitted(submit(submitted_at="2026-11-23T14:12:44Z")).received_at.isoformat() == "2026-11-23T14:12:44+00:00"


def test_subject_falls_back_to_motivo() -> None:
    assert emitted(submit(asunto="")).subject == "Problema"
    assert emitted(submit(asunto="", motivo="")).subject == ""


def test_privacy_not_accepted_is_recorded_in_the_body() -> None:
    assert emitted(submit(acepto_privacidad=None)).body_text.endswith("Aviso de privacidad: no aceptado")
    assert "privacidad" not in emitted(submit(acepto_privacidad="true")).body_text


def test_hostile_text_is_kept_verbatim() -> None:
    contact = emitted(submit(asunto="<script>alert(1)</script>", mensaje="Robert'); DROP TABLE tickets;--"))
    assert contact.subject == "<script>alert(1)</script>"
    assert contact.body_text.startswith("Robert'); DROP TABLE tickets;--\n\n")


def test_tax_id_in_the_text_is_a_hint_and_the_field_is_the_tax_id() -> None:
    contact = emitted(submit(mensaje="Facturamos con el RFC GOMA850101AB1", rfc_nit="GOMA850101AB1"))
    assert contact.customer.tax_id == "GOMA850101AB1"
    assert contact.hints["rfc"] == ["GOMA850101AB1"]


# -- multipart --------------------------------------------------------------------------------------------------


def test_multipart_file_becomes_an_attachment() -> None:
    contact = emitted(webform.normalize(BY_NAME["with_file.multipart"].request(), config()))
    (attachment,) = contact.attachments
    assert attachment.name == "error-reporte-inventario.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size == 77
    assert contact.subject == "Error al generar el reporte"


def test_multipart_keeps_field_text_exactly() -> None:
    contact = emitted(webform.normalize(BY_NAME["multipart_no_file.multipart"].request(), config()))
    assert contact.attachments == ()
    assert contact.body_text.startswith(BASE["mensaje"] + "\n\n")


def test_multipart_with_several_files_and_unicode_names() -> None:
    body = multipart(
        {**BASE, "mensaje": "Van dos archivos: ñandú ✓"},
        [("nómina enero.xlsx", "application/vnd.ms-excel", b"PK\x03\x04"), ("log.txt", "text/plain", b"error 90\n")],
    )
    contact = emitted(webform.normalize(request(body, "multipart/form-data; boundary=XyZ-limite"), config()))
    assert [a.name for a in contact.attachments] == ["nómina enero.xlsx", "log.txt"]
    assert [a.size for a in contact.attachments] == [4, 9]
    assert contact.body_text.startswith("Van dos archivos: ñandú ✓")


def test_non_utf8_field_in_multipart_is_an_encoding_error() -> None:
    body = multipart({**BASE}, []).replace("Laura Gómez".encode(), "Laura Gómez".encode("latin-1"))
    result = webform.normalize(request(body, "multipart/form-data; boundary=XyZ-limite"), config())
    assert result.reason_code == "invalid_encoding"


def test_percent_encoded_latin1_is_an_encoding_error() -> None:
    body = urlencode(BASE).encode() + b"&nombre=G%F3mez"
    assert webform.normalize(request(body), config()).reason_code == "invalid_encoding"


def test_unknown_content_type_is_a_violation() -> None:
    result = webform.normalize(request(b"{}", "application/json"), config())
    assert result.reason_code == "schema_violation"
    assert result.reason.startswith("content-type")


# -- properties -------------------------------------------------------------------------------------------------

form_text = st.text(max_size=40) | st.sampled_from(["", "  ", "ana@cliente.co", "+573001234567", "CO", "MX", "on"])
dates = st.sampled_from(["2026-11-23T09:12:44-05:00", "2026-11-23T09:12:44", "9999-12-31T23:59:59+14:00", "x"])


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), form_text, max_size=18), dates)
def test_arbitrary_form_fields_never_raise(fields: dict[str, str], submitted_at: str) -> None:
    fields.setdefault("submitted_at", submitted_at)
    body = urlencode(fields).encode("utf-8", "surrogatepass")
    check_result(webform.normalize(request(body, secret=None), unsigned_config()))


@FUZZ_LIGHT
@given(
    st.dictionaries(st.sampled_from(FIELDS), form_text, max_size=18),
    st.lists(st.tuples(st.text(max_size=12), st.text(max_size=20), st.binary(max_size=40)), max_size=2),
)
def test_arbitrary_multipart_forms_never_raise(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> None:
    try:
        body = multipart({**BASE, **fields}, files)
    except UnicodeEncodeError:
        return
    check_result(webform.normalize(request(body, "multipart/form-data; boundary=XyZ-limite", None), unsigned_config()))


@FUZZ
@given(
    st.binary(max_size=600),
    st.sampled_from([URLENCODED, "multipart/form-data; boundary=XyZ-limite", "multipart/form-data", "text/plain", ""])
    | st.text(max_size=40),
)
def test_arbitrary_bodies_and_content_types_never_raise(body: bytes, content_type: str) -> None:
    check_result(webform.normalize(request(body, content_type, None), unsigned_config()))
    check_result(webform.normalize(request(body, content_type, None), config()))


def test_expected_fields_are_the_documented_ones() -> None:
    documented = {
        "form_id", "submission_id", "nombre", "correo", "telefono", "empresa", "rfc_nit", "pais", "producto",
        "motivo", "asunto", "mensaje", "acepto_privacidad", "hp_website", "page_url", "submitted_at",
    }  # fmt: skip
    assert set(BASE) == documented
