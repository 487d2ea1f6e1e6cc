"""Fixtures for the notify transports: one fresh provider fake per test, stopped after it.

Fresh per test because the fakes hold per-test configuration (blocked chats, scripted 429s, recorded requests);
each starts in milliseconds on its own free loopback port. The credentials are fixed fakes, exposed as
attributes of each fixture so a test builds its Settings from them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .fakes import FakeSmtp, FakeStaffWebhook, FakeTelegram, FakeTwilio, FakeWhatsApp

WHATSAPP_TOKEN = "EAAGtestAccessToken0000000000"
WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
TELEGRAM_TOKEN = "123456789:AAFakeTelegramBotTokenForGuardia00"
TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "f" * 32
TWILIO_FROM = "+15005550006"
SMTP_USERNAME = "notify@guardia.test"
SMTP_PASSWORD = "p@ss:w/rd"  # characters a SMTP URL must percent-encode


@pytest.fixture
async def whatsapp_api() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp(token=WHATSAPP_TOKEN, phone_number_id=WHATSAPP_PHONE_NUMBER_ID) as fake:
        yield fake


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TELEGRAM_TOKEN) as fake:
        yield fake


@pytest.fixture
async def twilio_api() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(account_sid=TWILIO_ACCOUNT_SID, auth_token=TWILIO_AUTH_TOKEN,
                          from_number=TWILIO_FROM) as fake:
        yield fake


@pytest.fixture
async def staff_webhook() -> AsyncIterator[FakeStaffWebhook]:
    async with FakeStaffWebhook() as fake:
        yield fake


@pytest.fixture
async def smtp_server() -> AsyncIterator[FakeSmtp]:
    """SMTP with AUTH required (username/password attributes), as a real submission server would."""
    async with FakeSmtp(username=SMTP_USERNAME, password=SMTP_PASSWORD) as fake:
        yield fake


@pytest.fixture
async def open_smtp_server() -> AsyncIterator[FakeSmtp]:
    """SMTP without AUTH, like a local relay (GUARDIA_SMTP_URL without credentials)."""
    async with FakeSmtp() as fake:
        yield fake
