"""Settings from the environment (prefix GUARDIA_, plus the conventional NATS_URL)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from guardia.embedded import DEFAULT_MEMORY_LIMIT


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUARDIA_", extra="ignore")

    nats_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("NATS_URL", "GUARDIA_NATS_URL"),
        description="NATS to use, one URL or several separated by commas (the nodes of a cluster: the client "
                    "picks one and moves to another when it dies); unset means `guardia up` starts its own.",
    )
    nats_user: str | None = Field(
        default=None, description="NATS user of this process (compose: one per service, README 'Operating guardia').")
    nats_password: SecretStr | None = Field(
        default=None, description="Its password; a SecretStr, so a printed or logged Settings shows ******.")
    nats_replicas: int = Field(
        default=1, ge=1, le=5,
        description="Replicas of every stream, KV bucket and durable consumer guardia creates: 1 on a single "
                    "nats-server (the embedded default), 3 on a three-node cluster (compose.yaml).")
    embedded_nats_port: int | None = Field(
        default=None, description="Port of the embedded nats-server (default: a free one)."
    )
    embedded_nats_memory_limit: str | None = Field(
        default=DEFAULT_MEMORY_LIMIT, pattern=r"^\d+(B|KiB|MiB|GiB|TiB)$",
        description="GOMEMLIMIT of the embedded nats-server (Go's soft memory limit); empty: none.",
    )
    env: Literal["development", "production"] = Field(
        default="development",
        description="production: webhooks of channels with no secret answer 503 instead of taking unsigned payloads.")
    bootstrap_token: SecretStr | None = Field(
        default=None,
        description="A token the gateway accepts from start as an `agent` token named `bootstrap` (scripts, CI).")
    api_token: SecretStr | None = Field(
        default=None, description="The token the CLI's client commands send (else the local one of `guardia up`).")
    token_cache_seconds: float = Field(
        default=2.0, ge=0.0, le=30.0,
        description="How long the gateway trusts a verified token before reading its record again: a revoke "
                    "takes effect within this time.")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    health_port: int = Field(
        default=0, ge=0, le=65535,
        description="Port of a service process's /healthz and /readyz (on http_host); 0: none. The gateway serves "
                    "them on http_port anyway.")
    data_dir: Path = Field(default=Path(".guardia"), description="Embedded nats-server store, outbox.")
    default_tenant: str = "navegasoft"
    policy_dir: Path | None = Field(default=None, description="Extra tenant policies (YAML) to load.")
    directory_dir: Path | None = Field(
        default=None, description="Customer directories (<tenant>.yaml or .csv) overriding the built-in ones."
    )
    max_deliver: int = Field(default=5, ge=1, description="Deliveries before a message is dead-lettered.")
    dedup_window_seconds: int = Field(default=3600, ge=1)
    ack_wait_seconds: float = Field(
        default=10.0, ge=1.0, le=300.0,
        description="How long a message held by a dead replica waits before another replica redoes it.",
    )
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    log_pii: bool = Field(
        default=False,
        description="Log customers' phones, e-mail addresses, tax ids and message bodies as they are. Off: masked "
                    "(guardia/pii.py). For local debugging only: logs travel further and live longer than events.")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Channel accounts of the default tenant (issue: intake takes every channel's real payloads).
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    telegram_secret_token: str | None = None
    crisp_secret: str | None = None
    tawkto_secret: str | None = None
    zadarma_secret: str | None = None
    zadarma_timezone: str = Field(default="America/Bogota", description="IANA zone of the PBX's call_start.")
    twilio_auth_token: str | None = None
    mailgun_signing_key: str | None = None
    sendgrid_token: str | None = None
    webform_secret: str | None = None
    public_base_url: str = Field(default="", description="How providers reach the gateway (Twilio signs it).")
    # Delivery accounts of the default tenant (services/notify/transports): a channel left unset writes to
    # the outbox file instead, so the embedded demo needs no account anywhere.
    whatsapp_access_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_base_url: str = "https://graph.facebook.com/v24.0"
    telegram_bot_token: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    twilio_account_sid: str | None = None
    twilio_from: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    smtp_url: str | None = Field(default=None, description="smtp://user:pass@host:port?starttls=true, or smtps://")
    mail_from: str | None = Field(default=None, description="From: of every mail guardia sends.")
    staff_webhook_url: str | None = Field(default=None, description="Slack-compatible incoming webhook for staff.")
    notify_retry_rounds: tuple[float, ...] = Field(
        default=(60.0, 300.0, 900.0, 3600.0, 10800.0),
        description="Seconds to wait before each later round of a delivery that keeps failing transiently, after "
                    "its quick retries (a provider down for hours): armed as durable timers. JSON list in the env.")
    webhook_replay_window: int = Field(default=300, ge=0, description="Seconds; 0 turns the age check off.")
    demo_seconds: float = Field(default=20.0, ge=0, description="How long `up --demo` shows the live table.")

    @field_validator("nats_url", "nats_user", "embedded_nats_memory_limit", "bootstrap_token", "api_token",
                     mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "outbox.jsonl"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
