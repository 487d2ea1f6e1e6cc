"""The ticket's life: opened, messages, classification, stages, assignment, escalation."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .base import Payload, event
from .contacts import Customer, Standing
from .vocabulary import Area, Category, Channel, Priority, Status, TicketType

Author = Literal["customer", "agent"]


@event
class TicketOpened(Payload):
    """A contact started a new ticket (001 §2.3: every case is registered, whatever the medium)."""

    event_type = "ticket.opened"
    version = 1

    ticket_number: str = Field(description="Human number told to the customer (003: always shared).")
    channel: Channel
    customer: Customer
    subject: str = ""
    text: str
    contact_id: str
    standing: Standing | None = Field(default=None, description="The directory's customer, when matched.")
    provider_message_id: str | None = Field(
        default=None, description="The opening message's id at the provider (wamid, Message-ID, chat:message): "
                                  "what a reply quotes or threads under.")
    thread_key: str | None = Field(default=None, description="E-mail: the root of the customer's thread.")


@event
class MessageAdded(Payload):
    """A further message on an open ticket (same customer and channel, or an agent's answer)."""

    event_type = "ticket.message_added"
    version = 1

    author: Author
    channel: Channel
    text: str
    subject: str = ""
    contact_id: str | None = None
    by: str | None = Field(default=None, description="Agent messages: the agent who wrote it.")
    reply_id: str | None = Field(
        default=None, description="Agent messages: the client's command id of the reply (POST /v1/tickets/{id}/"
                                  "replies), so a retried POST is the same reply.")


class Reason(BaseModel):
    """One rule that fired, so every classification can be explained."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    detail: str = ""


@event
class TicketClassified(Payload):
    """Triage's (or an agent's) decision: 001 §3.1 'Clasificar el problema' and §3.2 priority."""

    event_type = "ticket.classified"
    version = 1

    ticket_type: TicketType | None = Field(description="None when the message is no request at all.")
    priority: Priority
    area: Area
    categories: tuple[Category, ...] = ()
    playbook: str | None = Field(default=None, description="001 §3.4.1 incident playbook, if one applies.")
    abusive: bool = False
    confidence: float = Field(ge=0.0, le=1.0)
    needs_review: bool = False
    reasons: tuple[Reason, ...] = ()
    classifier: str = Field(description="Which rule set / model and its version decided.")
    by: Literal["triage", "agent"] = "triage"
    note: str = ""


@event
class StatusChanged(Payload):
    """The ticket moved between the 001 stages."""

    event_type = "ticket.status_changed"
    version = 1

    status: Status
    previous: Status | None = None
    by: str = "system"
    reason: str = ""


@event
class TicketAssigned(Payload):
    """The ticket has an owner: a support level, an area or a role (001 §3.3)."""

    event_type = "ticket.assigned"
    version = 1

    level: str = Field(description="e.g. nivel_1, nivel_2, nivel_3, area_de_proyectos, area_comercial")
    role: str = Field(description="Role or team label from the tenant's policy.")
    reason: str
    alert_emergency: bool = Field(default=False, description="001 §3.5: urgent -> 24/7 emergency number.")


@event
class TicketEscalated(Payload):
    """The ticket went up the 001 §3.5 matrix, or an alert was raised for it."""

    event_type = "ticket.escalated"
    version = 1

    from_level: str | None
    to_level: str
    reason: str = Field(description="sla_breached, urgent, bug_to_development, ...")
    rule: str = Field(description="The seed rule applied, e.g. '001 §3.5 problema: nivel_1 -> nivel_2'")
    alert_emergency: bool = False


@event
class TicketMerged(Payload):
    """001 §3.4.1 'Unicidad del ticket': a duplicate is merged into the oldest open ticket.

    Published on the merged (newer) ticket; `into_ticket_id` is the one that stays. `undone` marks
    the event that reverses an earlier merge.
    """

    event_type = "ticket.merged"
    version = 1

    into_ticket_id: UUID
    into_ticket_number: str = ""
    reason: str = ""
    undone: bool = False


@event
class ReclassificationRequested(Payload):
    """An agent corrects triage's decision (with a reason); triage answers with `ticket.classified`."""

    event_type = "ticket.reclassification_requested"
    version = 1

    ticket_type: TicketType | None
    priority: Priority
    area: Area
    categories: tuple[Category, ...] = ()
    by: str = Field(min_length=1)
    reason: str = Field(min_length=1, description="Why: kept with the correction as labeled data.")


@event
class NoteAdded(Payload):
    """An internal note on a ticket (not shown to the customer): e.g. what a merged duplicate added."""

    event_type = "ticket.note_added"
    version = 1

    text: str = Field(max_length=100_000)
    by: str = "system"
    source_ticket_id: UUID | None = None
