"""Personal data out of the logs: customers' phones, e-mail addresses, tax ids and what they wrote.

Logs leave the system (a log shipper, a support ticket, a screenshot in a chat) and are kept longer
and by more people than the event log, so by default they carry none of it (logs.py applies this to
every line; `GUARDIA_LOG_PII=true` turns it off for local debugging). Two nets:

- by key: the value of a key that names personal data or a message body (`text`, `body`, `to`,
  `customer`, `email`, ...) is replaced whole by `[masked N chars]`, nested dicts and lists included;
- by pattern, in every other string (an error message that quotes an address, a uvicorn access line
  with a phone in its query): e-mail addresses, Mexican RFC and CURP, Colombian NIT, Argentine CUIT,
  Costa Rican cédulas, and phone numbers become `[email]`, `[rfc]`, `[curp]`, `[nit]`, `[cuit]`,
  `[cedula]`, `[phone]`.

The patterns err on the side of masking: any run of 8 to 15 digits (or 7 with a `+` or separators)
counts as a phone, except ISO dates and IPv4 addresses, which logs need and which are not personal.
UUIDs, ticket numbers (NS-000123), timestamps and ports are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

#: Keys whose value is personal data or a customer's words, whatever it looks like (compared lower-case).
#: Not `subject`: in guardia's logs that is a NATS subject, which operations need (an e-mail subject
#: line is still pattern-masked).
SENSITIVE_KEYS = frozenset({
    "text", "body", "raw", "content", "transcript", "caption",
    "email", "e_mail", "mail", "phone", "phone_number", "mobile", "wa_id", "to", "from", "from_", "sender",
    "recipient", "customer", "contact", "name", "customer_name", "address",
    "tax_id", "rfc", "curp", "nit", "cuit", "cedula", "document",
})
#: ...and keys that end like one of these (`customer_email`, `reply_text`, `raw_body`).
SENSITIVE_SUFFIXES = ("_email", "_phone", "_text", "_body", "_name", "_tax_id")
#: Keys whose string value is a version that guardia or a tenant's policy file sets, never a customer's
#: data, and that the phone pattern would take for a number ("001-2026.11" has nine digits): left as is,
#: since which policy a service applied is what an operator reads the line for.
VERSION_KEYS = frozenset({"version", "policy_version", "schema_version", "guardia_version"})

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CURP = re.compile(r"(?<![A-Za-z0-9])[A-Z]{4}\d{6}[HMX][A-Z]{5}[A-Z0-9]\d(?![A-Za-z0-9])", re.IGNORECASE)
# RFC: 3 letters (company) or 4 (person), the date yymmdd, a 3-character homoclave.
_RFC = re.compile(r"(?<![A-Za-z0-9])[A-ZÑ&]{3,4}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[A-Z0-9]{2}[0-9A]"
                  r"(?![A-Za-z0-9])", re.IGNORECASE)
_NIT = re.compile(r"(?<![\w.-])\d{3}\.?\d{3}\.?\d{3}-\d(?![\w-])")  # 900.123.456-7, 900123456-7
_CUIT = re.compile(r"(?<![\w.-])(?:20|2[3-7]|30|33|34)-\d{8}-\d(?![\w-])")  # 20-12345678-9
_CEDULA = re.compile(r"(?<![\w.-])(?:[1-9]-\d{4}-\d{4}|3-\d{3}-\d{6})(?![\w-])")  # 1-0234-0567, 3-101-123456
_PHONE = re.compile(r"(?<![\w.:/@-])\+?\(?\d[\d\s().-]{5,22}\d(?![\w:/@-])")
_ESCAPED = re.compile(r"%[0-9A-Fa-f]{2}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    if _ISO_DATE.fullmatch(found) or _IPV4.fullmatch(found):
        return found
    separated = found.startswith("+") or not found.isdigit()
    if 8 <= digits <= 15 or (digits == 7 and separated):
        return "[phone]"
    return found


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_EMAIL, "[email]"),
    (_CURP, "[curp]"),
    (_RFC, "[rfc]"),
    (_NIT, "[nit]"),
    (_CUIT, "[cuit]"),
    (_CEDULA, "[cedula]"),
    (_PHONE, _phone),
)


def mask_text(text: str) -> str:
    """`text` with every e-mail address, tax id and phone number in it replaced by its kind. A URL's
    percent-escapes are undone first (`%2B52...`, `laura%40...` in a logged query string)."""
    if _ESCAPED.search(text):
        text = unquote(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def is_version(key: str, value: object) -> bool:
    return key.lower() in VERSION_KEYS and isinstance(value, str | int)


def is_sensitive(key: str) -> bool:
    lowered = key.lower()
    return lowered in SENSITIVE_KEYS or lowered.endswith(SENSITIVE_SUFFIXES)


def masked(value: object) -> str:
    """What stands in for a sensitive value: its size, so a log still tells empty from long."""
    if value is None or value == "":
        return "[masked empty]"
    if isinstance(value, str | bytes):
        return f"[masked {len(value)} chars]"
    return "[masked]"


def mask_value(value: Any, depth: int = 0) -> Any:
    """A log value with personal data taken out: strings by pattern, containers key by key."""
    if depth > 8:
        return "[masked]"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: v if isinstance(k, str) and is_version(k, v)
                else masked(v) if isinstance(k, str) and is_sensitive(k) else mask_value(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return masked(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return mask_text(str(value))  # anything else is rendered as text anyway: mask that text
