"""Benchmark: notifications/s through notify to a local WhatsApp Cloud API server, against a raw httpx POST
loop to the same server in the same run.

    .venv/bin/python bench/notify.py [--n 1000]

What runs: a nats-server of its own (EmbeddedNats), the notify service in this process with its WhatsApp
transport pointed at a local server that answers as the Cloud API does (tests/notify/fakes.py), and N
`notification.requested` events published at once, spread over N tickets (so over every partition).
Measured: the time from the first publish until N `notification.sent` are in the event log, and N
awaited httpx POSTs of the same request bodies to the same server from as many loops as notify has
partitions (the floor: what one HTTP call per message costs here, with the same concurrency). Each
delivery also writes its record before and after the provider call and publishes its event. The
provider server shares this process and its CPU with notify.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guardia.bus.topology import EVENTS
from guardia.embedded import EmbeddedNats, free_port
from guardia.runner import running
from guardia.settings import Settings
from services.notify.delivery import outgoing
from services.notify.policy import NotifyPolicy
from services.notify.transports.whatsapp import payload
from shared.schemas import PARTITIONS, NotificationRequested, make_event
from tests.notify.fakes import FakeWhatsApp

TOKEN, PHONE_ID = "bench-token", "106540352242922"


def request(i: int, ticket_id: uuid.UUID | None = None) -> NotificationRequested:
    return NotificationRequested(
        notification_id=f"{ticket_id or uuid.uuid4()}:acknowledgment", kind="acknowledgment", audience="customer",
        channel="whatsapp", to=f"57300{i:07d}", body=f"Recibimos tu solicitud. Tu número de tique es NS-{i:06d}.",
        template="acuse_recibo.txt.j2", ticket_number=f"NS-{i:06d}", customer_wrote_at=datetime.now(UTC))


async def raw_loop(api: FakeWhatsApp, n: int, workers: int) -> float:
    """`workers` loops of awaited POSTs sharing one client: as many requests in flight as notify has
    partitions (one message in flight each)."""
    policy = NotifyPolicy(company="x", signature="x", official_channels="x")
    bodies = [payload(outgoing(request(i), policy)) for i in range(n)]
    async with httpx.AsyncClient(timeout=5.0, limits=httpx.Limits(max_connections=workers)) as client:

        async def worker(mine: list[dict[str, object]]) -> None:
            for body in mine:
                response = await client.post(f"{api.base_url}/{PHONE_ID}/messages", json=body,
                                             headers={"Authorization": f"Bearer {TOKEN}"})
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker(bodies[w::workers]) for w in range(workers)))
        return n / (time.perf_counter() - started)


async def through_notify(api: FakeWhatsApp, nats_url: str, n: int, data_dir: Path) -> float:
    settings = Settings(nats_url=nats_url, http_port=free_port(), data_dir=data_dir, log_level="WARNING",
                        whatsapp_access_token=TOKEN, whatsapp_phone_number_id=PHONE_ID,
                        whatsapp_api_base_url=api.base_url)
    async with running(("notify",), settings):
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        tickets = [uuid.uuid4() for _ in range(n)]
        events = [make_event(request(i, t), tenant="navegasoft", occurred_at=datetime.now(UTC), producer="bench",
                             ticket_id=t) for i, t in enumerate(tickets)]  # built before the clock starts
        started = time.perf_counter()
        acks = [await js.publish_async(ev.subject, ev.to_json(), headers={"Nats-Msg-Id": str(ev.event_id)})
                for ev in events]
        await asyncio.gather(*acks)
        while True:
            info = await js.stream_info(EVENTS, subjects_filter="ev.*.*.notification.sent")
            sent = sum((info.state.subjects or {}).values())
            if sent >= n:
                break
            await asyncio.sleep(0.05)
        rate = n / (time.perf_counter() - started)
        await nc.close()
    return rate


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="guardia-bench-notify-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats").start()
        try:
            async with FakeWhatsApp(token=TOKEN, phone_number_id=PHONE_ID) as api:
                raw = await raw_loop(api, n, PARTITIONS)
                piped = await through_notify(api, server.url, n, Path(tmp) / "data")
                accepted = len(api.sent())
        finally:
            server.stop()
    print(f"{n} WhatsApp notifications, local Cloud API server ({accepted} requests accepted in all)")
    print(f"{'path':<52}{'messages/s':>12}")
    print(f"{f'raw httpx POST loops, {PARTITIONS} at once (baseline)':<52}{raw:>12,.0f}")
    print(f"{'through notify (record, send, record, event)':<52}{piped:>12,.0f}")
    print(f"ratio notify / raw: {piped / raw:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    asyncio.run(main(parser.parse_args().n))
