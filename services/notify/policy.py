"""notify's part of the tenant policy: who the leaders are, how the tenant signs its messages."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


#: A tenant's own provider accounts, by channel: the names are the GUARDIA_* settings of the default tenant
#: (lower case, without the prefix). A channel the tenant names any key of is wholly its own (the keys it
#: leaves out take their defaults, never the environment's); the others use the installation's accounts.
ACCOUNT_KEYS: dict[str, tuple[str, ...]] = {
    "whatsapp": ("whatsapp_access_token", "whatsapp_phone_number_id", "whatsapp_api_base_url"),
    "telegram": ("telegram_bot_token", "telegram_api_base_url"),
    "sms": ("twilio_account_sid", "twilio_auth_token", "twilio_from", "twilio_api_base_url"),
    "email": ("smtp_url", "mail_from"),
    "webhook": ("staff_webhook_url",),
}
#: Keys whose value is a secret: a policy file names where it is (`env:VAR` or `file:/run/secrets/x`), never
#: the secret itself, so policy folders can be kept in git and shown in reviews.
SECRET_KEYS = frozenset({"whatsapp_access_token", "telegram_bot_token", "twilio_auth_token", "smtp_url",
                         "staff_webhook_url"})
def own_required(channel: str) -> tuple[str, ...]:
    """The keys an account of this channel cannot do without (base URLs default to the provider's own)."""
    return tuple(k for k in ACCOUNT_KEYS[channel] if not k.endswith("_api_base_url"))


SECRET_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/\S+)$")


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
    keep_informed: tuple[Literal["en_proceso", "en_proceso_del_solicitante", "cancelado"], ...] = Field(
        default=("en_proceso", "en_proceso_del_solicitante", "cancelado"),
        description="Stages an agent moves a ticket to that the customer is told of (000: keep the customer "
                    "informed). A resolution always sends the 004 summary.")
    resolution_copy: tuple[str, ...] = Field(
        default=(),
        description="Roles (keys of recipients) copied on every 004 resolution summary, besides the customer "
                    "and every level that held the ticket.")
    accounts: dict[str, str] = Field(
        default_factory=dict,
        description="The tenant's own provider accounts (see ACCOUNT_KEYS); secrets as env:VAR or file:/path.")
    whatsapp_templates: dict[str, WhatsAppTemplate] = Field(
        default_factory=dict,
        description="Notification kind (acknowledgment, emergency_alert...) -> approved template, used outside "
                    "the 24 h window and for staff who have not written to the business number.")

    @model_validator(mode="after")
    def _accounts_are_known_and_secrets_referenced(self) -> NotifyPolicy:
        known = {k for keys in ACCOUNT_KEYS.values() for k in keys}
        unknown = sorted(set(self.accounts) - known)
        if unknown:
            raise ValueError(f"accounts: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        for channel, keys in ACCOUNT_KEYS.items():
            missing = [k for k in keys if k in own_required(channel) and k not in self.accounts]
            if any(k in self.accounts for k in keys) and missing:
                raise ValueError(f"accounts: the tenant's own {channel} account also needs {', '.join(missing)}")
        literal = sorted(k for k, v in self.accounts.items() if k in SECRET_KEYS and not SECRET_REF.match(v))
        if literal:
            raise ValueError(f"accounts: {', '.join(literal)} must say where the secret is (env:VAR or "
                             "file:/path), not hold it")
        return self

    @model_validator(mode="after")
    def _copies_name_recipients(self) -> NotifyPolicy:
        unknown = [r for r in self.resolution_copy if r not in self.recipients]
        if unknown:
            raise ValueError(f"resolution_copy names roles with no recipient: {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(self.recipients))})")
        return self
