"""`guardia sla simulate`: the engine on a timeline, with no NATS and no real timers.

The same rules as the live service (invariant 1): inputs are applied in time order; every timer
instant strictly before an input fires first, and an input at the same instant as a timer is applied
first (so a ticket resolved exactly at its deadline is met).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shared.schemas import Channel, Priority, SlaWarning, Status, TicketType

from .engine import Emitted, Engine
from .policy import SlaPolicy
from .rules import SlaRules, TicketClocks

_TICK = timedelta(microseconds=1)
DEFAULT_HORIZON = timedelta(days=30)


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(min_length=1)
    at: AwareDatetime


class Opened(_Line):
    type: Literal["opened"]
    channel: Channel = Channel.email
    eligible: bool = True  # 004: live takes it from ticket.opened.standing; an ineligible ticket gets no clock


class Classified(_Line):
    type: Literal["classified"]
    ticket_type: TicketType | None
    priority: Priority


class StatusLine(_Line):
    type: Literal["status"]
    status: Status


class Message(_Line):
    type: Literal["message"]
    author: Literal["customer", "agent"]


class Merged(_Line):
    type: Literal["merged"]
    into: str
    undone: bool = False  # an agent undid the merge: the ticket gets its clock back (001 §3.4.1)


TimelineLine = Annotated[Opened | Classified | StatusLine | Message | Merged, Field(discriminator="type")]
_LINE = TypeAdapter(TimelineLine)


class TimelineError(ValueError):
    """A timeline line that cannot be used, with its line number and the field at fault."""


def parse_timeline(lines: Iterable[str]) -> list[TimelineLine]:
    parsed: list[TimelineLine] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            parsed.append(_LINE.validate_json(text))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(line)'}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise TimelineError(f"line {number}: {problems}") from exc
    return parsed


def simulate(timeline: list[TimelineLine], policy: SlaPolicy, engine: Engine, whatsapp_official: bool,
             version: str, until: datetime | None = None) -> list[dict[str, Any]]:
    """Clock events of every ticket in the timeline, in time order, up to `until`."""
    rules = SlaRules(policy, engine, whatsapp_official, version)
    if not timeline:
        return []
    horizon = until or max(line.at for line in timeline) + DEFAULT_HORIZON
    by_ticket: dict[str, list[TimelineLine]] = {}
    for line in sorted(timeline, key=lambda x: x.at):  # stable: same-instant inputs keep file order
        by_ticket.setdefault(line.ticket_id, []).append(line)
    records: list[tuple[datetime, int, dict[str, Any]]] = []
    seq = 0
    for ticket_id, lines in by_ticket.items():
        for emitted_clock, e in run_ticket(rules, engine, lines, horizon).emitted:
            if not _is_clock_event(e):
                continue
            seq += 1
            records.append((e.at, seq, _record(ticket_id, emitted_clock, e, engine.calendar.tz)))
    records.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in records if r[0] <= horizon]


@dataclass
class TicketRun:
    """One ticket's run: its final state (None if never opened) and everything the rules emitted, each
    with the clock it belongs to; exemptions included, so a what-if sees them appear or vanish."""

    state: TicketClocks | None = None
    emitted: list[tuple[str, Emitted]] = field(default_factory=list)


def run_ticket(rules: SlaRules, engine: Engine, lines: list[TimelineLine], horizon: datetime) -> TicketRun:
    """Feed one ticket's inputs (in time order) through the live rules, firing timers at their instants.

    The one driver of the rules without NATS: `simulate` and `guardia whatif` both use it."""
    run = TicketRun()
    for line in lines:
        if line.at > horizon:
            break
        t = run.state
        if t is not None:
            for clock in t.clocks.values():  # timers strictly before this input fire first
                run.emitted += ((clock.name, e) for e in engine.due(clock, line.at - _TICK))
        if isinstance(line, Opened):
            if t is None:
                run.state = TicketClocks(tenant="sim", opened_at=line.at, channel=line.channel,
                                         correlation_id=line.ticket_id, eligible=line.eligible)
            continue
        if t is None:
            raise TimelineError(f"ticket {line.ticket_id}: '{line.type}' at {line.at} before it was opened")
        key = f"{line.type}@{line.at.isoformat()}"
        if isinstance(line, Classified):
            out = rules.classify(t, line.ticket_type, line.priority, line.at, key)
        elif isinstance(line, StatusLine):
            out = rules.on_status(t, line.status, line.at, key)
        elif isinstance(line, Message):
            out = rules.on_customer_message(t, line.at, key) if line.author == "customer" else []
        else:
            out = rules.on_merged(t, line.at, undone=line.undone)
        current = t.current()
        run.emitted += ((current.name if current else "resolution", e) for e in out)
    if run.state is not None:
        for clock in run.state.clocks.values():
            run.emitted += ((clock.name, e) for e in engine.due(clock, horizon))
    return run


def _is_clock_event(e: Emitted) -> bool:
    return e.payload.event_type != "sla.exempted"


def _record(ticket_id: str, clock: str, e: Emitted, tz: tzinfo) -> dict[str, Any]:
    """One output line; instants in the tenant's time zone, as its people read them."""
    payload = e.payload
    deadline = getattr(payload, "deadline", None)
    return {
        "ticket_id": ticket_id,
        "clock": getattr(payload, "clock", clock),
        "event": payload.event_type.split(".", 1)[1],
        "at": e.at.astimezone(tz).isoformat(),
        "deadline": deadline.astimezone(tz).isoformat() if deadline else None,
        "fraction": payload.fraction if isinstance(payload, SlaWarning) else None,
    }


def dumps(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
