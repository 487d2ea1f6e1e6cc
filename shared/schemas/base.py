"""The envelope every event travels in, and the registry of payload classes by (type, version)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from .ids import derived_id, new_event_id
from .vocabulary import TenantId


class Payload(BaseModel):
    """Base of every event payload. Subclasses name their event type and version as class vars."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    event_type: ClassVar[str]
    version: ClassVar[int]


class Envelope(BaseModel):
    """What every event carries around its payload (design.md invariant 2 and 4)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID = Field(description="UUIDv7; also the Nats-Msg-Id, so a republish is deduplicated.")
    event_type: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", description="e.g. ticket.opened")
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(description="Event time: when it happened in the domain.")
    tenant: TenantId
    ticket_id: UUID | None = None
    correlation_id: UUID = Field(description="Id of the first event of the chain (usually the contact).")
    causation_id: UUID | None = Field(default=None, description="Id of the event this one answers.")
    producer: str = Field(description="Service that wrote the event.")
    data: dict[str, Any]


P = TypeVar("P", bound=Payload)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class SchemaError(ValueError):
    """A message that is not a valid event of a known type and version; carries a readable reason."""


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded event: the envelope (with the wire `data`) and the payload as its newest model."""

    envelope: Envelope
    payload: Payload

    @property
    def event_id(self) -> UUID:
        return self.envelope.event_id

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def occurred_at(self) -> datetime:
        return self.envelope.occurred_at

    @property
    def tenant(self) -> str:
        return self.envelope.tenant

    @property
    def ticket_id(self) -> UUID | None:
        return self.envelope.ticket_id

    @property
    def partition_key(self) -> str:
        """What orders this event: its ticket, else its chain (a contact before it has a ticket)."""
        return str(self.envelope.ticket_id or self.envelope.correlation_id)

    @property
    def subject(self) -> str:
        return event_subject(self.envelope.tenant, self.envelope.event_type, self.partition_key)

    def to_json(self) -> bytes:
        return self.envelope.model_dump_json().encode()

    def derive(
        self,
        payload: Payload,
        *,
        producer: str,
        at: datetime | None = None,
        ticket_id: UUID | None = None,
        key: object = "",
    ) -> Event:
        """An event caused by this one, with a deterministic id (same cause, same id).

        `key` tells apart several events of the same type caused by one event (e.g. each warning).
        """
        when = at or self.envelope.occurred_at
        return make_event(
            payload,
            tenant=self.envelope.tenant,
            ticket_id=ticket_id if ticket_id is not None else self.envelope.ticket_id,
            occurred_at=when,
            producer=producer,
            correlation_id=self.envelope.correlation_id,
            causation_id=self.envelope.event_id,
            event_id=derived_id(when, self.envelope.event_id, payload.event_type, key),
        )


class Registry:
    """Payload classes by event type, with the upcasters that bring old versions to the newest."""

    def __init__(self) -> None:
        self.latest: dict[str, type[Payload]] = {}
        self.upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: type[P]) -> type[P]:
        known = self.latest.get(cls.event_type)
        if known is not None and known.version >= cls.version:
            raise ValueError(f"{cls.event_type} v{cls.version} registered after v{known.version}")
        self.latest[cls.event_type] = cls
        return cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register the function that turns `from_version` data into `from_version + 1` data."""

        def wrap(fn: Upcaster) -> Upcaster:
            self.upcasters[(event_type, from_version)] = fn
            return fn

        return wrap

    def upcast(self, event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
        target = self.latest[event_type].version
        if version > target:
            raise SchemaError(
                f"unsupported_version: {event_type} v{version} is newer than this build knows (v{target})"
            )
        while version < target:
            step = self.upcasters.get((event_type, version))
            if step is None:
                raise SchemaError(f"unsupported_version: {event_type} v{version} has no upcaster to v{version + 1}")
            data = step(data)
            version += 1
        return data


REGISTRY = Registry()
event = REGISTRY.register


#: Partitions of the event log. Every event of one ticket carries the same partition token, and each
#: service reads each partition through its own consumer with one message in flight, so a ticket's
#: events are handled in stream order by any number of replicas (scaleout-facts.md §7). Changing it
#: remaps tickets to partitions: it is a layout change, done with `guardia migrate` like any other.
PARTITIONS = 16


def fnv1a32(data: bytes) -> int:
    """FNV-1a, 32 bits: the hash nats-server's `{{partition(n,...)}}` mapping uses, so the server and
    guardia agree on a key's partition. Eight lines instead of a dependency for one hash."""
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def partition_of(key: str, partitions: int = PARTITIONS) -> int:
    return fnv1a32(key.encode()) % partitions


def event_subject(tenant: str, event_type: str, key: str) -> str:
    """Subject of an event: `ev.<tenant>.<partition>.<aggregate>.<event>`, e.g.
    `ev.navegasoft.7.ticket.opened`. The partition is a hash of the ticket (`key`): never the ticket
    id itself, since every distinct subject costs nats-server memory for as long as the stream keeps it."""
    return f"ev.{tenant}.{partition_of(key)}.{event_type}"


def event_type_of(subject: str) -> str | None:
    """The event type of an event subject, in today's layout or the legacy one (`ev.<t>.<agg>.<ev>`)."""
    parts = subject.split(".")
    if parts[0] != "ev":
        return None
    if len(parts) == 5 and parts[2].isdigit():
        return f"{parts[3]}.{parts[4]}"
    if len(parts) == 4:
        return f"{parts[2]}.{parts[3]}"
    return None


def make_event(
    payload: Payload,
    *,
    tenant: str,
    occurred_at: datetime,
    producer: str,
    ticket_id: UUID | None = None,
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
    event_id: UUID | None = None,
) -> Event:
    """Wrap a payload in its envelope (the only way events are built)."""
    eid = event_id or new_event_id()
    envelope = Envelope(
        event_id=eid,
        event_type=payload.event_type,
        schema_version=payload.version,
        occurred_at=occurred_at,
        tenant=tenant,
        ticket_id=ticket_id,
        correlation_id=correlation_id or eid,
        causation_id=causation_id,
        producer=producer,
        data=payload.model_dump(mode="json"),
    )
    return Event(envelope, payload)


def decode_event(raw: bytes | str, registry: Registry = REGISTRY) -> Event:
    """Bytes from the wire -> an Event at the newest version. Raises SchemaError with a clear reason."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"malformed_json: {exc}") from exc
    try:
        envelope = Envelope.model_validate(doc)
    except ValidationError as exc:
        raise SchemaError(f"schema_violation: envelope: {describe(exc)}") from exc
    cls = registry.latest.get(envelope.event_type)
    if cls is None:
        raise SchemaError(f"unknown_event_type: {envelope.event_type}")
    data = registry.upcast(envelope.event_type, envelope.schema_version, envelope.data)
    try:
        payload = cls.model_validate(data)
    except ValidationError as exc:
        raise SchemaError(f"schema_violation: {envelope.event_type}: {describe(exc)}") from exc
    return Event(envelope, payload)


def describe(exc: ValidationError) -> str:
    """One line per problem: `field.path: message` — what a human needs to fix the input."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
