"""The one interface every transport implements, and what a send can come back with."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import httpx

#: A provider call never outlives a good share of the consumer's ack wait (10 s by default): a send that
#: ran past it would be redelivered and run twice at once (notify-facts.md §0.4).
SEND_TIMEOUT_SECONDS = 5.0


class Reason(StrEnum):
    """Why a send failed, the same words for every provider (they go into `notification.failed`)."""

    outside_window = "outside_window"  # WhatsApp free text more than 24 h after the customer's last message
    rate_limited = "rate_limited"
    blocked_by_user = "blocked_by_user"  # blocked the bot, texted STOP, unsubscribed
    invalid_recipient = "invalid_recipient"  # no such number/chat/mailbox
    auth_failed = "auth_failed"  # token, SID or password wrong or expired: no retry helps until fixed
    provider_unavailable = "provider_unavailable"  # 5xx, timeouts, connection errors, SMTP 4xx
    rejected = "rejected"  # the provider refused the request itself (a bug or a configuration error)
    template_missing = "template_missing"  # WhatsApp: no approved template for this kind and language
    not_configured = "not_configured"  # the tenant has no account for this channel


@dataclass(frozen=True)
class Outgoing:
    """One message to one address, as a transport needs it (rendered already)."""

    notification_id: str
    channel: str
    to: str
    body: str
    subject: str = ""
    html: str | None = None
    kind: str = ""
    ticket_number: str = ""
    reply_to: str | None = None  # the customer's message this answers (wamid, Message-ID, chat:message id)
    references: tuple[str, ...] = ()  # e-mail thread (the customer's References, then its Message-ID)
    auto_submitted: str = "auto-generated"  # RFC 3834: "auto-replied" for a direct answer to the customer
    template: tuple[str, str, tuple[str, ...]] | None = None  # WhatsApp (name, language, body parameters)


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    transport: str
    provider_id: str | None = None  # wamid, Telegram message_id, Twilio SM..., our Message-ID
    reason: Reason | None = None
    retry: bool = False  # trying again later can help
    retry_after: float | None = None  # the provider said how long to wait (seconds)
    detail: str = ""  # what the provider answered, short, with no message text in it
    parts: tuple[str, ...] = field(default=())  # provider ids of every part when split (Telegram)

    @classmethod
    def ok(cls, transport: str, provider_id: str | None, parts: tuple[str, ...] = ()) -> Outcome:
        return cls(True, transport, provider_id=provider_id, parts=parts)

    @classmethod
    def failed(cls, transport: str, reason: Reason, detail: str, retry: bool = False,
               retry_after: float | None = None) -> Outcome:
        return cls(False, transport, reason=reason, retry=retry, retry_after=retry_after, detail=detail[:500])


class Transport(Protocol):
    @property
    def name(self) -> str: ...

    async def send(self, message: Outgoing) -> Outcome: ...

    async def aclose(self) -> None: ...


def http_failure(transport: str, exc: httpx.HTTPError) -> Outcome:
    """A request that got no answer: the provider may be down, or the network; worth trying again."""
    return Outcome.failed(transport, Reason.provider_unavailable, f"{type(exc).__name__}: {exc}", retry=True)


def retry_after_header(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def json_of(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or {} when it has none (an HTML error page from a proxy, say)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def by_code(transport: str, codes: dict[int, tuple[Reason, bool]], code: object, response: httpx.Response,
            detail: str) -> Outcome:
    """A failure read by the provider's own error code (what its docs say to key on), else by HTTP status."""
    if isinstance(code, int) and code in codes:
        reason, retry = codes[code]
        return Outcome.failed(transport, reason, detail, retry=retry)
    return by_status(transport, response, detail)


def by_status(transport: str, response: httpx.Response, detail: str) -> Outcome:
    """The generic reading of an HTTP failure, for what a provider's own codes do not say."""
    status = response.status_code
    if status == 429:
        return Outcome.failed(transport, Reason.rate_limited, detail, retry=True,
                              retry_after=retry_after_header(response))
    if status in (401, 403):
        return Outcome.failed(transport, Reason.auth_failed, detail)
    if status >= 500:
        return Outcome.failed(transport, Reason.provider_unavailable, detail, retry=True,
                              retry_after=retry_after_header(response))
    return Outcome.failed(transport, Reason.rejected, detail)
