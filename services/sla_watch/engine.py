"""The SLA engine: pure functions from a ticket's events to its clock events (invariant 7).

No I/O and no clock of its own: every function takes the instant it acts at. Live, replay and
what-if runs call the same code, so they compute the same deadlines.

A clock measures time in its own unit: elapsed seconds for calendar-hour targets, working seconds
of the tenant's calendar for business-hour and business-day targets. It keeps the intervals during
which it ran (`segments`), so what it has consumed can be measured again in another unit when a
reclassification changes the target ("as if it had applied from the beginning"), and the ledger of
transitions with the event that caused each (`guardia sla explain`).
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
    SlaRetargeted,
    SlaStarted,
    SlaWarning,
    Target,
)

from .calendar import BusinessCalendar

ClockState = Literal["running", "paused", "met", "breached", "cancelled"]
RetargetRule = Literal["retarget", "restart", "stricter"]
_TICK = timedelta(microseconds=1)


class Segment(BaseModel):
    """An interval during which the clock ran; `end` None while it still runs."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime | None = None


class Transition(BaseModel):
    """One line of the ledger: what happened to the clock, when, and which event caused it."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime
    what: str  # started, paused, resumed, retargeted, warning 80 %, breached, met, cancelled
    cause: str = ""  # the causing event (type and id) or "timer"
    deadline: AwareDatetime | None = None


class Clock(BaseModel):
    """One SLA clock of one ticket, as stored in sla_watch's KV bucket."""

    model_config = ConfigDict(extra="forbid")

    name: str = "resolution"
    target: Target
    opened_at: AwareDatetime  # where the clock counts from
    policy_version: str
    state: ClockState = "running"
    total: float  # the clock's whole budget, in its unit's seconds
    segments: list[Segment] = []
    deadline: AwareDatetime | None = None
    fired: list[float] = []  # warning fractions already emitted
    warnings: list[float] = []
    ledger: list[Transition] = []

    @property
    def running_since(self) -> datetime | None:
        if self.segments and self.segments[-1].end is None:
            return self.segments[-1].start
        return None


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

    def elapsed(self, target: Target, start: datetime, end: datetime) -> float:
        """Unit-seconds between two instants (working time for business targets)."""
        if self._business(target):
            return self.calendar.business_seconds_between(start, end)
        return max(0.0, (end - start).total_seconds())

    def budget(self, target: Target, start: datetime) -> float:
        """The whole clock in unit-seconds. Business days: up to the same time of day N working days on."""
        if target.unit in ("calendar_hours", "business_hours"):
            return target.amount * 3600
        deadline = self.calendar.add_business_days(start, int(target.amount))
        return self.calendar.business_seconds_between(start, deadline)

    def consumed(self, clock: Clock, at: datetime) -> float:
        """Unit-seconds the clock has used up to `at` (paused time excluded)."""
        used = 0.0
        for seg in clock.segments:
            end = at if seg.end is None or seg.end > at else seg.end
            if end > seg.start:
                used += self.elapsed(clock.target, seg.start, end)
        return used

    def instant_of(self, clock: Clock, consumed: float) -> datetime | None:
        """When the clock will have consumed `consumed` unit-seconds (None while paused)."""
        since = clock.running_since
        if since is None:
            return None
        before = self.consumed(clock, since)
        if consumed <= before:
            # already consumed before the current run: find it inside the closed segments
            acc = 0.0
            for seg in clock.segments:
                end = seg.end or since
                span = self.elapsed(clock.target, seg.start, end)
                if acc + span >= consumed:
                    return self._advance(clock.target, seg.start, consumed - acc)
                acc += span
        return self._advance(clock.target, since, consumed - before)

    def deadline_of(self, clock: Clock) -> datetime | None:
        """The instant the whole budget is used. Business days are told as a time of day on a working
        day (001 'días hábiles'), so one that lands on a closing instant is the next opening instead."""
        at = self.instant_of(clock, clock.total)
        if at is not None and clock.target.unit == "business_days" and not self.calendar.is_working_time(at):
            at = self.calendar.next_opening(at)
        return at

    def _note(self, clock: Clock, at: datetime, what: str, cause: str) -> None:
        clock.ledger.append(Transition(at=at, what=what, cause=cause, deadline=clock.deadline))

    # -- transitions --------------------------------------------------------------------------

    def start(self, target: Target, opened_at: datetime, warnings: tuple[float, ...], version: str,
              name: str = "resolution", cause: str = "") -> tuple[Clock, list[Emitted]]:
        """001: the clock counts from the ticket's opening instant."""
        clock = Clock(
            name=name, target=target, opened_at=opened_at, policy_version=version,
            total=self.budget(target, opened_at), segments=[Segment(start=opened_at)], warnings=list(warnings),
        )
        clock.deadline = self.deadline_of(clock)
        self._note(clock, opened_at, "started", cause)
        started = SlaStarted(
            clock=name, deadline=clock.deadline, policy_version=version, target=target, started_at=opened_at
        )
        return clock, [Emitted(opened_at, started, "started")]

    def due(self, clock: Clock, now: datetime, at_once: bool = False) -> list[Emitted]:
        """Warnings (fractions in order) then the breach whose instants are <= now.

        Normally each happens at its own instant (event time, also when a timer fires late). With
        `at_once` (a clock started or re-targeted with instants already behind it) they happen at
        `now`: that is when the rule made them due.
        """
        if clock.state != "running":
            return []
        out = []
        for fraction in clock.warnings:
            if fraction in clock.fired:
                continue
            at = self.instant_of(clock, fraction * clock.total)
            if at is None or at > now:
                break
            if clock.deadline is not None and at > clock.deadline:
                at = clock.deadline
            at = max(at, now) if at_once else at
            clock.fired.append(fraction)
            self._note(clock, at, f"warning {round(fraction * 100)} %", "timer")
            out.append(Emitted(at, SlaWarning(clock=clock.name, deadline=clock.deadline,
                                              policy_version=clock.policy_version, fraction=fraction),
                               f"warning:{fraction}"))
        if clock.deadline is not None and clock.deadline <= now:
            clock.state = "breached"
            at = max(clock.deadline, now) if at_once else clock.deadline
            self._note(clock, at, "breached", "timer")
            out.append(Emitted(at, SlaBreached(clock=clock.name, deadline=clock.deadline,
                                                           policy_version=clock.policy_version), "breached"))
        return out

    def next_instant(self, clock: Clock) -> datetime | None:
        """The next instant something fires for this clock (what live mode arms as a timer)."""
        if clock.state != "running":
            return None
        for fraction in clock.warnings:
            if fraction not in clock.fired:
                at = self.instant_of(clock, fraction * clock.total)
                return min(at, clock.deadline) if at and clock.deadline else at
        return clock.deadline

    def pause(self, clock: Clock, at: datetime, key: str, cause: str = "") -> list[Emitted]:
        """'En proceso del solicitante': freeze what is left, in the clock's own unit.

        A breached clock pauses too (it keeps its ledger, so the time over the deadline and the
        customer's share of it are known): its state stays "breached" and its deadline is the one it
        missed; only its segments show that it stopped."""
        out = self.due(clock, at - _TICK)  # what fell due before the pause happened first
        if clock.state not in ("running", "breached") or clock.running_since is None:
            return out
        clock.segments[-1].end = at
        if clock.state == "running":
            clock.state = "paused"
            clock.deadline = None
        remaining = max(0.0, clock.total - self.consumed(clock, at))
        self._note(clock, at, "paused", cause)
        out.append(Emitted(at, SlaPaused(clock=clock.name, deadline=clock.deadline,
                                         policy_version=clock.policy_version, remaining_seconds=remaining),
                           f"paused:{key}"))
        return out

    def resume(self, clock: Clock, at: datetime, key: str, cause: str = "") -> list[Emitted]:
        """The customer answered (or the agent moved the ticket back). A breached clock runs again past
        its missed deadline, which stays its deadline: nothing is armed for it (`next_instant`)."""
        if clock.state == "breached" and clock.running_since is None and clock.segments:
            clock.segments.append(Segment(start=at))
        elif clock.state == "paused":
            clock.state = "running"
            clock.segments.append(Segment(start=at))
            clock.deadline = self.deadline_of(clock)
        else:
            return []
        self._note(clock, at, "resumed", cause)
        return [Emitted(at, SlaResumed(clock=clock.name, deadline=clock.deadline,
                                       policy_version=clock.policy_version), f"resumed:{key}")]

    def meet(self, clock: Clock, at: datetime, cause: str = "") -> list[Emitted]:
        """Resolved: an input at the same instant as a timer is applied first, so at == deadline is met.

        A breached clock is met late: `sla.met` says so and by how much (deadline -> resolution, in
        calendar seconds and in working seconds of the tenant's calendar), so resolution time and time
        over the deadline are known for every breached ticket."""
        out: list[Emitted] = []
        if clock.state == "running":
            out = self.due(clock, at - _TICK)
        if clock.state not in ("running", "paused", "breached"):
            return out
        if clock.running_since is not None:
            clock.segments[-1].end = at
        late = clock.state == "breached"
        clock.state = "met"
        self._note(clock, at, "met", cause)
        met = SlaMet(clock=clock.name, deadline=clock.deadline, policy_version=clock.policy_version)
        if late and clock.deadline is not None:
            met = SlaMet(clock=clock.name, deadline=clock.deadline, policy_version=clock.policy_version,
                         breached=True, overdue_seconds=max(0.0, (at - clock.deadline).total_seconds()),
                         overdue_business_seconds=self.calendar.business_seconds_between(clock.deadline, at))
        return [*out, Emitted(at, met, "met")]

    def cancel(self, clock: Clock, at: datetime, reason: str, cause: str = "") -> list[Emitted]:
        """Cancelled, merged, or reclassified to a type with no clock: retracted, nothing fires after."""
        if clock.state in ("met", "cancelled"):
            return []
        out = self.due(clock, at - _TICK) if clock.state == "running" else []
        if clock.segments and clock.segments[-1].end is None:
            clock.segments[-1].end = at
        clock.state = "cancelled"
        self._note(clock, at, f"cancelled ({reason})", cause)
        return [*out, Emitted(at, SlaCancelled(clock=clock.name, deadline=clock.deadline,
                                               policy_version=clock.policy_version, reason=reason),
                              "cancelled")]

    def retarget(self, clock: Clock, target: Target, at: datetime, rule: RetargetRule, version: str,
                 key: str, cause: str = "") -> list[Emitted]:
        """A reclassification changed the target mid-flight (the policy's declared rule).

        retarget: the new target from the original start, paused time excluded, as if it had applied
        from the beginning; restart: the new target from the reclassification instant; stricter: the
        earlier deadline of the two. Met or cancelled clocks are left alone; a breach already fired
        stays a fact. Warnings and the breach that the new deadline makes due fire at once.
        """
        if clock.state in ("met", "cancelled") or (target == clock.target and rule != "restart"):
            return []
        out = self.due(clock, at - _TICK)
        if clock.state == "breached":
            return out
        previous = clock.deadline
        paused = clock.state == "paused"
        if paused:
            clock.segments.append(Segment(start=at))  # measure as if running, then undo below
        candidates = {
            "retarget": clock.model_copy(update={"target": target, "total": self.budget(target, clock.opened_at),
                                                 "segments": [x.model_copy() for x in clock.segments]}),
            "restart": clock.model_copy(update={"target": target, "opened_at": at, "total": self.budget(target, at),
                                                "segments": [Segment(start=at)]}),
        }
        pick = rule
        if rule == "stricter":
            retargeted, restarted = (self.deadline_of(candidates[k]) for k in ("retarget", "restart"))
            pick = "restart" if restarted and retargeted and restarted < retargeted else "retarget"
        chosen = candidates[pick]
        clock.target, clock.opened_at, clock.total, clock.segments = (
            chosen.target, chosen.opened_at, chosen.total, chosen.segments
        )
        clock.policy_version = version
        if paused:
            clock.segments.pop()
            clock.deadline = None
        else:
            clock.deadline = self.deadline_of(clock)
        self._note(clock, at, f"retargeted ({rule}: {target.amount:g} {target.unit})", cause)
        out.append(Emitted(at, SlaRetargeted(clock=clock.name, deadline=clock.deadline, policy_version=version,
                                             target=target, previous_deadline=previous, rule=rule),
                           f"retargeted:{key}"))
        return out + self.due(clock, at, at_once=True)
