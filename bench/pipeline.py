"""Benchmark: the whole pipeline, as `guardia up` runs it, at steady contact rates and in a burst.

    .venv/bin/python bench/pipeline.py                                   # rates 20,40,60,120 for 30 s, burst 1000
    .venv/bin/python bench/pipeline.py --rates 10,20 --seconds 10 --burst 200 --json results.json

What runs: a nats-server of its own (guardia.embedded.EmbeddedNats, in a temporary folder), and
`guardia up` as a real child process against it (NATS_URL set, so it starts no server of its own): the
HTTP gateway and the five services, one process each under its supervisor, exactly as an operator
runs them. This script only
talks to it from outside: HTTP to the gateway, NATS to watch the event log.

What is measured, in one run on one machine:

1. Baseline: a raw nats-py consume -> validate -> publish -> ack hop (fetch batches of 100, the same
   envelope validation the services do) on its own stream of the same server, messages/s. Every
   pipeline figure is divided by it, so ratios stay comparable across machines.
2. Steady rates: for each rate R, contacts are posted at exactly R per second (the i-th POST goes out
   at t0 + i/R whether or not earlier ones were answered) for T seconds. The latency of a contact runs
   from just before its POST to the moment notify publishes the customer's acknowledgment
   (`notification.sent` whose notification_id ends in ":acknowledgment"). Per rate: p50, p99 and max
   latency, and the acknowledgments achieved per second. A burst alone only shows queueing: every
   contact waits behind the ones posted with it, so its p50 is about half the time to drain the lot
   and says nothing about the latency at a load the pipeline can sustain. Steady rates show both: below
   capacity, latency stays flat and the achieved rate equals R; past it, latency grows with the run
   length and the achieved rate stops at the pipeline's capacity.
3. Burst: N contacts posted at once (64 HTTP requests in flight), time until every one is acknowledged.
4. Work per contact, per phase: handler runs (sum over every consumer of GUARDIA_EVENTS of its
   delivered consumer sequence, so redeliveries count) and events written to GUARDIA_EVENTS, each
   divided by the contacts the gateway accepted (202); for the burst also the events per contact by type.

Between phases the script waits until the pipeline is idle (no consumer of GUARDIA_EVENTS has
pending or unacknowledged messages), so a phase neither inherits nor leaves behind a backlog. Only
requests are posted (a greeting or a thank-you is acknowledged by nobody, by design), each with its own
provider message id and customer, so none is merged into another ticket. A few warm-up contacts go
through first and are not counted (lazy loading in the services would otherwise land on the first rate).

The client shares the machine with guardia and nats-server: on a small machine it takes CPU from
them. Per rate, the POSTs actually sent per second ("sent/s") and the largest delay between a POST's
planned and actual send time ("late ms") are reported; if sent/s falls short of the rate, the client,
not the pipeline, set the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import yaml
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from guardia.demo import CONTACTS, load_contacts
from guardia.embedded import EmbeddedNats, free_port
from guardia.logs import configure
from shared.schemas import Status, StatusChanged, decode_event, make_event

EVENTS = "GUARDIA_EVENTS"
#: the gateway's bootstrap token for this run (an `agent`): the API needs a bearer token
API_TOKEN = "gdt_bench-" + secrets.token_hex(16)
ACK_SUBJECT = "ev.*.*.notification.sent"
BURST_IN_FLIGHT = 64
RATE_IN_FLIGHT = 64  # open requests at most in the steady-rate phases
IDLE_TIMEOUT = 300.0  # seconds to wait for the pipeline to go idle between phases
TERM_GRACE = 15.0  # seconds between SIGTERM and SIGKILL for the guardia child


# --------------------------------------------------------------------------------------------- baseline


async def baseline(url: str, n: int) -> float:
    """Raw nats-py: the cheapest honest version of one service hop."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH", subjects=["bench.>"]))
    body = make_event(StatusChanged(status=Status.en_proceso), tenant="bench", occurred_at=datetime.now(UTC),
                      producer="bench").to_json()
    await asyncio.gather(*(js.publish("bench.in", body, stream="BENCH") for _ in range(n)))
    sub = await js.pull_subscribe("bench.in", durable="hop", stream="BENCH")
    done = 0
    start = time.perf_counter()
    while done < n:
        for msg in await sub.fetch(batch=min(100, n - done), timeout=5):
            event = decode_event(msg.data)
            out = event.derive(event.payload, producer="bench")
            await js.publish("bench.out", out.to_json(), headers={"Nats-Msg-Id": str(out.event_id)}, stream="BENCH")
            await msg.ack()
            done += 1
    elapsed = time.perf_counter() - start
    await js.delete_stream("BENCH")  # leave the server to guardia
    await nc.close()
    return n / elapsed


