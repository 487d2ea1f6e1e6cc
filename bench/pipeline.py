"""Benchmark: N contacts through the whole pipeline vs a raw nats-py hop, in the same run.

    .venv/bin/python bench/pipeline.py --contacts 500

1. Baseline: a raw nats-py consume -> validate -> publish -> ack hop (fetch batches of 100, the
   same envelope validation the services do), on its own stream, messages/s.
2. Pipeline: all five services and the gateway in this process on an embedded nats-server;
   contacts posted over HTTP (16 in flight); the clock stops when each ticket's acknowledgment has
   been delivered (notification.sent). Reports contacts/s end to end and p50/p99 latency from the
   POST to that acknowledgment.
The ratio (pipeline contacts/s ÷ baseline hops/s) is the number to compare across machines: one
contact costs about 14 events through 5 services, so it is expected to be far below 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import yaml
from nats.js.api import StreamConfig

from guardia.demo import CONTACTS, load_contacts
from guardia.embedded import EmbeddedNats, free_port
from guardia.logs import configure
from guardia.runner import SERVICES, running
from guardia.settings import Settings
from shared.schemas import Status, StatusChanged, decode_event, make_event


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
    await nc.close()
    return n / elapsed


async def pipeline(url: str, n: int, data_dir: Path) -> dict[str, float]:
    settings = Settings(nats_url=url, http_port=free_port(), data_dir=data_dir, log_level="WARNING")
    # Only requests: a greeting or a thank-you (type null) is acknowledged by nobody, by design.
    requests = {c["provider_message_id"] for c in yaml.safe_load(CONTACTS.read_text()) if c["expect"]["type"]}
    samples = [b for b in load_contacts() if b["provider_message_id"] in requests]
    bodies = []
    for i in range(n):
        body = dict(samples[i % len(samples)])
        body.update(provider_message_id=f"bench-{i}", received_at=datetime.now(UTC).isoformat(),
                    customer={**body["customer"], "email": f"bench{i}@cliente{i}.co", "phone": None},
                    channel="email", tenant="mecodex")
        bodies.append(body)
    posted: dict[str, float] = {}
    acked: dict[str, float] = {}
    async with running(SERVICES, settings) as state:
        nc = await nats.connect(url)
        js = nc.jetstream()

        async def on_sent(msg: nats.aio.msg.Msg) -> None:
            doc = json.loads(msg.data)
            if doc["data"]["notification_id"].endswith(":acknowledgment"):
                acked.setdefault(doc["ticket_id"], time.perf_counter())

        await js.subscribe("ev.*.*.notification.sent", cb=on_sent, ordered_consumer=True)
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=state.base_url, timeout=30) as http:

            async def post(body: dict[str, object]) -> None:
                async with limit:
                    t0 = time.perf_counter()
                    answer = (await http.post("/v1/contacts", json=body)).json()
                    posted[answer["ticket_id"]] = t0

            start = time.perf_counter()
            await asyncio.gather(*(post(b) for b in bodies))
            while len(acked) < len(posted) and time.perf_counter() - start < 600:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        end = max(acked.values())
        await nc.close()
    latencies = sorted(acked[t] - posted[t] for t in posted if t in acked)
    return {
        "contacts": len(posted), "acknowledged": len(acked), "seconds": end - start,
        "contacts_per_s": len(acked) / (end - start),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--hops", type=int, default=5000)
    args = parser.parse_args()
    configure("console", "WARNING")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        hop = await baseline(server.url, args.hops)
        result = await pipeline(server.url, args.contacts, Path(tmp))
    print(f"raw nats-py hop (consume-validate-publish-ack): {hop:,.0f} msg/s")
    print(f"pipeline: {result['acknowledged']:.0f}/{result['contacts']:.0f} contacts acknowledged in "
          f"{result['seconds']:.1f} s = {result['contacts_per_s']:,.1f} contacts/s end to end")
    print(f"latency POST -> acknowledgment sent: p50 {result['p50_ms']:,.0f} ms, p99 {result['p99_ms']:,.0f} ms")
    print(f"ratio pipeline contacts/s / raw hop msg/s: {result['contacts_per_s'] / hop:.4f}")


if __name__ == "__main__":
    asyncio.run(main())
