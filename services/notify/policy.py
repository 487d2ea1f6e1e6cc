"""notify's part of the tenant policy: who the leaders are, how the tenant signs its messages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Recipient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    email: str | None = None
    whatsapp: str | None = None


class NotifyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    company: str = Field(description="How the tenant names itself to customers.")
    signature: str = Field(description="Closing line of customer messages.")
    official_channels: str = Field(description="Text telling customers where to open tickets (001 §2.3).")
    recipients: dict[str, Recipient] = Field(
        default_factory=dict,
        description="Role -> person: nivel_1, lider_de_proyectos, lider_de_operaciones, emergencia...",
    )
