"""The SLA engine: pure functions from a ticket's events to its clock events (invariant 7).

No I/O and no clock of its own: every function takes the instant it acts at. Live, replay and
what-if runs call the same code, so they compute the same deadlines.

A clock measures time in its own unit: elapsed seconds for calendar-hour targets, working seconds
of the tenant's calendar for business-hour and business-day targets. `consumed` is how much of that
the clock has used; while running since `run_start`, consumed grows with the unit's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.schemas import (
    Payload,
    SlaBreached,
    SlaCancelled,
    SlaMet,
    SlaPaused,
    SlaResumed,
    SlaStarted,
    SlaWarning,
    Target,
)

from .calendar import BusinessCalendar

ClockState = Literal["running", "paused", "met", "breached", "cancelled"]


class Clock(BaseModel):
    """One SLA clock of one ticket, as stored in sla_watch's KV bucket."""

    model_config = ConfigDict(extra="forbid")

    name: str = "resolution"
    target: Target
    opened_at: AwareDatetime
    policy_version: str
    state: ClockState = "running"
    total: float  # the clock's whole budget, in its unit's seconds
    consumed: float = 0.0  # unit-seconds used before run_start
    run_start: AwareDatetime | None = None  # None while paused or closed
    deadline: AwareDatetime | None = None
    fired: list[float] = []  # warning fractions already emitted
    warnings: list[float] = []


@dataclass(frozen=True)
class Emitted:
    """A clock event and the instant it happened at (event time)."""

    at: datetime
    payload: Payload
    key: str  # what makes it unique within the clock (for deterministic event ids)


class Engine:
    """The clock rules for one tenant's calendar."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar

    # -- the clock's unit ---------------------------------------------------------------------

    def _business(self, target: Target) -> bool:
        return target.unit != "calendar_hours"

    def _advance(self, target: Target, start: datetime, seconds: float) -> datetime:
        if self._business(target):
            return self.calendar.add_business_seconds(start, seconds)
        return start + timedelta(seconds=seconds)

    def _elapsed(self, target: Target, start: datetime, end: datetime) -> float:
        if self._business(target):
            return self.calendar.business_seconds_between(start, end)
        return max(0.0, (end - start).total_seconds())

    def _budget(self, target: Target, start: datetime) -> float:
        if target.unit == "calendar_hours":
            return target.amount * 3600
        if target.unit == "business_hours":
            return target.amount * 3600
        deadline = self.calendar.add_business_days(start, int(target.amount))
        return self.calendar.business_seconds_between(start, deadline)

    def instant_of(self, clock: Clock, consumed: float) -> datetime | None:
        """When the clock will have consumed `consumed` unit-seconds (None while paused)."""
        if clock.run_start is None:
            return None
        return self._advance(clock.target, clock.run_start, consumed - clock.consumed)

    def deadline_of(self, clock: Clock) -> datetime | None:
        """The instant the whole budget is used. Business days are told as a time of day on a working
        day (001 'días hábiles'), so one that lands on a closing instant is the next opening instead."""
        at = self.instant_of(clock, clock.total)
        if at is not None and clock.target.unit == "business_days" and not self.calendar.is_working_time(at):
            at = self.calendar.next_opening(at)
        return at

    # -- transitions --------------------------------------------------------------------------

    def start(self, target: Target, opened_at: datetime, warnings: tuple[float, ...], version: str,
              name: str = "resolution") -> tuple[Clock, list[Emitted]]:
        """001: the clock counts from the ticket's opening instant."""
        clock = Clock(
            name=name, target=target, opened_at=opened_at, policy_version=version,
            total=self._budget(target, opened_at), run_start=opened_at, warnings=list(warnings),
        )
        clock.deadline = self.deadline_of(clock)
        started = SlaStarted(
            clock=name, deadline=clock.deadline, policy_version=version, target=target, started_at=opened_at
        )
        return clock, [Emitted(opened_at, started, "started")]

    def due(self, clock: Clock, now: datetime) -> list[Emitted]:
        """Warnings (fractions in order) then the breach whose instants are <= now."""
        if clock.state != "running":
            return []
        out = []
        for fraction in clock.warnings:
            if fraction in clock.fired:
                continue
            at = self.instant_of(clock, fraction * clock.total)
            if at is None or at > now:
                break
            clock.fired.append(fraction)
            out.append(Emitted(at, SlaWarning(clock=clock.name, deadline=clock.deadline,
                                              policy_version=clock.policy_version, fraction=fraction),
                               f"warning:{fraction}"))
        if clock.deadline is not None and clock.deadline <= now:
            clock.state = "breached"
            out.append(Emitted(clock.deadline, SlaBreached(clock=clock.name, deadline=clock.deadline,
                                                           policy_version=clock.policy_version), "breached"))
        return out

    def next_instant(self, clock: Clock) -> datetime | None:
        """The next instant something fires for this clock (what live mode arms as a timer)."""
        if clock.state != "running":
            return None
        for fraction in clock.warnings:
            if fraction not in clock.fired:
                return self.instant_of(clock, fraction * clock.total)
        return clock.deadline

    def pause(self, clock: Clock, at: datetime, key: str) -> list[Emitted]:
        """'En proceso del solicitante': freeze what is left, in the clock's own unit."""
        out = self.due(clock, at)  # anything due before the pause happened first
        if clock.state != "running" or clock.run_start is None:
            return out
        clock.consumed += self._elapsed(clock.target, clock.run_start, at)
        clock.run_start = None
        clock.state = "paused"
        clock.deadline = None
        remaining = max(0.0, clock.total - clock.consumed)
        out.append(Emitted(at, SlaPaused(clock=clock.name, deadline=None, policy_version=clock.policy_version,
                                         remaining_seconds=remaining), f"paused:{key}"))
        return out

    def resume(self, clock: Clock, at: datetime, key: str) -> list[Emitted]:
        if clock.state != "paused":
            return []
        clock.state = "running"
        clock.run_start = at
        clock.deadline = self.deadline_of(clock)
        return [Emitted(at, SlaResumed(clock=clock.name, deadline=clock.deadline,
                                       policy_version=clock.policy_version), f"resumed:{key}")]

    def meet(self, clock: Clock, at: datetime) -> list[Emitted]:
        """Resolved: an input at the same instant as a timer is applied first, so at == deadline is met."""
        if clock.state == "running":
            out = self.due(clock, at - timedelta(microseconds=1))
            if clock.state != "running":
                return out
        elif clock.state == "paused":
            out = []
        else:
            return []
        clock.state = "met"
        clock.run_start = None
        return [*out, Emitted(at, SlaMet(clock=clock.name, deadline=clock.deadline,
                                         policy_version=clock.policy_version), "met")]

    def cancel(self, clock: Clock, at: datetime, reason: str) -> list[Emitted]:
        if clock.state in ("met", "cancelled"):
            return []
        clock.state = "cancelled"
        clock.run_start = None
        return [Emitted(at, SlaCancelled(clock=clock.name, deadline=clock.deadline,
                                         policy_version=clock.policy_version, reason=reason), "cancelled")]
