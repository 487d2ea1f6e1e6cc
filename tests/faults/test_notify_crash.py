"""notify killed with `kill -9` around the provider call, as separate processes on a real nats-server,
against a local WhatsApp Cloud API server: what is promised (README "Delivering notifications") holds.

- Killed after the attempt was recorded and before the provider was called: the customer gets the
  message exactly once; the redone send is marked `uncertain` (notify cannot know the provider never
  saw the first one).
- Killed after the provider accepted and before the record said so: the one window nobody can close
  (no provider here takes an idempotency key). The message goes again, marked `uncertain`, so the
  customer may get it twice, and the event log says so.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from guardia.eventlog import read_stream
from tests.e2e.helpers import eventually
from tests.notify.fakes import FakeWhatsApp
from tests.notify.test_delivery_pipeline import whatsapp_webhook

from .harness import Cluster

TOKEN, PHONE_ID = "crash-test-token", "106540352242922"


async def acknowledgments(url: str) -> list[dict[str, Any]]:
    import json

    nc = await nats.connect(url)
    try:
        return [doc async for m in read_stream(nc.jetstream(), "GUARDIA_EVENTS", "ev.*.*.notification.sent", idle=0.5)
                if (doc := json.loads(m.data))["data"]["notification_id"].endswith(":acknowledgment")]
    finally:
        await nc.close()


async def _nonempty(pending: Any) -> Any:
    return (await pending) or None


@pytest.mark.parametrize(("point", "copies"), [("before_send", 1), ("after_send", 2)])
async def test_notify_killed_around_the_provider_call(tmp_path: Path, point: str, copies: int) -> None:
    marker = tmp_path / "crashed"
    async with FakeWhatsApp(token=TOKEN, phone_number_id=PHONE_ID) as api:
        cluster = Cluster(tmp_path / "cluster", crash_points=f"{point}=1.0", ack_wait=3.0, env={
            "GUARDIA_WHATSAPP_ACCESS_TOKEN": TOKEN, "GUARDIA_WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
            "GUARDIA_WHATSAPP_API_BASE_URL": api.base_url, "GUARDIA_CRASH_ONCE": str(marker)})
        await cluster.start()
        try:
            wa_id = f"57300{uuid.uuid4().int % 10_000_000:07d}"
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.post(f"{cluster.gateways[0]}/webhooks/whatsapp", json=whatsapp_webhook(
                    wa_id, f"wamid.{uuid.uuid4().hex}", "no puedo timbrar ninguna factura desde ayer", PHONE_ID))
                assert answer.status_code < 300, answer.text
            await eventually(lambda: _nonempty(acknowledgments(cluster.url)), within=60, what="the acknowledgment")
            await asyncio.sleep(2.0)  # anything doubled would be in by now
            acks = await acknowledgments(cluster.url)
            notify = next(m for m in cluster.members if m.service == "notify")
        finally:
            await cluster.stop()
        to_customer = [r for r in api.sent() if (r.json or {}).get("to") == wa_id]
    assert marker.exists() and notify.starts == 2  # notify died once, at that instant, and came back
    assert len(acks) == 1 and acks[0]["data"]["uncertain"] is True  # one event, flagged
    assert len(to_customer) == copies
