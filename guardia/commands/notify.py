"""`guardia notify test|status`: try a transport by hand, and see what became of a ticket's notifications.

    guardia notify test --channel whatsapp --to 5214425550187       # one test message; prints the answer
    guardia notify status 0193a6c2-...                              # every notification of the ticket
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any

import typer
from rich.console import Console

from guardia.commands.listing import print_listing
from guardia.settings import Settings

notify_app = typer.Typer(help="Notifications: try a transport, see a ticket's deliveries.", no_args_is_help=True)
console = Console()

#: The settings each channel needs (README "Delivering notifications").
NEEDS = {
    "whatsapp": "GUARDIA_WHATSAPP_ACCESS_TOKEN and GUARDIA_WHATSAPP_PHONE_NUMBER_ID",
    "telegram": "GUARDIA_TELEGRAM_BOT_TOKEN",
    "sms": "GUARDIA_TWILIO_ACCOUNT_SID, GUARDIA_TWILIO_AUTH_TOKEN and GUARDIA_TWILIO_FROM",
    "email": "GUARDIA_SMTP_URL and GUARDIA_MAIL_FROM",
    "webhook": "GUARDIA_STAFF_WEBHOOK_URL",
}


@notify_app.command("test")
def notify_test(
    channel: Annotated[str, typer.Option(help="whatsapp, telegram, sms, email or webhook.")],
    tenant: Annotated[str | None, typer.Option(help="Whose accounts (its policy's notify.accounts, else the "
                                                    "GUARDIA_* ones); default: GUARDIA_DEFAULT_TENANT.")] = None,
    to: Annotated[str, typer.Option(help="wa_id, chat id, E.164 phone or e-mail address (ignored for webhook).")] = "",
    text: Annotated[str, typer.Option(help="The message.")] = "Mensaje de prueba de guardia: si lo recibe, "
                                                                 "el canal está bien configurado.",
) -> None:
    """Send one test message through the configured transport and print what the provider answered."""
    from guardia.policy import Policies, PolicyError
    from services.notify.delivery import AccountError, tenant_transports, transports_from
    from services.notify.transports.base import Outgoing

    if channel not in NEEDS:
        raise typer.BadParameter(f"{channel!r} is not one of {', '.join(NEEDS)}", param_hint="--channel")
    if not to and channel != "webhook":
        raise typer.BadParameter("give the address to send to", param_hint="--to")
    settings = Settings()
    tenant = tenant or settings.default_tenant
    try:
        policies = Policies.load(settings.policy_dir)
        accounts = policies[tenant].notify.accounts
        transport = tenant_transports(settings, {tenant: accounts}, transports_from(settings))[tenant].get(channel)
    except (PolicyError, AccountError, KeyError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if transport is None:
        console.print(f"[red]{channel} is not configured for {tenant}[/red]: set {NEEDS[channel]} or the tenant "
                      "policy's notify.accounts (notifications for it go to the outbox file meanwhile)")
        raise typer.Exit(2)
    message = Outgoing(notification_id=f"test:{uuid.uuid4()}", channel=channel, to=to, body=text,
                       subject="Prueba de guardia", kind="test")

    async def send() -> Any:
        try:
            return await transport.send(message)
        finally:
            await transport.aclose()

    outcome = asyncio.run(send())
    if outcome.accepted:
        console.print(f"[green]accepted[/green] by {outcome.transport}: provider id {outcome.provider_id}")
        return
    console.print(f"[red]failed[/red] on {outcome.transport}: {outcome.reason} ({outcome.detail}); "
                  f"{'worth retrying' if outcome.retry else 'retrying will not help'}"
                  + (f", retry after {outcome.retry_after:.0f} s" if outcome.retry_after else ""))
    raise typer.Exit(1)


@notify_app.command("status")
def notify_status(
    ticket: Annotated[str, typer.Argument(help="The ticket id (or its first characters).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per notification.")] = False,
) -> None:
    """Every notification of a ticket: channel, recipient, attempts and where it stands."""
    from guardia.bus.topology import EVENTS
    from guardia.eventlog import read_stream
    from guardia.runner import resolve_nats_url

    async def collect() -> list[dict[str, Any]]:
        from guardia.bus.connection import connect

        nc = await connect(Settings(), resolve_nats_url(Settings()))
        try:
            js = nc.jetstream()
            return [doc async for m in read_stream(js, EVENTS, "ev.*.*.notification.>")
                    if str((doc := json.loads(m.data)).get("ticket_id") or "").startswith(ticket)]
        finally:
            await nc.close()

    rows = summarize(asyncio.run(collect()))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    print_listing(console, ("notification", "kind", "channel", "to", "attempts", "status", "detail"),
                  [(str(r["notification_id"]), str(r["kind"]), str(r["channel"]), str(r["to"]), str(r["attempts"]),
                    str(r["status"]), str(r["detail"])) for r in rows],
                  widths={"detail": 120}, footer=f"{len(rows)} notifications")


def summarize(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events of one ticket, oldest first -> one row per notification id, in the order they were requested."""
    rows: dict[str, dict[str, Any]] = {}
    for doc in docs:
        data, kind = doc.get("data") or {}, doc.get("event_type")
        nid = str(data.get("notification_id", ""))
        if kind == "notification.requested":
            rows[nid] = {"notification_id": nid, "kind": data.get("kind", ""), "channel": data.get("channel", ""),
                         "to": data.get("to", ""), "attempts": 0, "status": "requested", "detail": ""}
            continue
        row = rows.get(nid)
        if row is None:
            continue
        if kind == "notification.sent":
            row.update(attempts=data.get("attempt", 1), status="sent",
                       detail=f"{data.get('transport')} {data.get('provider_id') or ''}"
                              + (" (re-sent after a crash: may have arrived twice)" if data.get("uncertain") else ""))
        elif kind == "notification.failed":
            row.update(attempts=max(row["attempts"], int(data.get("attempt", 1))),
                       status="retrying" if data.get("will_retry") else "failed",
                       detail=f"{data.get('reason_code')}: {data.get('error', '')}")
        elif kind == "notification.delivered":
            row.update(status="read" if data.get("read") else "delivered")
        elif kind == "notification.undeliverable":
            row.update(status="undeliverable", detail=f"tried {', '.join(data.get('tried', []))}")
    return list(rows.values())
