"""guardia as operations run it, to be hurt: every service replica its own `guardia run` process, a
nats-server that can be killed and brought back on the same store, contacts posted the way providers
post them (retried until a 2xx), and a ledger that says what was lost, doubled or reordered.

Used by the kill -9 test and the replica tests (the long variant of the former is an environment
variable away, see test_kill9.py). `nodes=3` runs NATS as a three-node cluster (test_nats_cluster.py);
`passwords` turns on the NATS users of deploy/nats-accounts.conf, every service connecting as its own
(tests/deploy/test_nats_permissions.py), the harness itself as admin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import yaml
from nats.js import JetStreamContext

from guardia.bus.topology import DLQ, EVENTS
from guardia.demo import CONTACTS, load_contacts
from guardia.embedded import EmbeddedNats, free_port
from guardia.eventlog import read_stream
from guardia.natsauth import ADMIN, env_password
from tests.api import TEST_TOKEN, api_client

from ..e2e.helpers import IDEAS

SERVICES = ("intake", "triage", "sla_watch", "escalation", "notify")
GUARDIA = Path(sys.executable).parent / "guardia"
ACCOUNTS = Path(__file__).resolve().parents[2] / "deploy" / "nats-accounts.conf"



def contacts(n: int, tenant: str = "navegasoft", ideas_every: int = 0, tag: str = "c") -> list[dict[str, Any]]:
    """`n` requests from `n` different customers (so `n` tickets); every `ideas_every`-th one an idea."""
    wanted = {c["provider_message_id"] for c in yaml.safe_load(CONTACTS.read_text()) if c["expect"]["type"]}
    samples = [b for b in load_contacts() if b["provider_message_id"] in wanted]
    bodies = []
    for i in range(n):
        body = dict(samples[i % len(samples)])
        if ideas_every and i % ideas_every == 0:
            body["text"], body["subject"] = IDEAS[(i // ideas_every) % len(IDEAS)], ""
        body.update(provider_message_id=f"{tag}-{i}", received_at=datetime.now(UTC).isoformat(), tenant=tenant,
                    channel="email", customer={"name": f"Cliente {i}", "email": f"{tag}{i}@cliente{i}.co"})
        bodies.append(body)
    return bodies


@dataclass
class Replica:
    service: str
    index: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([str(GUARDIA), "run", self.service], env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        if self.alive:
            assert self.process is not None
            self.kills += 1
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()


@dataclass
class Cluster:
    """nats-server plus `replicas` processes of every service, all on this machine's loopback."""

    root: Path
    replicas: int = 1
    crash_points: str = ""
    env: dict[str, str] = field(default_factory=dict)  # more settings for every process
    ack_wait: float = 3.0
    max_deliver: int = 5
    nats_port: int = field(default_factory=free_port)
    nodes: int = 1  # nats-servers; more than one: a JetStream cluster, streams at that many replicas
    passwords: dict[str, str] | None = None  # user -> password: NATS users on (deploy/nats-accounts.conf)
    members: list[Replica] = field(default_factory=list)
    nats: EmbeddedNats | None = None
    servers: list[EmbeddedNats] = field(default_factory=list)  # every node (nats is the first)
    nats_kills: int = 0
    _supervising: bool = False
    _supervisor: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.ports = [self.nats_port] + [free_port() for _ in range(self.nodes - 1)]
        self.route_ports = [free_port() for _ in range(self.nodes)] if self.nodes > 1 else []

    @property
    def url(self) -> str:
        """NATS_URL of every process: each node, comma-separated."""
        return ",".join(f"nats://127.0.0.1:{port}" for port in self.ports)

    async def connect(self, **options: Any) -> nats.aio.client.Client:
        """The harness's own connection (as admin when users are on)."""
        auth = {"user": ADMIN, "password": self.passwords[ADMIN]} if self.passwords else {}
        return await nats.connect(self.url.split(","), **auth, **options)

    def node_config(self, i: int) -> str:
        """nats.conf beyond listen and JetStream: the node's name and routes, the accounts."""
        text = ""
        if self.nodes > 1:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.route_ports)
            text += (f"server_name: n{i + 1}\n"
                     f"cluster {{ name: guardia, listen: 127.0.0.1:{self.route_ports[i]}, routes: [{routes}] }}\n")
        if self.passwords:
            text += ACCOUNTS.read_text()
        return text

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def gateways(self) -> list[str]:
        return [f"http://127.0.0.1:{m.env['GUARDIA_HTTP_PORT']}" for m in self.members if m.service == "intake"]

    def start_nats(self, node: int | None = None) -> None:
        """Start every node (or one again, on its own store)."""
        env = {env_password(user): pw for user, pw in (self.passwords or {}).items()}
        for i in range(self.nodes) if node is None else [node]:
            server = EmbeddedNats(self.root / ("nats" if i == 0 else f"nats-{i + 1}"), port=self.ports[i],
                                  extra_config=self.node_config(i), env=env)
            server.start()  # listens at once; a cluster's JetStream waits for its meta leader (wait_cluster)
            if i < len(self.servers):
                self.servers[i] = server  # the same node again, on its store
            else:
                self.servers.append(server)
        self.nats = self.servers[0]

    async def wait_cluster(self, within: float = 60.0) -> None:
        """JetStream answers and can place a stream on every node: the meta leader is elected and every
        peer is current (an R3 stream created too early fails with 'insufficient resources')."""
        deadline = time.monotonic() + within
        last = ""
        while time.monotonic() < deadline:
            try:
                nc = await self.connect(connect_timeout=1, max_reconnect_attempts=0)
            except Exception as exc:
                last = str(exc)
                await asyncio.sleep(0.3)
                continue
            try:
                js = nc.jetstream(timeout=3)
                await js.add_stream(name="PROBE", subjects=["probe.cluster"], num_replicas=self.nodes,
                                    storage=nats.js.api.StorageType.MEMORY)
                await js.delete_stream("PROBE")
                return
            except Exception as exc:
                last = f"{type(exc).__name__}: {exc}"
            finally:
                await nc.close()
            await asyncio.sleep(0.5)
        raise AssertionError(f"NATS cluster not ready within {within}s: {last}")

    async def leader_of(self, stream: str) -> int:
        """Index of the node that leads `stream`'s replicas."""
        nc = await self.connect()
        try:
            info = await nc.jetstream().stream_info(stream)
        finally:
            await nc.close()
        assert info.cluster is not None and info.cluster.leader is not None
        return int(info.cluster.leader.removeprefix("n")) - 1

    def kill9_nats(self, node: int = 0) -> None:
        server = self.servers[node]
        assert server.process is not None
        self.nats_kills += 1
        server.process.kill()
        server.process.wait()

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        self.start_nats()
        if self.nodes > 1:
            await self.wait_cluster()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDIA_", "NATS_"))}
        for service in SERVICES:
            for i in range(self.replicas):
                users = ({"GUARDIA_NATS_USER": service, "GUARDIA_NATS_PASSWORD": self.passwords[service]}
                         if self.passwords else {})
                env = {**base, "NATS_URL": self.url, "GUARDIA_DATA_DIR": str(self.data_dir),
                       "GUARDIA_NATS_REPLICAS": str(self.nodes), **users,
                       "GUARDIA_LOG_LEVEL": "WARNING", "GUARDIA_LOG_FORMAT": "json",
                       "GUARDIA_ACK_WAIT_SECONDS": str(self.ack_wait), "GUARDIA_MAX_DELIVER": str(self.max_deliver),
                       "GUARDIA_HTTP_PORT": str(free_port()), "GUARDIA_CRASH_POINTS": self.crash_points,
                       "GUARDIA_BOOTSTRAP_TOKEN": TEST_TOKEN,
                       **self.env}
                self.members.append(Replica(service, i, env, self.root / f"{service}-{i}.log"))
        # intake first: it creates the streams the others would otherwise race to create
        for m in self.members:
            if m.service == "intake":
                m.start()
        await self.wait_ready(("intake",))
        for m in self.members:
            if m.service != "intake":
                m.start()
        await self.wait_ready(SERVICES)
        self._supervising = True
        self._supervisor = asyncio.create_task(self._supervise())

    async def wait_ready(self, services: Iterable[str], within: float = 120.0) -> None:
        """Every partition consumer of these services has a pull waiting from every replica, and
        every gateway answers: the cluster is serving, not just started."""
        deadline = time.monotonic() + within
        wanted = set(services)
        while time.monotonic() < deadline:
            for m in self.members:
                if m.service in wanted and not m.alive and not self._supervising:
                    raise AssertionError(f"{m.name} exited at start: {m.log.read_text()[-3000:]}")
            if await self._serving(wanted):
                return
            await asyncio.sleep(0.3)
        tails = {m.name: m.log.read_text()[-800:] for m in self.members if m.service in wanted}
        raise AssertionError(f"cluster not ready within {within}s: {tails}")

    async def _serving(self, services: set[str]) -> bool:
        try:
            nc = await self.connect(connect_timeout=1, max_reconnect_attempts=0)
        except Exception:
            return False
        try:
            infos = await nc.jetstream().consumers_info(EVENTS)
        except Exception:
            return False
        finally:
            await nc.close()
        waiting: dict[str, list[int]] = defaultdict(list)
        for info in infos:
            waiting[info.name.rsplit("-", 1)[0]].append(info.num_waiting or 0)
        for service in services:
            if not waiting.get(service) or min(waiting[service]) < self.replicas:
                return False
        if "intake" in services:
            async with httpx.AsyncClient(timeout=2) as http:
                for url in self.gateways:
                    try:
                        if (await http.get(f"{url}/healthz")).status_code != 200:
                            return False
                    except httpx.HTTPError:
                        return False
        return True

    async def _supervise(self) -> None:
        """What an orchestrator does: a dead replica is started again, a dead nats-server too."""
        while self._supervising:
            for m in self.members:
                if not m.alive:
                    await asyncio.sleep(0.2)
                    if self._supervising:
                        m.start()
            await asyncio.sleep(0.2)

    def kill_random(self, rng: random.Random, services: Iterable[str] = SERVICES) -> Replica:
        victim = rng.choice([m for m in self.members if m.service in set(services) and m.alive] or self.members)
        victim.kill9()
        return victim

    async def ledger(self) -> Ledger:
        """What the streams and the outbox say happened (read once the cluster is quiet)."""
        nc = await self.connect()
        try:
            return await Ledger.read(nc.jetstream(), self.data_dir / "outbox.jsonl")
        finally:
            await nc.close()

    async def stop(self) -> None:
        """Stop everything; never raises (a test's own failure is the one to see)."""
        with contextlib.suppress(Exception):
            await self._stop()

    async def _stop(self) -> None:
        self._supervising = False
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for m in self.members:
            m.stop()
        for server in self.servers:
            server.stop()

    def out_of_order(self) -> list[str]:
        """Handler runs that failed because an event they depend on had not been handled yet (the
        handlers raise LookupError then): with per-ticket order there must be none, kills or not."""
        found = []
        for m in self.members:
            for line in m.log.read_text(errors="replace").splitlines():
                if "handler_failed" in line and "LookupError" in line:
                    found.append(f"{m.name}: {line[:300]}")
        return found

    def crashes(self) -> int:
        """Starts beyond the first: every one is a death, by our kill or by a crash point."""
        return sum(m.starts - 1 for m in self.members)


