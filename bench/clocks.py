"""Benchmark: many armed clocks, and how close to their instant warnings fire.

    .venv/bin/python bench/clocks.py --clocks 1000000 --live 200 --settle 300

1. Armed and tracked: N clocks as sla_watch keeps them, each one KV entry (the engine's state for a
   ticket, ~0.6 KB of JSON) and one NATS message schedule 30 days ahead. Reports the nats-server's
   resident memory (sla_watch keeps no clock in memory between messages): its peak while arming, right
   after, and its peak over `--settle` more seconds (a couple of minutes later the store drops its
   write caches and writes its index state), with the GOMEMLIMIT the embedded server ran with
   (guardia/embedded.py), and the store's size.
2. Live: M tickets through the real sla_watch service whose 50 % warning falls 3-20 s ahead; for
   each `sla.warning` event, the delay between its instant (occurred_at) and when a subscriber
   received it. Reports p50 / p99 / max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import nats

from guardia.bus import timers
from guardia.bus.topology import EVENTS, bucket, ensure_streams
from guardia.embedded import DEFAULT_MEMORY_LIMIT, EmbeddedNats
from guardia.logs import configure
from guardia.policy import Policies
from guardia.runner import running
from guardia.settings import Settings
from services.sla_watch.engine import Engine
from services.sla_watch.rules import SlaRules, TicketClocks
from shared.schemas import Channel, Customer, Priority, TicketClassified, TicketOpened, TicketType, make_event
from shared.schemas.vocabulary import Area


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def gomemlimit(pid: int) -> str:
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next((e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"GOMEMLIMIT=")), "unset")


def du_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


async def armed(url: str, n: int, pid: int, store: Path, settle: float) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js)
    kv = await bucket(js, "sla_clocks")
    policy = Policies.load()["navegasoft"]
    rules = SlaRules(policy.sla, Engine(policy.business_calendar), False, policy.version)
    now = datetime.now(UTC)
    t = TicketClocks(tenant="navegasoft", opened_at=now, channel=Channel.email, correlation_id=str(uuid4()))
    rules.classify(t, TicketType.solicitud, Priority.media, now)
    state = json.dumps(t.to_state(), separators=(",", ":")).encode()  # exactly what sla_watch stores
    far = now + timedelta(days=30)
    before = peak = rss_mib(pid)
    start = time.perf_counter()
    chunk = 2000
    for i in range(0, n, chunk):
        ids = [f"{uuid4()}" for _ in range(min(chunk, n - i))]
        await asyncio.gather(*(kv.put(tid, state) for tid in ids))
        await asyncio.gather(*(timers.arm(js, f"sla.{tid}.resolution", far, {"ticket_id": tid}) for tid in ids))
        peak = max(peak, rss_mib(pid))
        if (i // chunk) % 50 == 0:
            print(f"  {i + len(ids):>9,} clocks, nats-server RSS {rss_mib(pid):,.0f} MiB", flush=True)
    elapsed = time.perf_counter() - start
    await asyncio.sleep(2)
    print(f"armed and tracked {n:,} clocks in {elapsed:,.0f} s ({n / elapsed:,.0f}/s)")
    print(f"nats-server (GOMEMLIMIT={gomemlimit(pid)}) RSS: {before:,.0f} MiB before, peak {peak:,.0f} MiB "
          f"while arming, {rss_mib(pid):,.0f} MiB after; store on disk {du_mib(store):,.0f} MiB; "
          f"state per clock {len(state)} B")
    if settle:  # the store drops its write caches and compacts a couple of minutes later: watch it
        settled_peak, until = 0.0, time.monotonic() + settle
        while time.monotonic() < until:
            await asyncio.sleep(1)
            settled_peak = max(settled_peak, rss_mib(pid))
        print(f"over {settle:.0f} s more: nats-server RSS peak {settled_peak:,.0f} MiB, "
              f"{rss_mib(pid):,.0f} MiB at the end")
    await nc.close()


async def live(url: str, m: int, data_dir: Path) -> None:
    settings = Settings(nats_url=url, data_dir=data_dir, http_port=0, log_level="WARNING")
    delays: list[float] = []
    async with running(("sla_watch",), settings):
        nc = await nats.connect(url)
        js = nc.jetstream()

        async def on_warning(msg: nats.aio.msg.Msg) -> None:
            received = datetime.now(UTC)
            doc = json.loads(msg.data)
            if doc["data"]["fraction"] == 0.5:
                delays.append((received - datetime.fromisoformat(doc["occurred_at"])).total_seconds())

        await nc.subscribe("ev.*.*.sla.warning", cb=on_warning)
        now = datetime.now(UTC)
        for i in range(m):
            # problema, 24 h: its 50 % instant is opened + 12 h; put it 3-20 s ahead
            opened_at = now - timedelta(hours=12) + timedelta(seconds=3 + 17 * i / m)
            tid = uuid4()
            opened = make_event(TicketOpened(ticket_number=f"B-{i}", channel=Channel.email,
                                             customer=Customer(email=f"b{i}@x.co"), text="x", contact_id=str(i)),
                                tenant="navegasoft", occurred_at=opened_at, producer="bench", ticket_id=tid)
            classified = opened.derive(TicketClassified(ticket_type=TicketType.problema, priority=Priority.media,
                                                        area=Area.otro, confidence=1, classifier="bench"),
                                       producer="bench", at=now)
            await js.publish(opened.subject, opened.to_json(), stream=EVENTS)
            await js.publish(classified.subject, classified.to_json(), stream=EVENTS)
        deadline = time.monotonic() + 60
        while len(delays) < m and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await nc.close()
    delays.sort()
    print(f"live: {len(delays)}/{m} 50 % warnings received; delay after their instant: "
          f"p50 {statistics.median(delays):.3f} s, p99 {delays[int(0.99 * (len(delays) - 1))]:.3f} s, "
          f"max {delays[-1]:.3f} s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clocks", type=int, default=1_000_000)
    parser.add_argument("--live", type=int, default=200)
    parser.add_argument("--settle", type=float, default=0.0, help="seconds to keep watching RSS after arming")
    parser.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT,
                        help="GOMEMLIMIT of the embedded nats-server; '' for none (the Go default)")
    args = parser.parse_args()
    configure("console", "WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "nats"
        with EmbeddedNats(store, memory_limit=args.memory_limit or None) as server:
            assert server.process is not None
            if args.live:
                await live(server.url, args.live, Path(tmp))
            if args.clocks:
                await armed(server.url, args.clocks, server.process.pid, store, args.settle)


if __name__ == "__main__":
    asyncio.run(main())
