"""A service's own state in a JetStream KV bucket: JSON values, compare-and-swap writes.

Handlers never write state directly. They read, and *stage* writes; the runtime publishes the
handler's events first and commits the staged writes after. A crash between the two replays the
handler on redelivery, which republishes the same deterministic event ids (deduplicated) and then
commits: effects happen once (design.md invariant 2).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

_SAFE = re.compile(r"^[-_=.a-zA-Z0-9]+$")


def kv_key(*parts: object) -> str:
    """A valid KV key from any parts: kept readable when safe, hashed when not (emails, phones)."""
    raw = ".".join(str(p) for p in parts)
    if _SAFE.match(raw) and len(raw) < 200:
        return raw
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


@dataclass
class Entry:
    value: Any
    revision: int | None  # None: the key does not exist yet


async def read(kv: KeyValue, key: str) -> Entry:
    try:
        got = await kv.get(key)
    except KeyNotFoundError:
        return Entry(None, None)
    if got.value is None or got.operation in ("DEL", "PURGE"):
        return Entry(None, got.revision)
    return Entry(json.loads(got.value), got.revision)


async def write(kv: KeyValue, key: str, value: Any, last: int | None) -> int:
    """Compare-and-swap one JSON value now; returns the new revision. `last` None: the key must not exist
    (create() fails if it does; a key recreated after a DEL has a revision)."""
    data = json.dumps(value, separators=(",", ":"), default=str).encode()
    if last is None:
        return await kv.create(key, data)
    return await kv.update(key, data, last=last)


@dataclass
class StagedWrite:
    kv: KeyValue
    key: str
    value: Any
    last: int | None
    delete: bool = False


@dataclass
class Staged:
    writes: list[StagedWrite] = field(default_factory=list)
    after: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        """An idempotent side effect (arming a timer) to run once state is committed."""
        self.after.append(action)

    def put(self, kv: KeyValue, key: str, value: Any, last: int | None) -> None:
        self.writes.append(StagedWrite(kv, key, value, last))

    def delete(self, kv: KeyValue, key: str) -> None:
        self.writes.append(StagedWrite(kv, key, None, None, delete=True))

    async def commit(self) -> None:
        for w in self.writes:
            if w.delete:
                await w.kv.delete(w.key)
                continue
            await write(w.kv, w.key, w.value, w.last)
        for action in self.after:
            await action()
