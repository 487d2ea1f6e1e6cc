"""guardia's own support form (POST /webhooks/webform) -> one canonical contact.

The form posts `application/x-www-form-urlencoded`, or `multipart/form-data` when it carries a file.
Multipart is parsed with the standard library's email parser (no extra dependency), with the HTTP
policy, which decodes the raw UTF-8 file names browsers send (compat32 would mangle them). Fields:

    form_id, submission_id (the idempotency key), submitted_at (ISO-8601 with offset, required),
    nombre, correo, telefono, pais (ISO 3166-1 alpha-2, the region `telefono` is dialled in),
    empresa, rfc_nit, producto, motivo, asunto, mensaje, acepto_privacidad, page_url,
    adjunto (file; may repeat), hp_website (honeypot: a hidden field only bots fill in).

Signature: `X-Webform-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`; skipped (neither
presence nor value checked) when `config.webform_secret` is None or empty.

Decisions:
- A filled honeypot -> ignore with reason "honeypot" (checked right after the signature, before any
  validation, so that a bot learns nothing from the answer).
- At least one of correo / telefono; a correo that is not an address is a schema violation. A
  telefono that is not a valid number for `pais` is dropped (and kept in the body) when a correo is
  there, and a violation when it was the only way to reach the customer.
- subject = asunto, else motivo; body = mensaje, then "Producto:", "Motivo:", "Página:" lines, and a
  line when acepto_privacidad was not checked (the request is still recorded).
- provider_message_id = f"{form_id}:{submission_id}" (submission ids are unique per form).
- Size limits: 1 MiB urlencoded, 10 MiB multipart (the file is in the body).
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import email.utils
from dataclasses import dataclass
from urllib.parse import parse_qsl

from shared.schemas import Attachment, Channel

from ._webhooks import (
    MAX_COMPANY,
    MAX_JSON_BYTES,
    MAX_TAX_ID,
    Rejected,
    check_hmac,
    check_size,
    clean,
    decode_utf8,
    guarded,
    iso_time,
    lines,
    make_contact,
    not_in_future,
    valid_email,
    violation,
)
from .base import ChannelConfig, Normalization, RawRequest
from .text import to_e164

PROVIDER = "webform"
SIGNATURE_HEADER = "X-Webform-Signature"
MAX_URLENCODED_BYTES = MAX_JSON_BYTES
MAX_MULTIPART_BYTES = 10 * 1024 * 1024
MAX_FIELDS = 200
ACCEPTED = {"on", "1", "true", "si", "sí", "yes", "acepto"}


@dataclass(frozen=True)
class Form:
    fields: dict[str, str]  # first value of each field
    files: tuple[Attachment, ...]

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise violation(name, "missing")
        return value


def normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    return guarded(lambda: _normalize(req, config))


def _normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    content_type = (req.header("Content-Type") or "").strip()
    media_type = content_type.split(";")[0].strip().lower()
    multipart = media_type == "multipart/form-data"
    check_size(req.body, MAX_MULTIPART_BYTES if multipart else MAX_URLENCODED_BYTES)
    if config.webform_secret:  # None or empty: not configured, not checked
        check_hmac(req, SIGNATURE_HEADER, config.webform_secret, req.body, algorithm="sha256", prefix="sha256=")
    if multipart:
        form = _parse_multipart(req.body, content_type)
    elif media_type == "application/x-www-form-urlencoded":
        form = _parse_urlencoded(req.body)
    else:
        raise violation("content-type", "expected application/x-www-form-urlencoded or multipart/form-data")

    if form.get("hp_website"):
        return Normalization.ignore("honeypot")

    form_id = form.required("form_id")
    submission_id = form.required("submission_id")
    submitted_at = not_in_future(iso_time(form.required("submitted_at"), "submitted_at"), config, "submitted_at")

    raw_email, raw_phone = form.get("correo"), form.get("telefono")
    if raw_email is None and raw_phone is None:
        raise violation("correo, telefono", "at least one of them is required to reach the customer")
    address = valid_email(raw_email)
    if raw_email is not None and address is None:
        raise violation("correo", f"not an email address: {raw_email[:80]!r}")
    country = form.get("pais")
    if country is not None and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise violation("pais", f"expected an ISO 3166-1 alpha-2 country code, got {country[:20]!r}")
    phone = to_e164(raw_phone, country.upper() if country else None) if raw_phone else None
    if raw_phone is not None and phone is None and address is None:
        raise violation("telefono", f"not a valid phone number{' for ' + country.upper() if country else ''}")
    company = form.get("empresa")
    if company is not None and len(company) > MAX_COMPANY:
        raise violation("empresa", f"longer than {MAX_COMPANY} characters")
    tax_id = form.get("rfc_nit")
    if tax_id is not None and len(tax_id) > MAX_TAX_ID:
        raise violation("rfc_nit", f"longer than {MAX_TAX_ID} characters")

    product, reason = form.get("producto"), form.get("motivo")
    privacy = (form.get("acepto_privacidad") or "").lower() in ACCEPTED
    context = lines(
        f"Producto: {product}" if product else None,
        f"Motivo: {reason}" if reason else None,
        f"Teléfono (no válido): {raw_phone}" if raw_phone and phone is None else None,
        f"Página: {form.get('page_url')}" if form.get("page_url") else None,
        None if privacy else "Aviso de privacidad: no aceptado",
    )
    message = form.fields.get("mensaje", "").strip()
    contact = make_contact(
        channel=Channel.webform,
        provider=PROVIDER,
        provider_message_id=f"{form_id}:{submission_id}",
        received_at=submitted_at,
        path="submission_id",
        name=form.get("nombre"),
        email=address,
        phone=phone,
        company=company,
        tax_id=tax_id,
        subject=form.get("asunto") or reason or "",
        body=f"{message}\n\n{context}" if message and context else message or context,
        attachments=form.files,
        raw_event=f"webform:{form_id}",
    )
    return Normalization("emit", contacts=(contact,))


def _parse_urlencoded(body: bytes) -> Form:
    text = decode_utf8(body)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise Rejected("invalid_encoding", "a percent-encoded field is not UTF-8") from None
    except ValueError as exc:
        raise violation("", f"not a form: {str(exc)[:120]}") from None
    fields: dict[str, str] = {}
    files: list[Attachment] = []
    for name, value in pairs:
        if name == "adjunto":  # no file travels in an urlencoded form: keep the name it gives
            if value.strip():
                files.append(Attachment(name=clean(value.strip())))
            continue
        fields.setdefault(clean(name), clean(value))
    return Form(fields, tuple(files))


def _parse_multipart(body: bytes, content_type: str) -> Form:
    header = content_type.replace("\r", " ").replace("\n", " ")
    preamble = f"MIME-Version: 1.0\r\nContent-Type: {header}\r\n\r\n".encode("utf-8", "replace")
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(preamble + body)
        parts = message.get_payload() if message.is_multipart() else None
    except Exception as exc:  # the stdlib parser is lenient but not guaranteed total on hostile input
        raise violation("", f"unreadable multipart body: {type(exc).__name__}") from None
    if not isinstance(parts, list) or not parts:
        raise violation("", "multipart/form-data without parts (is the boundary right?)")
    if len(parts) > MAX_FIELDS:
        raise violation("", f"more than {MAX_FIELDS} form fields")
    fields: dict[str, str] = {}
    files: list[Attachment] = []
    for part in parts:
        if not isinstance(part, email.message.Message):
            continue
        name = _param(part, "name")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = _param(part, "filename")
        if filename is not None:
            if filename.strip() or data:
                files.append(
                    Attachment(
                        name=clean(filename.strip()) or "adjunto",
                        content_type=_content_type(part),
                        size=len(data),
                    )
                )
            continue
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected("invalid_encoding", f"form field {name[:60]!r} is not UTF-8") from None
        fields.setdefault(clean(name), clean(value))
    return Form(fields, tuple(files))


def _param(part: email.message.Message, name: str) -> str | None:
    try:
        value = part.get_param(name, header="content-disposition")
    except Exception:  # malformed Content-Disposition parameters
        return None
    if value is None:
        return None
    return clean(email.utils.collapse_rfc2231_value(value))


def _content_type(part: email.message.Message) -> str | None:
    try:
        return clean(part.get_content_type())
    except Exception:  # malformed Content-Type of a part
        return None
