"""The wiring every service shares: durable pull consumers on NATS JetStream, dispatch, dead letters.

**Per-ticket order, any number of replicas** (scaleout-facts.md §7). Every event subject carries its
ticket's partition, `ev.<tenant>.<p>.<aggregate>.<event>`. A service reads the event log through
`PARTITIONS` durable consumers `<service>-pNN`, one per partition, each with `max_ack_pending=1`: the
server hands out at most one message of a partition at a time, and a message that is retried (nak with
a delay) or whose holder died (ack wait expired) is delivered again *before* anything newer of its
partition. So every replica may pull every partition; a ticket's events are handled in stream order
whatever the number of replicas, while tickets in different partitions run concurrently. A replica
killed mid-message stalls its partition for at most the ack wait (`GUARDIA_ACK_WAIT_SECONDS`), then
another replica redoes the message; a live handler keeps its message with `in_progress()` beats, so a
slow handler is never run twice at once.

Cross-ticket state that must be counted exactly once (the committee) goes through a *serial* consumer:
one durable over every partition with one message in flight (`handles(..., serial="committee")`).

Each message: decode (upcasting old versions), call the handler, publish what it returns with
`Nats-Msg-Id = event_id`, commit its staged state, ack. Failure rules (design.md invariant 3):
- a message that is not a valid event is dead-lettered at once with the reason, and acked;
- a handler that raises is retried with a growing delay; at `max_deliver` deliveries the message is
  dead-lettered and terminated, never retried forever.

The pull loops are plain nats-py rather than FastStream subscribers: FastStream runs the messages of
a fetched batch concurrently (which breaks per-key order) and costs a thread hop per message when
the handler needs the raw message (nats-facts.md); the loop below is what the runtime needs and no more.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from guardia import metrics
from guardia.settings import Settings
from shared.schemas import (
    PARTITIONS,
    DeadLettered,
    Event,
    SchemaError,
    StoredBody,
    decode_event,
    event_type_of,
    make_event,
)

from . import connection, faults
from .state import Staged
from .topology import DEAD_LETTER_BODIES, DLQ, EVENTS, bucket, ensure_streams

log = structlog.get_logger("guardia.runtime")

CAS_ATTEMPTS = 5
HEARTBEAT_SECONDS = 5.0
#: A dead letter keeps its raw bytes inline while it stays within NATS's default max_payload (1 MiB),
#: whatever a server allows: streams of multi-megabyte messages are slow to replicate and to read back.
DEAD_LETTER_INLINE_LIMIT = 1024 * 1024
#: room left in that message for the envelope, the reason and the headers around the base64 bytes
DEAD_LETTER_HEADROOM = 64 * 1024
FETCH_SECONDS = 2.0  # a pull's expiry: how long an idle loop waits, and how soon it notices a stop

Handler = Callable[[Event, "Context"], Awaitable[Iterable[Event]]]
RawHandler = Callable[["RawMessage"], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class RawMessage:
    """A message that is not an event (a raw channel payload, a fired timer, a number claim)."""

    body: bytes
    subject: str
    headers: dict[str, str]
    sequence: int  # its stream sequence


class Rejected(Exception):
    """Input that will never be valid: dead-lettered at once with its reason code, not retried."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason = code, reason


class NotYet(Exception):
    """The message is fine but its time has not come (a claim to complete later): redelivered after
    `delay` seconds, never dead-lettered for it. Only for consumers declared with unlimited deliveries."""

    def __init__(self, delay: float, why: str = "") -> None:
        super().__init__(why or f"not yet: again in {delay:.1f} s")
        self.delay = delay


class LegacyLayout(RuntimeError):
    """The event log still has consumers of the layout before partitions: `guardia migrate` first."""


@dataclass
class Context:
    """What a handler may touch besides its event: its buckets (read), staged writes, the clock."""

    runtime: ServiceRuntime
    staged: Staged = field(default_factory=Staged)

    def kv(self, name: str) -> KeyValue:
        return self.runtime.buckets[name]


