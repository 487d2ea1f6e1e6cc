"""The `guardia` command: run the services, feed the demo, read the event log and the dead letters."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from guardia.bus.connection import connect
from guardia.logs import configure
from guardia.settings import Settings
from guardia.tokens import Role

if TYPE_CHECKING:
    from guardia.tokens import TokenStore

T = TypeVar("T")

app = typer.Typer(help="guardia: every customer contact becomes a tracked, classified, clocked ticket.",
                  no_args_is_help=True)
schemas_app = typer.Typer(help="The versioned event catalogue.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
def _register_classify() -> None:
    from guardia.commands.classify import classify_command

    app.command("classify")(classify_command)


_register_classify()


def _register_notify() -> None:
    from guardia.commands.notify import notify_app

    app.add_typer(notify_app, name="notify")


_register_notify()


def _register_whatif() -> None:
    from guardia.commands.whatif import whatif_command

    app.command("whatif")(whatif_command)


_register_whatif()


def _register_analytics() -> None:
    """`guardia replay` and `guardia report` (the `analytics` extra: DuckDB, pyarrow, Altair)."""
    from guardia.commands.analytics import replay_command, report_command

    app.command("replay")(replay_command)
    app.command("report")(report_command)


_register_analytics()


def _register_deploy() -> None:
    from guardia.commands.deploy import deploy_app

    app.add_typer(deploy_app, name="deploy")


_register_deploy()
triage_app = typer.Typer(help="Triage's training data.", no_args_is_help=True)
app.add_typer(triage_app, name="triage")


def _corrections_from_nats() -> list[str]:
    """Agents' corrections kept by the triage service, as labeled corpus lines (LABELING.md format)."""
    from guardia.bus.state import read
    from guardia.bus.topology import bucket
    from guardia.runner import resolve_nats_url

    async def collect() -> list[dict[str, object]]:
        nc = await connect(_settings(), resolve_nats_url(_settings()))
        try:
            kv = await bucket(nc.jetstream(), "triage_corrections")
            try:
                keys = await kv.keys()
            except Exception:  # nats-py raises NoKeysError on an empty bucket
                return []
            return [value for key in keys if (value := (await read(kv, key)).value) is not None]
        finally:
            await nc.close()

    return [json.dumps({"id": f"correction-{r['id']}", "text": r["text"], "channel": r["channel"],
                        "type": r["type"], "priority": r["priority"], "area": r["area"],
                        "categories": r["categories"], "abusive": False, "playbook": None,
                        "note": f"agent {r['by']}: {r['reason']}"}, ensure_ascii=False)
            for r in asyncio.run(collect())]


@triage_app.command("corrections")
def triage_corrections(
    output: Annotated[Path | None, typer.Option(help="Append to this JSON-lines file (default: print).")] = None,
) -> None:
    """Export agents' corrections as labeled corpus lines, for the next training (README: retraining)."""
    lines = _corrections_from_nats()
    if output is None:
        for line in lines:
            typer.echo(line)
        return
    with output.open("a", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)
    console.print(f"{len(lines)} corrections appended to {output}")


