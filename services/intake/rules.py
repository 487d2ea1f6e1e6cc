"""Intake's pure decisions: what a contact is, which ticket it belongs to, what gets published.

001 §2.3 and §3.1: every contact, whatever the medium, is registered as a ticket. A further message
from the same customer on the same channel while their ticket is open is appended to it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.schemas import (
    ActivityInputItem,
    ActivityRecorded,
    Channel,
    ContactReceived,
    ContactUpdated,
    Customer,
    Event,
    MessageAdded,
    Standing,
    TicketOpened,
    make_event,
)
from shared.schemas.ids import derived_id, stable_uuid

from .activity import Activity
from .channels.base import CanonicalContact
from .channels.text import hints

PRODUCER = "intake"
FUTURE_TOLERANCE = timedelta(hours=24)


class ContactIn(BaseModel):
    """The generic JSON contact of `POST /v1/contacts` and `intake.raw.<channel>`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tenant: str | None = Field(default=None, description="Defaults to GUARDIA_DEFAULT_TENANT.")
    channel: Channel
    provider_message_id: str | None = Field(
        default=None, min_length=1, max_length=400, description="The channel's id; retries reuse it."
    )
    customer: Customer
    subject: str = Field(default="", max_length=998)
    text: str = Field(min_length=1, max_length=100_000)
    received_at: AwareDatetime | None = Field(default=None, description="ISO-8601 with offset.")

    @field_validator("tenant")
    @classmethod
    def _tenant_token(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("must be a tenant id: lower-case letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> ContactIn:
        c = self.customer
        if not (c.email or c.phone or c.channel_ids):
            raise ValueError("customer: needs at least one of email, phone or channel_ids to reach them")
        return self


def canonical_from_api(contact: ContactIn, received_at: datetime) -> CanonicalContact:
    """The generic JSON contact in canonical form; with no provider id, a digest of its content."""
    ident = contact.provider_message_id
    if ident is None:
        digest = hashlib.sha256(
            "\x1f".join([contact.customer.key(), contact.subject, contact.text, received_at.isoformat()]).encode()
        ).hexdigest()[:32]
        ident = f"sha256:{digest}"
    return CanonicalContact(
        channel=contact.channel, provider="api", provider_message_id=ident, customer=contact.customer,
        subject=contact.subject, body_text=contact.text, received_at=received_at.astimezone(UTC),
        hints=hints(f"{contact.subject}\n{contact.text}"),
    )


def canonical_key(tenant: str, contact: CanonicalContact) -> str:
    """The idempotency key: tenant, channel and the provider's own message id."""
    return f"{tenant}:{contact.channel.value}:{contact.provider_message_id}"


def contact_key(tenant: str, contact: ContactIn, received_at: datetime) -> str:
    """The idempotency key of a generic contact (see canonical_key)."""
    return canonical_key(tenant, canonical_from_api(contact, received_at))


def check_received_at(received_at: datetime, now: datetime) -> None:
    if received_at - now > FUTURE_TOLERANCE:
        raise ValueError(f"received_at {received_at.isoformat()} is more than 24 h in the future")


def thread_key(tenant: str, channel: Channel, customer: Customer, own: str = "") -> tuple[str, ...]:
    """001: further messages of one customer on one channel belong to their open ticket.

    A contact that names nobody (a hidden caller ID, an anonymous chat) is its own thread: `own`
    (its provider thread or message id), never one shared ticket for every anonymous person.
    """
    key = customer.key()
    return (tenant, channel.value, f"anonymous:{own}" if key == "anonymous" else key)


def ticket_id_for(contact_id: str) -> UUID:
    return stable_uuid("ticket", contact_id)


def ticket_number(prefix: str, sequence: int) -> str:
    return f"{prefix}-{sequence:06d}"


def contact_event(tenant: str, contact: ContactIn | CanonicalContact, contact_id: str, received_at: datetime) -> Event:
    c = contact if isinstance(contact, CanonicalContact) else canonical_from_api(contact, received_at)
    payload = ContactReceived(
        contact_id=contact_id,
        channel=c.channel,
        provider_message_id=c.provider_message_id,
        customer=c.customer,
        subject=c.subject,
        body_text=c.body_text,
        received_at=received_at,
        attachments=c.attachments,
        is_reply=c.is_reply,
        thread_key=c.thread_key or ":".join(thread_key(tenant, c.channel, c.customer, c.provider_message_id)[1:]),
        hints=c.hints,
    )
    eid = derived_id(received_at, "contact", contact_id)
    return make_event(payload, tenant=tenant, occurred_at=received_at, producer=PRODUCER, event_id=eid)


def updated_event(tenant: str, contact: CanonicalContact, contact_id: str, ticket_id: UUID) -> Event:
    """A later event about a known contact (edited message, end of a call, its recording)."""
    payload = ContactUpdated(
        contact_id=contact_id, channel=contact.channel, provider_message_id=contact.provider_message_id,
        raw_event=contact.raw_event, body_text=contact.body_text, attachments=contact.attachments,
        customer=contact.customer, received_at=contact.received_at,
    )
    eid = derived_id(contact.received_at, "update", contact_id, contact.raw_event, contact.body_text,
                     len(contact.attachments))
    return make_event(payload, tenant=tenant, occurred_at=contact.received_at, producer=PRODUCER,
                      ticket_id=ticket_id, event_id=eid)


def opened_event(contact: Event, ticket_id: UUID, number: str, standing: Standing | None = None) -> Event:
    c = contact.payload
    assert isinstance(c, ContactReceived)
    payload = TicketOpened(
        ticket_number=number, channel=c.channel, customer=c.customer, subject=c.subject, text=c.body_text,
        contact_id=c.contact_id, standing=standing, provider_message_id=c.provider_message_id,
        thread_key=c.thread_key,
    )
    return contact.derive(payload, producer=PRODUCER, ticket_id=ticket_id)


def appended_event(contact: Event, ticket_id: UUID) -> Event:
    c = contact.payload
    assert isinstance(c, ContactReceived)
    payload = MessageAdded(
        author="customer", channel=c.channel, text=c.body_text, subject=c.subject, contact_id=c.contact_id
    )
    return contact.derive(payload, producer=PRODUCER, ticket_id=ticket_id)


def activity_event(cause: Event, activity: Activity) -> Event:
    """002: the interaction's activity record, on its ticket, derived from the event it records."""
    payload = ActivityRecorded(
        person=activity.person.label(), medium=activity.medium.value if activity.medium else None,
        reason=activity.reason,
        inputs=tuple(ActivityInputItem(kind=i.kind, value=i.value, given_by=i.given_by.value)
                     for i in activity.inputs),
        pending=activity.pending, solution=activity.solution, protocol=activity.protocol,
        scheduled_call=activity.scheduled_call, direction=activity.direction.value,
        source_event_id=activity.source_event_id, text=activity.render(),
    )
    return cause.derive(payload, producer=PRODUCER, ticket_id=activity.ticket_id, key="activity")
