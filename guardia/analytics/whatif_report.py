"""The what-if as its readers get it: HTML (one self-contained file), Markdown or CSV, labels in Spanish.

The seeds' support leads read these (001 asks for attainment against the targets by type), so labels,
outcomes and reasons are in their words; CSV keeps instants as ISO-8601 with the tenant's offset so a
spreadsheet or a script can read them back. Every format renders the same rows (`ticket_rows`,
`attainment_rows`): what a table says cannot depend on the format it was asked in.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from guardia.analytics.reports.common import OUTCOME_ES, UNIT_ES
from shared.schemas import Target

from .whatif import Outcome, TicketChange, WhatIf

Format = Literal["html", "md", "csv"]

CHANGE = {
    "breach_gained": "incumplimiento nuevo",
    "breach_avoided": "incumplimiento evitado",
    "deadline_moved": "plazo movido",
    "outcome_changed": "resultado distinto",
    "warnings_changed": "alertas distintas",
    "unchanged": "sin cambios",
}
#: The clock outcomes as the reports name them, and a ticket the what-if could not classify.
STATE = {**{k: v for k, v in OUTCOME_ES.items() if k is not None}, "none": "sin clasificar"}
EXEMPT = {
    "whatsapp_not_official": "exento: WhatsApp no oficial",
    "no_support_deadline": "exento: sin plazo de soporte",
    "not_a_request": "exento: no es una solicitud",
    "ineligible": "exento: cliente no habilitado",
}
TICKET_COLUMNS = {
    "tique": "Tique", "tipo": "Tipo", "prioridad": "Prioridad", "abierto": "Abierto",
    "meta_antes": "Meta antes", "meta_despues": "Meta después",
    "plazo_antes": "Plazo antes", "plazo_despues": "Plazo después", "desplazamiento_horas": "Desplazamiento (h)",
    "resultado_antes": "Resultado antes", "resultado_despues": "Resultado después",
    "incumplido_antes": "Incumplido antes", "incumplido_despues": "Incumplido después",
    "alertas_antes": "Alertas antes", "alertas_despues": "Alertas después", "cambio": "Cambio",
}
ATTAINMENT_COLUMNS = {
    "tipo": "Tipo", "cumplidos_antes": "Cumplidos antes", "incumplidos_antes": "Incumplidos antes",
    "cumplimiento_antes": "Cumplimiento antes", "cumplidos_despues": "Cumplidos después",
    "incumplidos_despues": "Incumplidos después", "cumplimiento_despues": "Cumplimiento después",
}


def target_label(target: Target | None) -> str:
    return "" if target is None else f"{target.amount:g} {UNIT_ES[target.unit]}"


def state_label(outcome: Outcome) -> str:
    if outcome.state == "exempt" and outcome.exempt:
        return EXEMPT.get(outcome.exempt, f"exento: {outcome.exempt}")
    return STATE.get(outcome.state, outcome.state)


def warnings_label(outcome: Outcome) -> str:
    return ", ".join(f"{round(f * 100)} %" for f in outcome.warnings)


def _hours(shift: timedelta | None) -> str:
    return "" if shift is None or not shift else f"{shift.total_seconds() / 3600:+g}"


def _rate(rate: float | None, machine: bool) -> str:
    """People read '75,0 %'; a spreadsheet reads 0.75."""
    if rate is None:
        return ""
    return f"{rate:.4f}" if machine else f"{rate * 100:.1f} %".replace(".", ",")


class Labels:
    """Instants for people (local, to the minute) or for machines (ISO-8601 with offset)."""

    def __init__(self, tz: ZoneInfo, machine: bool) -> None:
        self.tz, self.machine = tz, machine

    def instant(self, at: datetime | None) -> str:
        if at is None:
            return ""
        local = at.astimezone(self.tz)
        return local.isoformat() if self.machine else local.strftime("%Y-%m-%d %H:%M")

    def yes(self, value: bool) -> str:
        return "sí" if value else "no"


def ticket_rows(result: WhatIf, machine: bool = False) -> list[dict[str, str]]:
    """One row per ticket, flips first (gained, avoided), then moved deadlines, then the rest by opening."""
    label = Labels(ZoneInfo(result.timezone), machine)
    order = list(CHANGE)

    def row(t: TicketChange) -> dict[str, str]:
        b, a = t.before, t.after
        return {
            "tique": t.number, "tipo": t.ticket_type or "", "prioridad": t.priority or "",
            "abierto": label.instant(t.opened_at),
            "meta_antes": target_label(b.target), "meta_despues": target_label(a.target),
            "plazo_antes": label.instant(b.deadline), "plazo_despues": label.instant(a.deadline),
            "desplazamiento_horas": _hours(t.shift),
            "resultado_antes": state_label(b), "resultado_despues": state_label(a),
            "incumplido_antes": label.yes(b.breached), "incumplido_despues": label.yes(a.breached),
            "alertas_antes": warnings_label(b), "alertas_despues": warnings_label(a),
            "cambio": CHANGE[t.change],
            "clase": t.change,  # for the HTML row's colour; not a column
        }

    return [row(t) for t in sorted(result.tickets, key=lambda t: (order.index(t.change), t.opened_at, t.number))]


def attainment_rows(result: WhatIf, machine: bool = False) -> list[dict[str, str]]:
    return [{
        "tipo": a.ticket_type.replace("sin_tipo", "sin tipo"),
        "cumplidos_antes": str(a.met_before), "incumplidos_antes": str(a.breached_before),
        "cumplimiento_antes": _rate(a.rate_before, machine),
        "cumplidos_despues": str(a.met_after), "incumplidos_despues": str(a.breached_after),
        "cumplimiento_despues": _rate(a.rate_after, machine),
    } for a in result.attainment()]


def overview(result: WhatIf) -> list[tuple[str, str]]:
    """The headline numbers, in the order a reader asks for them."""
    label = Labels(ZoneInfo(result.timezone), machine=False)
    return [
        ("Inquilino", result.tenant),
        ("Ventana (tiques abiertos en)", f"{label.instant(result.window.start)} – {label.instant(result.window.end)}"),
        ("Simulado hasta", label.instant(result.window.horizon)),
        ("Política registrada", ", ".join(result.baseline_versions) or "ninguna"),
        ("Política propuesta", result.policy_version),
        ("Línea base verificada", "sí: reproduce los eventos de reloj registrados" if result.verified
         else "no (--no-verify)"),
        ("Tiques comparados", str(len(result.tickets))),
        ("Tiques excluidos", str(len(result.excluded))),
        ("Incumplimientos antes → después", f"{result.breaches_before} → {result.breaches_after}"),
        ("Incumplimientos nuevos", str(len(result.gained))),
        ("Incumplimientos evitados", str(len(result.avoided))),
        ("Plazos movidos", str(len(result.moved))),
        ("Alertas antes → después", f"{result.warnings_before} → {result.warnings_after}"),
    ]


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def render(result: WhatIf, fmt: Format) -> str:
    """HTML or Markdown: the whole report. CSV: the per-ticket table (`render_attainment_csv` has the rest)."""
    if fmt == "csv":
        return _csv(TICKET_COLUMNS, ticket_rows(result, machine=True))
    template = _environment().get_template(f"whatif.{fmt}.j2")
    return template.render(
        overview=overview(result), tickets=ticket_rows(result), attainment=attainment_rows(result),
        ticket_columns=TICKET_COLUMNS, attainment_columns=ATTAINMENT_COLUMNS, excluded=result.excluded,
        cell=_md_cell,
    )


def render_attainment_csv(result: WhatIf) -> str:
    return _csv(ATTAINMENT_COLUMNS, attainment_rows(result, machine=True))


def _csv(columns: dict[str, str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
