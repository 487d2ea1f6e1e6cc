"""`guardia whatif`: replay a window of recorded tickets under a proposed policy and report what changes.

Exit codes: 0 report written; 1 the policy in force does not reproduce the recorded clock events (the
first difference is printed, no report); 2 bad input (options, files, a policy version nobody supplied).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)


def whatif_command(
    tenant: Annotated[str, typer.Option(help="Whose tickets and policy.")],
    policy: Annotated[Path, typer.Option(help="The proposed policy YAML (any file name).", exists=True,
                                         dir_okay=False, readable=True)],
    from_: Annotated[str, typer.Option("--from", help="Tickets opened from this tenant-local date (or ISO instant).")],
    to: Annotated[str, typer.Option(help="...up to this tenant-local date, excluded (or ISO instant).")],
    fmt: Annotated[Literal["html", "md", "csv"], typer.Option("--format", help="html (self-contained), md or csv.")]
    = "md",
    input_: Annotated[Path | None, typer.Option(
        "--input", help="A `guardia events --json` dump (default: read GUARDIA_EVENTS at NATS_URL).",
        exists=True, dir_okay=False, readable=True)] = None,
    baseline: Annotated[list[Path] | None, typer.Option(
        help="A policy the clocks may have been recorded with, when the log has no policy.applied for it "
             "(repeatable; the tenant's loaded policy is tried too).", exists=True, dir_okay=False)] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write here (default: stdout). CSV: the tickets here, attainment by type in <name>_resumen.csv.")]
    = None,
    verify: Annotated[bool, typer.Option(help="Check first that the policy in force reproduces the recorded "
                                              "clock events exactly.")] = True,
) -> None:
    """What a policy change would have done to a window of recorded tickets: breaches gained and avoided,
    deadlines moved, warnings, attainment by type. The recorded events are never changed."""
    from guardia.analytics.whatif import BaselineMismatch, WhatIfError, load_any_policy_file, parse_bound, run_whatif
    from guardia.analytics.whatif_input import InputError, read_jsonl, read_stream
    from guardia.analytics.whatif_report import render, render_attainment_csv
    from guardia.cli import _settings
    from guardia.policy import Policies, PolicyError

    settings = _settings()
    try:
        proposal = load_any_policy_file(policy)
        given = [load_any_policy_file(p) for p in baseline or []]
        loaded = Policies.load(settings.policy_dir)
        if tenant in loaded:
            given.append(loaded[tenant])
        tz = proposal.business_calendar.tz
        start, end = parse_bound(from_, tz), parse_bound(to, tz)
        if input_ is not None:
            docs = read_jsonl(input_)
        else:
            from guardia.runner import resolve_nats_url

            docs = asyncio.run(read_stream(resolve_nats_url(settings), tenant))
        result = run_whatif(docs, tenant, proposal, start, end, given, verify=verify)
    except BaselineMismatch as exc:
        err.print("[red]La política registrada no reproduce los eventos de reloj registrados[/red]; "
                  "no hay simulación. Primera diferencia:", highlight=False)
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None
    except (PolicyError, WhatIfError, InputError, OSError) as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None

    text = render(result, fmt)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        written = [out]
        if fmt == "csv":
            summary = out.with_name(f"{out.stem}_resumen.csv")
            summary.write_text(render_attainment_csv(result), encoding="utf-8")
            written.append(summary)
        err.print("escrito: " + ", ".join(str(p) for p in written), highlight=False)
    table = Table(title=f"what-if {tenant}: {', '.join(result.baseline_versions) or '-'} → {result.policy_version}")
    table.add_column("tiques", justify="right")
    table.add_column("incumplimientos", justify="right")
    table.add_column("nuevos", justify="right")
    table.add_column("evitados", justify="right")
    table.add_column("plazos movidos", justify="right")
    table.add_row(str(len(result.tickets)), f"{result.breaches_before} → {result.breaches_after}",
                  str(len(result.gained)), str(len(result.avoided)), str(len(result.moved)))
    err.print(table)
