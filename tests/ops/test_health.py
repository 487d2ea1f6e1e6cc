"""/healthz and /readyz (guardia/health.py) on a service process and on the gateway, against real nats-servers."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from nats.js import JetStreamContext

from guardia.bus.topology import DLQ, EVENTS
from guardia.embedded import EmbeddedNats, free_port
from guardia.runner import running
from guardia.settings import Settings


async def _get(url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(url)
    return answer.status_code, answer.json()


async def _until(probe: Callable[[], Awaitable[tuple[int, dict[str, Any]]]], status: int,
                 within: float = 15.0) -> dict[str, Any]:
    """Poll until the probe answers `status`; its last body."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        code, body = await probe()
        if code == status:
            return body
        assert asyncio.get_running_loop().time() < deadline, (code, body)
        await asyncio.sleep(0.2)


async def test_a_service_is_ready_with_nats_its_streams_and_consumers_and_says_what_is_missing(
    settings: Settings, js: JetStreamContext
) -> None:
    settings = settings.model_copy(update={"health_port": free_port()})
    base = f"http://{settings.http_host}:{settings.health_port}"
    async with running(("escalation",), settings):
        assert await _get(f"{base}/healthz") == (200, {"status": "alive", "services": ["escalation"], "nats": True})
        code, body = await _get(f"{base}/readyz")
        assert (code, body) == (200, {"status": "ready", "services": ["escalation"], "nats": True})

        await js.delete_consumer(EVENTS, "escalation-p03")
        code, body = await _get(f"{base}/readyz")
        assert code == 503 and body["missing"] == {"consumers": [f"{EVENTS}/escalation-p03"]}

        await js.delete_stream(DLQ)
        code, body = await _get(f"{base}/readyz")
        assert code == 503 and body["status"] == "not_ready" and body["missing"]["streams"] == [DLQ]
        assert (await _get(f"{base}/healthz"))[0] == 200  # alive all along


async def test_the_gateway_serves_healthz_and_readyz_on_its_own_port(settings: Settings, js: JetStreamContext) -> None:
    async with running(("intake",), settings) as state:
        assert (await _get(f"{state.base_url}/healthz"))[0] == 200
        assert await _get(f"{state.base_url}/readyz") == (200, {"status": "ready", "services": ["intake"],
                                                                 "nats": True})
        await js.delete_consumer(EVENTS, "intake-p15")
        code, body = await _get(f"{state.base_url}/readyz")
        assert code == 503 and body["missing"]["consumers"] == [f"{EVENTS}/intake-p15"]


async def test_readyz_is_503_while_the_nats_connection_is_down_and_ready_again_after(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="guardia-nats-") as store:
        server = EmbeddedNats(Path(store)).start()
        try:
            settings = Settings(nats_url=server.url, http_port=free_port(), health_port=free_port(),
                                data_dir=tmp_path, log_level="WARNING")
            base = f"http://{settings.http_host}:{settings.health_port}"
            async with running(("sla_watch",), settings):
                await _until(lambda: _get(f"{base}/readyz"), 200)
                server.stop()
                body = await _until(lambda: _get(f"{base}/readyz"), 503)
                assert body == {"status": "not_ready", "services": ["sla_watch"], "nats": False}
                assert (await _get(f"{base}/healthz")) == (200, {"status": "alive", "services": ["sla_watch"],
                                                                  "nats": False})
                server = EmbeddedNats(Path(store), port=server.port).start()  # same store: streams are back
                await _until(lambda: _get(f"{base}/readyz"), 200, within=30)
        finally:
            server.stop()


async def test_no_health_server_listens_unless_a_port_is_set(settings: Settings) -> None:
    assert settings.health_port == 0
    async with running(("escalation",), settings) as state:
        assert state.health is None
