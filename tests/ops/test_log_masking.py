"""Logs carry no personal data by default (guardia/pii.py, guardia/logs.py); GUARDIA_LOG_PII=true shows it."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from guardia.embedded import free_port
from guardia.logs import configure
from guardia.pii import mask_text
from guardia.settings import Settings

PHONE, WA_ID, EMAIL, RFC = "+52 442 555 0187", "5214425550187", "laura@ferreteriaelsol.co", "GOML850101AB3"
BODY = f"No puedo timbrar, mi RFC es {RFC}; llámenme al {PHONE} o escriban a {EMAIL}"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Where the configured loggers write; structlog and the root logger are put back afterwards."""
    saved, handlers, level = structlog.get_config(), list(logging.getLogger().handlers), logging.getLogger().level
    yield io.StringIO()
    structlog.configure(**saved)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)


def _log_a_contact() -> None:
    structlog.get_logger("guardia.test").warning(
        "contact_rejected", text=BODY, to=WA_ID, customer={"name": "Laura Gómez", "email": EMAIL},
        error=f"SMTP 550 mailbox {EMAIL} unavailable (tel {PHONE}, RFC {RFC})", ticket_number="NS-000123")


def _leaks(output: str) -> list[str]:
    return [v for v in (PHONE, WA_ID, EMAIL, RFC, "Laura", "timbrar") if v in output]


def test_a_log_line_has_no_phone_email_rfc_or_body_by_default(log_stream: io.StringIO,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUARDIA_LOG_PII", raising=False)
    configure("json", "INFO", show_pii=Settings().log_pii, stream=log_stream)
    _log_a_contact()
    line = json.loads(log_stream.getvalue().splitlines()[-1])
    assert _leaks(log_stream.getvalue()) == []
    assert line["text"] == f"[masked {len(BODY)} chars]" and line["to"] == "[masked 13 chars]"
    assert line["customer"] == "[masked]"
    assert line["error"] == "SMTP 550 mailbox [email] unavailable (tel [phone], RFC [rfc])"
    assert line["ticket_number"] == "NS-000123" and line["event"] == "contact_rejected"


def test_guardia_log_pii_true_logs_them_as_they_are(log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDIA_LOG_PII", "true")
    configure("console", "INFO", show_pii=Settings().log_pii, stream=log_stream)
    _log_a_contact()
    assert set(_leaks(log_stream.getvalue())) == {PHONE, WA_ID, EMAIL, RFC, "Laura", "timbrar"}


def test_standard_library_loggers_are_masked_too(log_stream: io.StringIO) -> None:
    configure("console", "INFO", stream=log_stream)
    logging.getLogger("nats.aio.client").warning("could not deliver to %s: %s", EMAIL, PHONE)
    try:
        raise ValueError(f"input_value='{WA_ID}'")
    except ValueError:
        logging.getLogger("apscheduler").exception("job failed")
    output = log_stream.getvalue()
    assert "could not deliver to [email]: [phone]" in output
    assert "ValueError" in output and "[phone]" in output  # the traceback is there, masked
    assert _leaks(output) == []


async def test_uvicorn_access_lines_are_masked(log_stream: io.StringIO) -> None:
    """The gateway's uvicorn runs with log_config=None (runner.py): its lines reach the masked root handler."""
    configure("json", "INFO", stream=log_stream)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)

    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/echo", hello)]), host="127.0.0.1", port=port,
                                           log_level="info", log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # up to 10 s
            if server.started:
                break
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/echo", params={"from": f"+{WA_ID}", "email": EMAIL})
        assert answer.status_code == 200
    finally:
        server.should_exit = True
        await task
    access = [json.loads(line)["event"] for line in log_stream.getvalue().splitlines() if "/echo" in line]
    assert len(access) == 1 and "GET /echo?from=[phone]&email=[email] HTTP/1.1" in access[0], access
    assert "5214425550187" not in log_stream.getvalue() and "ferreteriaelsol" not in log_stream.getvalue()


@pytest.mark.parametrize(("text", "expected"), [
    ("+52 442 555 0187", "[phone]"),
    ("(55) 1234-5678", "[phone]"),
    ("wa_id 5214425550187", "wa_id [phone]"),
    ("laura.gomez+soporte@ferreteria-elsol.com.mx", "[email]"),
    ("RFC FES850101AB3 y goml850101ab3", "RFC [rfc] y [rfc]"),
    ("CURP GOML850101MDFMRR09", "CURP [curp]"),
    ("NIT 900.123.456-7", "NIT [nit]"),
    ("cédula 1-0234-0567, jurídica 3-101-123456", "cédula [cedula], jurídica [cedula]"),
    ("CUIT 20-12345678-9", "CUIT [cuit]"),
])
def test_personal_data_patterns_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_a_policy_version_is_logged_as_it_is_and_a_phone_beside_it_is_not(log_stream: io.StringIO,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUARDIA_LOG_PII", raising=False)
    configure("json", "INFO", show_pii=Settings().log_pii, stream=log_stream)
    structlog.get_logger("guardia.test").info("policy_applied", version="001-2026.11", service="triage",
                                              detail={"policy_version": "002-2026.11", "note": f"tel {PHONE}"})
    line = json.loads(log_stream.getvalue().splitlines()[-1])
    assert line["version"] == "001-2026.11" and line["detail"]["policy_version"] == "002-2026.11"
    assert line["detail"]["note"] == "tel [phone]" and PHONE not in log_stream.getvalue()


@pytest.mark.parametrize("text", [
    "0193a6c2-1234-7abc-8def-123456789abc",
    "2026-11-23T09:15:00.123456+00:00",
    "deadline 2026-12-10 17:00",
    "NS-000123",
    "ev.navegasoft.7.sla.breached",
    "nats://127.0.0.1:4222",
    "host 192.168.100.200",
    "body is over 1048576 bytes",
    "retry in 1.5 s after 3 deliveries",
])
def test_what_operations_need_is_left_alone(text: str) -> None:
    assert mask_text(text) == text
