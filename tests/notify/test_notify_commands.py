"""`guardia notify test` against a provider server, and `guardia notify status`'s reading of the event log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from typer.testing import CliRunner

from guardia.cli import app
from guardia.commands.notify import summarize
from guardia.policy import BUILTIN_DIR

from .fakes import FakeTelegram


async def test_notify_test_prints_what_the_provider_answered(telegram_api: FakeTelegram) -> None:
    env = {"GUARDIA_TELEGRAM_BOT_TOKEN": telegram_api.token, "GUARDIA_TELEGRAM_API_BASE_URL": telegram_api.url,
           "COLUMNS": "200"}
    runner = CliRunner()
    ok = await asyncio.to_thread(runner.invoke, app, ["notify", "test", "--channel", "telegram", "--to", "4242"],
                                 env=env)
    assert ok.exit_code == 0, ok.output
    assert "accepted by telegram" in ok.output
    sent = telegram_api.sent()[0].json
    assert isinstance(sent, dict) and sent["chat_id"] == "4242" and "prueba" in sent["text"]
    telegram_api.blocked.add("777")
    blocked = await asyncio.to_thread(runner.invoke, app, ["notify", "test", "--channel", "telegram", "--to", "777"],
                                      env=env)
    assert blocked.exit_code == 1 and "blocked_by_user" in blocked.output and "will not help" in blocked.output


async def test_notify_test_sends_through_the_tenants_own_account(telegram_api: FakeTelegram, tmp_path: Path) -> None:
    doc = yaml.safe_load((BUILTIN_DIR / "wolk.yaml").read_text(encoding="utf-8"))
    doc["notify"]["accounts"] = {"telegram_bot_token": "env:WOLK_TELEGRAM_TOKEN",
                                 "telegram_api_base_url": telegram_api.url}
    (tmp_path / "wolk.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    env = {"GUARDIA_POLICY_DIR": str(tmp_path), "WOLK_TELEGRAM_TOKEN": telegram_api.token, "COLUMNS": "200"}
    runner = CliRunner()
    ok = await asyncio.to_thread(runner.invoke, app, ["notify", "test", "--tenant", "wolk", "--channel", "telegram",
                                                      "--to", "4242"], env=env)
    assert ok.exit_code == 0 and "accepted by telegram" in ok.output, ok.output
    other = await asyncio.to_thread(runner.invoke, app, ["notify", "test", "--tenant", "mecodex", "--channel",
                                                         "telegram", "--to", "4242"], env=env)
    assert other.exit_code == 2 and "not configured for mecodex" in other.output  # wolk's account is wolk's
    assert len(telegram_api.sent()) == 1


def test_notify_test_names_the_settings_a_channel_needs() -> None:
    result = CliRunner().invoke(app, ["notify", "test", "--channel", "sms", "--to", "+573001234567"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "GUARDIA_TWILIO_ACCOUNT_SID" in result.output


def test_notify_status_follows_each_notification_to_where_it_stands() -> None:
    def ev(event_type: str, **data: object) -> dict[str, object]:
        return {"event_type": event_type, "data": data}

    docs = [
        ev("notification.requested", notification_id="T:acknowledgment", kind="acknowledgment", channel="whatsapp",
           to="5214425550187"),
        ev("notification.failed", notification_id="T:acknowledgment", attempt=1, will_retry=True,
           reason_code="rate_limited", error="130429"),
        ev("notification.sent", notification_id="T:acknowledgment", attempt=2, transport="whatsapp",
           provider_id="wamid.1", uncertain=False),
        ev("notification.failed", notification_id="T:acknowledgment", attempt=2, will_retry=False,
           reason_code="invalid_recipient", error="failed 131026"),
        ev("notification.requested", notification_id="T:acknowledgment~sms", kind="acknowledgment", channel="sms",
           to="+524425550187"),
        ev("notification.sent", notification_id="T:acknowledgment~sms", attempt=1, transport="sms",
           provider_id="SM1", uncertain=True),
        ev("notification.delivered", notification_id="T:acknowledgment~sms", read=False),
    ]
    rows = {r["notification_id"]: r for r in summarize(docs)}
    assert (rows["T:acknowledgment"]["status"], rows["T:acknowledgment"]["attempts"]) == ("failed", 2)
    assert rows["T:acknowledgment~sms"]["status"] == "delivered"