def backoff_seconds(deliveries: int) -> float:
    """1 s, 2 s, 4 s ... capped at 60 s between redeliveries of a failing message."""
    return float(min(60, 2 ** max(0, deliveries - 1)))


def partition_durable(service: str, partition: int) -> str:
    return f"{service}-p{partition:02d}"


@dataclass
class EventGroup:
    """The event types one set of consumers dispatches: the service's partitioned ones, or a serial one."""

    durable: str
    serial: bool
    handlers: dict[str, Handler] = field(default_factory=dict)

    def durables(self) -> list[tuple[str, int | None]]:
        if self.serial:
            return [(self.durable, None)]
        return [(partition_durable(self.durable, p), p) for p in range(PARTITIONS)]

    def filters(self, partition: int | None) -> list[str]:
        token = "*" if partition is None else str(partition)
        return sorted(f"ev.*.{token}.{t}" for t in self.handlers)


@dataclass
class RawConsumer:
    stream: str
    subject: str
    durable: str
    handler: RawHandler
    workers: int
    purge_handled: bool
    max_deliver: int | None  # None: the settings' limit; -1: unlimited (for handlers that raise NotYet)
    every: float | None = None  # swept in batches every `every` seconds instead of pulled one by one
    new_only: bool = False  # start at the stream's end, not its beginning


@dataclass
class _Loop:
    """One pull loop; `busy` while it holds a message, so a stop waits for it instead of cancelling."""

    task: asyncio.Task[None] | None = None
    busy: bool = False


