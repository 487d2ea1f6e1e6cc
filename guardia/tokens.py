"""API bearer tokens: created, revoked and listed by `guardia tokens`, verified by the gateway.

Only the SHA-256 of a token is ever stored: it is the key of the token's record in the KV bucket
`guardia_tokens` (guardia/bus/topology.py), so verifying a token is a hash lookup and never compares
secrets byte by byte. A plain SHA-256 is enough (no slow password hash) because a token is 32 random
bytes, not something a person chose. A revoked record is kept (with when it was revoked) so `tokens
list` shows the history; it never shows, and no log ever carries, a token.

The person or system acting in events (`by`) is the token's name: names are unique among tokens in force.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pydantic import BaseModel

from guardia.bus.state import read, write
from guardia.bus.topology import TOKENS, bucket
from guardia.settings import Settings

#: a prefix that secret scanners (and people) recognise; the rest is 256 random bits
TOKEN_PREFIX = "gdt_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
LOCAL_NAME = "local"
BOOTSTRAP_NAME = "bootstrap"


class Role(StrEnum):
    """What a token may do (services/intake/auth.py maps each /v1 route to the roles allowed on it)."""

    reader = "reader"
    integration = "integration"
    agent = "agent"


class TokenRecord(BaseModel):
    """What is kept of a token: never the token itself."""

    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class TokenError(ValueError):
    """A token command that cannot be done as asked (bad name, name in use, nothing to revoke)."""


def hash_token(token: str) -> str:
    """The key a token is stored and looked up under."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def fingerprint(token: str) -> str:
    """A short, non-reversible label for a token (dead letters show it instead of the token)."""
    return "sha256:" + hash_token(token)[:12]


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison (for the bootstrap token, which lives in the environment, not in KV)."""
    return hmac.compare_digest(hash_token(given), hash_token(expected))


class TokenStore:
    """The token records in NATS KV."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> TokenStore:
        """`replicas`: GUARDIA_NATS_REPLICAS, like every bucket (the gateway and the CLI pass it)."""
        return cls(await bucket(js, TOKENS, replicas))

    async def lookup(self, token: str) -> TokenRecord | None:
        entry = await read(self.kv, hash_token(token))
        return None if entry.value is None else TokenRecord.model_validate(entry.value)

    async def records(self) -> list[TokenRecord]:
        """Every record, oldest first."""
        try:
            keys = await self.kv.keys()
        except Exception:  # nats-py raises NoKeysError on an empty bucket
            return []
        found = [TokenRecord.model_validate(e.value) for key in keys if (e := await read(self.kv, key)).value]
        return sorted(found, key=lambda r: (r.created_at, r.name))

    async def create(self, name: str, role: Role) -> str:
        """A new token; returned once, only its hash is stored."""
        if not NAME_PATTERN.match(name):
            raise TokenError(f"name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter "
                             "or digit")
        if name == BOOTSTRAP_NAME:
            raise TokenError(f"name {name!r} is kept for GUARDIA_BOOTSTRAP_TOKEN")
        if any(r.name == name and r.active for r in await self.records()):
            raise TokenError(f"a token named {name!r} is in force; revoke it first or choose another name")
        token = new_token()
        record = TokenRecord(name=name, role=role, created_at=datetime.now(UTC))
        await write(self.kv, hash_token(token), record.model_dump(mode="json"), None)
        return token

    async def revoke(self, name: str) -> int:
        """Revoke every token in force with this name; returns how many."""
        try:
            keys = await self.kv.keys()
        except Exception:
            keys = []
        revoked = 0
        for key in keys:
            entry = await read(self.kv, key)
            if entry.value is None:
                continue
            record = TokenRecord.model_validate(entry.value)
            if record.name == name and record.active:
                record.revoked_at = datetime.now(UTC)
                await write(self.kv, key, record.model_dump(mode="json"), entry.revision)
                revoked += 1
        if not revoked:
            raise TokenError(f"no token named {name!r} is in force")
        return revoked


def local_token_path(settings: Settings) -> Path:
    """Where `guardia up` on the embedded default leaves its local token for the CLI's client commands."""
    return settings.data_dir / "api.token"


async def ensure_local_token(js: JetStreamContext, settings: Settings) -> str:
    """The local `agent` token of this data folder: the one written before if still in force, else a new
    one (replacing an older `local` token whose file is gone), written to the data folder (mode 0600)."""
    store = await TokenStore.open(js, settings.nats_replicas)
    path = local_token_path(settings)
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        record = await store.lookup(token)
        if record is not None and record.active and record.name == LOCAL_NAME:
            return token
    if any(r.name == LOCAL_NAME and r.active for r in await store.records()):
        await store.revoke(LOCAL_NAME)
    token = await store.create(LOCAL_NAME, Role.agent)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def client_token(settings: Settings) -> str | None:
    """The token the CLI's client commands send: GUARDIA_API_TOKEN, else the local token a `guardia up`
    wrote in this data folder, else GUARDIA_BOOTSTRAP_TOKEN (a CI job that set only that)."""
    if settings.api_token is not None and settings.api_token.get_secret_value().strip():
        return settings.api_token.get_secret_value().strip()
    path = local_token_path(settings)
    if path.exists() and (token := path.read_text(encoding="utf-8").strip()):
        return token
    if settings.bootstrap_token is not None and settings.bootstrap_token.get_secret_value().strip():
        return settings.bootstrap_token.get_secret_value().strip()
    return None


def bearer(token: str | None) -> dict[str, str]:
    """The request header that carries a token (none without one: the gateway then answers 401)."""
    return {"Authorization": f"Bearer {token}"} if token else {}
