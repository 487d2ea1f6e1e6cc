"""intake's part of the tenant policy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IntakePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_prefix: str = Field(pattern=r"^[A-Z]{1,6}$", description="Ticket numbers read PREFIX-000123.")
