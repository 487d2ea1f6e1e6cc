"""Notifications to customers, agents, leaders and the committee."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from .base import Payload, event

Audience = Literal["customer", "agent", "leader", "committee", "emergency"]


@event
class NotificationRequested(Payload):
    """A rendered message someone must receive; delivered once whatever the redeliveries."""

    event_type = "notification.requested"
    version = 1

    notification_id: str = Field(description="Idempotency key: one per (ticket, kind, recipient).")
    kind: str = Field(description="acknowledgment, emergency_alert, escalation, committee, ...")
    audience: Audience
    channel: str = Field(description="Where to send it: email, whatsapp, telegram, sms, outbox...")
    to: str
    subject: str = ""
    body: str
    template: str
    ticket_number: str = Field(default="", description="Shown in e-mail subjects as [NS-000123].")
    reply_to: str | None = Field(default=None, description="The customer's message this answers (quoted/threaded).")
    references: list[str] = Field(default_factory=list, description="E-mail thread ids before reply_to.")
    customer_wrote_at: AwareDatetime | None = Field(
        default=None, description="The recipient's last message to us: WhatsApp allows free text for 24 h after it.")
    fallback_of: list[str] = Field(default_factory=list,
                                   description="Channels this message failed on before, in order.")
    fallback_reasons: list[str] = Field(default_factory=list, description="Why each of those failed.")


@event
class NotificationSent(Payload):
    event_type = "notification.sent"
    version = 1

    notification_id: str
    transport: str
    to: str
    provider_id: str | None = Field(default=None, description="The provider's id: wamid, Telegram message, SM..., "
                                                              "Message-ID. Acceptance, not yet delivery.")
    attempt: int = Field(default=1, ge=1)
    uncertain: bool = Field(default=False, description="A re-send after a crash between the provider's "
                                                       "acceptance and our record: the customer may get it twice.")


@event
class NotificationFailed(Payload):
    event_type = "notification.failed"
    version = 1

    notification_id: str
    transport: str
    error: str
    attempt: int = Field(ge=1)
    will_retry: bool
    reason_code: str | None = Field(default=None, description="outside_window, rate_limited, blocked_by_user, "
                                                              "invalid_recipient, auth_failed, provider_unavailable...")


@event
class NotificationStatusReported(Payload):
    """A provider's later word on a message it accepted: WhatsApp `statuses` webhooks (tied back through
    `biz_opaque_callback_data` = notification id). A 200 on send is acceptance, not delivery; the
    24 h-window error 131047 usually arrives this way, after the 200."""

    event_type = "notification.status_reported"
    version = 1

    notification_id: str
    provider: str = Field(description="whatsapp_cloud, twilio...")
    provider_id: str = Field(description="The provider's message id (wamid, SM...).")
    status: Literal["sent", "delivered", "read", "failed", "undelivered"]
    reported_at: AwareDatetime = Field(description="The provider's timestamp of the status.")
    error_code: int | None = None
    error_title: str = ""


@event
class NotificationDelivered(Payload):
    """The provider says the message reached the device (or was read)."""

    event_type = "notification.delivered"
    version = 1

    notification_id: str
    transport: str
    provider_id: str
    read: bool = False
    at: AwareDatetime


@event
class NotificationUndeliverable(Payload):
    """Every channel failed for this message: a person must reach the recipient (a task, not a log line)."""

    event_type = "notification.undeliverable"
    version = 1

    notification_id: str
    kind: str
    audience: Audience
    tried: list[str] = Field(description="The channels tried, in order.")
    reasons: list[str] = Field(description="Why each failed (reason codes).")