@triage_app.command("retrain")
def triage_retrain(
    corrections: Annotated[Path | None, typer.Option(
        help="Labeled JSON lines to learn from (default: the agents' corrections, read from NATS).",
        exists=True, dir_okay=False, readable=True)] = None,
    independent: Annotated[Path | None, typer.Option(
        help="The set both models are judged on (default: services/triage/corpus/independent.jsonl).",
        exists=True, dir_okay=False, readable=True)] = None,
    tenant: Annotated[str, typer.Option(help="Tenant whose triage vocabulary applies.",
                                        envvar="GUARDIA_DEFAULT_TENANT")] = "navegasoft",
) -> None:
    """Retrain triage with agents' corrections; keep them only if the model is not worse on the independent set."""
    import tempfile

    from guardia.policy import Policies, PolicyError
    from services.triage.app import accepted_corrections
    from services.triage.model import INDEPENDENT, TRAIN, load_corpus
    from services.triage.retrain import CORE, merge, retrain, write_corrections

    settings = _settings()
    try:
        triage = Policies.load(settings.policy_dir)[tenant].triage
    except (KeyError, PolicyError) as exc:
        raise typer.BadParameter(str(exc).strip("\"'"), param_hint="--tenant") from exc
    try:
        if corrections is not None:
            new = load_corpus(corrections)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                exported = Path(tmp) / "corrections.jsonl"
                exported.write_text("".join(line + "\n" for line in _corrections_from_nats()), encoding="utf-8")
                new = load_corpus(exported)
        target = accepted_corrections(settings)
        accepted = load_corpus(target) if target.exists() else []
        judged_on = independent or INDEPENDENT
        verdict = retrain(triage.merged_vocabulary(), load_corpus(TRAIN), accepted, new, load_corpus(judged_on),
                          triage.review_below)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    table = Table(title=f"{judged_on.name}: {verdict.before.n} messages no training writer saw")
    table.add_column("field")
    table.add_column(f"in force {verdict.before_version}", justify="right")
    table.add_column(f"candidate {verdict.after_version}", justify="right")
    for f in (*CORE, "categories", "abusive", "playbook"):
        table.add_row(f, f"{verdict.before.accuracy(f):.1%}", f"{verdict.after.accuracy(f):.1%}")
    console.print(table)
    console.print(f"{len(new)} corrections, {len(accepted)} accepted before")
    if not verdict.accepted:
        console.print(f"[red]refused[/red]: {verdict.why}; nothing changed")
        raise typer.Exit(1)
    write_corrections(target, merge(accepted, new))
    console.print(f"[green]accepted[/green]: {verdict.why}; written to {target}. "
                  f"Restart triage to serve model {verdict.after_version}.")


sla_app = typer.Typer(help="SLA clocks: simulate a timeline, explain a live ticket.", no_args_is_help=True)
app.add_typer(sla_app, name="sla")
console = Console()

SERVICE_NAMES = ("intake", "triage", "sla_watch", "escalation", "notify")


def _settings() -> Settings:
    settings = Settings()
    configure(settings.log_format, settings.log_level, show_pii=settings.log_pii)
    return settings


@app.command()
def up(
    demo: Annotated[bool, typer.Option("--demo", help="Send the sample contacts and show them live.")] = False,
) -> None:
    """Run all five services and the HTTP gateway, one process each (embedded nats-server without NATS_URL)."""
    from guardia.supervisor import serve

    settings = _settings()
    after = None
    if demo:
        from guardia.demo import run_demo_in_process

        after = run_demo_in_process
    asyncio.run(serve(settings, after_start=after))


@app.command()
def run(service: Annotated[str, typer.Argument(help="intake, triage, sla_watch, escalation or notify")]) -> None:
    """Run one service against NATS_URL, as its container does."""
    from guardia.runner import serve_until_signalled

    if service not in SERVICE_NAMES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICE_NAMES)}")
    settings = _settings()
    if settings.nats_url is None:
        console.print("[red]NATS_URL is not set[/red]: `guardia run` joins an existing NATS; "
                      "`guardia up` starts its own.")
        raise typer.Exit(2)
    from guardia.bus.runtime import LegacyLayout

    try:
        asyncio.run(serve_until_signalled((service,), settings))
    except LegacyLayout as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(3) from None


@app.command()
def migrate() -> None:
    """Hand the event log of an older installation over to the partitioned layout (stop services first)."""
    from guardia.migrate import migrate as run_migration
    from guardia.runner import resolve_nats_url

    settings = _settings()
    settings = settings.model_copy(update={"nats_url": resolve_nats_url(settings)})
    handled = asyncio.run(run_migration(settings))
    for service, count in handled.items():
        console.print(f"{service}: " + ("nothing to migrate" if count is None else
                                        f"{count} waiting message(s) handled, legacy consumer removed"))


