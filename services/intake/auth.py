"""Who may call which /v1 route: bearer tokens checked in one middleware, before any route runs.

Every request under /v1 needs `Authorization: Bearer <token>`. The role a route needs is looked up in
ROUTE_ROLES; **a /v1 route not in the table needs `agent`**, so a route added later is closed to
readers and integrations until someone decides otherwise here (`POST /v1/tickets/{id}/replies` is one: agents only).
Webhooks (/webhooks/*) are not covered: providers prove themselves with their own signatures.

The middleware puts the caller in `request.state.principal`; handlers take the acting person of an
event (`by`) from there, never from the body. Refusals are 401 (`missing_token`, `invalid_token`,
`revoked_token`) and 403 (`forbidden_role`), and go to the dead letters with the raw body like any
rejected input (the gateway's `refuse` does that). Verified tokens are cached for
`token_cache_seconds` (2 s), so a revoke takes effect within that time on every gateway replica.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from guardia.tokens import BOOTSTRAP_NAME, Role, TokenStore, fingerprint, hash_token, same_token

API_PREFIX = "/v1"
Agent, Integration, Reader = Role.agent, Role.integration, Role.reader

#: (method, path template) -> the roles allowed. Anything else under /v1 needs DEFAULT_ROLES.
ROUTE_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    ("POST", "/v1/contacts"): frozenset({Integration, Agent}),
    ("GET", "/v1/tickets/{ticket_id}"): frozenset({Reader, Agent}),
    ("POST", "/v1/tickets/{ticket_id}/status"): frozenset({Agent}),
    ("POST", "/v1/tickets/{ticket_id}/classification"): frozenset({Agent}),
    ("POST", "/v1/tickets/{ticket_id}/merge/undo"): frozenset({Agent}),
}
DEFAULT_ROLES = frozenset({Agent})
_COMPILED = [(method, compile_path(path)[0], roles) for (method, path), roles in ROUTE_ROLES.items()]

#: the most verified tokens kept in memory (a flood of distinct valid tokens only costs re-reads)
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Principal:
    """The caller, as its token says: `name` becomes `by` in the events it causes."""

    name: str
    role: Role


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


def roles_for(method: str, path: str) -> frozenset[Role]:
    """The roles allowed on a /v1 request (HEAD as GET); unknown routes: agent only."""
    method = "GET" if method == "HEAD" else method
    for m, pattern, roles in _COMPILED:
        if m == method and pattern.match(path):
            return roles
    return DEFAULT_ROLES


def bearer_of(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class Verifier:
    """Turns a token into a Principal: the bootstrap token from the environment, else the KV record."""

    def __init__(self, open_store: Callable[[], Awaitable[TokenStore]], bootstrap: str | None,
                 cache_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._open_store = open_store
        self._store: TokenStore | None = None
        self._bootstrap = bootstrap
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._clock = clock

    async def verify(self, token: str) -> Principal | Refusal:
        if self._bootstrap and same_token(token, self._bootstrap):
            return Principal(BOOTSTRAP_NAME, Role.agent)
        now = self._clock()
        key = hash_token(token)  # not the token itself: memory dumps travel too
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        if self._store is None:
            self._store = await self._open_store()
        record = await self._store.lookup(token)
        if record is None:
            return Refusal(401, "invalid_token", "the bearer token is not known")
        if not record.active:
            self._cache.pop(key, None)
            return Refusal(401, "revoked_token", f"the token {record.name!r} was revoked")
        principal = Principal(record.name, record.role)
        if self._cache_seconds > 0:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = (now + self._cache_seconds, principal)
        return principal


Refuse = Callable[[Request, Refusal], Awaitable[Response]]


class BearerAuth:
    """ASGI middleware: /v1 requests go on only with a token whose role the route allows."""

    def __init__(self, app: ASGIApp, verifier: Verifier, refuse: Refuse) -> None:
        self.app, self.verifier, self.refuse = app, verifier, refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        outcome = await self._decide(request)
        if isinstance(outcome, Response):
            await outcome(scope, receive, send)
            return
        if isinstance(outcome, Refusal):
            response = await self.refuse(request, outcome)
            if outcome.status == 401:  # RFC 6750 §3
                detail = "" if outcome.code == "missing_token" else ', error="invalid_token"'
                response.headers["WWW-Authenticate"] = f'Bearer realm="guardia"{detail}'
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = outcome
        await self.app(scope, receive, send)

    async def _decide(self, request: Request) -> Principal | Refusal | Response:
        token = bearer_of(request.headers.get("authorization"))
        if token is None:
            return Refusal(401, "missing_token", "send the API token as `Authorization: Bearer <token>`")
        try:
            verified = await self.verifier.verify(token)
        except (OSError, TimeoutError, nats.errors.Error) as exc:  # not the caller's fault: retry later
            return JSONResponse({"error": "temporarily_unavailable", "message": f"cannot verify the token now: "
                                 f"{type(exc).__name__}"}, status_code=503, headers={"Retry-After": "1"})
        if isinstance(verified, Refusal):
            return verified
        allowed = roles_for(request.method, request.url.path)
        if verified.role not in allowed:
            return Refusal(403, "forbidden_role", f"role {verified.role.value!r} of token {verified.name!r} may not "
                           f"{request.method} {request.url.path} (allowed: {', '.join(sorted(allowed))})")
        return verified


def principal_of(request: Request) -> Principal:
    """The authenticated caller of a /v1 handler (BearerAuth ran first)."""
    principal: Principal = request.state.principal
    return principal


AUTHORIZATION = re.compile(r"^\s*(\S+)\s+(.+?)\s*$")


def redacted(headers: dict[str, str]) -> dict[str, str]:
    """Headers fit for the dead letters: the API token replaced by its fingerprint."""
    out = dict(headers)
    for name in list(out):
        if name.lower() == "authorization":
            match = AUTHORIZATION.match(out[name])
            out[name] = f"{match.group(1)} [{fingerprint(match.group(2))}]" if match else "[redacted]"
    return out
