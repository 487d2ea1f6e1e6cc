"""HTML form bodies (application/x-www-form-urlencoded and multipart/form-data), parsed with the standard library.

Mailgun, SendGrid, Zadarma and Twilio post forms. urlencoded bodies are split by hand so that an error can name the
field at fault; multipart bodies are parsed by the `email` package (a form is a MIME multipart whose parts carry
`Content-Disposition: form-data; name=...`, RFC 7578), so no extra dependency is needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value
from typing import Any
from urllib.parse import unquote_plus

from .base import RawRequest

#: A field value larger than this is not a form field a provider sends (attachments are counted separately).
MAX_FORM_BYTES = 40 * 1024 * 1024


class FormError(Exception):
    """The body is not the form the endpoint expects; `code` is one of base.REASON_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FormField:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def is_file(self) -> bool:
        return self.filename is not None


@dataclass(frozen=True)
class Form:
    fields: tuple[FormField, ...]
    multipart: bool = False

    def first(self, name: str) -> FormField | None:
        for item in self.fields:
            if item.name == name:
                return item
        return None

    def has(self, name: str) -> bool:
        return self.first(name) is not None

    def text(self, name: str, charset: str = "utf-8") -> str | None:
        """The field decoded as text; None when absent. Undecodable bytes raise FormError(invalid_encoding)."""
        item = self.first(name)
        if item is None:
            return None
        return decode_field(name, item.data, charset)

    def files(self) -> tuple[FormField, ...]:
        return tuple(item for item in self.fields if item.is_file)

    def pairs(self) -> list[tuple[str, str]]:
        """Every non-file field as (name, text), in body order (Twilio signs these)."""
        return [(item.name, decode_field(item.name, item.data)) for item in self.fields if not item.is_file]


def json_field(form: Form, name: str) -> Any:
    """A form field that carries JSON (Mailgun's message-headers, SendGrid's attachment-info), or None."""
    raw = form.text(name)
    if raw is None or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise FormError("malformed_json", f"{name}: not JSON ({exc})") from exc


def attachment_count(form: Form, name: str, limit: int = 1000) -> int:
    """The count field Mailgun ('attachment-count') and SendGrid ('attachments') send beside the files."""
    text = (form.text(name) or "").strip()
    if text and not text.isdigit():
        raise FormError("schema_violation", f"{name}: not a whole number")
    count = int(text) if text else 0
    if count > limit:
        raise FormError("schema_violation", f"{name}: more than {limit}")
    return count


def decode_field(name: str, data: bytes, charset: str = "utf-8") -> str:
    try:
        return data.decode(charset or "utf-8")
    except LookupError:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError("invalid_encoding", f"{name}: unknown charset {charset!r} and not UTF-8") from exc
    except UnicodeDecodeError as exc:
        raise FormError("invalid_encoding", f"{name}: not valid {charset}") from exc


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_urlencoded(body: bytes) -> Form:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError("invalid_encoding", "body: urlencoded form is not UTF-8") from exc
    fields: list[FormField] = []
    for chunk in text.split("&"):
        if not chunk:
            continue
        raw_name, _, raw_value = chunk.partition("=")
        try:
            name = unquote_plus(raw_name, encoding="utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise FormError("invalid_encoding", f"field name {raw_name[:40]!r}: not UTF-8") from exc
        try:
            value = unquote_plus(raw_value, encoding="utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise FormError("invalid_encoding", f"{name}: not UTF-8") from exc
        fields.append(FormField(name, value.encode("utf-8")))
    return Form(tuple(fields))


def _disposition_param(part: Message, param: str) -> str | None:
    value = part.get_param(param, header="content-disposition")
    if value is None:
        return None
    return collapse_rfc2231_value(value)


def parse_multipart(body: bytes, content_type: str) -> Form:
    try:
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    except UnicodeEncodeError as exc:
        raise FormError("schema_violation", "Content-Type: not a valid header value") from exc
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.get_param("boundary"):
        raise FormError("schema_violation", "Content-Type: multipart/form-data without a boundary")
    parts = message.get_payload()
    if not isinstance(parts, list) or not parts:
        raise FormError("schema_violation", "body: no multipart/form-data parts found for the boundary")
    fields: list[FormField] = []
    for part in parts:
        if not isinstance(part, Message) or part.is_multipart():
            continue
        name = _disposition_param(part, "name")
        if name is None:
            raise FormError("schema_violation", "body: a multipart part has no Content-Disposition name")
        filename = _disposition_param(part, "filename")
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            data = b""
        part_type = part.get("content-type")
        fields.append(
            FormField(
                name=name,
                data=data,
                filename=filename,
                content_type=media_type(str(part_type)) if part_type is not None else None,
            )
        )
    return Form(tuple(fields), multipart=True)


def parse_form(request: RawRequest) -> Form:
    """The request body as a form. Raises FormError naming what is wrong."""
    if len(request.body) > MAX_FORM_BYTES:
        raise FormError("payload_too_large", f"body: {len(request.body)} bytes, more than {MAX_FORM_BYTES}")
    content_type = request.header("content-type") or ""
    kind = media_type(content_type)
    if kind == "multipart/form-data":
        return parse_multipart(request.body, content_type)
    if kind in ("", "application/x-www-form-urlencoded"):
        return parse_urlencoded(request.body)
    raise FormError("schema_violation", f"Content-Type: expected a form, got {kind!r}")
