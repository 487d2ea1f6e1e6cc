"""The whole pipeline in-process, against the session's real nats-server, with a real HTTP gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from guardia.runner import SERVICES, Running, running
from guardia.settings import Settings
from tests.api import api_client


@pytest.fixture
async def guardia(settings: Settings) -> AsyncIterator[Running]:
    async with running(SERVICES, settings) as state:
        yield state


@pytest.fixture
async def http(guardia: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(guardia.base_url, timeout=10.0) as client:
        yield client