@app.command()
def demo(
    url: Annotated[str | None, typer.Option(help="Gateway of a running guardia (default: from settings).")] = None,
    seconds: Annotated[float, typer.Option(help="How long to keep the live table after the last contact.")] = 20.0,
    history: Annotated[str | None, typer.Option(
        "--history", help="Instead of the sample contacts, a seeded past of this span (e.g. 60d): resolutions, "
                          "pauses, reopens, breaches, holidays, four tenants; posted in event-time order.")] = None,
    seed: Annotated[int, typer.Option(help="With --history: the same seed gives the same calls, order and texts.")] = 1,
    yes: Annotated[bool, typer.Option("--yes", help="With --history: send it even if this is not the embedded "
                                                    "default (its notifications may reach real people).")] = False,
) -> None:
    """Send the seeds' sample contacts to a running guardia and show each ticket live (or, with --history,
    a realistic past so the reports have something to show on the first day)."""
    from guardia.demo import run_demo_against
    from guardia.runner import resolve_nats_url
    from guardia.tokens import client_token

    settings = _settings()
    base = url or f"http://{settings.http_host}:{settings.http_port}"
    token = client_token(settings)
    if token is None:
        console.print("[red]no API token[/red]: set GUARDIA_API_TOKEN (`guardia tokens create`), or run "
                      "`guardia up` on this data folder, which writes a local one")
        raise typer.Exit(2)
    if history is not None:
        _demo_history(settings, base, token, history, seed, yes)
        return
    asyncio.run(run_demo_against(base, resolve_nats_url(settings), seconds, token=token))


def _demo_history(settings: Settings, base: str, token: str, span: str, seed: int, yes: bool) -> None:
    """`guardia demo --history`: refuse what could reach real people without --yes, then send and sum up."""
    from datetime import UTC, datetime

    from guardia.demo.history import generate, parse_span
    from guardia.demo.history_send import confirmations_needed, send_history
    from guardia.runner import resolve_nats_url

    try:
        length = parse_span(span)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--history") from exc
    if (reasons := confirmations_needed(settings, base)) and not yes:
        console.print("[red]refused[/red]: --history sends hundreds of tickets, and their notifications, to "
                      f"{base}; this does not look like the embedded default of `guardia up`:")
        for reason in reasons:
            console.print(f"  - {reason}")
        console.print("Add --yes to send it anyway.")
        raise typer.Exit(2)
    plan = generate(seed, length, datetime.now(UTC))
    console.print(f"{len(plan.tickets)} tickets, {len(plan.calls)} calls, seed {seed}, "
                  f"{plan.start:%Y-%m-%d %H:%M} to {plan.now:%Y-%m-%d %H:%M} UTC")
    out, _ = asyncio.run(send_history(base, resolve_nats_url(settings), plan, token, settings, console))
    if out.already_sent:
        console.print(f"[yellow]already sent[/yellow]: the history of seed {seed} for today is in the log; "
                      "use another --seed")
        raise typer.Exit(1)
    console.print("next: `guardia replay --to replay/` then `guardia report daily --tenant navegasoft "
                  "--from-dir replay/ --format html --out diario.html`")


async def _collect(stream: str, subject: str) -> list[dict[str, object]]:
    from guardia.eventlog import read_stream
    from guardia.runner import resolve_nats_url

    nc = await connect(_settings(), resolve_nats_url(_settings()))
    try:
        js = nc.jetstream()
        return [json.loads(m.data) async for m in read_stream(js, stream, subject)]
    finally:
        await nc.close()


