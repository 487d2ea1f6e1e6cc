"""Plumbing shared by the chat and form normalizers (whatsapp, telegram, webform, crisp, tawkto).

Everything here is pure: size and signature checks on the raw bytes, JSON decoding, typed access to
a provider document that names the field path at fault, provider timestamps to aware UTC, and the
construction of a `CanonicalContact` within the limits of the `contact.received` event.

A normalizer raises `Rejected` anywhere below its entry point; `guarded()` turns it into
`Normalization.reject(...)`, so `normalize()` itself never raises for any input.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.schemas import Attachment, Channel, Customer

from .base import CanonicalContact, ChannelConfig, Normalization, RawRequest, hmac_hex
from .text import hints

MAX_JSON_BYTES = 1024 * 1024  # JSON webhooks above 1 MiB are rejected before anything else is done
FUTURE_TOLERANCE = timedelta(hours=24)  # the same tolerance intake applies (rules.FUTURE_TOLERANCE)

# Limits of the contact.received event and of Customer (shared/schemas/contacts.py): a contact the
# normalizer returns must fit the event it becomes.
MAX_ID = 400
MAX_SUBJECT = 998
MAX_BODY = 100_000
MAX_NAME = 200
MAX_COMPANY = 200
MAX_TAX_ID = 40
TRUNCATED = "\n[… texto truncado por guardia]"


class Rejected(Exception):
    """Raised inside a normalizer; `guarded()` turns it into a reject with this reason code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def violation(path: str, problem: str) -> Rejected:
    return Rejected("schema_violation", f"{path or 'body'}: {problem}")


def guarded(run: Callable[[], Normalization]) -> Normalization:
    try:
        return run()
    except Rejected as exc:
        return Normalization.reject(exc.code, exc.reason)


# -- time -------------------------------------------------------------------------------------------------------


def now_utc(config: ChannelConfig) -> datetime:
    now = config.now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


