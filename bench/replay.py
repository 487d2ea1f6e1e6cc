"""`guardia replay` against a raw nats-py ordered read of the same stream, in the same run.

    .venv/bin/python bench/replay.py [--events 200000]

Why it exists: the issue asks that replaying ≥ 200,000 events runs at ≥ 0.5 × the rate of a raw
nats-py ordered-consumer read (analysts-notes §3: the raw read is the ceiling, and Python work per
message divides it). The script starts its own nats-server (file storage), puts N real guardia
envelopes on GUARDIA_EVENTS (the analytics test week: 7 tickets, merges, pauses, breaches, an unknown
event type, cycled with fresh ids), then times:

1. raw: an ordered push consumer with a callback that only counts (the ceiling);
2. `replay_nats` into a temp folder: read, land, parse in DuckDB, build every table, write Parquet;
3. raw again (the machine is shared: the ratio uses the mean of both raw runs).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
from nats.js.api import StreamConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guardia.analytics.replay import ReplayOptions, new_connection, replay_nats
from guardia.bus.topology import EVENTS
from guardia.embedded import nats_server_binary
from tests.analytics.scenario import week_log

EVENT_ID_RE = re.compile(rb'"event_id": "([0-9a-f-]{36})"')
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def envelopes(n: int, source: Path | None = None) -> list[tuple[str, bytes]]:
    """N (subject, bytes): the lines of `source` (a `guardia events --json` dump) or of the analytics test
    week, every id renewed per cycle."""
    with tempfile.TemporaryDirectory() as tmp:
        path = source or week_log(Path(tmp) / "week.jsonl")
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    templates = []
    for line in lines:
        m = re.search(r'"event_type": "([a-z_]+\.[a-z_]+)"', line)
        templates.append((m.group(1) if m else "ticket.unknown", line))
    out: list[tuple[str, bytes]] = []
    cycle = 0
    while len(out) < n:
        ns = uuid.UUID(int=cycle)
        mapping: dict[str, str] = {}

        def fresh(match: re.Match[str], ns: uuid.UUID = ns, mapping: dict[str, str] = mapping) -> str:
            old = match.group(0)
            if old not in mapping:
                mapping[old] = str(uuid.uuid5(ns, old))
            return mapping[old]

        for i, (etype, line) in enumerate(templates):
            if len(out) >= n:
                break
            out.append((f"ev.navegasoft.{(cycle + i) % 16}.{etype}", UUID_RE.sub(fresh, line).encode()))
        cycle += 1
    return out


async def publish(url: str, items: list[tuple[str, bytes]]) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=EVENTS, subjects=["ev.>"]))
    t0 = time.perf_counter()
    for i, (subject, data) in enumerate(items):
        # as guardia's runtime stores every event (runtime.publish): with its id as Nats-Msg-Id, so the
        # consumers read the same HMSG frames, headers and all, that a real GUARDIA_EVENTS delivers
        event_id = EVENT_ID_RE.search(data)
        await nc.publish(subject, data, headers={"Nats-Msg-Id": event_id.group(1).decode() if event_id else str(i)})
        if i % 5000 == 4999:
            await nc.flush()
    await nc.flush()
    while (await js.stream_info(EVENTS)).state.messages < len(items):  # noqa: ASYNC110 (no event to await)
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - t0
    await nc.close()
    return len(items) / elapsed


async def raw_read(url: str, n: int) -> float:
    """The ceiling: ordered push consumer, callback counts only."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    count = 0
    done = asyncio.get_running_loop().create_future()

    async def on_msg(msg: object) -> None:
        nonlocal count
        count += 1
        if count == n and not done.done():
            done.set_result(None)

    t0 = time.perf_counter()
    sub = await js.subscribe("ev.>", stream=EVENTS, ordered_consumer=True, cb=on_msg)
    await done
    elapsed = time.perf_counter() - t0
    await sub.unsubscribe()
    await nc.close()
    return n / elapsed


def main(n: int, source: Path | None) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="guardia-bench-replay-")
    server = subprocess.Popen([nats_server_binary(), "-js", "-sd", store, "-a", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"nats://127.0.0.1:{port}"
    try:
        time.sleep(1.0)
        items = envelopes(n, source)
        size = sum(len(d) for _, d in items)
        print(f"{n:,} envelopes, {size / n:.0f} B each on average")
        print(f"publish: {asyncio.run(publish(url, items)):,.0f} msg/s")
        # library start-up out of both timings: nats-py is imported before the raw read's clock starts, and
        # so is DuckDB (a first connection, with its time zone and JSON support) before the replay's
        new_connection().close()
        raw1 = asyncio.run(raw_read(url, n))
        print(f"raw ordered read (callback, count only): {raw1:,.0f} msg/s")
        with tempfile.TemporaryDirectory(prefix="guardia-bench-replay-out-") as out:
            t0 = time.perf_counter()
            result = replay_nats(url, Path(out), ReplayOptions())
            elapsed = time.perf_counter() - t0
            run = result.run
        rate = n / elapsed
        print(f"guardia replay: {rate:,.0f} msg/s ({elapsed:.2f} s: read {run['read_seconds']} s, build "
              f"{run['build_seconds']} s, write {run['write_seconds']} s); tables {result.manifest['tables']}")
        raw2 = asyncio.run(raw_read(url, n))
        print(f"raw ordered read again: {raw2:,.0f} msg/s")
        raw = (raw1 + raw2) / 2
        print(f"ratio replay / raw (mean of both raw runs): {rate / raw:.2f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--input", type=Path, default=None,
                        help="cycle this `guardia events --json` dump instead of the analytics test week")
    args = parser.parse_args()
    main(args.events, args.input)