@app.command()
def events(
    subject: Annotated[str, typer.Option(
        "--subject", help="NATS subject pattern, e.g. 'ev.*.*.sla.>' (ev.<tenant>.<partition>.<aggregate>.<event>)",
    )] = "ev.>",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON envelope per line.")] = False,
) -> None:
    """Print the event log (GUARDIA_EVENTS), oldest first."""
    from guardia.bus.topology import EVENTS

    docs = asyncio.run(_collect(EVENTS, subject))
    if as_json:
        for doc in docs:
            typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    from guardia.commands.listing import print_listing

    rows = [(str(doc["occurred_at"]), str(doc["tenant"]), str(doc["event_type"]), str(doc.get("ticket_id") or ""),
             str(doc["producer"]), json.dumps(doc.get("data"), ensure_ascii=False)) for doc in docs]
    print_listing(console, ("occurred_at", "tenant", "event", "ticket", "producer", "data"), rows,
                  prefixes={"occurred_at": 19, "ticket": 8}, widths={"data": 90}, footer=f"{len(docs)} events")


dead_letters_app = typer.Typer(help="What was rejected, where and why; re-feed one after a fix.")
app.add_typer(dead_letters_app, name="dead-letters")


@dead_letters_app.callback(invoke_without_command=True)
def dead_letters(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON envelope per line.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Show the rejected bytes too.")] = False,
) -> None:
    """List what was rejected, where, and why (GUARDIA_DLQ)."""
    if ctx.invoked_subcommand is not None:
        return
    from guardia.bus.topology import DLQ

    docs = asyncio.run(_collect(DLQ, "dlq.>"))
    if as_json:
        for doc in docs:
            typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    from guardia.commands.listing import print_listing

    columns = ("id", "at", "tenant", "source", "reason_code", "reason", "body", *(("raw",) if raw else ()))
    rows = []
    for doc in docs:
        data: dict[str, object] = doc["data"]  # type: ignore[assignment]
        ref = data.get("raw_ref")
        row = [str(doc["event_id"]), str(doc["occurred_at"]), str(doc["tenant"]), str(data["source"]),
               str(data["reason_code"]), str(data["reason"]), _body_where(data)]
        if raw:
            row.append(f"(in {_body_where(data)}; `guardia dead-letters retry` reads it)" if ref else
                       base64.b64decode(str(data["raw_base64"])).decode(errors="replace"))
        rows.append(row)
    print_listing(console, columns, rows, prefixes={"at": 19}, widths={"reason": 100, "raw": 300},
                  footer=f"{len(docs)} dead letters")


def _body_where(data: dict[str, object]) -> str:
    """Where a dead letter's raw bytes are: inline, or the object store reference (bucket/sha256)."""
    ref = data.get("raw_ref")
    if isinstance(ref, dict):
        return f"object {ref['bucket']}/{ref['name']} ({ref['size']} bytes, sha256 {ref['sha256']})"
    return f"inline ({data.get('raw_size', 0)} bytes)"


async def _dead_letter_body(data: dict[str, object]) -> bytes:
    """A dead letter's raw bytes: inline, or read back from its object store and checked against its sha256."""
    import hashlib

    from guardia.runner import resolve_nats_url

    ref = data.get("raw_ref")
    if not isinstance(ref, dict):
        return base64.b64decode(str(data["raw_base64"]))
    nc = await connect(_settings(), resolve_nats_url(_settings()))
    try:
        store = await nc.jetstream().object_store(str(ref["bucket"]))
        body = (await store.get(str(ref["name"]))).data or b""
    finally:
        await nc.close()
    if hashlib.sha256(body).hexdigest() != ref["sha256"]:
        raise RuntimeError(f"object {ref['bucket']}/{ref['name']} does not match the dead letter's sha256")
    return body