# --------------------------------------------------------------------------------------- guardia child


@dataclass
class Child:
    process: subprocess.Popen[bytes]
    stop_seconds: float | None = None  # SIGTERM -> exit
    killed: bool = False


@contextlib.contextmanager
def guardia_up(nats_url: str, http_port: int, data_dir: Path, log_path: Path) -> Iterator[Child]:
    """`guardia up` as a child process; SIGTERM on exit (SIGKILL after TERM_GRACE s), whatever happened."""
    env = {**os.environ, "NATS_URL": nats_url, "GUARDIA_HTTP_PORT": str(http_port),
           "GUARDIA_DATA_DIR": str(data_dir), "GUARDIA_LOG_LEVEL": "WARNING", "GUARDIA_BOOTSTRAP_TOKEN": API_TOKEN}
    with log_path.open("wb") as log_file:
        # Its own session: a Ctrl-C at the terminal reaches this script only, which then stops the child.
        child = subprocess.Popen([sys.executable, "-m", "guardia.cli", "up"], env=env, stdin=subprocess.DEVNULL,
                                 stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        handle = Child(child)
        try:
            yield handle
        finally:
            if child.poll() is None:
                sent = time.perf_counter()
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=TERM_GRACE)
                except subprocess.TimeoutExpired:
                    print(f"guardia did not stop within {TERM_GRACE:.0f} s of SIGTERM: SIGKILL", file=sys.stderr)
                    handle.killed = True
                    child.kill()
                    child.wait()
                handle.stop_seconds = time.perf_counter() - sent


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


async def wait_ready(base_url: str, js: JetStreamContext, child: subprocess.Popen[bytes], log_path: Path,
                     within: float = 120.0) -> int:
    """Until /healthz answers 200, then until the consumers of GUARDIA_EVENTS stop appearing (at least
    3 s, and their number unchanged for 2 s). Returns that number of consumers."""
    deadline = time.monotonic() + within

    def check_child() -> None:
        if child.poll() is not None:
            raise RuntimeError(f"guardia up exited with {child.returncode}:\n{tail(log_path)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"guardia up not ready within {within:.0f} s:\n{tail(log_path)}")

    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        while True:
            check_child()
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.2)
    healthy = time.monotonic()
    count, stable_since = -1, time.monotonic()
    while True:
        check_child()
        try:
            now_count = len(await consumers(js))
        except Exception:  # the stream may not exist yet
            now_count = 0
        if now_count != count:
            count, stable_since = now_count, time.monotonic()
        if count > 0 and time.monotonic() - healthy >= 3 and time.monotonic() - stable_since >= 2:
            return count
        await asyncio.sleep(0.25)


# ------------------------------------------------------------------------------------ event-log readings


async def consumers(js: JetStreamContext) -> list[Any]:
    """Every consumer of GUARDIA_EVENTS (the listing comes in pages of 256)."""
    found: list[Any] = []
    while True:
        page = await js.consumers_info(EVENTS, offset=len(found) or None)
        if not page:
            return found
        found.extend(page)
        if len(page) < 256:
            return found


