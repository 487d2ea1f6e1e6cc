"""The channel webhooks of the gateway: each provider's native payload, at its own endpoint.

Every route runs the provider's pure normalizer (services/intake/channels) on the raw bytes, then
applies its outcome: emit -> new contacts (dedup by provider id, the customer's open ticket or a new
one), update -> `contact.updated` on the contact's ticket, ignore -> 200 with the reason, reject ->
4xx with the reason code and the raw bytes and headers in the dead letters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import import_module

from guardia.settings import Settings

from .channels.base import ChannelConfig, Normalization, RawRequest

Normalizer = Callable[[RawRequest, ChannelConfig], Normalization]

#: reason code -> HTTP status the provider gets back
STATUS = {
    "missing_signature": 401,
    "invalid_signature": 401,
    "malformed_json": 400,
    "invalid_encoding": 400,
    "payload_too_large": 413,
    "schema_violation": 422,
    "timestamp_out_of_range": 422,
    "unknown_event_type": 422,
    "channel_not_configured": 503,
}


@dataclass(frozen=True)
class Webhook:
    channel: str  # the name `guardia normalize --channel` takes
    path: str
    module: str
    function: str = "normalize"
    methods: tuple[str, ...] = ("POST",)

    @property
    def normalize(self) -> Normalizer:
        fn: Normalizer = getattr(import_module(f"services.intake.channels.{self.module}"), self.function)
        return fn


WEBHOOKS = (
    Webhook("whatsapp", "/webhooks/whatsapp", "whatsapp", methods=("POST", "GET")),
    Webhook("telegram", "/webhooks/telegram", "telegram"),
    Webhook("email", "/webhooks/email", "email"),
    Webhook("mailgun", "/webhooks/mailgun", "mailgun"),
    Webhook("sendgrid", "/webhooks/sendgrid", "sendgrid"),
    Webhook("zadarma", "/webhooks/zadarma", "zadarma", methods=("POST", "GET")),
    Webhook("twilio-voice", "/webhooks/twilio/voice", "twilio", "normalize_voice"),
    Webhook("twilio-sms", "/webhooks/twilio/sms", "twilio", "normalize_sms"),
    Webhook("twilio-recording", "/webhooks/twilio/recording", "twilio", "normalize_recording"),
    Webhook("twilio-status", "/webhooks/twilio/status", "twilio", "normalize_status"),
    Webhook("crisp", "/webhooks/crisp", "crisp"),
    Webhook("tawkto", "/webhooks/tawkto", "tawkto"),
    Webhook("webform", "/webhooks/webform", "webform"),
)
BY_CHANNEL = {w.channel: w for w in WEBHOOKS}


@cache
def _available(module: str) -> bool:
    try:
        import_module(f"services.intake.channels.{module}")
    except ImportError:
        return False
    return True


def available() -> list[Webhook]:
    return [w for w in WEBHOOKS if _available(w.module)]


def channel_config(settings: Settings) -> ChannelConfig:
    """The channel accounts' settings: every ChannelConfig field Settings has under the same name
    (so a new channel secret is declared in those two places only), then the ones that differ."""
    same = {f.name: getattr(settings, f.name) for f in fields(ChannelConfig) if f.name in Settings.model_fields}
    return replace(ChannelConfig(**same), public_base_url=settings.public_base_url.rstrip("/"),
                   replay_window_seconds=settings.webhook_replay_window)


#: channel -> the ChannelConfig field holding its secret (e-mail relies on where it is reachable from)
SECRETS = {
    "whatsapp": "whatsapp_app_secret", "telegram": "telegram_secret_token", "mailgun": "mailgun_signing_key",
    "sendgrid": "sendgrid_token", "zadarma": "zadarma_secret", "twilio-voice": "twilio_auth_token",
    "twilio-sms": "twilio_auth_token", "twilio-recording": "twilio_auth_token",
    "twilio-status": "twilio_auth_token", "crisp": "crisp_secret",
    "tawkto": "tawkto_secret", "webform": "webform_secret",
}


def unverified(config: ChannelConfig) -> list[str]:
    """Channels whose payloads are accepted without a signature check (no secret configured)."""
    return [channel for channel, field in SECRETS.items() if not getattr(config, field)]


def run_get(webhook: Webhook, request: RawRequest, config: ChannelConfig) -> Normalization:
    """The providers' GET checks: WhatsApp's hub.challenge, Zadarma's zd_echo."""
    if webhook.channel == "whatsapp":
        if not config.whatsapp_verify_token:
            return Normalization.reject("invalid_signature", "GUARDIA_WHATSAPP_VERIFY_TOKEN is not set")
        from .channels import whatsapp

        challenge = whatsapp.verify_subscription(dict(request.query), config)
        if challenge is None:
            return Normalization.reject("invalid_signature", "hub.verify_token does not match")
        return Normalization("ignore", reason="subscription verified", reply=challenge)
    return webhook.normalize(request, config)