@dead_letters_app.command("retry")
def dead_letters_retry(
    letter_id: Annotated[str, typer.Argument(help="The dead letter's id (as listed), or a unique prefix.")],
    url: Annotated[str | None, typer.Option(help="Gateway of a running guardia (default: from settings).")] = None,
) -> None:
    """Re-feed one dead letter after a fix: gateway rejects are posted again to the same endpoint with their
    original headers; consumer rejects are published again on their subject."""
    import httpx

    from guardia.bus.topology import DLQ, EVENTS, INTAKE, TIMERS
    from guardia.runner import resolve_nats_url

    settings = _settings()
    docs = asyncio.run(_collect(DLQ, "dlq.>"))
    matches = [d for d in docs if str(d["event_id"]).startswith(letter_id)]
    if len(matches) != 1:
        console.print(f"[red]{len(matches)} dead letters match {letter_id!r}[/red]")
        raise typer.Exit(1)
    data: dict[str, object] = matches[0]["data"]  # type: ignore[assignment]
    body = asyncio.run(_dead_letter_body(data))
    source = str(data["source"])
    if source.startswith("gateway "):
        method, path = source.removeprefix("gateway ").split(" ", 1)
        api = path.startswith("/v1/")  # the letter keeps only the API token's fingerprint: send the CLI's own
        dropped = {"content-length", "host", "transfer-encoding", *(("authorization",) if api else ())}
        headers = {k: v for k, v in dict(data.get("headers") or {}).items()  # type: ignore[call-overload]
                   if k.lower() not in dropped}
        if api:
            from guardia.tokens import bearer, client_token

            headers.update(bearer(client_token(settings)))
        base = url or f"http://{settings.http_host}:{settings.http_port}"
        response = httpx.request(method, base + path, content=body, headers=headers, timeout=30)
        console.print(f"{method} {path} -> {response.status_code} {response.text[:300]}")
        raise typer.Exit(0 if response.status_code < 400 else 1)
    subject = str(data.get("subject") or "")
    stream = {"ev": EVENTS, "intake": INTAKE, "timer": TIMERS}.get(subject.split(".", 1)[0])
    if stream is None:
        console.print(f"[red]cannot re-feed {source}: no subject recorded[/red]")
        raise typer.Exit(1)

    async def republish() -> None:
        nc = await connect(settings, resolve_nats_url(settings))
        try:
            await nc.jetstream().publish(subject, body, stream=stream,
                                         headers={"Nats-Msg-Id": f"retry-{matches[0]['event_id']}"})
        finally:
            await nc.close()

    asyncio.run(republish())
    console.print(f"published again on {subject}")


tokens_app = typer.Typer(help="API bearer tokens: create, revoke, list (only their hashes are stored).",
                         no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


def _with_tokens(action: Callable[[TokenStore], Awaitable[T]]) -> T:
    """Run one action on the token records of the NATS that NATS_URL or a running `guardia up` names."""
    from guardia.runner import resolve_nats_url
    from guardia.tokens import TokenStore

    async def go() -> T:
        nc = await connect(_settings(), resolve_nats_url(_settings()))
        try:
            return await action(await TokenStore.open(nc.jetstream(), _settings().nats_replicas))
        finally:
            await nc.close()

    return asyncio.run(go())


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="Who or what uses it; becomes `by` in the events it causes.")],
    role: Annotated[Role, typer.Option(help="reader: read tickets; integration: post contacts; agent: also "
                                            "change status, reclassify, undo merges and any newer /v1 route.")],
) -> None:
    """Create a token and print it once on stdout (only its SHA-256 is kept)."""
    from guardia.tokens import TokenError

    try:
        token = _with_tokens(lambda store: store.create(name, role))
    except TokenError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    typer.echo(token)
    Console(stderr=True).print(f"token {name!r} ({role.value}) created; it is shown only now. "
                               "Send it as `Authorization: Bearer <token>`.")


@tokens_app.command("revoke")
def tokens_revoke(name: Annotated[str, typer.Argument(help="The token's name, as listed.")]) -> None:
    """Revoke the token in force with this name; gateways refuse it within GUARDIA_TOKEN_CACHE_SECONDS."""
    from guardia.tokens import TokenError

    try:
        count = _with_tokens(lambda store: store.revoke(name))
    except TokenError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"revoked {count} token(s) named {name!r}")


