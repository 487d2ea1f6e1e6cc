"""Notifications to customers, agents, leaders and the committee."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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


@event
class NotificationSent(Payload):
    event_type = "notification.sent"
    version = 1

    notification_id: str
    transport: str
    to: str


@event
class NotificationFailed(Payload):
    event_type = "notification.failed"
    version = 1

    notification_id: str
    transport: str
    error: str
    attempt: int = Field(ge=1)
    will_retry: bool
