"""Prometheus metrics of a guardia process, served as `GET /metrics` next to `/healthz` and `/readyz`.

Every metric is defined here, so the README, the Grafana dashboard and the alert rules in `deploy/` have
one list to agree with (tests/ops/test_metrics.py checks that they name only these). Labels are bounded
sets only: services, event types, reason codes, transports, providers, HTTP statuses, tenants (one per
policy file), consumer names. Never a phone number, an address, a ticket id or a subject that carries one.

Most values are counted where things happen (the runtime's dispatch and publish, the gateway's webhook
routes). What is state on the NATS server (a consumer's backlog, sla_watch's open clocks) is read when
Prometheus scrapes, through `ScrapeHook`s with a short cache: a scrape costs a few NATS requests at most
every `every` seconds, however many scrapers there are, and a restarted process reports the truth at
once instead of counting from zero.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from guardia.bus.runtime import ServiceRuntime
    from shared.schemas import Event

log = structlog.get_logger("guardia.metrics")

#: How long a consumer's pending and redelivery counts read from the server are reused.
CONSUMER_POLL_SECONDS = 15.0
#: Each NATS request of a scrape-time refresh gives up after this long.
SCRAPE_TIMEOUT = 2.0
#: How long a scrape waits for the refresh it started before answering with the values it has
#: (Prometheus's scrape_timeout is 10 s by default).
SCRAPE_WAIT = 5.0

EVENTS_HANDLED = Counter(
    "guardia_events_handled", "Messages a service's consumers handled, by event type and outcome "
    "(ok, rejected, retried, dead_lettered, deferred). Raw messages (webhook payloads over NATS, fired "
    "timers) count under their consumer's subject filter.", ["service", "event_type", "outcome"])
HANDLER_SECONDS = Histogram(
    "guardia_handler_seconds", "Time from a message's fetch to its outcome: decode, handler, publish, state "
    "commit.", ["service", "event_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
EVENTS_PUBLISHED = Counter(
    "guardia_events_published", "Events a service published that the event log took as new (a deduplicated "
    "republish does not count).", ["service", "event_type", "tenant"])
DEAD_LETTERS = Counter(
    "guardia_dead_letters", "Dead letters written, by reason code; `stored` says where the raw bytes went "
    "(inline, or object_store for a body over NATS's maximum message size).", ["service", "reason_code", "stored"])
DEAD_LETTER_FAILURES = Counter(
    "guardia_dead_letter_failures", "Dead letters that could not be written (NATS unreachable): that input is "
    "lost, only the log line says what it was.", ["service"])
CONSUMER_PENDING = Gauge(
    "guardia_consumer_pending", "Messages on the stream not yet delivered to the consumer (its backlog).",
    ["service", "stream", "consumer"])
CONSUMER_ACK_PENDING = Gauge(
    "guardia_consumer_ack_pending", "Messages delivered to the consumer and not acknowledged yet.",
    ["service", "stream", "consumer"])
CONSUMER_REDELIVERED = Gauge(
    "guardia_consumer_redelivered", "Messages of the consumer delivered more than once and not acknowledged yet.",
    ["service", "stream", "consumer"])
CONSUMER_POLL_ERRORS = Counter(
    "guardia_consumer_poll_errors", "Scrapes that could not read a consumer's state from NATS.", ["service"])
NOTIFICATIONS = Counter(
    "guardia_notifications", "Notification outcomes by transport: sent (the provider accepted it), failed, "
    "delivered (the provider's later delivery report).", ["transport", "outcome"])
SLA_OPEN_CLOCKS = Gauge(
    "guardia_sla_open_clocks", "SLA clocks not met nor cancelled, by tenant and state (running, paused, "
    "breached), counted from sla_watch's state on the NATS server.", ["tenant", "state"])
SLA_BREACHES = Counter(
    "guardia_sla_breaches", "SLA breaches published (each breach once, whichever replica found it).", ["tenant"])
WEBHOOK_REQUESTS = Counter(
    "guardia_webhook_requests", "Requests to the gateway's channel webhooks, by provider and HTTP status.",
    ["provider", "status"])

#: event type of a notification outcome -> its `outcome` label
NOTIFICATION_OUTCOMES = {"notification.sent": "sent", "notification.failed": "failed",
                         "notification.delivered": "delivered"}


def handled(service: str, event_type: str, outcome: str, seconds: float) -> None:
    """One message taken off a consumer, and how it ended."""
    EVENTS_HANDLED.labels(service, event_type, outcome).inc()
    HANDLER_SECONDS.labels(service, event_type).observe(seconds)


def published(service: str, event: Event, fresh: bool) -> None:
    """An event the log accepted; counted once even when a retry publishes it again (`fresh` False)."""
    if not fresh:
        return
    EVENTS_PUBLISHED.labels(service, event.event_type, event.tenant).inc()
    if (outcome := NOTIFICATION_OUTCOMES.get(event.event_type)) is not None:
        NOTIFICATIONS.labels(str(getattr(event.payload, "transport", "unknown")), outcome).inc()
    elif event.event_type == "sla.breached":
        SLA_BREACHES.labels(event.tenant).inc()


def dead_lettered(service: str, reason_code: str, stored: str) -> None:
    DEAD_LETTERS.labels(service, reason_code, stored).inc()


def webhook_answered(provider: str, status: int) -> None:
    WEBHOOK_REQUESTS.labels(provider, str(status)).inc()


@dataclass
class ScrapeHook:
    """A refresh of scrape-time values, run at most every `every` seconds in the background.

    A scrape waits up to `SCRAPE_WAIT` for a refresh it started (or one already running), then answers
    with what the gauges hold: a slow NATS or a long scan (sla_watch's bucket) makes values late, never
    a scrape time out, and concurrent scrapes share one refresh."""

    refresh: Callable[[], Awaitable[None]]
    every: float
    timeout: float = 60.0
    last: float = float("-inf")
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        if self.task is None and time.monotonic() - self.last >= self.every:
            self.task = asyncio.create_task(self._refresh())
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=SCRAPE_WAIT)

    async def _refresh(self) -> None:
        try:
            await asyncio.wait_for(self.refresh(), timeout=self.timeout)
        except Exception as exc:  # the gauges keep their last values
            log.debug("scrape_refresh_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self.last, self.task = time.monotonic(), None


async def poll_consumers(rt: ServiceRuntime) -> None:
    """Pending, ack-pending and redelivered counts of every durable consumer `rt` reads (consumer_info)."""
    if not rt.connected:
        return
    wanted = [(stream, config.durable_name or "") for stream, config in rt.consumer_configs()]

    async def one(stream: str, durable: str) -> None:
        try:
            info = await asyncio.wait_for(rt.js.consumer_info(stream, durable), SCRAPE_TIMEOUT)
        except Exception:
            CONSUMER_POLL_ERRORS.labels(rt.name).inc()
            return
        CONSUMER_PENDING.labels(rt.name, stream, durable).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(rt.name, stream, durable).set(info.num_ack_pending or 0)
        CONSUMER_REDELIVERED.labels(rt.name, stream, durable).set(info.num_redelivered or 0)

    await asyncio.gather(*(one(stream, durable) for stream, durable in wanted))


async def exposition(runtimes: Iterable[ServiceRuntime]) -> bytes:
    """The text format of every metric of this process, scrape-time values refreshed first."""
    for rt in runtimes:
        for hook in rt.scrape_hooks:
            await hook.run()
    return generate_latest(REGISTRY)
