"""The improvement committee (001 §3.7 Fase 2: convened every 5 tickets)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .base import Payload, event


@event
class CommitteeCandidate(Payload):
    """A ticket counts for the improvement committee (001 §3.7 Fase 2). Counted by one serial
    consumer, so batches of five are formed once whatever the concurrency across tickets."""

    event_type = "committee.candidate"
    version = 1

    ticket_number: str = Field(min_length=1)
    rule: str = Field(default="001 §3.7", description="Why it counts: the committee rule it met.")


@event
class CommitteeConvened(Payload):
    """Five improvement / usability tickets were counted: the projects leader convenes the committee."""

    event_type = "committee.convened"
    version = 1

    batch_number: int = Field(ge=1)
    ticket_ids: tuple[UUID, ...]
    ticket_numbers: tuple[str, ...] = ()
    convener_role: str
