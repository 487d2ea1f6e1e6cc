"""Posting a generated history (history.py) through the real gateway, in event-time order.

Each call goes to the API a help desk uses (`POST /v1/contacts`, `/v1/tickets/{id}/status`,
`/v1/tickets/{id}/replies`), dated with `received_at` / `at`, so every service sees what it would have
seen live and the clocks compute with event time (design.md invariant 1). The gateway names a ticket
only when its contact is accepted: the sender keeps the generator's key -> ticket id map.

One wait keeps the clocks true: a ticket's first status change is posted only after triage has
published its classification. sla_watch starts a clock on `ticket.classified` (counting from the
opening, 001 §3.2) and applies status changes in stream order; a resolution that reached it before the
classification would leave the ticket with no clock at all. Timers that fall due in the past fire at
once and are dated at their own instants (services/sla_watch/engine.py `due`).

Every customer and staff notification of the history is produced too. With no provider account they
go to the outbox file; `confirmations_needed` lists why a run could reach real people, and the CLI
refuses those without `--yes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
from nats.aio.msg import Msg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from guardia.demo.history import TENANTS, History
from guardia.settings import Settings
from guardia.tokens import bearer

#: Delivery accounts of the installation (settings.py); any of them set means real messages.
PROVIDER_SETTINGS = ("whatsapp_access_token", "telegram_bot_token", "twilio_account_sid", "smtp_url",
                     "staff_webhook_url")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def confirmations_needed(settings: Settings, base_url: str) -> list[str]:
    """Why this run might not be the embedded default of `guardia up` with its outbox: each reason asks
    for `--yes`. Hundreds of back-dated tickets mean hundreds of messages to customers and staff."""
    reasons = []
    if settings.nats_url:
        reasons.append("NATS_URL is set: not the embedded default of `guardia up`")
    if urlparse(base_url).hostname not in LOOPBACK:
        reasons.append(f"the gateway {base_url} is not on this machine")
    if settings.env == "production":
        reasons.append("GUARDIA_ENV=production")
    if configured := [name for name in PROVIDER_SETTINGS if getattr(settings, name)]:
        reasons.append(f"provider accounts are configured ({', '.join('GUARDIA_' + n.upper() for n in configured)}):"
                       " customers and staff would receive the history's messages")
    if settings.policy_dir is not None:
        reasons.append("GUARDIA_POLICY_DIR is set: a tenant policy may name its own provider accounts")
    return reasons


@dataclass
class Watch:
    """What the pipeline said back, from a plain subscription to classifications and clock events."""

    classified: set[str] = field(default_factory=set)
    clock_events: Counter[tuple[str, str]] = field(default_factory=Counter)  # (ticket id, event type)
    last_seen: float = field(default_factory=time.monotonic)
    news: asyncio.Event = field(default_factory=asyncio.Event)

    def on_message(self, msg: Msg) -> None:
        self.last_seen = time.monotonic()
        self.news.set()
        with contextlib.suppress(ValueError, KeyError, TypeError):
            doc = json.loads(msg.data)
            if doc["event_type"] == "ticket.classified":
                self.classified.add(str(doc["ticket_id"]))
            elif doc.get("ticket_id"):
                self.clock_events[(str(doc["ticket_id"]), doc["event_type"])] += 1


@dataclass
class Outcome:
    """What the gateway answered, per generator key, and the rejections."""

    ticket_ids: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)  # key -> opened | merged | ...
    rejected: list[tuple[str, str, int, str]] = field(default_factory=list)  # key, kind, status, error
    unexpected: list[tuple[str, str]] = field(default_factory=list)  # key, what
    skipped: int = 0
    already_sent: bool = False
    unclassified: set[str] = field(default_factory=set)


async def _classified(watch: Watch, ticket_id: str, within: float) -> bool:
    """Wait (at most `within` seconds) until triage has published the ticket's classification."""
    deadline = time.monotonic() + within
    while ticket_id not in watch.classified:
        watch.news.clear()
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.news.wait(), left)
    return True