@tokens_app.command("list")
def tokens_list() -> None:
    """Every token: name, role, created, revoked (never the token itself)."""
    from guardia.commands.listing import print_listing

    records = _with_tokens(lambda store: store.records())
    rows = [(r.name, r.role.value, r.created_at.isoformat(timespec="seconds"),
             r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "") for r in records]
    in_force = sum(1 for r in records if r.active)
    print_listing(console, ("name", "role", "created", "revoked"), rows,
                  footer=f"{len(records)} tokens, {in_force} in force")


@app.command()
def health(
    service: Annotated[str, typer.Argument(help="intake, triage, sla_watch, escalation or notify")],
    max_age: Annotated[float, typer.Option(help="Seconds since the last heartbeat.")] = 30.0,
) -> None:
    """Exit 0 if the service beat its heartbeat recently (the containers' healthcheck)."""
    import time

    path = Settings().data_dir / f"{service}.alive"
    age = time.time() - path.stat().st_mtime if path.exists() else float("inf")
    if age > max_age:
        console.print(f"[red]{service}: no heartbeat in {max_age:.0f}s[/red] ({path})")
        raise typer.Exit(1)
    console.print(f"{service}: alive ({age:.1f}s ago)")


@app.command()
def normalize(
    files: Annotated[list[Path], typer.Argument(help="Raw payload files, exactly as the provider posts them.")],
    channel: Annotated[str, typer.Option(help="whatsapp, telegram, email, mailgun, sendgrid, zadarma, twilio-voice, "
                                              "twilio-sms, twilio-recording, crisp, tawkto, webform")],
    header: Annotated[list[str] | None, typer.Option(help="'Name: value', repeatable (signatures, Content-Type).")]
    = None,
    url: Annotated[str | None, typer.Option(help="The public URL the provider called (Twilio signs it).")] = None,
) -> None:
    """Run a channel's normalizer offline: one JSON line per file with outcome, reason and contacts."""
    from services.intake.channels.base import RawRequest
    from services.intake.webhooks import BY_CHANNEL, channel_config

    hook = BY_CHANNEL.get(channel)
    if hook is None:
        raise typer.BadParameter(f"unknown channel {channel!r}; one of {', '.join(BY_CHANNEL)}")
    headers: dict[str, str] = {}
    for item in header or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--header {item!r}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    settings = _settings()
    config = channel_config(settings)
    target = url or f"{config.public_base_url}{hook.path}"
    for path in files:
        request = RawRequest(body=path.read_bytes(), headers=headers, url=target)
        result = hook.normalize(request, config)
        typer.echo(json.dumps({
            "file": str(path), "outcome": result.outcome, "reason_code": result.reason_code,
            "reason": result.reason, "contacts": [c.model_dump(mode="json") for c in result.contacts],
        }, ensure_ascii=False))


