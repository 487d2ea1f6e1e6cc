"""Event identifiers.

Every event id is a UUIDv7 (time-ordered, so ids sort like the log). An event derived from another
one gets a *deterministic* UUIDv7: its time bits come from the event's own instant and its random bits
from a hash of what caused it. A handler that runs twice for the same cause (redelivery, a restart,
a replica) therefore publishes the same id twice, and JetStream's `Nats-Msg-Id` dedup drops the copy.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import uuid6


def new_event_id() -> uuid.UUID:
    """A fresh UUIDv7 for an event with no cause inside guardia (a contact from outside)."""
    return uuid.UUID(bytes=uuid6.uuid7().bytes)


def derived_id(at: datetime, *parts: object) -> uuid.UUID:
    """A UUIDv7 whose timestamp is `at` and whose 74 random bits are a hash of `parts`.

    Same `at` and parts -> same id, on any machine, in any run (live or replay).
    """
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    digest = int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:10], "big")
    rand_a = (digest >> 62) & 0xFFF
    rand_b = digest & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)


def stable_uuid(*parts: object) -> uuid.UUID:
    """A name-based id (UUIDv5) for things that are not events: tickets, contacts, notifications."""
    return uuid.uuid5(_NAMESPACE, "\x1f".join(map(str, parts)))


_NAMESPACE = uuid.UUID("5b0c1c7e-3f7e-4d1a-9a53-6f756172641a")
