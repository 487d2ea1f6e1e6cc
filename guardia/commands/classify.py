"""`guardia classify`: triage JSON lines offline with the same Classifier the triage service runs.

    guardia classify < tickets.jsonl > decisions.jsonl       # or: guardia classify a.jsonl b.jsonl
    guardia classify --evaluate services/triage/corpus/heldout.jsonl

Input lines are {"id", "text", "channel"} (an optional "subject" is passed on as the service does);
output lines are {"id", "type", "priority", "area", "categories", "abusive", "confidence", "reasons"},
with "type" null for a message that is no request. --evaluate reads a labeled file (the corpus format,
services/triage/corpus/LABELING.md) and prints accuracy per field, the type confusion matrix and the
10 worst mistakes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from guardia.policy import Policies, PolicyError
from guardia.settings import Settings

if TYPE_CHECKING:
    from services.triage.evaluate import Report
    from services.triage.rules import Classifier, Decision

# The triage modules (scikit-learn) are imported where they are used: every `guardia` command, and
# so every service start, imports this module to register the command.

OUTPUT_FIELDS = ("id", "type", "priority", "area", "categories", "abusive", "confidence", "reasons")


def decision_json(ticket_id: str, d: Decision) -> dict[str, Any]:
    """The JSON-lines contract of `guardia classify`, exactly these fields in this order."""
    return {
        "id": ticket_id,
        "type": d.ticket_type.value if d.ticket_type else None,
        "priority": d.priority.value,
        "area": d.area.value,
        "categories": [c.value for c in d.categories],
        "abusive": d.abusive,
        "confidence": round(d.confidence, 3),
        "reasons": [r.model_dump() for r in d.reasons],
    }


def _classifier(tenant: str) -> Classifier:
    settings = Settings()
    try:
        policy = Policies.load(settings.policy_dir)[tenant]
    except (KeyError, PolicyError) as exc:
        raise typer.BadParameter(str(exc).strip("\"'"), param_hint="--tenant") from exc
    from services.triage.rules import Classifier

    return Classifier(policy.triage.merged_vocabulary(), policy.triage.review_below)


def _lines(files: list[Path] | None, stdin: TextIO) -> Iterator[tuple[str, int, str]]:
    if not files:
        for number, line in enumerate(stdin, start=1):
            yield "<stdin>", number, line
        return
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                yield str(path), number, line


BATCH = 512  # messages the model scores at once: a file is classified in batches, as a replay needs


def classify_lines(classifier: Classifier, lines: Iterable[tuple[str, int, str]], out: TextIO) -> int:
    """Classify each JSON line, in batches; returns how many were written. A bad line stops with its
    place, after every line before it was written."""
    written = 0
    batch: list[tuple[str, str, str]] = []  # (id, subject, text)

    def flush() -> None:
        nonlocal written
        decisions = classifier.classify_many([(subject, text) for _, subject, text in batch])
        for (ticket_id, _, _), decision in zip(batch, decisions, strict=True):
            out.write(json.dumps(decision_json(ticket_id, decision), ensure_ascii=False) + "\n")
        written += len(batch)
        batch.clear()

    for where, number, line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('expected an object with a string "text"')
        except ValueError as exc:
            flush()
            out.flush()
            typer.echo(f"{where}:{number}: {exc}", err=True)
            raise typer.Exit(2) from exc
        batch.append((str(item.get("id", "")), str(item.get("subject") or ""), item["text"]))
        if len(batch) >= BATCH:
            flush()
    flush()
    out.flush()
    return written


def print_report(report: Report, classifier: Classifier, source: Path, console: Console) -> None:
    from services.triage.evaluate import FIELDS
    from services.triage.model import TYPES

    console.print(f"[bold]{source}[/bold]: {report.n} tickets, classifier keywords + "
                  f"{classifier.model.label} (trained on {classifier.model.trained_on}), "
                  f"{report.n / report.seconds if report.seconds else 0:.0f} classifications/s")
    table = Table(title="accuracy per field")
    table.add_column("field")
    table.add_column("accuracy", justify="right")
    table.add_column("correct", justify="right")
    names = {"categories": "categories (exact match)"}
    for f in ("type", "priority", "area", "categories", "abusive", "playbook"):
        table.add_row(names.get(f, f), f"{report.accuracy(f):.1%}", f"{report.correct[f]}/{report.n}")
    table.add_row("categories (micro-F1)", f"{report.categories_micro_f1:.1%}", "")
    table.add_row(f"needs review (< {classifier.review_below})", f"{report.review / max(report.n, 1):.1%}",
                  f"{report.review}/{report.n}")
    console.print(table)

    confusion = Table(title="type confusion matrix (rows: expected, columns: predicted)")
    confusion.add_column("expected \\ got")
    for t in TYPES:
        confusion.add_column(t, justify="right")
    for want in TYPES:
        cells = []
        for got in TYPES:
            n = report.confusion.get((want, got), 0)
            cells.append(f"[green]{n}[/green]" if want == got and n else (f"[red]{n}[/red]" if n else "·"))
        confusion.add_row(want, *cells)
    console.print(confusion)

    for kind in ("channel", "country"):
        by = Table(title=f"accuracy by {kind}")
        for column in (kind, "messages", "type", "priority", "area"):
            by.add_column(column, justify="left" if column == kind else "right")
        for (k, name), (n, *ok) in sorted(report.groups.items()):
            if k == kind:
                by.add_row(name, str(n), *(f"{c / n:.1%}" for c in ok))
        console.print(by)
    accepted = report.n - report.review
    console.print(f"at the review threshold {classifier.review_below}: {report.review} of {report.n} go to a "
                  f"person; type, priority and area all right on {report.accepted_correct} of the "
                  f"{accepted} others ({report.accepted_correct / accepted if accepted else 0:.1%})")

    worst = Table(title="10 worst mistakes (most wrong of type/priority/area, then most confident)")
    worst.add_column("id")
    worst.add_column("confidence", justify="right")
    worst.add_column("expected → got")
    worst.add_column("text")
    for m in report.worst(10):
        diffs = "; ".join(f"{f}: {_show(w)} → {_show(g)}" for f, (w, g) in m.wrong.items() if f in FIELDS)
        worst.add_row(m.id, f"{m.confidence:.2f}", escape(diffs), escape(m.text.replace("\n", " ")[:110]))
    console.print(worst)


def _show(value: object) -> str:
    from services.triage.model import NONE

    if value is None:
        return NONE
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def classify_command(
    files: Annotated[list[Path] | None, typer.Argument(
        help="JSON-lines files of {id, text, channel}; standard input when none.",
        exists=True, dir_okay=False, readable=True)] = None,
    evaluate: Annotated[Path | None, typer.Option(
        "--evaluate", help="A labeled JSON-lines file: print accuracy, confusion matrix, worst mistakes.",
        exists=True, dir_okay=False, readable=True)] = None,
    tenant: Annotated[str, typer.Option(
        help="Tenant whose triage policy (vocabulary, review threshold) applies.",
        envvar="GUARDIA_DEFAULT_TENANT")] = "navegasoft",
) -> None:
    """Classify tickets (type, priority, area, categories, abusive) as the triage service does."""
    classifier = _classifier(tenant)
    if evaluate is not None:
        from services.triage.evaluate import by_text, evaluate_rows
        from services.triage.model import load_corpus

        if files:
            raise typer.BadParameter("give either files to classify or --evaluate, not both")
        try:
            rows = load_corpus(evaluate)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--evaluate") from exc
        report = evaluate_rows(by_text(classifier), rows, classifier.review_below)
        print_report(report, classifier, evaluate, Console(width=160))
        return
    classify_lines(classifier, _lines(files, sys.stdin), sys.stdout)
