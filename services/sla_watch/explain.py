"""`guardia sla explain`: a clock's ledger in words and numbers, to the minute.

Each running stretch is split by the calendar into working time, time outside working hours and
holidays, so a customer or an auditor can see exactly which minutes counted and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .engine import Clock, Engine
from .rules import TicketClocks

UNITS = {"calendar_hours": "horas calendario", "business_hours": "horas hábiles", "business_days": "días hábiles"}


@dataclass(frozen=True)
class Piece:
    start: datetime
    end: datetime
    kind: str  # running, paused, outside working hours, holiday (<name>)
    counted_seconds: float
    cause: str


def pieces(clock: Clock, engine: Engine, now: datetime) -> list[Piece]:
    """The clock's life as consecutive pieces, from its start to its end (or `now`)."""
    out: list[Piece] = []
    ledger = clock.ledger
    causes = {t.at: f"{t.what}" + (f" ← {t.cause}" if t.cause else "") for t in ledger}
    end_of_life = next((t.at for t in ledger if t.what in ("met",) or t.what.startswith("cancelled")), now)
    previous_end: datetime | None = None
    for seg in clock.segments:
        if previous_end is not None and seg.start > previous_end:
            out.append(Piece(previous_end, seg.start, "paused", 0.0, causes.get(previous_end, "paused")))
        seg_end = seg.end or end_of_life
        out.extend(_split(clock, engine, seg.start, seg_end, causes.get(seg.start, "")))
        previous_end = seg_end
    if clock.state in ("paused", "breached") and clock.running_since is None and previous_end is not None:
        out.append(Piece(previous_end, now, "paused", 0.0, causes.get(previous_end, "paused")))
    return out


def _split(clock: Clock, engine: Engine, start: datetime, end: datetime, cause: str) -> list[Piece]:
    if clock.target.unit == "calendar_hours":
        return [Piece(start, end, "running", (end - start).total_seconds(), cause)]
    cal = engine.calendar
    out: list[Piece] = []
    cursor = start
    day = start.astimezone(cal.tz).date()
    while cursor < end:
        holiday = cal.holiday_name(day)
        day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), cal.tz)
        if holiday:
            stop = min(end, day_end)
            out.append(Piece(cursor, stop, f"holiday ({holiday})", 0.0, cause))
            cursor = stop
        else:
            for a, b in cal.intervals(day):
                if b <= cursor or a >= end:
                    continue
                if a > cursor:
                    out.append(Piece(cursor, a, "outside working hours", 0.0, cause))
                lo, hi = max(a, cursor), min(b, end)
                out.append(Piece(lo, hi, "running", (hi - lo).total_seconds(), cause))
                cursor = hi
            stop = min(end, day_end)
            if cursor < stop:
                out.append(Piece(cursor, stop, "outside working hours", 0.0, cause))
                cursor = stop
        day += timedelta(days=1)
        cause = ""
    return _merge(out)


def _merge(items: list[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for p in items:
        if merged and merged[-1].kind == p.kind and merged[-1].end == p.start:
            last = merged.pop()
            p = Piece(last.start, p.end, p.kind, last.counted_seconds + p.counted_seconds, last.cause or p.cause)
        merged.append(p)
    return merged


def _hm(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def explain(ticket_id: str, t: TicketClocks, engine: Engine, now: datetime) -> str:
    """The whole explanation, in words (English labels, Spanish rule names) and numbers."""
    tz = ZoneInfo(engine.calendar.timezone)

    def fmt(at: datetime | None) -> str:
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if at else "—"

    lines = [f"ticket {ticket_id} ({t.ticket_number or t.tenant}) opened {fmt(t.opened_at)} via {t.channel.value}",
             f"  type {t.ticket_type.value if t.ticket_type else '—'}, priority "
             f"{t.priority.value if t.priority else '—'}, stage {t.status.value}"]
    if t.exempt:
        lines.append(f"  no clock: {t.exempt}")
    for clock in t.clocks.values():
        used = engine.consumed(clock, now)
        lines += [
            f"clock {clock.name}: {clock.target.amount:g} {UNITS[clock.target.unit]} from {fmt(clock.opened_at)}"
            f" (policy {clock.policy_version}) — {clock.state}",
            f"  deadline {fmt(clock.deadline)}; used {_hm(used)} of {_hm(clock.total)}"
            f" ({100 * used / clock.total:.1f} %), left {_hm(max(0.0, clock.total - used))}",
            "  ledger:",
        ]
        lines += [f"    {fmt(x.at)}  {x.what}" + (f"  ({x.cause})" if x.cause else "") +
                  (f"  deadline {fmt(x.deadline)}" if x.deadline else "") for x in clock.ledger]
        lines.append("  segments:")
        lines += [f"    {fmt(p.start)} → {fmt(p.end)}  {p.kind:<28} counted {_hm(p.counted_seconds)}"
                  + (f"  [{p.cause}]" if p.cause else "") for p in pieces(clock, engine, now)]
    return "\n".join(lines)
