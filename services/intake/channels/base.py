"""The contract every channel normalizer implements (issue: intake takes every channel's real payloads)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import Attachment, Channel, Customer

Outcome = Literal["emit", "update", "ignore", "duplicate", "reject"]

#: Reason codes a normalizer may reject with (the gateway maps them to HTTP statuses).
REASON_CODES = (
    "invalid_signature",
    "missing_signature",
    "malformed_json",
    "invalid_encoding",
    "schema_violation",
    "timestamp_out_of_range",
    "payload_too_large",
    "unknown_event_type",
)


@dataclass(frozen=True)
class RawRequest:
    """What arrived, exactly as it arrived: the signature covers these bytes."""

    body: bytes
    headers: Mapping[str, str]  # keys compared case-insensitively via `header()`
    url: str = ""  # the public URL the provider called (Twilio signs it)
    method: str = "POST"
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class ChannelConfig:
    """Secrets and settings of one tenant's channel accounts (from GUARDIA_* for the default tenant)."""

    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    telegram_secret_token: str | None = None
    crisp_secret: str | None = None
    tawkto_secret: str | None = None
    zadarma_secret: str | None = None
    twilio_auth_token: str | None = None
    mailgun_signing_key: str | None = None
    sendgrid_token: str | None = None
    webform_secret: str | None = None
    public_base_url: str = ""
    zadarma_timezone: str = "UTC"
    replay_window_seconds: int = 300  # 0 turns the timestamp-age check off
    now: datetime | None = None  # injected clock for timestamp checks (None: wall clock)


class CanonicalContact(BaseModel):
    """One contact in guardia's own terms; becomes a `contact.received` event."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    provider: str = Field(description="whatsapp_cloud, telegram, rfc822, mailgun, sendgrid, zadarma, twilio, ...")
    provider_message_id: str = Field(min_length=1, description="The idempotency key.")
    customer: Customer
    subject: str = ""
    body_text: str = ""
    attachments: tuple[Attachment, ...] = ()
    received_at: datetime = Field(description="UTC, from the provider's timestamp.")
    is_reply: bool = False
    thread_key: str | None = None
    hints: dict[str, list[str]] = Field(default_factory=dict)
    raw_event: str = Field(default="", description="The provider's event name, e.g. NOTIFY_END, message:send")


@dataclass(frozen=True)
class DeliveryStatus:
    """A provider's report on a message guardia sent (WhatsApp `statuses`), tied back to the notification
    by the id guardia gave the provider (`biz_opaque_callback_data`)."""

    notification_id: str
    provider: str
    provider_id: str
    status: str  # sent, delivered, read, failed
    reported_at: datetime
    error_code: int | None = None
    error_title: str = ""


@dataclass(frozen=True)
class Normalization:
    outcome: Outcome
    contacts: tuple[CanonicalContact, ...] = ()
    statuses: tuple[DeliveryStatus, ...] = ()  # reports on our own messages, for notify
    reason_code: str | None = None
    reason: str = ""
    reply: str | None = None  # a body the provider expects back (hub.challenge, zd_echo)

    @staticmethod
    def reject(code: str, reason: str) -> Normalization:
        assert code in REASON_CODES, code
        return Normalization("reject", reason_code=code, reason=reason)

    @staticmethod
    def ignore(reason: str) -> Normalization:
        return Normalization("ignore", reason=reason)


def hmac_hex(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(a.encode(), b.encode())