async def post_until_accepted(http: httpx.AsyncClient, gateways: list[str], body: dict[str, Any],
                              rng: random.Random, within: float = 180.0, path: str = "/v1/contacts") -> dict[str, Any]:
    """A provider's webhook delivery (or an agent's client): the same body again, with backoff, until a 2xx."""
    deadline = time.monotonic() + within
    attempt = 0
    last = ""
    while time.monotonic() < deadline:
        try:
            answer = await http.post(f"{rng.choice(gateways)}{path}", json=body, timeout=10)
            if answer.status_code in (200, 202):
                return dict(answer.json())
            if answer.status_code < 500:
                raise AssertionError(f"contact rejected: {answer.status_code} {answer.text}")
            last = f"{answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        attempt += 1
        await asyncio.sleep(min(2.0, 0.2 * 2 ** min(attempt, 4)) * rng.uniform(0.5, 1.0))
    raise AssertionError(f"{path} {body} never accepted: {last}")


async def post_at_rate(gateways: list[str], bodies: list[dict[str, Any]], rate: float,
                       rng: random.Random) -> dict[str, dict[str, Any]]:
    """Post at `rate` per second, each with provider-style retries; answers by provider message id."""
    answers: dict[str, dict[str, Any]] = {}
    async with api_client(limits=httpx.Limits(max_connections=200)) as http:

        async def one(delay: float, body: dict[str, Any]) -> None:
            await asyncio.sleep(delay)
            answers[body["provider_message_id"]] = await post_until_accepted(http, gateways, body, rng)

        await asyncio.gather(*(one(i / rate, b) for i, b in enumerate(bodies)))
    return answers


