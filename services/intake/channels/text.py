"""Shared helpers for normalizers: phone numbers in E.164, hints found in the text."""

from __future__ import annotations

import re

import phonenumbers

# RFC (Mexico): 3-4 letters, 6 digits (yymmdd), 3 alphanumerics. NIT (Colombia): 6-10 digits and a
# check digit after a dash. Cédula jurídica (Costa Rica): 3-101-xxxxxx. CUIT (Argentina): 2-8-1.
_PATTERNS = {
    "rfc": re.compile(r"\b([A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3})\b"),
    "nit": re.compile(r"\bNIT[:.\s#]*([0-9][0-9.]{5,13}-?[0-9])\b", re.IGNORECASE),
    "cedula_juridica": re.compile(r"\b(3-?\d{3}-?\d{6})\b"),
    "cuit": re.compile(r"\b((?:20|23|24|27|30|33|34)-?\d{8}-?\d)\b"),
    "email": re.compile(r"\b([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b"),
    "ticket_number": re.compile(r"\b([A-Z]{1,6}-\d{6})\b"),
}


def hints(text: str) -> dict[str, list[str]]:
    """Identifiers a customer wrote (tax ids, emails, ticket numbers): kept as hints, never trusted."""
    found: dict[str, list[str]] = {}
    for name, pattern in _PATTERNS.items():
        values = sorted({m.group(1) for m in pattern.finditer(text or "")})
        if values:
            found[name] = values
    return found


def to_e164(raw: str | None, default_region: str | None = None) -> str | None:
    """A phone as E.164 (+573001234567), or None if it is not a valid number.

    Providers send numbers without '+' (WhatsApp wa_id '573001234567') or local ('3001234567').
    The phonenumbers library knows every country's numbering plan, so no regex guesses here.
    """
    if not raw:
        return None
    candidate = raw.strip()
    if candidate.isdigit() and default_region is None:
        candidate = "+" + candidate
    try:
        parsed = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
