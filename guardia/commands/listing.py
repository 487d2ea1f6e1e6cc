"""How the listing commands (`events`, `dead-letters`, `notify status`) print their rows.

On a terminal, a rich table for people: long cells are shortened so a row fits the screen. Piped or
redirected (`guardia dead-letters | grep invalid_signature`, a file, a CI log), every field is printed
in full as tab-separated lines with a header, because a reader there is a program or someone searching
for an exact reason code, and rich would cut a cell to the 80 columns it assumes off a terminal
(`invalid_si…`). Tabs, newlines and backslashes inside a value are escaped (`\\t`, `\\n`, `\\\\`), so
each row stays one line with the same number of fields. The count that closes a table goes to stderr
when piped, so stdout holds only the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_field(value: str) -> str:
    """One value as a TSV field that cannot break its row."""
    return value.translate(_ESCAPES)


def shorten(value: str, width: int | None) -> str:
    """A cell for the screen: at most `width` characters, the cut marked with an ellipsis."""
    if width is None or len(value) <= width:
        return value
    return value[: max(0, width - 1)] + "…"


def print_listing(console: Console, columns: Sequence[str], rows: Iterable[Sequence[str]], *,
                  widths: Mapping[str, int] | None = None, prefixes: Mapping[str, int] | None = None,
                  footer: str | None = None) -> None:
    """Print `rows` under `columns`: a table on a terminal, full TSV otherwise.

    On the terminal only, a column named in `widths` is cut with an ellipsis (free text), and one named
    in `prefixes` keeps its first characters (an id or an instant, where the start says enough)."""
    if not console.is_terminal:
        typer.echo("\t".join(columns))
        for row in rows:
            typer.echo("\t".join(tsv_field(cell) for cell in row))
        if footer:
            typer.echo(footer, err=True)
        return
    limits, starts = widths or {}, prefixes or {}

    def cell(column: str, value: str) -> str:
        if column in starts:
            value = value[: starts[column]]
        return escape(shorten(value, limits.get(column)))

    table = Table(box=None)
    for column in columns:
        table.add_column(column, overflow="fold")  # a narrow screen wraps a cell, never cuts it
    for row in rows:
        table.add_row(*(cell(column, value) for column, value in zip(columns, row, strict=True)))
    console.print(table)
    if footer:
        console.print(footer)