async def post_history(base_url: str, history: History, token: str | None, watch: Watch,
                       progress: Progress | None = None, classify_within: float = 30.0) -> Outcome:
    """Post every call of `history` in order. Stops early, with `already_sent`, if the first contact
    was seen before (the same seed on the same day: the history is in the log already)."""
    out = Outcome()
    task = progress.add_task("enviando historia", total=len(history.calls)) if progress else None
    touched: set[str] = set()
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, headers=bearer(token)) as client:
        for call in history.calls:
            if progress is not None and task is not None:
                progress.advance(task)
            if call.kind == "contact":
                answer = await client.post("/v1/contacts", json=call.body)
                doc = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
                if answer.status_code != 202:
                    out.rejected.append((call.ticket, call.kind, answer.status_code, str(doc.get("error"))))
                    continue
                if call.ticket not in out.ticket_ids:
                    if doc["outcome"] == "duplicate" and not out.ticket_ids:
                        out.already_sent = True
                        return out
                    out.ticket_ids[call.ticket], out.outcomes[call.ticket] = doc["ticket_id"], doc["outcome"]
                    if doc["outcome"] not in ("opened", "merged"):
                        out.unexpected.append((call.ticket, f"first contact {doc['outcome']}"))
                elif doc["ticket_id"] != out.ticket_ids[call.ticket] or doc["outcome"] != "appended":
                    out.unexpected.append((call.ticket, f"customer's answer {doc['outcome']}"))
                continue
            ticket_id = out.ticket_ids.get(call.ticket)
            if ticket_id is None:
                out.skipped += 1
                continue
            if call.kind == "status" and ticket_id not in touched:
                touched.add(ticket_id)
                if not await _classified(watch, ticket_id, classify_within):
                    out.unclassified.add(call.ticket)
            path = "status" if call.kind == "status" else "replies"
            answer = await client.post(f"/v1/tickets/{ticket_id}/{path}", json=call.body)
            if answer.status_code != 202:
                error = answer.json().get("error") if answer.content else ""
                out.rejected.append((call.ticket, call.kind, answer.status_code, str(error)))
    return out


async def settle(watch: Watch, quiet: float = 3.0, within: float = 60.0) -> None:
    """Wait until the pipeline has been quiet for `quiet` seconds (timers due in the past fire now)."""
    deadline = time.monotonic() + within
    while True:
        idle = time.monotonic() - watch.last_seen
        if idle >= quiet or time.monotonic() >= deadline:
            return
        await asyncio.sleep(quiet - idle)


def summary(history: History, out: Outcome, watch: Watch) -> Table:
    """Per tenant: what was sent and what the clocks did (Spanish labels: leaders read it)."""
    rows: dict[str, Counter[str]] = {t: Counter() for t in TENANTS}
    for plan in history.tickets:
        count = rows[plan.tenant]
        ticket_id = out.ticket_ids.get(plan.key)
        if ticket_id is None:
            continue
        count["tiques"] += out.outcomes.get(plan.key) == "opened"
        count["fusionados"] += out.outcomes.get(plan.key) == "merged"
        for tag, label in (("resolved", "resueltos"), ("paused", "en pausa"), ("reopened", "reabiertos"),
                           ("cancelled", "cancelados"), ("open", "abiertos"), ("holiday", "en festivo"),
                           ("weekend", "en fin de semana")):
            count[label] += tag in plan.tags
        count["incumplidos"] += watch.clock_events[(ticket_id, "sla.breached")] > 0
        count["alertas"] += watch.clock_events[(ticket_id, "sla.warning")]
    columns = ("tiques", "fusionados", "resueltos", "en pausa", "reabiertos", "cancelados", "abiertos",
               "incumplidos", "alertas", "en festivo", "en fin de semana")
    table = Table(title=f"historia de {history.start:%Y-%m-%d} a {history.now:%Y-%m-%d}, semilla {history.seed}")
    table.add_column("tenant")
    for column in columns:
        table.add_column(column, justify="right")
    for tenant, count in rows.items():
        table.add_row(tenant, *(str(count[c]) for c in columns))
    table.add_row("total", *(str(sum(rows[t][c] for t in TENANTS)) for c in columns), style="bold")
    return table


async def send_history(base_url: str, nats_url: str, history: History, token: str | None, settings: Settings,
                       console: Console | None = None) -> tuple[Outcome, Watch]:
    """Subscribe to what the pipeline answers, post the history with a progress bar, wait for the
    clocks to settle, print the summary."""
    from guardia.bus.connection import connect

    console = console or Console()
    watch = Watch()
    nc = await connect(settings, nats_url)
    try:
        await nc.subscribe("ev.*.*.ticket.classified", cb=_async(watch.on_message))
        await nc.subscribe("ev.*.*.sla.>", cb=_async(watch.on_message))
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            out = await post_history(base_url, history, token, watch, progress)
        if out.already_sent:
            return out, watch
        with console.status("esperando a que los relojes terminen de correr"):
            await settle(watch)
    finally:
        await nc.close()
    table = summary(history, out, watch)
    # piped, a console is 80 columns wide and would cut every header to three letters; the table needs ~130
    (console if console.is_terminal else Console(file=console.file, width=max(console.width, 160))).print(table)
    if out.rejected:
        reasons = Counter(f"{kind} {status} {error}" for _, kind, status, error in out.rejected)
        console.print("[red]rechazadas:[/red] " + ", ".join(f"{r} ×{n}" for r, n in reasons.most_common()))
    if out.unexpected:
        console.print(f"[yellow]{len(out.unexpected)} contactos con otro destino del previsto[/yellow] "
                      f"(p. ej. {out.unexpected[0][0]}: {out.unexpected[0][1]})")
    return out, watch


def _async(handler: Any) -> Any:
    async def cb(msg: Msg) -> None:
        handler(msg)

    return cb