@sla_app.command("simulate")
def sla_simulate(
    timeline: Annotated[Path, typer.Argument(help="JSON lines: opened, classified, status, message, merged.")],
    tenant: Annotated[str, typer.Option(help="Whose policy (built-in: navegasoft, mecodex, miskuentas, wolk).")],
    policy: Annotated[Path | None, typer.Option(help="A policy YAML file to use instead.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO-8601 instant (default: 30 days after the last input).")] = None,
) -> None:
    """Run the SLA engine on a timeline and print its clock events as JSON lines. No NATS needed."""
    from datetime import datetime

    from guardia.policy import Policies, PolicyError, load_policy_file
    from services.sla_watch.engine import Engine
    from services.sla_watch.simulate import TimelineError, dumps, parse_timeline, simulate

    try:
        chosen = load_policy_file(policy) if policy else Policies.load()[tenant]
        horizon = datetime.fromisoformat(until) if until else None
        if horizon is not None and horizon.tzinfo is None:
            raise typer.BadParameter("--until needs an offset, e.g. 2026-12-01T00:00:00-05:00")
        lines = parse_timeline(timeline.read_text(encoding="utf-8").splitlines())
    except (PolicyError, TimelineError, KeyError, OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    records = simulate(lines, chosen.sla, Engine(chosen.business_calendar), chosen.channels.whatsapp_official,
                       chosen.version, horizon)
    typer.echo(dumps(records), nl=False)


@sla_app.command("explain")
def sla_explain(ticket: Annotated[str, typer.Argument(help="The ticket id (UUID).")]) -> None:
    """Print a live ticket's clocks: ledger, segments (running, paused, outside hours, holidays), numbers."""
    from datetime import UTC, datetime
    from uuid import UUID

    from guardia.bus.state import read
    from guardia.bus.topology import bucket
    from guardia.policy import Policies
    from guardia.runner import resolve_nats_url
    from services.sla_watch.engine import Engine
    from services.sla_watch.explain import explain
    from services.sla_watch.rules import TicketClocks

    try:
        ticket_id = str(UUID(ticket))
    except ValueError as exc:
        raise typer.BadParameter(f"{ticket!r} is not a ticket id (UUID)") from exc

    async def load() -> dict[str, object] | None:
        nc = await connect(_settings(), resolve_nats_url(_settings()))
        try:
            entry = await read(await bucket(nc.jetstream(), "sla_clocks"), ticket_id)
            return entry.value  # type: ignore[no-any-return]
        finally:
            await nc.close()

    value = asyncio.run(load())
    if value is None:
        console.print(f"[red]sla_watch knows no ticket {ticket_id}[/red]")
        raise typer.Exit(1)
    t = TicketClocks.model_validate(value)
    policy = Policies.load(_settings().policy_dir)[t.tenant]
    typer.echo(explain(ticket_id, t, Engine(policy.business_calendar), datetime.now(UTC)))


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path | None, typer.Option(help="Where to write (default: shared/schemas/json).")] = None,
) -> None:
    """Write the JSON Schema of every event at its current version."""
    from shared.schemas.export import SCHEMA_DIR, check_against_checked_in, export

    target = directory or SCHEMA_DIR
    problems = check_against_checked_in(target)
    incompatible = [p for p in problems if "no checked-in schema" not in p]
    if incompatible:
        console.print("[red]incompatible changes without a version bump:[/red]")
        for p in incompatible:
            console.print(f"  {p}")
        raise typer.Exit(1)
    for path in export(target):
        console.print(str(path))


@schemas_app.command("check")
def schemas_check() -> None:
    """Fail if a model changed incompatibly without a version bump."""
    from shared.schemas.export import check_against_checked_in

    problems = check_against_checked_in()
    for p in problems:
        console.print(f"[red]{p}[/red]")
    raise typer.Exit(1 if problems else 0)


@schemas_app.command("asyncapi")
def schemas_asyncapi(
    out: Annotated[Path | None, typer.Option(
        help="Where to write ('-': stdout; default: the checked-in shared/schemas/asyncapi.yaml).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if the file is not current.")] = False,
) -> None:
    """Write the AsyncAPI 3.0 document of every subject: its producers, its consumers, its payload schema."""
    from guardia.asyncapi import ASYNCAPI_PATH, build_document, render

    target = out or ASYNCAPI_PATH
    text = render(build_document())
    if check:
        current = str(target) != "-" and target.exists() and target.read_text(encoding="utf-8") == text
        if not current:
            console.print(f"[red]{target} is not current[/red]: run `guardia schemas asyncapi`")
        raise typer.Exit(0 if current else 1)
    if str(target) == "-":
        typer.echo(text, nl=False)
        return
    target.write_text(text, encoding="utf-8")
    console.print(str(target))


if __name__ == "__main__":
    app()
