"""How every guardia process joins NATS: one server or a cluster's several, as its own user.

`NATS_URL` may name several servers separated by commas (`nats://nats-1:4222,nats://nats-2:4222,...`):
nats-py tries them in turn, and after a disconnect reconnects to whichever is alive, so one dead node
of a three-node cluster is an outage of a second or two, not of the service.

`GUARDIA_NATS_USER` / `GUARDIA_NATS_PASSWORD` authenticate the process; the server's permissions for
that user (`guardia deploy nats-config`, guardia/natsauth.py) decide what it may publish. Each service
also gets its own reply-inbox prefix `_INBOX_<name>`, so a user may subscribe to its own replies only
and cannot read another service's JetStream answers or fetched messages. The password is read from a
SecretStr and handed to the client only: it never reaches a log line.
"""

from __future__ import annotations

from typing import Any

import nats
from nats.aio.client import Client

from guardia.settings import Settings

DEFAULT_URL = "nats://127.0.0.1:4222"


def servers(url: str | None) -> list[str]:
    """The server URLs in a (comma-separated) NATS_URL, blanks dropped."""
    found = [u.strip() for u in (url or DEFAULT_URL).split(",") if u.strip()]
    return found or [DEFAULT_URL]


def inbox_prefix(name: str) -> str:
    """The reply subjects of process `name`: what its NATS user may subscribe to."""
    return f"_INBOX_{name}"


def auth_options(settings: Settings) -> dict[str, Any]:
    """user/password for nats.connect, when the settings name a user."""
    if not settings.nats_user:
        return {}
    password = settings.nats_password.get_secret_value() if settings.nats_password else ""
    return {"user": settings.nats_user, "password": password}


async def connect(settings: Settings, url: str | None = None, name: str | None = None, **options: Any) -> Client:
    """A connection to `url` (default settings.nats_url) as settings' user; `name` sets the inbox prefix."""
    if name is not None:
        options.setdefault("inbox_prefix", inbox_prefix(name))
        options.setdefault("name", f"guardia-{name}")
    return await nats.connect(servers(url or settings.nats_url), **auth_options(settings), **options)
