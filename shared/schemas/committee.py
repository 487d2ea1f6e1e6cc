"""The improvement committee (001 §3.7 Fase 2: convened every 5 tickets)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .base import Payload, event


@event
class CommitteeConvened(Payload):
    """Five improvement / usability tickets were counted: the projects leader convenes the committee."""

    event_type = "committee.convened"
    version = 1

    batch_number: int = Field(ge=1)
    ticket_ids: tuple[UUID, ...]
    ticket_numbers: tuple[str, ...] = ()
    convener_role: str