def unix_time(value: Any, path: str, *, millis: bool = False) -> datetime:
    """A provider's unix timestamp (seconds, or milliseconds), as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise violation(path, "expected a unix timestamp")
    try:
        number: float | int
        if isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                number = float(value.strip())
        else:
            number = value
        seconds = number / 1000 if millis else number
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise violation(path, f"not a valid unix timestamp: {str(value)[:40]!r}") from None


def iso_time(value: str, path: str) -> datetime:
    """ISO-8601 with a UTC offset ('Z' or ±hh:mm), as an aware UTC datetime; naive times are rejected."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise violation(path, f"not an ISO-8601 date-time: {value[:40]!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise violation(path, f"needs a UTC offset, got the naive time {value[:40]!r}")
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise violation(path, f"out of range: {value[:40]!r}") from None


def not_in_future(moment: datetime, config: ChannelConfig, path: str) -> datetime:
    if moment - now_utc(config) > FUTURE_TOLERANCE:
        raise Rejected("timestamp_out_of_range", f"{path}: {moment.isoformat()} is more than 24 h in the future")
    return moment


# -- raw bytes: size, signature, encoding, JSON -----------------------------------------------------------------


def check_size(body: bytes, limit: int = MAX_JSON_BYTES) -> None:
    if len(body) > limit:
        raise Rejected("payload_too_large", f"body is {len(body)} bytes; the limit is {limit}")


def same_text(a: str, b: str) -> bool:
    """Constant-time comparison that also copes with lone surrogates in hostile headers."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def signature_header(request: RawRequest, name: str) -> str:
    provided = request.header(name)
    if provided is None or not provided.strip():
        raise Rejected("missing_signature", f"the {name} header is missing")
    return provided.strip()


def check_hmac(
    request: RawRequest, header: str, secret: str, message: bytes, *, algorithm: str, prefix: str = ""
) -> None:
    """`header` must be `prefix` + hex HMAC(secret, message); hex digits compared case-insensitively."""
    provided = signature_header(request, header)
    expected = prefix + hmac_hex(secret, message, algorithm)
    if not same_text(provided.lower(), expected):
        raise Rejected("invalid_signature", f"the {header} header does not match the body")


def decode_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_encoding", f"body is not UTF-8 (byte {exc.start})") from None


def parse_json_object(body: bytes) -> Obj:
    text = decode_utf8(body)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Rejected("malformed_json", f"body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise violation("", "expected a JSON object")
    return Obj(doc, "")


def clean(text: str) -> str:
    """Lone surrogates (valid in JSON escapes, not in UTF-8) become U+FFFD; everything else is kept."""
    return text.encode("utf-8", "replace").decode("utf-8")


# -- typed access to a provider document ------------------------------------------------------------------------


@dataclass(frozen=True)
class Obj:
    """A JSON object and its path in the payload, so a missing field is reported as `a.b[2].c`."""

    data: Mapping[str, Any]
    path: str

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def child(self, key: str) -> Obj:
        found = self.opt_child(key)
        if found is None:
            raise violation(self.at(key), "missing")
        return found

    def opt_child(self, key: str) -> Obj | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise violation(self.at(key), "expected an object")
        return Obj(value, self.at(key))

    def children(self, key: str, *, required: bool = False) -> list[Obj]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise violation(self.at(key), "missing")
            return []
        if not isinstance(value, list):
            raise violation(self.at(key), "expected a list")
        found = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise violation(f"{self.at(key)}[{index}]", "expected an object")
            found.append(Obj(item, f"{self.at(key)}[{index}]"))
        return found

    def text(self, key: str) -> str:
        found = self.opt_text(key)
        if found is None or not found.strip():
            raise violation(self.at(key), "missing" if found is None else "empty")
        return found

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise violation(self.at(key), "expected a string")
        return clean(value)

    def integer(self, key: str) -> int:
        found = self.opt_integer(key)
        if found is None:
            raise violation(self.at(key), "missing")
        return found

    def opt_integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise violation(self.at(key), "expected an integer")
        return value

    def ident(self, key: str) -> str:
        """An id the provider sends as a string or an integer (chat ids, fingerprints)."""
        value = self.data.get(key)
        if value is None:
            raise violation(self.at(key), "missing")
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise violation(self.at(key), "expected a string or an integer id")
        ident = clean(str(value)).strip()
        if not ident:
            raise violation(self.at(key), "empty")
        return ident

    def opt_bool(self, key: str) -> bool:
        value = self.data.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise violation(self.at(key), "expected true or false")
        return value


# -- the canonical contact --------------------------------------------------------------------------------------


def truncate(text: str, limit: int, marker: str = "") -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(marker)] + marker


def lines(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


def make_contact(
    *,
    channel: Channel,
    provider: str,
    provider_message_id: str,
    received_at: datetime,
    path: str,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    company: str | None = None,
    tax_id: str | None = None,
    channel_ids: Mapping[str, str] | None = None,
    subject: str = "",
    body: str = "",
    attachments: Iterable[Attachment] = (),
    is_reply: bool = False,
    thread_key: str | None = None,
    raw_event: str = "",
) -> CanonicalContact:
    """Build one contact; text is kept verbatim (HTML, SQL and all) and only cut to the event's limits."""
    if not provider_message_id.strip():
        raise violation(path, "the message id is empty")
    if len(provider_message_id) > MAX_ID:
        raise violation(path, f"the message id is longer than {MAX_ID} characters")
    subject = truncate(subject, MAX_SUBJECT)
    body = truncate(body, MAX_BODY, TRUNCATED)
    name = name.strip() if name else None
    try:
        customer = Customer(
            name=truncate(name, MAX_NAME) if name else None,
            email=email or None,
            phone=phone or None,
            company=truncate(company, MAX_COMPANY) if company else None,
            tax_id=tax_id or None,
            channel_ids=dict(channel_ids or {}),
        )
        return CanonicalContact(
            channel=channel,
            provider=provider,
            provider_message_id=provider_message_id,
            customer=customer,
            subject=subject,
            body_text=body,
            attachments=tuple(attachments),
            received_at=received_at.astimezone(UTC),
            is_reply=is_reply,
            thread_key=thread_key,
            hints=hints(f"{subject}\n{body}"),
            raw_event=raw_event,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise violation(path, f"{where or 'contact'}: {first.get('msg', 'invalid')}") from None


def valid_email(value: str | None) -> str | None:
    """The address if pydantic's EmailStr accepts it (no DNS lookups), else None."""
    if not value or not value.strip():
        return None
    try:
        return Customer(email=value.strip()).email
    except ValidationError:
        return None
