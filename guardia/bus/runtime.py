"""The wiring every service shares: a FastStream app on NATS, event dispatch, dead letters.

A service declares which event types it handles; the runtime gives it one durable pull consumer on
`ev.*.>`-style subjects, decodes each message (upcasting old versions), calls the handler, publishes
what the handler returns with `Nats-Msg-Id = event_id`, commits the handler's staged state, and acks.

Failure rules (design.md invariant 3):
- a message that is not a valid event is dead-lettered at once with the reason, and acked;
- a handler that raises is retried with a growing delay; at `max_deliver` deliveries the message is
  dead-lettered and terminated, never retried forever.
"""

from __future__ import annotations

import base64
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from faststream import AckPolicy, FastStream
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy as ServerAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from guardia.settings import Settings
from shared.schemas import DeadLettered, Event, SchemaError, decode_event, make_event

from .state import Staged
from .topology import DLQ, EVENTS, bucket, ensure_streams

log = structlog.get_logger("guardia.runtime")

CAS_ATTEMPTS = 5
HEARTBEAT_SECONDS = 5.0

Handler = Callable[[Event, "Context"], Awaitable[Iterable[Event]]]
RawHandler = Callable[[bytes, str, dict[str, str]], Awaitable[None]]


class Rejected(Exception):
    """Input that will never be valid: dead-lettered at once with its reason code, not retried."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason = code, reason


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


class ServiceRuntime:
    """One service: its FastStream app and broker, its dispatch table, its KV buckets."""

    def __init__(self, name: str, settings: Settings, buckets: Iterable[str] = ()) -> None:
        self.name = name
        self.settings = settings
        self.broker = NatsBroker(settings.nats_url or "nats://127.0.0.1:4222", logger=None)
        self.app = FastStream(self.broker, logger=None, on_startup=[self._prepare])
        self.handlers: dict[str, Handler] = {}
        self.bucket_names = tuple(buckets)
        self.buckets: dict[str, KeyValue] = {}
        self.log = log.bind(service=name)
        self._js: JetStreamContext | None = None
        # APScheduler runs the service's periodic jobs (design.md invariant 7); today the heartbeat.
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._consumers: list[tuple[str, ConsumerConfig]] = []
        self._event_consumers: set[str] = set()
        self._nc: Client | None = None

    # -- declaration ---------------------------------------------------------------------------

    def handles(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Register `fn` as the handler of these event types (one handler per type)."""

        def register(fn: Handler) -> Handler:
            for event_type in event_types:
                if event_type in self.handlers:
                    raise ValueError(f"{self.name}: {event_type} handled twice")
                self.handlers[event_type] = fn
            return fn

        return register

    def consume_events(self, durable: str | None = None, batch: int = 1) -> None:
        """One durable pull consumer on the event log, dispatching by event type, in stream order.

        Its filter is the event types registered with `handles` (set when the service starts).
        `batch` stays 1: FastStream runs the messages of one fetched batch concurrently, which would
        break the per-ticket order (opened before classified) the handlers rely on.
        """
        self._subscribe(EVENTS, "ev.>", durable or self.name, batch)(self._on_event_message)
        self._event_consumers.add(durable or self.name)

    # -- lifecycle -----------------------------------------------------------------------------

    async def _prepare(self) -> None:
        """Before subscribers start: make sure streams and this service's buckets exist."""
        nc = await nats.connect(self.settings.nats_url or "nats://127.0.0.1:4222", name=f"guardia-{self.name}")
        self._nc = nc
        self._js = nc.jetstream()
        await ensure_streams(self._js, self.settings.dedup_window_seconds)
        for name in self.bucket_names:
            self.buckets[name] = await bucket(self._js, name)
        for stream, config in self._consumers:
            if config.durable_name in self._event_consumers:
                # Only the event types this service handles reach it (stream order is kept across
                # several filter subjects): no fetch-and-ack round trip for the others.
                config.filter_subject = None
                config.filter_subjects = sorted(f"ev.*.{t}" for t in self.handlers)
            # nats-facts.md: re-declaring a durable with a new config is silently ignored by a plain
            # subscribe; CONSUMER.CREATE with the name creates it or updates it explicitly.
            await self._js.add_consumer(stream, config=config)

    async def start(self) -> None:
        await self.app.start()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.scheduler.add_job(self._beat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat",
                               next_run_time=datetime.now(UTC), replace_existing=True)
        self.scheduler.start()
        self.log.info("service_started", handles=sorted(self.handlers))

    @property
    def heartbeat_path(self) -> Path:
        return self.settings.data_dir / f"{self.name}.alive"

    async def _beat(self) -> None:
        """Touch `<data_dir>/<service>.alive` while connected: what `guardia health` checks."""
        if self.connected and self.broker.connection.is_connected:
            self.heartbeat_path.touch()

    async def stop(self) -> None:
        """Stop pulling; the message in hand finishes, fetched-but-unstarted ones are left unacked."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            self.heartbeat_path.unlink(missing_ok=True)
        await self.app.stop()
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.drain()
        self.log.info("service_stopped")

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._js

    # -- publishing ----------------------------------------------------------------------------

    async def publish(self, events: Iterable[Event]) -> int:
        """Publish events in order; returns how many were new (not deduplicated by Nats-Msg-Id)."""
        fresh = 0
        for ev in events:
            ack = await self.js.publish(
                ev.subject, ev.to_json(), headers={"Nats-Msg-Id": str(ev.event_id)}, stream=EVENTS
            )
            fresh += 0 if ack.duplicate else 1
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
        """Keep the raw bytes and the reason in GUARDIA_DLQ (`dlq.<tenant>.<service>`)."""
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
        ev = make_event(payload, tenant=tenant, occurred_at=datetime.now(UTC), producer=self.name)
        headers_out = {"Nats-Msg-Id": dedup_key or str(ev.event_id)}
        await self.js.publish(f"dlq.{tenant}.{self.name}", ev.to_json(), headers=headers_out, stream=DLQ)
        self.log.warning("dead_lettered", source=source, reason_code=reason_code, reason=reason[:300])
        return ev

    # -- consuming -----------------------------------------------------------------------------

    def consume_raw(self, subject: str, stream: str, durable: str, handler: RawHandler, batch: int = 1,
                    purge_handled: bool = False) -> None:
        """A durable pull consumer on non-event subjects (raw channel payloads, fired timers).

        `purge_handled` removes each message from its subject once handled: a fired timer lives on a
        per-ticket subject, and a million kept firings would cost nats-server a million subject
        index entries for messages nobody reads again. Only sequences up to the handled one go, so
        a newer firing on the same subject is kept.
        """

        async def on_message(body: bytes) -> None:
            msg: NatsMessage = self.broker.context.get_local("message")
            raw = msg.raw_message

            async def work() -> None:
                await handler(body, raw.subject, _headers(raw.headers))
                if purge_handled and raw.metadata is not None:
                    await self.js.purge_stream(stream, subject=raw.subject, seq=raw.metadata.sequence.stream + 1)

            await self._guarded(msg, body, work)

        self._subscribe(stream, subject, durable, batch)(on_message)

    def _subscribe(self, stream: str, subject: str, durable: str, batch: int) -> Any:
        """A FastStream pull subscriber on a durable consumer that `_prepare` declares (or updates)."""
        config = ConsumerConfig(
            name=durable,
            durable_name=durable,
            filter_subject=subject,
            ack_policy=ServerAckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=self.settings.max_deliver,
            ack_wait=30.0,
        )
        self._consumers.append((stream, config))
        return self.broker.subscriber(
            subject,
            stream=JStream(stream, declare=False),
            durable=durable,
            pull_sub=PullSub(batch_size=batch, timeout=1.0),
            config=config,
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
        )

    async def _on_event_message(self, body: bytes) -> None:
        # nats-facts.md: a context-injected parameter costs a thread hop per message; read it here.
        msg: NatsMessage = self.broker.context.get_local("message")
        handler = self.handlers.get(_event_type_of(msg.raw_message.subject) or "")
        if handler is None:
            await msg.ack()
            return

        async def work() -> None:
            try:
                event = decode_event(body)
            except SchemaError as exc:
                code, _, reason = str(exc).partition(": ")
                raise Rejected(code, reason or code) from exc
            await self.process(event, handler)

        await self._guarded(msg, body, work)

    async def _guarded(self, msg: NatsMessage, body: bytes, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work`; reject -> dead letter now; failure -> retry with backoff, dead letter at the limit."""
        raw = msg.raw_message
        deliveries = raw.metadata.num_delivered if raw.metadata else 1
        parts = raw.subject.split(".")
        tenant = parts[1] if parts[0] == "ev" and len(parts) > 2 else self.settings.default_tenant
        seq = raw.metadata.sequence.stream if raw.metadata else ""

        async def dead_letter(code: str, reason: str) -> None:
            await self.dead_letter(
                tenant=tenant, source=f"consumer {self.name}", reason_code=code, reason=reason, raw=body,
                subject=raw.subject, headers=_headers(raw.headers), deliveries=deliveries,
                dedup_key=f"dlq:{self.name}:{seq}",
            )

        try:
            await work()
        except Rejected as rej:
            await dead_letter(rej.code, rej.reason)
            await msg.ack()
            return
        except Exception as exc:
            if deliveries >= self.settings.max_deliver:
                await dead_letter("handler_failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
                await msg.reject()  # JetStream TERM: the server stops redelivering it
            else:
                self.log.warning("handler_failed_will_retry", subject=raw.subject, deliveries=deliveries,
                                 error=f"{type(exc).__name__}: {exc}")
                await msg.nack(delay=backoff_seconds(deliveries))
            return
        await msg.ack()

    async def process(self, event: Event, handler: Handler | None = None) -> list[Event]:
        """Run the handler for one event: publish its events, then commit its staged state."""
        handler = handler or self.handlers[event.event_type]
        for attempt in range(1, CAS_ATTEMPTS + 1):
            ctx = Context(self)
            outputs = list(await handler(event, ctx))
            await self.publish(outputs)
            try:
                await ctx.staged.commit()
            except KeyWrongLastSequenceError:
                # Another consumer of this service (e.g. its timers) wrote the same key meanwhile:
                # recompute from the fresh state. Event ids are deterministic, so what the first
                # attempt published and this one republishes is deduplicated.
                if attempt == CAS_ATTEMPTS:
                    raise
                continue
            return outputs
        raise AssertionError("unreachable")


async def _raw_body(msg: NatsMessage) -> bytes:
    """Hand the handler the raw bytes: we decode (and dead-letter) ourselves, with our own errors."""
    return msg.body


def _event_type_of(subject: str) -> str | None:
    parts = subject.split(".")
    if len(parts) < 4 or parts[0] != "ev":
        return None
    return ".".join(parts[2:])


def _headers(headers: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (headers or {}).items()}
