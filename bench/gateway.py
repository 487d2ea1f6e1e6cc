"""Benchmark: channel payloads through the gateway to the `contact.received` event.

    .venv/bin/python bench/gateway.py --contacts 2000

Posts N signed WhatsApp Cloud API webhooks (one text message each, distinct wa_ids) to intake's
gateway, 16 in flight, on an embedded nats-server, and stops the clock when the N-th
`contact.received` is in the stream. Beside it, in the same run, the raw nats-py consume -> validate
-> publish -> ack hop of bench/pipeline.py, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import nats

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import baseline

from guardia.bus.topology import EVENTS
from guardia.embedded import EmbeddedNats, free_port
from guardia.logs import configure
from guardia.runner import running
from guardia.settings import Settings

SECRET = "bench-app-secret"


def webhook(i: int) -> bytes:
    wa_id = f"5730{i:08d}"
    doc = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "576015550100",
                                                      "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": f"Cliente {i}"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": f"wamid.bench{i}", "timestamp": str(int(time.time())), "type": "text",
                      "text": {"body": "Buenas, no me deja facturar desde esta mañana"}}]}}]}]}
    return json.dumps(doc).encode()


async def gateway(url: str, n: int, data_dir: Path) -> tuple[float, int]:
    settings = Settings(nats_url=url, http_port=free_port(), data_dir=data_dir, log_level="WARNING",
                        whatsapp_app_secret=SECRET, default_tenant="mecodex")
    bodies = [webhook(i) for i in range(n)]
    async with running(("intake",), settings) as state, httpx.AsyncClient(base_url=state.base_url) as http:
        nc = await nats.connect(url)
        js = nc.jetstream()
        limit = asyncio.Semaphore(16)

        async def post(body: bytes) -> None:
            signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            async with limit:
                r = await http.post("/webhooks/whatsapp", content=body,
                                    headers={"content-type": "application/json", "x-hub-signature-256": signature})
                assert r.status_code == 200, r.text

        start = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies))
        while True:
            info = await js.stream_info(EVENTS, subjects_filter="ev.*.*.contact.received")
            count = sum((info.state.subjects or {}).values())
            if count >= n:
                break
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        await nc.close()
    return elapsed, count


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=2000)
    args = parser.parse_args()
    configure("console", "WARNING")
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        hop = await baseline(server.url, 5000)
        elapsed, count = await gateway(server.url, args.contacts, Path(tmp))
    rate = count / elapsed
    print(f"raw nats-py hop (consume-validate-publish-ack): {hop:,.0f} msg/s")
    print(f"gateway: {count:,} WhatsApp webhooks -> contact.received in {elapsed:.1f} s = {rate:,.0f} contacts/s")
    print(f"ratio gateway contacts/s / raw hop msg/s: {rate / hop:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
