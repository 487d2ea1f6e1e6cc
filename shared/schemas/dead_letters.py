"""What was rejected, with its raw bytes, so nothing is lost (design.md invariant 3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .base import Payload, event


class StoredBody(BaseModel):
    """Where the raw bytes of a dead letter too large for one NATS message are kept (an object store)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = Field(description="The NATS object store bucket, e.g. dead_letter_bodies.")
    name: str = Field(description="The object's name: the body's sha256, hex.")
    size: int = Field(ge=0, description="The body's length in bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="The body's sha256, hex: check what you read back.")


@event
class DeadLettered(Payload):
    event_type = "dead_letter.recorded"
    version = 1

    source: str = Field(description="Where it was rejected: 'gateway /v1/contacts', 'consumer triage', ...")
    reason_code: str = Field(description="malformed_json, schema_violation, unknown_event_type, ...")
    reason: str = Field(description="Readable: which field, what is wrong.")
    subject: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    raw_base64: str = Field(description="The payload exactly as received; empty when it is in `raw_ref`.")
    raw_size: int = Field(ge=0)
    deliveries: int = Field(default=1, ge=1)
    raw_ref: StoredBody | None = Field(
        default=None, description="Set when the payload was over NATS's maximum message size: the object holding it.")
