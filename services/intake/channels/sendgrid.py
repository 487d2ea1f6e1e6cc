"""SendGrid Inbound Parse: POST /webhooks/sendgrid.

Format (twilio.com/docs/sendgrid/for-developers/parsing-email/inbound-email, "Setting up the Inbound Parse
Webhook"): multipart/form-data.

- parsed mode ("POST the raw, full MIME message" unchecked): `headers` (the raw header block), `text`, `html`,
  `from`, `to`, `cc`, `subject`, `envelope` (JSON {"to": [...], "from": "..."}), `charsets` (JSON: the character
  set of each field; SendGrid decodes to/from/cc/subject, `text` and `html` stay in their own charset), `attachments`
  (how many), `attachment-info` (JSON {"attachment1": {"filename", "name", "type", "content-id"}}), the files
  `attachment1` .. `attachmentN`, `content-ids` (JSON {"<cid>": "attachmentN"}), `dkim`, `SPF`, `sender_ip`,
  `spam_score`, `spam_report`.
- raw mode: the same envelope fields and `email`, the whole MIME message, which goes through email.py.

Authentication: Inbound Parse itself does not sign its posts; guardia requires `Authorization: Bearer <token>`
(the token configured as config.sendgrid_token, e.g. in the destination URL's credentials or a proxy) and compares
it in constant time. Missing -> missing_signature; not a Bearer token, or the wrong one -> invalid_signature. With
no token configured (None or empty) the Authorization header is not looked at (neither its presence nor its value)
and the request is processed: that lets `guardia normalize` run offline on captured payloads and a tenant start
before configuring secrets (the gateway is meant to log a warning for unverified channels).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared.schemas import Attachment

from . import email as core
from .base import ChannelConfig, Normalization, RawRequest, same
from .formdata import Form, FormError, attachment_count, decode_field, json_field, parse_form

PROVIDER = "sendgrid"


def _authorize(request: RawRequest, config: ChannelConfig) -> Normalization | None:
    if not config.sendgrid_token:
        return None  # not configured: not checked
    header = request.header("authorization")
    if not header or not header.strip():
        return Normalization.reject("missing_signature", "Authorization: missing (Bearer token required)")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Normalization.reject("invalid_signature", "Authorization: expected 'Bearer <token>'")
    if not same(token.strip(), config.sendgrid_token):
        return Normalization.reject("invalid_signature", "Authorization: wrong bearer token")
    return None


def _json_object(form: Form, name: str) -> dict[str, Any]:
    value = json_field(form, name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FormError("schema_violation", f"{name}: expected a JSON object")
    return value


def _field(form: Form, name: str, charsets: dict[str, Any]) -> str | None:
    item = form.first(name)
    if item is None:
        return None
    charset = charsets.get(name)
    return decode_field(name, item.data, charset if isinstance(charset, str) and charset else "utf-8")


def _attachments(form: Form, html: str) -> tuple[Attachment, ...]:
    count = attachment_count(form, "attachments")
    info = _json_object(form, "attachment-info")
    content_ids = _json_object(form, "content-ids")
    referenced = core.referenced_cids(html)
    inline = {str(key) for cid, key in content_ids.items() if str(cid).strip("<>").lower() in referenced}
    for key, described in info.items():
        cid = described.get("content-id") if isinstance(described, dict) else None
        if isinstance(cid, str) and cid.strip("<>").lower() in referenced:
            inline.add(key)
    found: list[Attachment] = []
    for index in range(1, count + 1):
        key = f"attachment{index}"
        item = form.first(key)
        if item is None:
            raise FormError("schema_violation", f"{key}: missing (attachments is {count})")
        if key in inline:
            continue
        found_meta = info.get(key)
        meta: dict[str, Any] = found_meta if isinstance(found_meta, dict) else {}
        name = meta.get("filename") or meta.get("name") or item.filename or key
        content_type = meta.get("type") if isinstance(meta.get("type"), str) else item.content_type
        found.append(
            Attachment(
                name=core.clean_line(str(name))[:255] or key,
                content_type=content_type,
                size=len(item.data),
                reference=key,
            )
        )
    return tuple(found)


def _parsed(form: Form, config: ChannelConfig) -> Normalization:
    charsets = _json_object(form, "charsets")
    envelope = _json_object(form, "envelope")
    header_text = _field(form, "headers", charsets)
    if header_text is None:
        return Normalization.reject("schema_violation", "headers: missing (neither parsed nor raw Inbound Parse)")
    headers = core.parse_headers(header_text)
    from_value = _field(form, "from", charsets) or core.header_text(headers, "from") or ""
    sender_name, sender_email = core.sender_of(from_value)
    if sender_email is None:
        return Normalization.reject("schema_violation", "from: no valid sender address")
    subject = core.clean_line(_field(form, "subject", charsets) or core.header_text(headers, "subject") or "")
    text = _field(form, "text", charsets)
    html = _field(form, "html", charsets) or ""
    if text is None and not html:
        return Normalization.reject("schema_violation", "text: missing (and no html)")
    body = text if text and text.strip() else core.html_to_text(html)
    date_value = core.header_text(headers, "date")
    date = core.parse_date(date_value)
    envelope_from = envelope.get("from")
    parsed = core.ParsedEmail(
        message_id=core.normalize_message_id(core.header_text(headers, "message-id")),
        in_reply_to=core.header_text(headers, "in-reply-to"),
        references=core.message_ids(core.header_text(headers, "references")),
        sender_name=sender_name,
        sender_email=sender_email,
        subject=subject,
        date=date,
        date_problem=None if date else ("missing Date header" if date_value is None else "unparseable Date header"),
        text=body.replace("\r\n", "\n"),
        attachments=_attachments(form, html),
        automatic=core.automatic_reason(
            headers, subject, sender_email, envelope_from if isinstance(envelope_from, str) else None
        ),
        fallback_id=core.sha256_id((header_text + "\n" + (text or html)).encode("utf-8", "surrogatepass")),
    )
    return core.contact_from(parsed, PROVIDER, config, "inbound_parse")


def normalize(request: RawRequest, config: ChannelConfig) -> Normalization:
    refused = _authorize(request, config)
    if refused is not None:
        return refused
    try:
        form = parse_form(request)
        raw = form.first("email")
        if raw is not None:
            return core.normalize_raw(raw.data, PROVIDER, config, "inbound_parse.raw")
        return _parsed(form, config)
    except FormError as exc:
        return Normalization.reject(exc.code, exc.message)
    except ValidationError as exc:
        return Normalization.reject("schema_violation", f"contact: {exc.errors()[0].get('msg', 'invalid')}")
