"""`guardia replay` and `guardia report`: the analysts' commands (thin wiring over guardia.analytics)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)


def _instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name}: not an ISO 8601 instant: {value!r}") from exc
    if at.tzinfo is None:
        raise typer.BadParameter(f"{name}: give a UTC offset, e.g. {value}-05:00 or {value}Z")
    return at


def _duration(value: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return timedelta(seconds=float(value[:-1]) * units[value[-1]])
    except (KeyError, ValueError, IndexError) as exc:
        raise typer.BadParameter(f"--lateness: expected e.g. 7d, 12h, 30m; got {value!r}") from exc


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar fed with (done, total); silent when stderr is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def replay_command(
    to: Annotated[Path, typer.Option("--to", help="Output folder: guardia.duckdb, <table>.parquet, manifest.json.")],
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (subject ev.<tenant>.>).")] = None,
    since: Annotated[str | None, typer.Option(help="Event time (occurred_at) from, ISO with offset.")] = None,
    until: Annotated[str | None, typer.Option(help="Event time (occurred_at) before, ISO with offset.")] = None,
    lateness: Annotated[str, typer.Option(help="How much earlier than its storage an event may be dated: "
                                               "reading starts at since − lateness by stored time.")] = "7d",
    input_path: Annotated[Path | None, typer.Option("--input", help="A `guardia events --json` dump instead of "
                                                                    "NATS (offline, deterministic).")] = None,
    keep_names: Annotated[bool, typer.Option("--keep-names", help="Keep customers' names and unredacted "
                                                                  "payloads (internal use only).")] = False,
    validate: Annotated[bool, typer.Option("--validate", help="Also validate every event with its pydantic "
                                                              "model (exact, about 3x slower).")] = False,
    policies: Annotated[Path | None, typer.Option(help="Extra policy folder (calendars for business time).")] = None,
    url: Annotated[str | None, typer.Option(help="NATS URL (default: from settings).")] = None,
) -> None:
    """Replay the event log into DuckDB + one Parquet file per table, with a manifest."""
    from guardia.analytics.replay import ReplayOptions, replay_file, replay_nats

    options = ReplayOptions(tenant=tenant, since=_instant(since, "--since"), until=_instant(until, "--until"),
                            lateness=_duration(lateness), keep_names=keep_names, validate=validate,
                            policies_dir=policies)
    with progress_bar("replay") as progress:
        if input_path is not None:
            result = replay_file(input_path, to, options, progress)
        else:
            from guardia.runner import resolve_nats_url
            from guardia.settings import Settings

            result = replay_nats(url or resolve_nats_url(Settings()), to, options, progress=progress)
    m = result.manifest
    console.print(f"{m['events']} events ({m['decode_errors']['count']} with decode errors) -> {to} "
                  f"in {result.run['elapsed_seconds']} s ({result.run['messages_per_second']} msg/s)")
    typer.echo(json.dumps(m["tables"], ensure_ascii=False))


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name}: expected YYYY-MM-DD, got {value!r}") from exc


def report_command(
    kind: Annotated[str, typer.Argument(help="sla | daily | weekly | handover")],
    tenant: Annotated[str, typer.Option(help="The tenant (its policy gives calendar, targets and shifts).")],
    from_day: Annotated[str | None, typer.Option("--from", help="First local day, YYYY-MM-DD.")] = None,
    to_day: Annotated[str | None, typer.Option("--to", help="Last local day (inclusive), YYYY-MM-DD.")] = None,
    at: Annotated[str | None, typer.Option(help="The instant the report is made at (hand-over cut, default "
                                                "now), ISO with offset.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html | md | csv")] = "html",
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    from_dir: Annotated[Path | None, typer.Option("--from-dir", help="A `guardia replay` folder to read.")] = None,
    input_path: Annotated[Path | None, typer.Option("--input", help="A `guardia events --json` dump.")] = None,
    keep_names: Annotated[bool, typer.Option("--keep-names", help="Show customers' names (internal use).")] = False,
    policies: Annotated[Path | None, typer.Option(help="Extra policy folder.")] = None,
    url: Annotated[str | None, typer.Option(help="NATS URL (default: from settings).")] = None,
) -> None:
    """Reports in Spanish for the seeds' people: sla (001), daily (000 A), weekly (000 B), handover (000 C)."""
    from datetime import UTC

    from guardia.analytics.replay import ReplayOptions, open_replay, replay_file, replay_nats
    from guardia.analytics.reports import KINDS, build_report
    from guardia.analytics.reports.render import render
    from guardia.policy import Policies

    if kind not in KINDS:
        raise typer.BadParameter(f"report: one of {', '.join(KINDS)}; got {kind!r}")
    if fmt not in ("html", "md", "csv"):
        raise typer.BadParameter(f"--format: html, md or csv; got {fmt!r}")
    all_policies = Policies.load(policies)
    policy = all_policies[tenant] if tenant in all_policies.tenants() else None
    instant = _instant(at, "--at") or datetime.now(UTC)
    if from_dir is not None:
        con = open_replay(from_dir)
    else:
        options = ReplayOptions(tenant=tenant, keep_names=keep_names, policies_dir=policies)
        with progress_bar("replay") as progress:
            if input_path is not None:
                con = replay_file(input_path, None, options, progress, policies=all_policies).connection
            else:
                from guardia.runner import resolve_nats_url
                from guardia.settings import Settings

                con = replay_nats(url or resolve_nats_url(Settings()), None, options, progress=progress,
                                  policies=all_policies).connection
    report = build_report(kind, con, policy, tenant, _day(from_day, "--from"), _day(to_day, "--to"), instant)
    text = render(report, fmt)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"{kind} -> {out}")
