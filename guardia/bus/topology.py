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

def stream_config(spec: StreamSpec, dedup_window_seconds: int, replicas: int = 1) -> StreamConfig:
    config = StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        storage=StorageType.FILE,
        max_age=float(spec.max_age_days * DAY),
        duplicate_window=float(dedup_window_seconds),
        # nats-facts.md: message schedules need this flag (server >= 2.12); it cannot be turned off later.
        allow_msg_schedules=spec.schedules or None,
        max_msgs_per_subject=1 if spec.last_per_subject else -1,
        num_replicas=replicas,
    )
    return config


async def ensure_streams(js: JetStreamContext, dedup_window_seconds: int = 3600, replicas: int = 1) -> None:
    """Create missing streams, update drifted ones; safe to run from every service at every start.

    `replicas` (GUARDIA_NATS_REPLICAS) is applied to existing streams too: nats-server scales a stream
    from 1 to 3 replicas in place when the cluster grows."""
    for spec in STREAMS:
        wanted = stream_config(spec, dedup_window_seconds, replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config=wanted)
            log.info("stream_created", stream=spec.name, subjects=spec.subjects)
        else:
            await js.update_stream(config=wanted)
    await ensure_object_store(js, DEAD_LETTER_BODIES, max_age_days=400, replicas=replicas)


async def ensure_object_store(js: JetStreamContext, name: str, max_age_days: int, replicas: int = 1) -> None:
    """Create the object store if missing (file storage; kept as long as the dead letters that point to
    it), with `replicas` like every stream; an existing one is scaled in place."""
    try:
        await js.object_store(name)
    except BucketNotFoundError:
        await js.create_object_store(name, config=ObjectStoreConfig(
            storage=StorageType.FILE, ttl=float(max_age_days * DAY), replicas=replicas,
            description="Raw bytes of dead letters too large for one NATS message, by sha256."))
        log.info("object_store_created", bucket=name)
        return
    info = await js.stream_info(f"OBJ_{name}")
    if (info.config.num_replicas or 1) != replicas:
        info.config.num_replicas = replicas
        await js.update_stream(config=info.config)


async def bucket(js: JetStreamContext, name: str, replicas: int = 1) -> KeyValue:
    """Open a KV bucket, creating it (file storage, history 1) if it does not exist yet.

    On one nats-server, reads go through direct get (`$JS.API.DIRECT.GET`), which the server answers
    without the JetStream API's request queue: the cheapest read, and every handler run reads its
    ticket's state once. With replicas, any replica answers a direct get, and one that lags (a node
    catching up after a restart) answers with state older than what the previous handler committed:
    tests/faults/test_nats_cluster.py saw sla_watch handle a classification without the opening it had
    just recorded. So at more than one replica reads go to the stream leader (`$JS.API.STREAM.MSG.GET`),
    which has every acknowledged write. An existing bucket is switched in place, and scaled to `replicas`."""
    direct = replicas == 1
    try:
        kv = await js.key_value(name)
    except BucketNotFoundError:
        return await js.create_key_value(
            config=KeyValueConfig(bucket=name, storage=StorageType.FILE, history=1, direct=direct, replicas=replicas)
        )
    info = await js.stream_info(f"KV_{name}")
    if bool(info.config.allow_direct) != direct or (info.config.num_replicas or 1) != replicas:
        info.config.allow_direct = direct
        info.config.num_replicas = replicas
        await js.update_stream(config=info.config)
        kv = await js.key_value(name)
    return kv
