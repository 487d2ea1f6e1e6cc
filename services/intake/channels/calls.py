"""What Zadarma and Twilio calls share: the caller as a Customer, durations and summaries in Spanish."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from shared.schemas import Attachment, Channel, Customer

from .base import CanonicalContact, Normalization, Outcome
from .text import hints, to_e164

_HIDDEN = {"", "0", "anonymous", "unknown", "restricted", "private", "unavailable", "266696687"}


def caller_customer(raw: str | None, provider: str, name: str | None = None) -> tuple[Customer, str]:
    """(customer, how to name the caller in a summary). The raw id is kept in channel_ids."""
    value = (raw or "").strip()
    plain = value.split(":", 1)[1] if value.lower().startswith(("whatsapp:", "tel:")) else value
    phone = to_e164(plain) if plain.lower() not in _HIDDEN else None
    ids = {provider: value[:100]} if value and value.lower() not in _HIDDEN else {}
    clean_name = (name or "").strip()[:200] or None
    try:
        customer = Customer(name=clean_name, phone=phone, channel_ids=ids)
    except ValidationError:
        customer = Customer(channel_ids=ids)
    label = phone or (plain[:40] if ids else "número oculto")
    return customer, label


def duration_es(seconds: int) -> str:
    """3 min 12 s, 1 h 2 min, 45 s."""
    seconds = max(0, seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def call_contact(
    outcome: Outcome,
    *,
    channel: Channel,
    provider: str,
    call_id: str,
    customer: Customer,
    summary: str,
    received_at: datetime,
    raw_event: str,
    attachments: tuple[Attachment, ...] = (),
    reason: str = "",
) -> Normalization:
    contact = CanonicalContact(
        channel=channel,
        provider=provider,
        provider_message_id=call_id,
        customer=customer,
        body_text=summary,
        attachments=attachments,
        received_at=received_at,
        hints=hints(summary),
        raw_event=raw_event,
    )
    return Normalization(outcome, contacts=(contact,), reason=reason)
