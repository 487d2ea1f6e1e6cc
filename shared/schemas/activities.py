"""002: one activity record per interaction with the customer."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .base import Payload, event


class ActivityInputItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    value: str
    given_by: Literal["entrante", "saliente"] = "entrante"


@event
class ActivityRecorded(Payload):
    """The 002 record: persona, medio, motivo, insumos, pendientes, solución, protocolo, llamada programada.
    Fields no event tells (the solution, a medium an agent used) stay empty for the agent to fill."""

    event_type = "activity.recorded"
    version = 1

    person: str
    medium: str | None = None
    reason: str = ""
    inputs: tuple[ActivityInputItem, ...] = ()
    pending: tuple[str, ...] = ()
    solution: str | None = None
    protocol: str | None = None
    scheduled_call: AwareDatetime | None = None
    direction: Literal["entrante", "saliente"]
    source_event_id: UUID
    text: str = Field(description="The record as an agent reads it in the ticket (Spanish).")
