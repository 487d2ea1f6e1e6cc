"""Reading what the pipeline did, from the streams and the outbox."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from nats.js import JetStreamContext

from guardia.bus.topology import DLQ, EVENTS
from guardia.eventlog import read_stream

T = TypeVar("T")

#: Improvement ideas and usability complaints (001 §3.7): each one counts for the committee.
IDEAS = [
    "Sería bueno que el reporte de ventas permita filtrar por vendedor",
    "La pantalla de conciliación es muy confusa, no se entiende qué botón usar",
    "Podrían agregar una nueva función para exportar el libro auxiliar a Excel",
    "Sugerencia: que la factura muestre el saldo pendiente del cliente",
    "No es claro dónde se configuran los descuentos por volumen, es poco intuitivo",
    "Sería bueno que el POS permita dividir la cuenta entre varias personas",
    "Podrían agregar alertas cuando el inventario esté bajo el mínimo",
    "El menú de nómina es confuso, cuesta encontrar las novedades",
    "Sugerencia: poder duplicar una cotización con un clic",
    "Sería mejor que el tablero muestre los vencimientos de la semana",
]


async def events(js: JetStreamContext, ticket_id: str | None = None, subject: str = "ev.>") -> list[dict[str, Any]]:
    docs = [json.loads(m.data) async for m in read_stream(js, EVENTS, subject, idle=0.3)]
    return [d for d in docs if ticket_id is None or d.get("ticket_id") == ticket_id]


async def dead_letters(js: JetStreamContext) -> list[dict[str, Any]]:
    return [json.loads(m.data) async for m in read_stream(js, DLQ, "dlq.>", idle=0.3)]


def types_of(docs: list[dict[str, Any]]) -> list[str]:
    return [d["event_type"] for d in docs]


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = 15.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {within}s waiting for {what}; last: {last!r}")


def outbox(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def contact(text: str, *, email: str = "laura.gomez@ferreteriaelsol.co", pid: str | None = None,
            channel: str = "email", tenant: str = "navegasoft", minutes_ago: float = 0.0,
            subject: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "tenant": tenant, "channel": channel, "subject": subject, "text": text,
        "customer": {"name": "Laura Gómez", "email": email, "phone": _phone_of(email),
                     "company": "Ferretería El Sol SAS"},
        "received_at": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
    }
    if pid:
        body["provider_message_id"] = pid
    return body


def _phone_of(email: str) -> str:
    """Laura's real number for Laura; another valid Colombian mobile for anyone else (one person, one phone)."""
    if email == "laura.gomez@ferreteriaelsol.co":
        return "+573001234567"
    digits = int(hashlib.sha256(email.encode()).hexdigest(), 16) % 10_000_000
    return f"+57300{digits:07d}"
