"""Every service connects to NATS as its own user and may publish only what it produces.

A real nats-server loads deploy/nats-accounts.conf (what compose.yaml includes), with the passwords
in its environment as compose gives them. triage may publish its `ticket.classified` but not a
notify event; the whole pipeline runs with each service as its own user, which proves the generated
permissions cover every JetStream call the runtime makes. The checked-in file is what
`guardia deploy nats-config` writes today.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from typer.testing import CliRunner

from guardia.bus.connection import inbox_prefix
from guardia.bus.topology import EVENTS, ensure_streams
from guardia.cli import app as cli
from guardia.embedded import EmbeddedNats
from guardia.natsauth import ADMIN, env_password
from guardia.runner import SERVICES

from ..faults.harness import ACCOUNTS

# "p" + hex: nats-server parses an environment variable as a config value, so "1k" would be a number
PASSWORDS = {user: "p" + secrets.token_hex(12) for user in (*SERVICES, ADMIN)}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    env = {env_password(user): pw for user, pw in PASSWORDS.items()}
    with EmbeddedNats(tmp_path / "nats", extra_config=ACCOUNTS.read_text(), env=env) as running:
        yield running


async def test_triage_may_publish_its_classification_but_not_a_notify_event(server: EmbeddedNats) -> None:
    admin = await nats.connect(server.url, user=ADMIN, password=PASSWORDS[ADMIN])
    await ensure_streams(admin.jetstream())
    refused: list[str] = []

    async def on_error(exc: Exception) -> None:
        refused.append(str(exc))

    triage = await nats.connect(server.url, user="triage", password=PASSWORDS["triage"], error_cb=on_error,
                                inbox_prefix=inbox_prefix("triage"), max_reconnect_attempts=0)
    try:
        js = triage.jetstream(timeout=2)
        own = await js.publish("ev.navegasoft.3.ticket.classified", b"{}", stream=EVENTS)
        assert own.seq >= 1
        with pytest.raises(NatsTimeoutError):  # the server drops it: no stream ever answers
            await js.publish("ev.navegasoft.3.notification.sent", b"{}", stream=EVENTS)
        with pytest.raises(NatsTimeoutError):  # nor may it write another service's state
            await js.publish("$KV.notify_deliveries.x", b"{}")
        await asyncio.sleep(0.2)
        assert any('permissions violation for publish to "ev.navegasoft.3.notification.sent"' in e.lower()
                   for e in refused), refused
        assert any("$kv.notify_deliveries.x" in e.lower() for e in refused), refused
        # and it cannot read another service's replies
        with pytest.raises(NatsTimeoutError):
            sub = await triage.subscribe("_INBOX_notify.>")
            await triage.flush()
            await sub.next_msg(timeout=0.5)
        assert any("permissions violation for subscription" in e.lower() for e in refused), refused
    finally:
        await triage.close()
    stored = await admin.jetstream().stream_info(EVENTS)
    await admin.close()
    assert stored.state.messages == 1  # only the classification


async def test_wrong_password_is_refused(server: EmbeddedNats) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(server.url, user="triage", password="not-it", max_reconnect_attempts=0,
                           allow_reconnect=False)


def test_checked_in_accounts_are_what_deploy_nats_config_writes() -> None:
    result = CliRunner().invoke(cli, ["deploy", "nats-config", "--check", "--out", str(ACCOUNTS)])
    assert result.exit_code == 0, result.output


def test_nats_config_with_a_credentials_file_writes_the_passwords_and_refuses_a_missing_user(tmp_path: Path) -> None:
    creds = tmp_path / "creds.yaml"
    creds.write_text("".join(f"{u}: {pw}\n" for u, pw in PASSWORDS.items()))
    out = tmp_path / "accounts.conf"
    result = CliRunner().invoke(cli, ["deploy", "nats-config", "--credentials", str(creds), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert f'password: "{PASSWORDS["triage"]}"' in text and "$GUARDIA_NATS_PASSWORD" not in text
    assert out.stat().st_mode & 0o077 == 0  # only its owner reads it
    assert PASSWORDS["triage"] not in result.output
    creds.write_text(f"triage: {PASSWORDS['triage']}\n")
    result = CliRunner().invoke(cli, ["deploy", "nats-config", "--credentials", str(creds), "--out", str(out)])
    assert result.exit_code != 0 and "no password for user(s)" in result.output
