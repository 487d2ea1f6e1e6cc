"""notify's part of the tenant policy: who the leaders are, how the tenant signs its messages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Recipient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    email: str | None = None
    whatsapp: str | None = None


class WhatsAppTemplate(BaseModel):
    """An approved WhatsApp template: what is sent instead of free text outside the 24 h window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    language: str = Field(default="es", description="The template's language code as approved (es, es_MX...).")
    parameters: tuple[str, ...] = Field(
        default=("ticket_number",), description="Body parameters in order: ticket_number, subject.")


class NotifyPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    company: str = Field(description="How the tenant names itself to customers.")
    signature: str = Field(description="Closing line of customer messages.")
    official_channels: str = Field(description="Text telling customers where to open tickets (001 §2.3).")
    recipients: dict[str, Recipient] = Field(
        default_factory=dict,
        description="Role -> person: nivel_1, lider_de_proyectos, lider_de_operaciones, emergencia...",
    )
    fallback: tuple[str, ...] = Field(
        default=("whatsapp", "telegram", "sms", "email"),
        description="Where a customer message goes next when its channel cannot deliver it (permanently).")
    whatsapp_templates: dict[str, WhatsAppTemplate] = Field(
        default_factory=dict,
        description="Notification kind (acknowledgment, emergency_alert...) -> approved template, used outside "
                    "the 24 h window and for staff who have not written to the business number.")
