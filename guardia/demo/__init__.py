"""`guardia demo`: the seeds' scenarios as contacts, posted to the gateway, followed live.

Each sample contact says how long ago the customer wrote (`minutes_ago`), so some tickets arrive
already close to, or past, their 001 deadline: the table shows warnings, a breach and its escalation
as they happen, in event time, without waiting hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.live import Live
from rich.table import Table

from guardia.bus.topology import EVENTS
from guardia.eventlog import read_stream
from guardia.tokens import bearer

CONTACTS = Path(__file__).with_name("contacts.yaml")
console = Console()


def load_contacts(path: Path = CONTACTS, now: datetime | None = None) -> list[dict[str, Any]]:
    """The sample contacts as `POST /v1/contacts` bodies, dated relative to `now`."""
    now = now or datetime.now(UTC)
    bodies = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")):
        received = now - timedelta(minutes=float(item.get("minutes_ago", 0)))
        bodies.append({
            "tenant": item["tenant"], "channel": item["channel"],
            "provider_message_id": item["provider_message_id"], "customer": item["customer"],
            "subject": item.get("subject") or "", "text": item["text"], "received_at": received.isoformat(),
        })
    return bodies


@dataclass
class Row:
    number: str = "?"
    tenant: str = ""
    channel: str = ""
    ticket_type: str = ""
    priority: str = ""
    deadline: str = ""
    sla: str = ""
    owner: str = ""
    notifications: list[str] = field(default_factory=list)
    messages: int = 1


@dataclass
class Board:
    rows: dict[str, Row] = field(default_factory=dict)
    committees: list[str] = field(default_factory=list)
    events: int = 0

    def apply(self, doc: dict[str, Any]) -> None:
        self.events += 1
        kind, data, tid = doc["event_type"], doc["data"], doc.get("ticket_id")
        if kind == "committee.convened":
            self.committees.append(f"{doc['tenant']} #{data['batch_number']}: {', '.join(data['ticket_numbers'])}")
        if tid is None:
            return
        row = self.rows.setdefault(tid, Row(tenant=doc["tenant"]))
        if kind == "ticket.opened":
            row.number, row.channel = data["ticket_number"], data["channel"]
        elif kind == "ticket.message_added":
            row.messages += 1
        elif kind == "ticket.classified":
            row.ticket_type, row.priority = data["ticket_type"] or "—", data["priority"]
        elif kind == "sla.started":
            row.deadline, row.sla = str(data["deadline"])[:16].replace("T", " "), "running"
        elif kind == "sla.exempted":
            row.sla = f"no clock ({data['reason']})"
        elif kind == "sla.warning":
            row.sla = f"warning {round(data['fraction'] * 100)} %"
        elif kind == "sla.breached":
            row.sla = "BREACHED"
        elif kind == "sla.met":
            row.sla = "met late" if data.get("breached") else "met"
        elif kind == "ticket.assigned":
            row.owner = data["level"] + (" + alerta 24/7" if data["alert_emergency"] else "")
        elif kind == "ticket.escalated":
            row.owner = f"{data['from_level']} → {data['to_level']}"
        elif kind == "notification.sent":
            row.notifications.append(data["notification_id"].split(":", 1)[1].split(":")[0])

    def table(self) -> Table:
        t = Table(title=f"guardia demo — {len(self.rows)} tickets, {self.events} events", expand=False)
        for col in ("ticket", "tenant", "channel", "msgs", "type", "priority", "SLA deadline (UTC)", "SLA",
                    "owner / escalation", "notifications"):
            t.add_column(col)
        for row in sorted(self.rows.values(), key=lambda r: r.number):
            style = "red" if row.sla == "BREACHED" else "yellow" if row.sla.startswith("warning") else None
            t.add_row(row.number, row.tenant, row.channel, str(row.messages), row.ticket_type, row.priority,
                      row.deadline, row.sla, row.owner, ", ".join(row.notifications), style=style)
        if self.committees:
            t.caption = "Comité convocado: " + " | ".join(self.committees)
        return t


async def post_contacts(base_url: str, bodies: list[dict[str, Any]], token: str | None) -> list[dict[str, Any]]:
    answers = []
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, headers=bearer(token)) as client:
        for body in bodies:
            response = await client.post("/v1/contacts", json=body)
            answers.append({"status": response.status_code, **response.json()})
    return answers


async def follow(nats_url: str, board: Board, seconds: float, live: Live | None) -> None:
    from guardia.bus.connection import connect
    from guardia.settings import Settings

    nc = await connect(Settings(), nats_url)  # several servers and the user from the environment
    try:
        js = nc.jetstream()

        async def consume() -> None:
            async for msg in read_stream(js, EVENTS, "ev.>", follow=True, idle=0.5):
                board.apply(json.loads(msg.data))
                if live is not None:
                    live.update(board.table())

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(consume(), timeout=seconds)
    finally:
        await nc.close()


async def run_demo_against(base_url: str, nats_url: str, seconds: float = 20.0, token: str | None = None) -> Board:
    """Post the contacts (with the API token: guardia/tokens.py `client_token`), then show the board live."""
    board = Board()
    bodies = load_contacts()
    answers = await post_contacts(base_url, bodies, token)
    rejected = [a for a in answers if a["status"] != 202]
    console.print(f"posted {len(bodies)} contacts: {len(bodies) - len(rejected)} accepted, {len(rejected)} rejected")
    if reasons := sorted({str(a.get("error")) for a in rejected}):
        console.print(f"[red]rejected:[/red] {', '.join(reasons)}")
    with Live(board.table(), console=console, refresh_per_second=4) as live:
        await follow(nats_url, board, seconds, live)
    return board


async def run_demo_in_process(state: Any) -> None:
    """`guardia up --demo`: the same demo, against the services this process just started."""
    await run_demo_against(state.base_url, state.settings.nats_url, seconds=state.settings.demo_seconds,
                           token=state.token)
    console.print("guardia keeps running (Ctrl-C to stop); `guardia events` and `guardia dead-letters` "
                  "read the streams from another terminal.")