class ServiceRuntime:
    """One service: its NATS connection, its consumers and dispatch tables, its KV buckets."""

    def __init__(self, name: str, settings: Settings, buckets: Iterable[str] = ()) -> None:
        self.name = name
        self.settings = settings
        self.groups: dict[str, EventGroup] = {}
        self.raw_consumers: list[RawConsumer] = []
        self.bucket_names = tuple(buckets)
        self.buckets: dict[str, KeyValue] = {}
        self.log = log.bind(service=name)
        self._js: JetStreamContext | None = None
        self._nc: Client | None = None
        # APScheduler runs the service's periodic jobs (design.md invariant 7); today the heartbeat.
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._loops: list[_Loop] = []
        self._stopping = False
        self._on_connect: list[Hook] = []
        self._sweeps: dict[int, Any] = {}  # pull subscriptions of swept consumers
        self.handled = 0  # handler runs, for benchmarks
        # values read from NATS when /metrics is scraped (guardia/metrics.py); services may add their own
        self.scrape_hooks = [metrics.ScrapeHook(functools.partial(metrics.poll_consumers, self),
                                                every=metrics.CONSUMER_POLL_SECONDS)]

    # -- declaration ---------------------------------------------------------------------------

    @property
    def handlers(self) -> dict[str, Handler]:
        """Every event type this service handles, whichever consumer reads it."""
        return {t: h for g in self.groups.values() for t, h in g.handlers.items()}

    def handles(self, *event_types: str, serial: str | None = None) -> Callable[[Handler], Handler]:
        """Register `fn` as the handler of these event types (one handler per type).

        `serial="x"` reads them through one consumer `<service>-x` over all partitions, one message
        at a time: for state shared between tickets that must change in one order (a counter).
        """
        durable = f"{self.name}-{serial}" if serial else self.name
        group = self.groups.setdefault(durable, EventGroup(durable, serial=serial is not None))

        def register(fn: Handler) -> Handler:
            for event_type in event_types:
                if event_type in self.handlers:
                    raise ValueError(f"{self.name}: {event_type} handled twice")
                group.handlers[event_type] = fn
            return fn

        return register

    def on_connect(self, hook: Hook) -> None:
        """Run `hook` once connected, before consumers are declared (e.g. a service's own streams)."""
        self._on_connect.append(hook)

    def on_scrape(self, refresh: Hook, every: float = 15.0) -> None:
        """Run `refresh` (which sets gauges) before /metrics answers, at most every `every` seconds."""
        self.scrape_hooks.append(metrics.ScrapeHook(refresh, every))

    def consume_raw(self, subject: str, stream: str, durable: str, handler: RawHandler, workers: int = 4,
                    purge_handled: bool = False, max_deliver: int | None = None, every: float | None = None,
                    new_only: bool = False) -> None:
        """A durable pull consumer on non-event subjects (raw channel payloads, fired timers).

        Their messages are independent of each other, so `workers` loops pull concurrently. A fired
        timer racing an event of the same ticket is a compare-and-swap conflict, re-run on fresh state.
        `purge_handled` removes each message from its subject once handled: a fired timer lives on a
        per-ticket subject, and a million kept firings would cost nats-server a million subject
        index entries for messages nobody reads again. Only sequences up to the handled one go, so
        a newer firing on the same subject is kept.
        `every`: nothing waits on these messages (a check that may run late), so they are fetched in
        batches every `every` seconds: one pull per batch instead of one per message.
        """
        self.raw_consumers.append(RawConsumer(stream, subject, durable, handler, workers, purge_handled, max_deliver,
                                              every, new_only))

    def consumer_configs(self) -> list[tuple[str, ConsumerConfig]]:
        """Every durable consumer this service reads, as (stream, config)."""
        found: list[tuple[str, ConsumerConfig]] = []
        for group in self.groups.values():
            if not group.handlers:
                continue
            for durable, partition in group.durables():
                found.append((EVENTS, self._config(durable, group.filters(partition), max_ack_pending=1)))
        for raw in self.raw_consumers:
            config = self._config(raw.durable, [raw.subject], max_ack_pending=1000 if raw.every is None else 100_000,
                                  max_deliver=raw.max_deliver)
            if raw.new_only:
                config.deliver_policy = DeliverPolicy.NEW
            found.append((raw.stream, config))
        return found

    def _config(self, durable: str, filters: list[str], max_ack_pending: int,
                max_deliver: int | None = None) -> ConsumerConfig:
        return ConsumerConfig(
            name=durable,
            durable_name=durable,
            filter_subject=filters[0] if len(filters) == 1 else None,
            filter_subjects=filters if len(filters) > 1 else None,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=max_deliver or self.settings.max_deliver,
            ack_wait=float(self.settings.ack_wait_seconds),
            max_ack_pending=max_ack_pending,
            # as many copies as its stream: a consumer on one node would stop the service when that node dies
            num_replicas=self.settings.nats_replicas,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def connect(self, migrating: bool = False) -> None:
        """Join NATS (reconnecting for ever: a NATS restart is an outage, not the end of the service),
        make sure streams, buckets and consumers exist. `migrating`: a legacy consumer may still exist
        (`drain_legacy` is about to hand its messages over)."""

        async def on_disconnect() -> None:
            self.log.warning("nats_disconnected")

        async def on_reconnect() -> None:
            self.log.info("nats_reconnected")

        async def on_error(exc: Exception) -> None:
            # a permissions violation is a deployment error (the NATS user lacks a subject): say so loudly
            if "permissions violation" in str(exc).lower():
                self.log.error("nats_permission_denied", error=str(exc))
            else:
                self.log.debug("nats_error", error=str(exc))

        self._nc = await connection.connect(
            self.settings, name=self.name, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            disconnected_cb=on_disconnect, reconnected_cb=on_reconnect, error_cb=on_error,
        )
        self._js = self._nc.jetstream()
        replicas = self.settings.nats_replicas
        await ensure_streams(self._js, self.settings.dedup_window_seconds, replicas)
        for name in self.bucket_names:
            self.buckets[name] = await bucket(self._js, name, replicas)
        if not migrating:
            await self._check_layout()
        for hook in self._on_connect:
            await hook()
        for stream, config in self.consumer_configs():
            await self._declare(stream, config)

    async def _check_layout(self) -> None:
        """A durable of the layout before partitions (`<service>` on `ev.>`) means messages may wait
        there unhandled: starting beside it would handle newer events of a ticket before older ones."""
        if not self.groups:
            return
        try:
            await self.js.consumer_info(EVENTS, self.name)
        except NotFoundError:
            return
        raise LegacyLayout(f"{self.name}: consumer {self.name!r} of the layout before partitions exists on "
                           f"{EVENTS}; run `guardia migrate` to hand its remaining messages over")

    async def drain_legacy(self, idle: float = 1.0) -> int | None:
        """Hand over what the layout before partitions left behind: handle every message still waiting
        on the legacy durable `<service>` (in stream order, one at a time, with this version's handlers;
        what they publish goes out in the new layout), then delete that durable. Returns how many
        messages it handled, None if there was no legacy durable.

        Every legacy event precedes every event of the new layout in the stream (nothing publishes the
        old shape any more), so a service that drains first and then reads its partitions handles each
        ticket's events in stream order across the cut-over."""
        try:
            await self.js.consumer_info(EVENTS, self.name)
        except NotFoundError:
            return None
        sub = await self.js.pull_subscribe_bind(durable=self.name, stream=EVENTS)
        handled = 0
        # the events this version handles, under the old names; anything else is acked unseen
        group = EventGroup(self.name, serial=True, handlers=self.handlers)
        try:
            while True:
                try:
                    msgs = await sub.fetch(1, timeout=idle)
                except (TimeoutError, nats.errors.TimeoutError):
                    info = await self.js.consumer_info(EVENTS, self.name)
                    if info.num_pending == 0 and info.num_ack_pending == 0:
                        break
                    continue  # a message in backoff, or held by a process that has not stopped yet
                for msg in msgs:
                    await self._on_event(group, msg)
                    handled += 1
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        await self.js.delete_consumer(EVENTS, self.name)
        self.log.info("legacy_consumer_drained", durable=self.name, handled=handled)
        return handled

    async def _declare(self, stream: str, config: ConsumerConfig) -> None:
        """Create the durable, or update it in place (nats-facts.md: a plain re-declare is ignored).
        Where it starts is kept: a migrated consumer starts after the legacy layout's last event."""
        try:
            info = await self.js.consumer_info(stream, config.durable_name or "")
        except NotFoundError:
            await self.js.add_consumer(stream, config=config)
            return
        config.deliver_policy = info.config.deliver_policy
        config.opt_start_seq = info.config.opt_start_seq
        config.opt_start_time = info.config.opt_start_time
        await self.js.add_consumer(stream, config=config)

    async def start(self) -> None:
        await self.connect()
        self._stopping = False
        for group in self.groups.values():
            for durable, _ in group.durables() if group.handlers else []:
                self._spawn(EVENTS, durable, functools.partial(self._on_event, group))
        for raw in self.raw_consumers:
            if raw.every is not None:
                loop = _Loop()
                loop.task = asyncio.create_task(self._sweeping(raw, loop), name=f"sweep-{raw.durable}")
                self._loops.append(loop)
                continue
            for _ in range(raw.workers):
                self._spawn(raw.stream, raw.durable, functools.partial(self._on_raw, raw))
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.scheduler.add_job(self._beat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat",
                               next_run_time=datetime.now(UTC), replace_existing=True)
        self.scheduler.start()
        self.log.info("service_started", handles=sorted(self.handlers))

    def _spawn(self, stream: str, durable: str, on_message: Callable[[Msg], Awaitable[None]]) -> None:
        loop = _Loop()
        loop.task = asyncio.create_task(self._pull(loop, stream, durable, on_message), name=f"{durable}")
        self._loops.append(loop)

    async def _pull(self, loop: _Loop, stream: str, durable: str, on_message: Callable[[Msg], Awaitable[None]]) -> None:
        """Fetch one message, handle it, repeat: with `max_ack_pending=1` the next one of this
        partition is only handed out once this one is acked (or its holder is gone)."""
        sub = await self.js.pull_subscribe_bind(durable=durable, stream=stream)
        try:
            while not self._stopping:
                try:
                    msgs = await sub.fetch(1, timeout=FETCH_SECONDS)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.Error as exc:
                    # NATS restarting or the consumer being recreated: wait and pull again.
                    self.log.debug("fetch_failed", durable=durable, error=f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.5)
                    continue
                for msg in msgs:
                    loop.busy = True
                    try:
                        faults.point("after_fetch")
                        await on_message(msg)
                    finally:
                        loop.busy = False
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _sweeping(self, raw: RawConsumer, loop: _Loop) -> None:
        """Sweep, then wait `every` seconds, until stopped (a sweep never overlaps the next)."""
        assert raw.every is not None
        while not self._stopping:
            loop.busy = True
            try:
                await self._sweep(raw)
            except Exception as exc:  # NATS restarting: the next sweep binds again
                self.log.debug("sweep_failed", durable=raw.durable, error=f"{type(exc).__name__}: {exc}")
                self._sweeps.pop(id(raw), None)
            finally:
                loop.busy = False
            await asyncio.sleep(raw.every)

    async def _sweep(self, raw: RawConsumer, batch: int = 256) -> None:
        """Handle what waits on a swept consumer, a batch at a time, until it is empty."""
        if self._stopping or not self.connected:
            return
        sub = self._sweeps.get(id(raw))
        if sub is None:
            sub = self._sweeps[id(raw)] = await self.js.pull_subscribe_bind(durable=raw.durable, stream=raw.stream)
        while not self._stopping:
            try:
                msgs = await sub.fetch(batch, timeout=0.2)
            except (TimeoutError, nats.errors.TimeoutError):
                return
            except (nats.errors.Error, ValueError) as exc:  # stopping, or NATS restarting: next sweep
                self.log.debug("sweep_failed", durable=raw.durable, error=f"{type(exc).__name__}: {exc}")
                self._sweeps.pop(id(raw), None)
                return
            for msg in msgs:
                await self._on_raw(raw, msg)
            if len(msgs) < batch:
                return

    @property
    def heartbeat_path(self) -> Path:
        return self.settings.data_dir / f"{self.name}.alive"

    async def _beat(self) -> None:
        """Touch `<data_dir>/<service>.alive` while connected: what `guardia health` checks."""
        if self.connected:
            self.heartbeat_path.touch()

    async def stop(self) -> None:
        """Stop pulling; a message in hand finishes, nothing fetched is left half-done (unacked
        messages are redelivered, to this service or another replica)."""
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            self.heartbeat_path.unlink(missing_ok=True)
        for loop in self._loops:
            if loop.task is not None and not loop.busy:
                loop.task.cancel()
        # A message in hand gets up to the ack wait to finish (after that it is redelivered anyway);
        # with NATS gone it could otherwise wait for ever on a reconnect that never comes.
        tasks = [loop.task for loop in self._loops if loop.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.settings.ack_wait_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()
        for sub in self._sweeps.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sub.unsubscribe(), timeout=1.0)
        self._sweeps.clear()
        if self._nc is not None and not self._nc.is_closed:
            try:
                await asyncio.wait_for(self._nc.drain(), timeout=5.0)
            except Exception:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._nc.close(), timeout=2.0)
        self.log.info("service_stopped")

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def pulling(self) -> bool:
        """Started, not stopping, and every pull loop still running: a loop that died would leave its
        consumer unread while the process looks alive (what `/readyz` reports)."""
        return (bool(self._loops) and not self._stopping
                and all(loop.task is not None and not loop.task.done() for loop in self._loops))

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._js

    # -- publishing ----------------------------------------------------------------------------

    async def publish(self, events: Iterable[Event]) -> int:
        """Publish events in order; returns how many were new (not deduplicated by Nats-Msg-Id).

        Each publish is awaited before the next: if one fails, none after it is stored, so a
        ticket's events never land out of order (scaleout-facts.md §4, pipelined publishes)."""
        fresh = 0
        for ev in events:
            ack = await self.js.publish(
                ev.subject, ev.to_json(), headers={"Nats-Msg-Id": str(ev.event_id)}, stream=EVENTS
            )
            fresh += 0 if ack.duplicate else 1
            metrics.published(self.name, ev, not ack.duplicate)
        return fresh

    async def dead_letter(
        self,
        *,
        tenant: str,
        source: str,
        reason_code: str,
        reason: str,
        raw: bytes,
        subject: str | None = None,
        headers: dict[str, str] | None = None,
        deliveries: int = 1,
        dedup_key: str | None = None,
    ) -> Event:
        """Keep the raw bytes and the reason in GUARDIA_DLQ (`dlq.<tenant>.<service>`).

        Bytes that would not fit in one NATS message of the default size (1 MiB, or the server's
        max_payload if smaller; base64 makes them a third larger) go to the `dead_letter_bodies` object
        store under their sha256, and the dead letter references them: a 5 MB webhook body is kept,
        not lost to `maximum payload exceeded`."""
        payload = DeadLettered(
            source=source,
            reason_code=reason_code,
            reason=reason[:4000],
            subject=subject,
            headers=dict(headers or {}),
            raw_base64=base64.b64encode(raw).decode(),
            raw_size=len(raw),
            deliveries=deliveries,
        )
        stored = "inline"
        try:
            limit = min(DEAD_LETTER_INLINE_LIMIT, self.max_payload) - DEAD_LETTER_HEADROOM
            if len(payload.raw_base64) + len(payload.reason) + len(json.dumps(payload.headers)) > limit:
                payload = payload.model_copy(update={"raw_base64": "", "raw_ref": await self.store_body(raw)})
                stored = "object_store"
            ev = make_event(payload, tenant=tenant, occurred_at=datetime.now(UTC), producer=self.name)
            headers_out = {"Nats-Msg-Id": dedup_key or str(ev.event_id)}
            await self.js.publish(f"dlq.{tenant}.{self.name}", ev.to_json(), headers=headers_out, stream=DLQ)
        except Exception:
            metrics.DEAD_LETTER_FAILURES.labels(self.name).inc()
            raise
        metrics.dead_lettered(self.name, reason_code, stored)
        self.log.warning("dead_lettered", source=source, reason_code=reason_code, reason=reason[:300],
                         raw_size=len(raw), stored=stored)
        return ev

    @property
    def max_payload(self) -> int:
        """The largest message the connected server takes (its `max_payload`)."""
        return self._nc.max_payload if self._nc is not None else 1024 * 1024

    async def store_body(self, raw: bytes) -> StoredBody:
        """Put `raw` in the dead-letter bodies' object store, named by its sha256: the same body
        rejected twice is one object, and the name proves what the bytes are."""
        digest = hashlib.sha256(raw).hexdigest()
        store = await self.js.object_store(DEAD_LETTER_BODIES)
        await store.put(digest, raw)
        return StoredBody(bucket=DEAD_LETTER_BODIES, name=digest, size=len(raw), sha256=digest)

    # -- consuming -----------------------------------------------------------------------------

    async def _on_event(self, group: EventGroup, msg: Msg) -> None:
        handler = group.handlers.get(event_type_of(msg.subject) or "")
        if handler is None:
            await msg.ack()
            return

        async def work() -> None:
            try:
                event = decode_event(msg.data)
            except SchemaError as exc:
                code, _, reason = str(exc).partition(": ")
                raise Rejected(code, reason or code) from exc
            await self.process(event, handler)

        await self._guarded(msg, work, event_type_of(msg.subject) or "unknown")

    async def _on_raw(self, raw: RawConsumer, msg: Msg) -> None:
        async def work() -> None:
            await raw.handler(RawMessage(msg.data, msg.subject, _headers(msg.headers), msg.metadata.sequence.stream))
            if raw.purge_handled:
                await self.js.purge_stream(raw.stream, subject=msg.subject, seq=msg.metadata.sequence.stream + 1)

        await self._guarded(msg, work, raw.subject)

    async def _guarded(self, msg: Msg, work: Callable[[], Awaitable[None]], kind: str) -> None:
        """Run `work`; reject -> dead letter now; failure -> retry with backoff, dead letter at the limit.
        `kind` (the event type, or a raw consumer's subject filter) labels its metrics."""
        deliveries = msg.metadata.num_delivered
        parts = msg.subject.split(".")
        tenant = parts[1] if parts[0] == "ev" and len(parts) > 2 else self.settings.default_tenant
        seq = msg.metadata.sequence.stream

        async def dead_letter(code: str, reason: str) -> None:
            await self.dead_letter(
                tenant=tenant, source=f"consumer {self.name}", reason_code=code, reason=reason, raw=msg.data,
                subject=msg.subject, headers=_headers(msg.headers), deliveries=deliveries,
                dedup_key=f"dlq:{self.name}:{seq}",
            )

        beat = asyncio.create_task(self._keep_alive(msg))
        started, outcome = time.perf_counter(), "ok"
        try:
            await work()
        except Rejected as rej:
            outcome = "rejected"
            await dead_letter(rej.code, rej.reason)
            await msg.ack()
            return
        except NotYet as wait:
            outcome = "deferred"
            with contextlib.suppress(Exception):
                await msg.nak(delay=wait.delay)
            return
        except Exception as exc:
            if deliveries >= self.settings.max_deliver:
                outcome = "dead_lettered"
                await dead_letter("handler_failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
                await msg.term()  # the server stops redelivering it
            else:
                outcome = "retried"
                self.log.warning("handler_failed_will_retry", subject=msg.subject, deliveries=deliveries,
                                 error=f"{type(exc).__name__}: {exc}")
                # With one message in flight per partition, the retry holds its partition: nothing
                # newer of these tickets overtakes it (head-of-line blocking is the price of order).
                # an exception may say how long its cause asked us to wait (a provider's Retry-After)
                delay = max(backoff_seconds(deliveries), float(getattr(exc, "retry_after", None) or 0.0))
                with contextlib.suppress(Exception):
                    await msg.nak(delay=delay)
            return
        finally:
            beat.cancel()
            metrics.handled(self.name, kind, outcome, time.perf_counter() - started)
        faults.point("before_ack")
        await msg.ack()

    async def _keep_alive(self, msg: Msg) -> None:
        """`in_progress` every third of the ack wait: a slow handler keeps its message, so the server
        redelivers only a message whose holder is gone (no two runs of one message at once)."""
        period = max(0.5, self.settings.ack_wait_seconds / 3)
        while True:
            await asyncio.sleep(period)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def process(self, event: Event, handler: Handler | None = None) -> list[Event]:
        """Run the handler for one event: publish its events, then commit its staged state."""
        handler = handler or self.handlers[event.event_type]
        for attempt in range(1, CAS_ATTEMPTS + 1):
            ctx = Context(self)
            self.handled += 1
            outputs = list(await handler(event, ctx))
            await self.publish(outputs)
            faults.point("after_publish")
            try:
                await ctx.staged.commit()
            except KeyWrongLastSequenceError:
                # Another consumer of this service (e.g. its timers) wrote the same key meanwhile:
                # recompute from the fresh state. Event ids are deterministic, so what the first
                # attempt published and this one republishes is deduplicated.
                if attempt == CAS_ATTEMPTS:
                    raise
                continue
            faults.point("after_commit")
            return outputs
        raise AssertionError("unreachable")


def _headers(headers: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (headers or {}).items()}