def process_cpu(up_pid: int, nats_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of nats-server and of each process of `guardia up` (the
    supervisor and one per service), from /proc: where a contact's cost goes, process by process."""
    found = {"nats-server": _cpu(nats_pid), "supervisor": _cpu(up_pid)}
    with contextlib.suppress(OSError):
        for pid in Path(f"/proc/{up_pid}/task/{up_pid}/children").read_text().split():
            args = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            found[args[-1].decode()] = found.get(args[-1].decode(), 0.0) + _cpu(int(pid))
    return found


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Snapshot:
    handler_runs: int  # sum of delivered.consumer_seq over the consumers of GUARDIA_EVENTS
    events: int  # messages in GUARDIA_EVENTS
    by_type: dict[str, int]  # messages per "<aggregate>.<event>"


async def snapshot(js: JetStreamContext) -> Snapshot:
    runs = sum(c.delivered.consumer_seq for c in await consumers(js) if c.delivered is not None)
    info = await js.stream_info(EVENTS, subjects_filter="ev.>")
    by_type: Counter[str] = Counter()
    for subject, count in (info.state.subjects or {}).items():
        by_type[".".join(subject.split(".")[-2:])] += count
    return Snapshot(runs, info.state.messages, dict(by_type))


async def wait_idle(js: JetStreamContext, within: float = IDLE_TIMEOUT) -> bool:
    """Until no consumer of GUARDIA_EVENTS has pending or unacknowledged messages, twice in a row."""
    deadline = time.monotonic() + within
    quiet = 0
    while time.monotonic() < deadline:
        busy = [c for c in await consumers(js) if (c.num_pending or 0) or (c.num_ack_pending or 0)]
        quiet = 0 if busy else quiet + 1
        if quiet >= 2:
            return True
        await asyncio.sleep(0.25)
    return False


# ----------------------------------------------------------------------------------------------- phases


@dataclass
class Phase:
    name: str
    rate: float | None  # contacts/s offered; None for the burst
    posted: int = 0
    http_errors: int = 0
    acknowledged: int = 0  # by the time the pipeline went idle after the phase
    acknowledged_within_drain: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    post_seconds: float = 0.0  # first POST sent -> last POST answered
    seconds_to_last_ack: float | None = None  # first POST sent -> last acknowledgment
    achieved_per_s: float | None = None  # acknowledged / seconds_to_last_ack
    max_send_late_ms: float = 0.0  # worst delay of a POST behind its schedule (steady rates)
    sent_per_s: float | None = None  # POSTs actually sent per second (steady rates): below the rate if late
    went_idle: bool = True
    handler_runs_per_contact: float | None = None
    events_per_contact: float | None = None
    cpu_ms_per_contact: dict[str, float] = field(default_factory=dict)
    events_per_contact_by_type: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    errors_sample: list[str] = field(default_factory=list)
    unacknowledged_sample: list[str] = field(default_factory=list)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


class Bench:
    """The client side: builds contacts, posts them, and timestamps their acknowledgments."""

    def __init__(self, http: httpx.AsyncClient, js: JetStreamContext, drain: float,
                 cpu: Callable[[], dict[str, float]] | None = None) -> None:
        self.cpu = cpu or dict
        self.http = http
        self.js = js
        self.drain = drain
        self.acks: dict[str, float] = {}  # ticket_id -> perf_counter when its acknowledgment was seen
        self.serial = 0
        # Only requests: a greeting or a thank-you (type null) is acknowledged by nobody, by design.
        requests = {c["provider_message_id"] for c in yaml.safe_load(CONTACTS.read_text()) if c["expect"]["type"]}
        self.samples = [b for b in load_contacts() if b["provider_message_id"] in requests]
        if not self.samples:
            raise RuntimeError(f"no request among the demo contacts ({CONTACTS})")

    async def on_sent(self, msg: Msg) -> None:
        seen = time.perf_counter()
        doc = json.loads(msg.data)
        if str(doc["data"]["notification_id"]).endswith(":acknowledgment"):
            self.acks.setdefault(str(doc["ticket_id"]), seen)

    def body(self, tag: str) -> dict[str, Any]:
        i = self.serial
        self.serial += 1
        body = dict(self.samples[i % len(self.samples)])
        body.update(provider_message_id=f"bench-{tag}-{i}", received_at=datetime.now(UTC).isoformat(),
                    customer={**body["customer"], "email": f"bench{i}@cliente{i}.co", "phone": None},
                    channel="email", tenant="mecodex")
        return body

    async def post(self, tag: str, phase: Phase, posted: dict[str, float], outcomes: Counter[str],
                   planned: float | None = None) -> None:
        """One POST. Its latency runs from `planned` (its place in the schedule) when given: a request
        that waited for a free connection waited because the pipeline was slow to answer, and leaving
        that wait out would hide exactly the queueing a steady rate is meant to show."""
        body = self.body(tag.split()[0].replace("/", ""))
        t0 = planned if planned is not None else time.perf_counter()
        try:
            response = await self.http.post("/v1/contacts", json=body)
            if response.status_code != 202:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
            answer = response.json()
        except Exception as exc:
            phase.http_errors += 1
            if len(phase.errors_sample) < 5:
                phase.errors_sample.append(f"{body['provider_message_id']}: {exc!r}"[:300])
            return
        posted[answer["ticket_id"]] = t0
        outcomes[str(answer.get("outcome"))] += 1

    async def run(self, phase: Phase, count: int, rate: float | None) -> Phase:
        """Post `count` contacts (at `rate`/s, or all at once with BURST_IN_FLIGHT in flight), wait for
        their acknowledgments (up to `drain` s after the last POST), then for the pipeline to go idle."""
        before = await snapshot(self.js)
        cpu_before = self.cpu()
        posted: dict[str, float] = {}
        outcomes: Counter[str] = Counter()
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter() + 0.05
        if rate is not None:
            # At most RATE_IN_FLIGHT requests open at once, like a provider's webhook senders: thousands
            # of requests queued inside httpx's connection pool cost the client quadratic CPU, which
            # on two cores starved the pipeline it was measuring.
            in_flight = asyncio.Semaphore(RATE_IN_FLIGHT)

            async def scheduled(planned: float) -> None:
                async with in_flight:
                    await self.post(phase.name, phase, posted, outcomes, planned)

            for i in range(count):
                planned = start + i / rate
                delay = planned - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                phase.max_send_late_ms = max(phase.max_send_late_ms, 1000 * (time.perf_counter() - planned))
                tasks.append(asyncio.create_task(scheduled(planned)))
            if count > 1:
                phase.sent_per_s = (count - 1) / (time.perf_counter() - start)
        else:
            limit = asyncio.Semaphore(BURST_IN_FLIGHT)

            async def limited() -> None:
                async with limit:
                    await self.post(phase.name, phase, posted, outcomes)

            await asyncio.sleep(max(0.0, start - time.perf_counter()))
            tasks = [asyncio.create_task(limited()) for _ in range(count)]
        await asyncio.gather(*tasks)
        posted_at = time.perf_counter()
        first_post = min(posted.values(), default=start)
        phase.post_seconds = posted_at - first_post
        drain_deadline = posted_at + self.drain
        while time.perf_counter() < drain_deadline and any(t not in self.acks for t in posted):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        phase.went_idle = await wait_idle(self.js)
        after = await snapshot(self.js)
        cpu_after = self.cpu()

        phase.posted = count
        phase.outcomes = dict(outcomes)
        done = {t: self.acks[t] for t in posted if t in self.acks}
        phase.acknowledged = len(done)
        phase.acknowledged_within_drain = sum(1 for at in done.values() if at <= drain_deadline)
        phase.unacknowledged_sample = [t for t in posted if t not in self.acks][:10]
        latencies = sorted(done[t] - posted[t] for t in done)
        if latencies:
            phase.p50_ms = 1000 * percentile(latencies, 0.50)
            phase.p99_ms = 1000 * percentile(latencies, 0.99)
            phase.max_ms = 1000 * latencies[-1]
            phase.seconds_to_last_ack = max(done.values()) - first_post
            phase.achieved_per_s = len(done) / phase.seconds_to_last_ack
        if accepted := len(posted):  # per contact the gateway answered 202
            phase.handler_runs_per_contact = (after.handler_runs - before.handler_runs) / accepted
            phase.events_per_contact = (after.events - before.events) / accepted
            phase.cpu_ms_per_contact = {name: 1000 * (cpu_after.get(name, 0.0) - cpu_before.get(name, 0.0)) / accepted
                                        for name in cpu_after}
            phase.events_per_contact_by_type = {
                kind: (n - before.by_type.get(kind, 0)) / accepted
                for kind, n in sorted(after.by_type.items()) if n != before.by_type.get(kind, 0)
            }
        return phase


# --------------------------------------------------------------------------------------------- report


def fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def report(hop: float, consumer_count: int, phases: list[Phase], warmup: Phase | None) -> None:
    print()
    print(f"raw nats-py hop (consume-validate-publish-ack): {hop:,.0f} msg/s")
    print(f"guardia up: {consumer_count} consumers on {EVENTS}")
    if warmup is not None:
        print(f"warm-up: {warmup.acknowledged}/{warmup.posted} acknowledged, max {fmt(warmup.max_ms)} ms (not counted)")
    print()
    header = ("phase", "offered/s", "sent/s", "posted", "http err", "acked", "in drain", "p50 ms", "p99 ms", "max ms",
              "acked/s", "ratio", "runs/c", "events/c", "late ms")
    rows = [header]
    for p in phases:
        rows.append((
            p.name, fmt(p.rate, ",.0f") if p.rate is not None else "burst", fmt(p.sent_per_s, ",.1f"),
            str(p.posted), str(p.http_errors),
            str(p.acknowledged), str(p.acknowledged_within_drain), fmt(p.p50_ms), fmt(p.p99_ms), fmt(p.max_ms),
            fmt(p.achieved_per_s, ",.1f"), fmt(p.achieved_per_s / hop if p.achieved_per_s else None, ".4f"),
            fmt(p.handler_runs_per_contact, ".1f"), fmt(p.events_per_contact, ".1f"),
            fmt(p.max_send_late_ms) if p.rate is not None else "-",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    names = sorted({n for p in phases for n in p.cpu_ms_per_contact}, key=lambda n: (n != "nats-server", n))
    if names:
        print("\nCPU ms per contact, by process (the machine has "
              f"{os.cpu_count()} cores: {1000 * (os.cpu_count() or 1):,} ms of CPU per second)")
        print("  ".join(["phase".ljust(12), *(n.rjust(11) for n in names), "total".rjust(8)]))
        for p in phases:
            cells = [f"{p.cpu_ms_per_contact.get(n, 0.0):11.1f}" for n in names]
            print("  ".join([p.name.ljust(12), *cells, f"{sum(p.cpu_ms_per_contact.values()):8.1f}"]))
    print()
    print("ratio (achieved contacts/s ÷ raw hop msg/s): " + ", ".join(
        f"{p.name} {p.achieved_per_s / hop:.4f}" for p in phases if p.achieved_per_s))
    for p in phases:
        if p.rate is None and p.seconds_to_last_ack is not None:
            print(f"burst: {p.acknowledged}/{p.posted} acknowledged {p.seconds_to_last_ack:.1f} s after the first POST "
                  f"(all POSTs answered in {p.post_seconds:.1f} s), p50 {fmt(p.p50_ms)} ms, p99 {fmt(p.p99_ms)} ms, "
                  f"max {fmt(p.max_ms)} ms")
            print("events per contact by type (burst):")
            for kind, per in sorted(p.events_per_contact_by_type.items(), key=lambda kv: (-kv[1], kv[0])):
                print(f"  {kind:<32} {per:6.2f}")
    for p in [*([warmup] if warmup else []), *phases]:
        problems = []
        if p.http_errors:
            problems.append(f"{p.http_errors} POSTs failed, e.g. {p.errors_sample}")
        if p.acknowledged < p.posted - p.http_errors:
            problems.append(f"{p.posted - p.http_errors - p.acknowledged} never acknowledged, e.g. tickets "
                            f"{p.unacknowledged_sample}")
        if not p.went_idle:
            problems.append(f"pipeline not idle {IDLE_TIMEOUT:.0f} s after the drain")
        if set(p.outcomes) - {"opened"}:
            problems.append(f"outcomes {p.outcomes}")
        if problems:
            print(f"WARNING {p.name}: " + "; ".join(problems))


# ------------------------------------------------------------------------------------------------ main


async def measure(args: argparse.Namespace, nats_url: str, base_url: str, child: subprocess.Popen[bytes],
                  log_path: Path, nats_pid: int) -> dict[str, Any]:
    nc: NATS = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        consumer_count = await wait_ready(base_url, js, child, log_path)
        # Idle connections are dropped after 1 s, well before uvicorn closes them (5 s): reusing one
        # the server is closing at that moment fails the POST with a ReadError.
        limits = httpx.Limits(max_connections=RATE_IN_FLIGHT, max_keepalive_connections=RATE_IN_FLIGHT,
                              keepalive_expiry=1.0)
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits,
                                     headers={"Authorization": f"Bearer {API_TOKEN}"}) as http:
            bench = Bench(http, js, args.drain, cpu=lambda: process_cpu(child.pid, nats_pid))
            # A core subscription, not a JetStream consumer: it adds no consumer to the counts above.
            await nc.subscribe(ACK_SUBJECT, cb=bench.on_sent, pending_msgs_limit=-1, pending_bytes_limit=-1)
            await nc.flush()
            warmup = None
            if args.warmup:
                warmup = await bench.run(Phase("warm-up", None), args.warmup, None)
            phases: list[Phase] = []
            for rate in args.rates:
                print(f"rate {rate:g}/s for {args.seconds:g} s ...", file=sys.stderr, flush=True)
                count = round(rate * args.seconds)
                phases.append(await bench.run(Phase(f"{rate:g}/s", rate), count, rate))
            if args.burst:
                print(f"burst of {args.burst} ...", file=sys.stderr, flush=True)
                phases.append(await bench.run(Phase(f"burst {args.burst}", None), args.burst, None))
    finally:
        await nc.close()
    return {"consumers": consumer_count, "warmup": warmup, "phases": phases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rates", default="20,40,60,120", help="contacts/s, comma-separated (default 20,40,60,120)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each rate is offered (default 30)")
    parser.add_argument("--drain", type=float, default=60.0,
                        help="seconds to wait for outstanding acknowledgments after the last POST (default 60)")
    parser.add_argument("--burst", type=int, default=1000, help="contacts posted at once; 0 skips (default 1000)")
    parser.add_argument("--warmup", type=int, default=10, help="uncounted contacts first; 0 skips (default 10)")
    parser.add_argument("--hops", type=int, default=5000, help="messages through the raw hop (default 5000)")
    parser.add_argument("--json", type=Path, default=None, help="write every result to this file as JSON")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if any(r <= 0 for r in args.rates):
        parser.error("--rates must be positive")
    configure("console", "WARNING")

    def stop_on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwinds through the context managers below, which stop both children

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="guardia-bench-") as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        print("raw hop ...", file=sys.stderr, flush=True)
        hop = asyncio.run(baseline(server.url, args.hops))
        port = free_port()
        log_path = Path(tmp) / "guardia-up.log"
        print("starting guardia up ...", file=sys.stderr, flush=True)
        with guardia_up(server.url, port, Path(tmp) / "data", log_path) as child:
            assert server.process is not None
            result = asyncio.run(measure(args, server.url, f"http://127.0.0.1:{port}", child.process, log_path,
                                         server.process.pid))
        child_output = tail(log_path, 4000)
    report(hop, result["consumers"], result["phases"], result["warmup"])
    print(f"\nguardia up stopped {fmt(child.stop_seconds, '.1f')} s after SIGTERM with exit code "
          f"{child.process.returncode}{' (SIGKILL)' if child.killed else ''}")
    if child_output.strip():
        print(f"guardia up printed (last {len(child_output)} characters):\n{child_output}")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "measured_at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "raw_hop_msg_per_s": hop, "consumers": result["consumers"],
            "guardia_exit": {"code": child.process.returncode, "stop_seconds": child.stop_seconds,
                             "killed": child.killed},
            "warmup": asdict(result["warmup"]) if result["warmup"] else None,
            "phases": [asdict(p) | {"ratio": p.achieved_per_s / hop if p.achieved_per_s else None}
                       for p in result["phases"]],
        }, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # guardia and nats-server were stopped on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
