"""The /v1 authorization rules without NATS: the route table, header parsing, the verified-token cache."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from guardia.settings import Settings
from guardia.tokens import Role, TokenRecord, client_token, hash_token, new_token
from services.intake.auth import DEFAULT_ROLES, Principal, Refusal, Verifier, bearer_of, redacted, roles_for


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("POST", "/v1/contacts", {Role.integration, Role.agent}),
    ("GET", "/v1/tickets/0191c2f0-0000-7000-8000-000000000000", {Role.reader, Role.agent}),
    ("HEAD", "/v1/tickets/0191c2f0-0000-7000-8000-000000000000", {Role.reader, Role.agent}),
    ("POST", "/v1/tickets/abc/status", {Role.agent}),
    ("POST", "/v1/tickets/abc/classification", {Role.agent}),
    ("POST", "/v1/tickets/abc/merge/undo", {Role.agent}),
    ("POST", "/v1/tickets/abc/replies", {Role.agent}),  # not listed: agent only, by default
    ("DELETE", "/v1/tickets/abc", {Role.agent}),
    ("GET", "/v1/contacts", {Role.agent}),
    ("GET", "/v1/tickets/abc/status", {Role.agent}),  # the template matches whole paths only
])
def test_each_v1_route_allows_its_roles_and_an_unlisted_one_only_agents(
        method: str, path: str, allowed: set[Role]) -> None:
    assert roles_for(method, path) == allowed
    assert {Role.agent} == DEFAULT_ROLES


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer gdt_abc", "gdt_abc"), ("bearer   gdt_abc  ", "gdt_abc"), ("Basic dXNlcjpwYXNz", None),
    ("Bearer", None), ("", None), (None, None), ("gdt_abc", None),
])
def test_only_a_bearer_header_carries_a_token(header: str | None, token: str | None) -> None:
    assert bearer_of(header) == token


def test_dead_letter_headers_keep_a_fingerprint_of_the_token_never_the_token() -> None:
    token = new_token()
    out = redacted({"Authorization": f"Bearer {token}", "content-type": "application/json"})
    assert token not in out["Authorization"] and out["Authorization"].startswith("Bearer [sha256:")
    assert out["content-type"] == "application/json"


class FakeStore:
    """Records by token, counting reads (what the cache saves)."""

    def __init__(self) -> None:
        self.records: dict[str, TokenRecord] = {}
        self.reads = 0

    async def lookup(self, token: str) -> TokenRecord | None:
        self.reads += 1
        return self.records.get(token)


async def test_a_verified_token_is_trusted_for_the_cache_time_then_a_revoke_is_seen() -> None:
    store, now = FakeStore(), [100.0]
    token = new_token()
    store.records[token] = TokenRecord(name="ana", role=Role.agent, created_at=datetime.now(UTC))

    async def opened() -> FakeStore:
        return store

    verifier = Verifier(opened, None, cache_seconds=2.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert await verifier.verify(token) == Principal("ana", Role.agent)
    assert await verifier.verify(token) == Principal("ana", Role.agent)
    assert store.reads == 1  # the second came from the cache
    assert list(verifier._cache) == [hash_token(token)]  # keyed by the hash, never the token
    store.records[token] = store.records[token].model_copy(update={"revoked_at": datetime.now(UTC)})
    now[0] += 1.9
    assert isinstance(await verifier.verify(token), Principal)  # still within the 2 s
    now[0] += 0.2
    refused = await verifier.verify(token)
    assert isinstance(refused, Refusal) and (refused.status, refused.code) == (401, "revoked_token")
    assert isinstance(await verifier.verify("gdt_unknown"), Refusal)


async def test_the_bootstrap_token_is_an_agent_named_bootstrap_without_any_record() -> None:
    store = FakeStore()

    async def opened() -> FakeStore:
        return store

    verifier = Verifier(opened, "gdt_from-the-environment", cache_seconds=2.0)  # type: ignore[arg-type]
    assert await verifier.verify("gdt_from-the-environment") == Principal("bootstrap", Role.agent)
    assert store.reads == 0
    assert isinstance(await verifier.verify("gdt_from-the-environmenT"), Refusal)


def test_the_cli_sends_guardia_api_token_else_the_local_token_of_guardia_up(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    assert client_token(Settings(data_dir=folder, api_token=None, bootstrap_token=None)) is None
    (folder / "api.token").write_text("gdt_local\n")
    assert client_token(Settings(data_dir=folder, api_token=None)) == "gdt_local"
    assert client_token(Settings(data_dir=folder, api_token="gdt_env")) == "gdt_env"  # type: ignore[arg-type]
