"""Contacts: what a channel delivered, before it belongs to a ticket."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from .base import Payload, event
from .vocabulary import Channel

E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]


class Customer(BaseModel):
    """Who wrote, as far as the channel tells. At least one way to reach them is expected upstream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    phone: E164 | None = Field(default=None, description="E.164, e.g. +573001234567")
    company: str | None = Field(default=None, max_length=200)
    tax_id: str | None = Field(default=None, max_length=40, description="RFC / NIT / cédula jurídica / CUIT")
    channel_ids: dict[str, str] = Field(default_factory=dict, description="e.g. {'whatsapp': '5730012'}")

    def key(self) -> str:
        """The strongest identifier the contact carries, used to find the customer's open ticket."""
        if self.email:
            return f"email:{self.email.lower()}"
        if self.phone:
            return f"phone:{self.phone}"
        if self.tax_id:
            return f"tax:{self.tax_id.upper()}"
        for channel, ident in sorted(self.channel_ids.items()):
            return f"{channel}:{ident}"
        return "anonymous"


class Standing(BaseModel):
    """The customer as the tenant's directory knows them (001 §3.1 identity and subscription, 004)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    matched_by: str = Field(description="channel_id, email, phone or tax_id")
    eligible: bool
    reason: str = Field(description="active, inactive_subscription, in_arrears, agreement_in_force, "
                        "no_maintenance_agreement")
    route_to: str | None = Field(default=None, description="Where an ineligible case goes: area_comercial...")
    message: str = ""


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    content_type: str | None = None
    size: int | None = Field(default=None, ge=0)
    reference: str | None = Field(default=None, description="Provider's id or URL for the file.")


@event
class ContactReceived(Payload):
    """A channel delivered one message from a customer (the canonical contact)."""

    event_type = "contact.received"
    version = 1

    contact_id: str = Field(description="Stable id: hash of tenant, channel and provider_message_id.")
    channel: Channel
    provider_message_id: str = Field(min_length=1, max_length=400, description="The idempotency key.")
    customer: Customer
    subject: str = Field(default="", max_length=998)
    body_text: str = Field(max_length=100_000)
    received_at: AwareDatetime
    attachments: tuple[Attachment, ...] = ()
    is_reply: bool = False
    thread_key: str | None = None
    hints: dict[str, list[str]] = Field(default_factory=dict)




@event
class ContactUpdated(Payload):
    """A later provider event about a contact already received: an edited message, a call's end,
    its recording, a chat transcript. Published on the ticket the contact went to."""

    event_type = "contact.updated"
    version = 1

    contact_id: str
    channel: Channel
    provider_message_id: str
    raw_event: str = ""
    body_text: str = Field(default="", max_length=100_000)
    attachments: tuple[Attachment, ...] = ()
    customer: Customer | None = None
    received_at: AwareDatetime
