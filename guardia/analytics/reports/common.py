"""What every report is made of: sections of rows (the numbers), Spanish labels, optional charts.

A report is data first: each section's rows are the numbers that CSV, Markdown and HTML all print, and a
chart is drawn from the rows of its own section, so the HTML's chart data and the CSV cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from guardia.policy import TenantPolicy

Row = dict[str, Any]


@dataclass(frozen=True)
class Chart:
    """A Vega-Lite chart of a section's rows: `x` by `y` (one or more measures), as bars or lines."""

    title: str
    x: str
    y: tuple[str, ...]
    mark: str = "bar"  # bar | line
    x_type: str = "ordinal"


@dataclass
class Section:
    id: str
    title: str
    columns: list[tuple[str, str]]  # (key, Spanish label)
    rows: list[Row]
    chart: Chart | None = None
    note: str = ""


@dataclass
class Report:
    kind: str
    title: str
    tenant: str
    period: str
    generated_for: str
    sections: list[Section] = field(default_factory=list)

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)


@dataclass(frozen=True)
class Window:
    """[start, end) as instants, from tenant-local dates (a day bucket is the local date of occurred_at)."""

    start: datetime
    end: datetime
    first_day: date
    last_day: date  # inclusive
    tz: ZoneInfo

    @classmethod
    def of_days(cls, first: date, last: date, tz: ZoneInfo) -> Window:
        return cls(local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz), first, last, tz)

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]

    def label(self) -> str:
        if self.first_day == self.last_day:
            return self.first_day.isoformat()
        return f"{self.first_day.isoformat()} a {self.last_day.isoformat()}"


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def hours(seconds: float | None) -> float | None:
    """Durations are printed in hours with two decimals, the same number in CSV, Markdown and HTML."""
    return None if seconds is None else round(seconds / 3600, 2)


def pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100 * part / whole, 1)


def local(at: datetime | None, tz: ZoneInfo) -> str:
    return "" if at is None else at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> list[Row]:
    cur = con.execute(sql, params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


STATUS_ES = {"nuevo": "Nuevo", "en_proceso": "En proceso", "en_proceso_del_solicitante": "En proceso del solicitante",
             "resuelto": "Resuelto", "cancelado": "Cancelado"}
OUTCOME_ES = {"met": "cumplido", "breached": "incumplido", "cancelled": "cancelado", "running": "en curso",
              "paused": "en pausa", "exempt": "exento", None: "sin reloj"}
EXEMPT_ES = {"whatsapp_not_official": "WhatsApp no es canal oficial", "no_support_deadline": "Bug (va a desarrollo)",
             "not_a_request": "No es una solicitud", "ineligible": "Cliente no elegible"}
UNIT_ES = {"calendar_hours": "h", "business_hours": "h hábiles", "business_days": "días hábiles"}


def target_label(policy: TenantPolicy | None, ticket_type: str | None) -> str:
    """001's target for a type, as the policy states it ("24 h", "3 días hábiles", "sin plazo")."""
    if policy is None or ticket_type is None:
        return ""
    from shared.schemas import TicketType

    try:
        target = policy.sla.targets.get(TicketType(ticket_type))
    except ValueError:
        return ""
    if target is None:
        return "sin plazo"
    amount = int(target.amount) if target.amount == int(target.amount) else target.amount
    return f"{amount} {UNIT_ES[target.unit]}"


def window_tickets_sql() -> str:
    """Tickets of the tenant, merged duplicates included (they are counted and also reported apart)."""
    return "SELECT * FROM tickets WHERE tenant = $tenant"
