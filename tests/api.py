"""Calling the gateway's /v1 API as its clients do: with a bearer token.

The tests' settings (tests/conftest.py `settings`) give the gateway TEST_TOKEN as its bootstrap token
(an `agent` named `bootstrap`); `api_client` sends it on every request, so a test written before the
API needed tokens only swaps `httpx.AsyncClient(base_url=...)` for `api_client(...)`.
"""

from __future__ import annotations

from typing import Any

import httpx
from nats.js import JetStreamContext

from guardia.tokens import Role, TokenStore

TEST_TOKEN = "gdt_tests-bootstrap-token-0123456789abcdef"


def api_headers(token: str = TEST_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_client(base_url: str = "", token: str = TEST_TOKEN, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client whose every request carries `Authorization: Bearer <token>`."""
    headers = {**api_headers(token), **kwargs.pop("headers", {})}
    return httpx.AsyncClient(base_url=base_url, headers=headers, **kwargs)


async def token_for(js: JetStreamContext, name: str, role: Role = Role.agent) -> str:
    """A named token (as `guardia tokens create` makes it), for tests where `by` must be a person."""
    return await (await TokenStore.open(js)).create(name, role)
