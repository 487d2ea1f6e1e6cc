"""From a requested notification to a provider call: which transport, text or template, and what to record.

Pure apart from the transports themselves: the handler in app.py owns the delivery record and the retries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from guardia.settings import Settings
from shared.schemas import NotificationRequested

from .formatting import as_html, for_channel
from .policy import ACCOUNT_KEYS, SECRET_KEYS, NotifyPolicy
from .transports.base import Outgoing, Transport
from .transports.guard import Guarded
from .transports.smtp import SmtpSettings, SmtpTransport
from .transports.telegram import TelegramTransport
from .transports.twilio import TwilioSmsTransport
from .transports.webhook import StaffWebhookTransport
from .transports.whatsapp import WhatsAppTransport

#: WhatsApp's customer service window: free text only this long after the customer's last message.
WINDOW = timedelta(hours=24)


def transports_from(settings: Settings) -> dict[str, Transport]:
    """The channels this installation has accounts for; every other channel goes to the outbox file."""
    out: dict[str, Transport] = {}
    if settings.whatsapp_access_token and settings.whatsapp_phone_number_id:
        out["whatsapp"] = WhatsAppTransport(settings.whatsapp_access_token, settings.whatsapp_phone_number_id,
                                            settings.whatsapp_api_base_url)
    if settings.telegram_bot_token:
        out["telegram"] = TelegramTransport(settings.telegram_bot_token, settings.telegram_api_base_url)
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from:
        public = settings.public_base_url.rstrip("/")
        callback = f"{public}/webhooks/twilio/status" if public else None  # where Twilio reports delivery
        out["sms"] = TwilioSmsTransport(settings.twilio_account_sid, settings.twilio_auth_token,
                                        settings.twilio_from, settings.twilio_api_base_url, status_callback=callback)
    if settings.smtp_url and settings.mail_from:
        out["email"] = SmtpTransport(SmtpSettings.from_url(settings.smtp_url), settings.mail_from)
    if settings.staff_webhook_url:
        out["webhook"] = StaffWebhookTransport(settings.staff_webhook_url)
    return {channel: Guarded(transport) for channel, transport in out.items()}


class AccountError(ValueError):
    """A tenant's account names a secret that is not where it says (notify refuses to start)."""


def read_secret(ref: str, where: str) -> str:
    """`env:VAR` or `file:/run/secrets/x` (Docker and Kubernetes secrets are files)."""
    kind, _, name = ref.partition(":")
    if kind == "env":
        value = os.environ.get(name, "")
    else:
        try:
            value = Path(name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AccountError(f"{where}: cannot read {name}: {exc.strerror}") from exc
    if not value:
        raise AccountError(f"{where}: {ref} is empty or not set")
    return value


def tenant_settings(settings: Settings, tenant: str, accounts: Mapping[str, str]) -> tuple[Settings, set[str]]:
    """The settings a tenant's transports are built from, and the channels it has its own accounts for."""
    update: dict[str, object] = {}
    own = set()
    for channel, keys in ACCOUNT_KEYS.items():
        if not any(k in accounts for k in keys):
            continue
        own.add(channel)
        for k in keys:
            raw = accounts.get(k)
            where = f"tenant {tenant}: notify.accounts.{k}"
            update[k] = (read_secret(raw, where) if k in SECRET_KEYS else raw) if raw is not None \
                else Settings.model_fields[k].default
        if channel == "sms":
            # intake verifies Twilio's signed callbacks with the installation's auth token only: a tenant's
            # own account asks for none (its SMS are tracked to acceptance), rather than for rejected ones
            update["public_base_url"] = ""
    return settings.model_copy(update=update), own


def tenant_transports(settings: Settings, tenants: Mapping[str, Mapping[str, str]],
                      installation: Mapping[str, Transport]) -> dict[str, dict[str, Transport]]:
    """Per tenant, per channel: the tenant's own account where its policy declares one, else the
    installation's (GUARDIA_* settings)."""
    out = {}
    for tenant, accounts in tenants.items():
        if not accounts:
            out[tenant] = dict(installation)
            continue
        configured, own = tenant_settings(settings, tenant, accounts)
        mine = transports_from(configured)
        out[tenant] = {**{c: t for c, t in installation.items() if c not in own},
                       **{c: t for c, t in mine.items() if c in own}}
    return out


def in_window(n: NotificationRequested, now: datetime) -> bool:
    """May WhatsApp free text go to this recipient now? Only within 24 h of their last message to us."""
    return n.customer_wrote_at is not None and now - n.customer_wrote_at < WINDOW


def outgoing(n: NotificationRequested, policy: NotifyPolicy, now: datetime | None = None) -> Outgoing:
    """What the transport sends. WhatsApp outside the window: the kind's approved template, if the tenant
    has one (without one the send fails as `outside_window`, and nothing pretends it was sent)."""
    template = None
    if n.channel == "whatsapp" and not in_window(n, now or datetime.now(UTC)):
        approved = policy.whatsapp_templates.get(n.kind)
        if approved is not None:
            values = {"ticket_number": n.ticket_number, "subject": n.subject}
            template = (approved.name, approved.language, tuple(values.get(p, "") for p in approved.parameters))
    return Outgoing(
        notification_id=n.notification_id, channel=n.channel, to=n.to, body=for_channel(n.body, n.channel),
        html=as_html(n.body) if n.channel == "email" else None, subject=n.subject,
        kind=n.kind, ticket_number=n.ticket_number, reply_to=n.reply_to, references=tuple(n.references),
        auto_submitted="auto-replied" if n.audience == "customer" and n.kind == "acknowledgment" else "auto-generated",
        template=template,
    )


def needs_template(n: NotificationRequested, message: Outgoing, now: datetime | None = None) -> bool:
    """WhatsApp outside the window with no approved template: sending free text would be refused (131047)."""
    return n.channel == "whatsapp" and message.template is None and not in_window(n, now or datetime.now(UTC))