@dataclass
class Ledger:
    """What the streams and the outbox say happened, per ticket."""

    events: list[dict[str, Any]]
    seq: dict[str, int]
    stored: dict[str, float]  # event id -> when nats-server stored it (epoch seconds)
    dead_letters: list[dict[str, Any]]
    outbox: list[dict[str, Any]]

    @staticmethod
    async def read(js: JetStreamContext, outbox_path: Path) -> Ledger:
        events, seq, stored = [], {}, {}
        async for m in read_stream(js, EVENTS, "ev.>", idle=1.0):
            doc = json.loads(m.data)
            events.append(doc)
            seq.setdefault(doc["event_id"], m.metadata.sequence.stream)
            stored.setdefault(doc["event_id"], m.metadata.timestamp.timestamp())
        letters = [json.loads(m.data) async for m in read_stream(js, DLQ, "dlq.>", idle=0.5)]
        return Ledger(events, seq, stored, letters, outbox_lines(outbox_path))

    def of(self, ticket: str) -> Counter[str]:
        return Counter(d["event_type"] for d in self.events if d.get("ticket_id") == ticket)

    def problems(self, tickets: Iterable[str]) -> list[str]:
        """Every lost, doubled or reordered thing, one line each (empty: all well)."""
        found: list[str] = []
        ids = Counter(d["event_id"] for d in self.events)
        found += [f"event {i} stored {n} times" for i, n in ids.items() if n > 1]
        found += [f"dead letter: {d['data']['source']} {d['data']['reason_code']} {d['data']['reason'][:300]}"
                  for d in self.dead_letters]
        sent = Counter(d["data"]["notification_id"] for d in self.events if d["event_type"] == "notification.sent")
        written = Counter(line["notification_id"] for line in self.outbox)
        found += [f"notification {n} written {k} times to the outbox" for n, k in written.items() if k > 1]
        for ticket in tickets:
            kinds = self.of(ticket)
            expect = {"ticket.opened": 1, "ticket.classified": 1, "ticket.assigned": 1}
            for kind, n in expect.items():
                if kinds[kind] != n:
                    found.append(f"ticket {ticket}: {kinds[kind]} × {kind}, expected {n}")
            if kinds["sla.started"] + kinds["sla.exempted"] != 1:
                found.append(f"ticket {ticket}: clock decided {kinds['sla.started'] + kinds['sla.exempted']} times")
            ack = f"{ticket}:acknowledgment"
            if sent[ack] != 1 or written[ack] != 1:
                found.append(f"ticket {ticket}: acknowledgment sent {sent[ack]} times, written {written[ack]} times")
        found += self.order_problems()
        return found

    def order_problems(self) -> list[str]:
        """Per-ticket order as each service handled it: the outputs a service published for one ticket
        follow the stream order of the events that caused them."""
        found = []
        last: dict[tuple[str, str], tuple[int, str]] = {}
        for doc in sorted(self.events, key=lambda d: self.seq[d["event_id"]]):
            cause, ticket = doc.get("causation_id"), doc.get("ticket_id")
            if cause is None or ticket is None or cause not in self.seq or doc["event_type"] == "committee.convened":
                continue  # (the convocation comes from the serial committee consumer, across tickets)
            key = (doc["producer"], ticket)
            position = self.seq[cause]
            if key in last and position < last[key][0]:
                found.append(f"{doc['producer']} handled {ticket}'s events out of order: {doc['event_type']} "
                             f"(cause at {position}) after {last[key][1]} (cause at {last[key][0]})")
            last[key] = max(last.get(key, (0, "")), (position, doc["event_type"]))
        return found

    def delay(self, ticket: str, before: str, after: str) -> float:
        """Seconds between the storing of a ticket's `before` event and its `after` event."""
        first = next(d for d in self.events if d.get("ticket_id") == ticket and d["event_type"] == before)
        then = next(d for d in self.events if d.get("ticket_id") == ticket and d["event_type"] == after)
        return self.stored[then["event_id"]] - self.stored[first["event_id"]]

    def numbers(self, tenant: str) -> list[str]:
        return sorted(d["data"]["ticket_number"] for d in self.events
                      if d["event_type"] == "ticket.opened" and d["tenant"] == tenant)

    def committees(self) -> list[dict[str, Any]]:
        return [d["data"] for d in self.events if d["event_type"] == "committee.convened"]


def outbox_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


async def quiet(cluster: Cluster, tickets: Iterable[str], within: float = 180.0) -> None:
    """Wait until every ticket's acknowledgment is in the outbox and no consumer has work left."""
    wanted = {f"{t}:acknowledgment" for t in tickets}
    outbox = cluster.data_dir / "outbox.jsonl"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        written = {line["notification_id"] for line in outbox_lines(outbox)}
        if wanted <= written and await _idle(cluster):
            return
        await asyncio.sleep(0.5)
    missing = len(wanted - written)
    raise AssertionError(f"not quiet after {within}s: {missing} acknowledgments missing")


async def _idle(cluster: Cluster) -> bool:
    """No consumer of the event log, nor intake's claim completion, has anything left to do."""
    try:
        nc = await cluster.connect(connect_timeout=1, max_reconnect_attempts=0)
    except Exception:
        return False
    try:
        js = nc.jetstream()
        streams = [EVENTS] + [s.config.name for s in await js.streams_info()
                              if s.config.name.startswith("GUARDIA_NUMBERS_")]
        for stream in streams:
            infos = await js.consumers_info(stream)
            if not all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
                return False
        return True
    except Exception:
        return False
    finally:
        await nc.close()
