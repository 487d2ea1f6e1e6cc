"""Streams and KV buckets, declared idempotently at start-up (file storage).

| stream            | subjects          | what it holds                                                    |
| ----------------- | ----------------- | ---------------------------------------------------------------- |
| GUARDIA_EVENTS    | ev.>              | the event log: every domain event, `ev.<tenant>.<aggregate>.<x>` |
| GUARDIA_INTAKE    | intake.raw.>      | raw channel payloads pushed over NATS instead of HTTP            |
| GUARDIA_TIMERS    | timer.>           | durable timers: `timer.arm.*` schedules fire into `timer.fire.*` |
| GUARDIA_DLQ       | dlq.>             | dead letters, raw bytes and reason, `dlq.<tenant>.<source>`      |

Each service keeps its own state in its own KV buckets, named in its app.py (design.md invariant 6).

| object store       | what it holds                                                                 |
| ------------------ | ----------------------------------------------------------------------------- |
| dead_letter_bodies | raw bytes of dead letters over NATS's max message size, named by their sha256 |

The platform's own buckets are named here:

| bucket            | key                 | what it holds                                                    |
| ----------------- | ------------------- | ---------------------------------------------------------------- |
| guardia_tokens    | SHA-256 of a token  | API token records: name, role, created, revoked (never a token)  |
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, ObjectStoreConfig, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

log = structlog.get_logger("guardia.topology")

EVENTS = "GUARDIA_EVENTS"
INTAKE = "GUARDIA_INTAKE"
TIMERS = "GUARDIA_TIMERS"
DLQ = "GUARDIA_DLQ"
DEAD_LETTER_BODIES = "dead_letter_bodies"
#: API token records, written by `guardia tokens` and `guardia up`, read by the gateway (created on first use)
TOKENS = "guardia_tokens"

DAY = 24 * 3600


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age_days: int
    schedules: bool = False
    last_per_subject: bool = False  # keep only the newest message of each subject


STREAMS = (
    StreamSpec(EVENTS, ("ev.>",), max_age_days=400),
    StreamSpec(INTAKE, ("intake.raw.>",), max_age_days=30),
    # One schedule per clock subject, and its last firing: nothing piles up however often a clock re-arms.
    StreamSpec(TIMERS, ("timer.>",), max_age_days=400, schedules=True, last_per_subject=True),
    StreamSpec(DLQ, ("dlq.>",), max_age_days=400),
)

def stream_config(spec: StreamSpec, dedup_window_seconds: int) -> StreamConfig:
    config = StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        max_age=float(spec.max_age_days * DAY),
        duplicate_window=float(dedup_window_seconds),
        # nats-facts.md: message schedules need this flag (server >= 2.12); it cannot be turned off later.
        allow_msg_schedules=spec.schedules or None,
        max_msgs_per_subject=1 if spec.last_per_subject else -1,
    )
    return config


async def ensure_streams(js: JetStreamContext, dedup_window_seconds: int = 3600) -> None:
    """Create missing streams, update drifted ones; safe to run from every service at every start."""
    for spec in STREAMS:
        wanted = stream_config(spec, dedup_window_seconds)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config=wanted)
            log.info("stream_created", stream=spec.name, subjects=spec.subjects)
        else:
            await js.update_stream(config=wanted)
    await ensure_object_store(js, DEAD_LETTER_BODIES, max_age_days=400)


async def ensure_object_store(js: JetStreamContext, name: str, max_age_days: int) -> None:
    """Create the object store if missing (file storage; kept as long as the dead letters that point to it)."""
    try:
        await js.object_store(name)
    except BucketNotFoundError:
        await js.create_object_store(name, config=ObjectStoreConfig(
            storage=StorageType.FILE, ttl=float(max_age_days * DAY),
            description="Raw bytes of dead letters too large for one NATS message, by sha256."))
        log.info("object_store_created", bucket=name)


async def bucket(js: JetStreamContext, name: str) -> KeyValue:
    """Open a KV bucket, creating it (file storage, history 1) if it does not exist yet.

    Reads go through direct get (`$JS.API.DIRECT.GET`), which nats-server answers without the JetStream
    API's request queue: the cheapest read, and every handler run reads its ticket's state once. A
    bucket created before that is switched to it in place. Writes stay compare-and-swap, so a read
    that a cluster follower serves slightly late only costs a retry, never a wrong write."""
    try:
        kv = await js.key_value(name)
    except BucketNotFoundError:
        return await js.create_key_value(
            config=KeyValueConfig(bucket=name, storage=StorageType.FILE, history=1, direct=True)
        )
    info = await js.stream_info(f"KV_{name}")
    if not info.config.allow_direct:
        info.config.allow_direct = True
        await js.update_stream(config=info.config)
        kv = await js.key_value(name)
    return kv
