"""What was rejected, with its raw bytes, so nothing is lost (design.md invariant 3)."""

from __future__ import annotations

from pydantic import Field

from .base import Payload, event


@event
class DeadLettered(Payload):
    event_type = "dead_letter.recorded"
    version = 1

    source: str = Field(description="Where it was rejected: 'gateway /v1/contacts', 'consumer triage', ...")
    reason_code: str = Field(description="malformed_json, schema_violation, unknown_event_type, ...")
    reason: str = Field(description="Readable: which field, what is wrong.")
    subject: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    raw_base64: str = Field(description="The payload exactly as received.")
    raw_size: int = Field(ge=0)
    deliveries: int = Field(default=1, ge=1)
