"""`guardia whatif`: re-run a window of recorded tickets under another policy (Fowler's Parallel Model).

A what-if is a pure function (recorded inputs, policy) -> clock events, diffed against another run of the
same function; the recorded clocks are never touched (analysts-notes §4.1, unlike JSM's destructive
"reconstruction"). Two runs, both through services/sla_watch's own rules and engine (`run_ticket`), so there
is no second SLA implementation:

1. baseline: each ticket under the policy its clocks were recorded with (`policy_version` on every sla.*
   event), compared with the recorded clock events. The first difference stops everything: a what-if on top
   of a replay that does not reproduce history would report the replay's errors as the policy's effects.
2. alternative: the same inputs under the proposed policy. A calendar change (a holiday, working hours) is a
   policy change like any other, since the calendar is part of the tenant policy.

Tickets in the window: those whose `ticket.opened` happened in [from, to). Their clock, if any, counts from
that instant (001 §3.2), so this is also "whose clock started in [from, to)", and it keeps tickets that were
exempt in one run and clocked in the other. Both runs stop at the horizon: just before `to`, or at the last
recorded fact of the tenant if the log ends earlier (a timer due after the log ends cannot be checked, and
the inputs that would have stopped it are unknown). Clocks still running there are open, not breached.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from guardia.policy import PolicyError, TenantPolicy, load_policy_file
from services.sla_watch.engine import Engine
from services.sla_watch.rules import SlaRules
from services.sla_watch.simulate import (
    Classified,
    Merged,
    Message,
    Opened,
    StatusLine,
    TicketRun,
    TimelineLine,
    run_ticket,
)
from shared.schemas import (
    Event,
    MessageAdded,
    SchemaError,
    SlaBreached,
    SlaWarning,
    StatusChanged,
    Target,
    TicketClassified,
    TicketMerged,
    TicketOpened,
    decode_event,
)

from .whatif_input import Doc, InputError

#: The events sla_watch handles (services/sla_watch/app.py): the recorded inputs of every clock.
INPUT_TYPES = frozenset({"ticket.opened", "ticket.classified", "ticket.status_changed", "ticket.message_added",
                         "ticket.merged"})
POLICY_APPLIED = "policy.applied"  # record-12: the full policy, each time a service applies one
_TICK = timedelta(microseconds=1)
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


class WhatIfError(ValueError):
    """The what-if cannot run: a policy version nobody supplied, a bad window, a policy for another tenant."""


# -- window ------------------------------------------------------------------------------------------------


def parse_bound(text: str, tz: ZoneInfo) -> datetime:
    """A tenant-local date (its midnight, analysts-notes §5.3) or an ISO-8601 instant with its offset."""
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tz)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WhatIfError(f"{text!r} is neither a date (2026-11-02) nor an ISO-8601 instant") from exc
    if at.tzinfo is None:
        raise WhatIfError(f"{text!r}: an instant needs its offset, e.g. 2026-11-02T00:00:00-05:00")
    return at


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime  # exclusive
    horizon: datetime  # the last instant both runs simulate


# -- the recorded log ----------------------------------------------------------------------------------------


def _at(doc: Doc) -> datetime:
    return datetime.fromisoformat(str(doc["occurred_at"]))


@dataclass
class TicketLog:
    """One ticket's recorded facts: its inputs (decoded, stream order) and its clock events (as written)."""

    ticket_id: str
    number: str
    opened_at: datetime
    inputs: list[Event] = field(default_factory=list)
    recorded: list[Doc] = field(default_factory=list)


@dataclass(frozen=True)
class Applied:
    """A `policy.applied` fact: from `at` on, this policy was in force."""

    at: datetime
    policy: TenantPolicy


@dataclass
class Recorded:
    tickets: list[TicketLog]
    applied: list[Applied]
    last_at: datetime | None  # the tenant's last recorded fact


def _decode(doc: Doc) -> Event:
    try:
        return decode_event(json.dumps(doc))
    except SchemaError as exc:
        raise InputError(f"{doc.get('event_type')} {doc.get('event_id')}: {exc}") from exc


def collect(docs: Iterable[Doc], tenant: str, start: datetime, end: datetime) -> Recorded:
    """The window's tickets with everything recorded about them, and the tenant's applied policies."""
    mine = [d for d in docs if d.get("tenant") == tenant]
    tickets: dict[str, TicketLog] = {}
    applied: list[Applied] = []
    for doc in mine:
        if doc["event_type"] == "ticket.opened" and doc.get("ticket_id") and start <= _at(doc) < end:
            opened = _decode(doc)
            assert isinstance(opened.payload, TicketOpened)
            tickets.setdefault(str(doc["ticket_id"]), TicketLog(str(doc["ticket_id"]), opened.payload.ticket_number,
                                                                opened.occurred_at))
        elif doc["event_type"] == POLICY_APPLIED:
            try:
                policy = TenantPolicy.model_validate(doc["data"]["policy"])
            except (KeyError, TypeError, ValidationError) as exc:
                raise InputError(f"policy.applied {doc.get('event_id')}: not a tenant policy: {exc}") from exc
            if policy.tenant == tenant:
                applied.append(Applied(_at(doc), policy))
    for doc in mine:
        ticket = tickets.get(str(doc.get("ticket_id")))
        if ticket is None:
            continue
        if doc["event_type"] in INPUT_TYPES:
            ticket.inputs.append(_decode(doc))
        elif doc["event_type"].startswith("sla."):
            ticket.recorded.append(doc)
    last = max((_at(d) for d in mine), default=None)
    return Recorded(sorted(tickets.values(), key=lambda t: t.opened_at), applied, last)


# -- policies ------------------------------------------------------------------------------------------------


def load_any_policy_file(path: Path) -> TenantPolicy:
    """A policy file under any name: a proposal usually sits beside the policy in force, so it cannot be
    called `<tenant>.yaml` as `load_policy_file` requires. Same validation and same default version
    (the file's hash), since it is `load_policy_file` on a copy under the tenant's name."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read YAML: {exc}") from exc
    tenant = raw.get("tenant") if isinstance(raw, dict) else None
    if not isinstance(tenant, str) or path.stem == tenant or "/" in tenant:
        return load_policy_file(path)
    with tempfile.TemporaryDirectory(prefix="guardia-whatif-") as tmp:
        copy = Path(tmp) / f"{tenant}.yaml"
        shutil.copyfile(path, copy)
        try:
            return load_policy_file(copy)
        except PolicyError as exc:
            raise PolicyError(str(exc).replace(str(copy), str(path))) from exc


class PolicyBook:
    """The policies that may have been in force, by version: the log's `policy.applied` facts first, then
    the ones given (`--baseline` files, then the tenant's loaded policy)."""

    def __init__(self, applied: list[Applied], given: list[TenantPolicy]) -> None:
        self.applied = sorted(applied, key=lambda a: a.at)
        self.given = given
        self._by_version: dict[str, TenantPolicy] = {}
        for policy in [a.policy for a in self.applied] + given:
            self._by_version.setdefault(policy.version, policy)

    def version(self, version: str, at: datetime | None = None) -> TenantPolicy:
        """The policy recorded under `version`. Two contents may carry one version label (an operator who
        edited a file and kept its `version:`): the one applied last at or before `at` is the one in force."""
        same = [a.policy for a in self.applied if a.policy.version == version and (at is None or a.at <= at)]
        if same:
            return same[-1]
        given = [p for p in self.given if p.version == version]
        if given:  # recorded before any policy.applied with this label: the file given is the better witness
            return given[0]
        try:
            return self._by_version[version]
        except KeyError:
            known = ", ".join(sorted(self._by_version)) or "none"
            raise WhatIfError(f"the clocks were recorded under policy version {version!r}, which is neither in a "
                              f"policy.applied event nor in the policies given (known: {known}); "
                              f"pass it with --baseline FILE") from None

    def in_force_at(self, at: datetime) -> TenantPolicy:
        """For a ticket with no clock event to tell: the last applied at or before `at`, else the first given."""
        before = [a.policy for a in self.applied if a.at <= at]
        if before:
            return before[-1]
        if self.given:
            return self.given[0]
        if self.applied:
            return self.applied[0].policy
        raise WhatIfError("no baseline policy: the log has no policy.applied and none was given")


def rules_for(policy: TenantPolicy) -> SlaRules:
    """The rules exactly as sla_watch builds them for a tenant (services/sla_watch/app.py)."""
    return SlaRules(policy.sla, Engine(policy.business_calendar), policy.channels.whatsapp_official, policy.version)


# -- the runs ------------------------------------------------------------------------------------------------


def to_line(event: Event) -> TimelineLine:
    """A recorded input as a timeline line: what the live handler takes from the same event."""
    ticket, at, p = str(event.ticket_id), event.occurred_at, event.payload
    if isinstance(p, TicketOpened):
        return Opened(type="opened", ticket_id=ticket, at=at, channel=p.channel,
                      eligible=p.standing is None or p.standing.eligible)
    if isinstance(p, TicketClassified):
        return Classified(type="classified", ticket_id=ticket, at=at, ticket_type=p.ticket_type, priority=p.priority)
    if isinstance(p, StatusChanged):
        return StatusLine(type="status", ticket_id=ticket, at=at, status=p.status)
    if isinstance(p, MessageAdded):
        return Message(type="message", ticket_id=ticket, at=at, author=p.author)
    if isinstance(p, TicketMerged):
        return Merged(type="merged", ticket_id=ticket, at=at, into=str(p.into_ticket_id), undone=p.undone)
    raise InputError(f"{event.event_type} is not an input of the SLA clocks")


def simulate_ticket(ticket: TicketLog, rules: SlaRules, horizon: datetime) -> TicketRun:
    """Inputs in event-time order; equal instants keep stream order (the sort is stable), since triage's
    classification carries its ticket's opening instant (analysts-notes §4.2)."""
    lines = sorted((to_line(e) for e in ticket.inputs), key=lambda line: line.at)
    return run_ticket(rules, rules.engine, lines, horizon)


# -- the baseline check --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockFact:
    """A clock event as compared: its type, instant and data."""

    event_type: str
    at: datetime
    data: dict[str, Any]

    def sort_key(self) -> tuple[datetime, str, str, float]:
        """Events at the same instant are compared in a fixed order: the order live published them in is
        not a fact about the clock."""
        fraction = self.data.get("fraction")
        return self.at, self.event_type, str(self.data.get("clock", "")), float(fraction or 0)

    def describe(self) -> str:
        shown = {k: v for k, v in self.data.items() if v is not None}
        return f"{self.event_type} a las {self.at.isoformat()} {json.dumps(shown, ensure_ascii=False, sort_keys=True)}"


def _normal(value: Any) -> Any:
    """Instants compare as instants (a dump may write 'Z' or '+00:00'), dicts field by field."""
    if isinstance(value, str) and _INSTANT.match(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def recorded_facts(ticket: TicketLog, horizon: datetime) -> list[ClockFact]:
    facts = [ClockFact(d["event_type"], _at(d), dict(d.get("data") or {})) for d in ticket.recorded]
    return sorted((f for f in facts if f.at <= horizon), key=ClockFact.sort_key)


def simulated_facts(run: TicketRun) -> list[ClockFact]:
    facts = [ClockFact(e.payload.event_type, e.at, e.payload.model_dump(mode="json")) for _, e in run.emitted]
    return sorted(facts, key=ClockFact.sort_key)


def differing_fields(expected: ClockFact, got: ClockFact) -> list[str]:
    """Fields present on both sides that differ. A field only one side has is a schema addition (e.g. a
    newer sla.met's `breached`), not a different clock, so it is not held against the replay."""
    out = ["event_type"] if expected.event_type != got.event_type else []
    if expected.at != got.at:
        out.append("occurred_at")
    a, b = _normal(expected.data), _normal(got.data)
    out += [k for k in sorted(a.keys() & b.keys()) if a[k] != b[k]]
    return out


@dataclass(frozen=True)
class Difference:
    """The first place the baseline run departs from the recorded clocks."""

    ticket_number: str
    ticket_id: str
    index: int  # 1-based position among the ticket's clock events, in time order
    expected: ClockFact | None  # recorded
    got: ClockFact | None  # simulated under the recorded policy
    fields: tuple[str, ...]

    def describe(self) -> str:
        lines = [f"Tique {self.ticket_number} ({self.ticket_id}), evento de reloj n.º {self.index}:",
                 f"  registrado: {self.expected.describe() if self.expected else '(nada)'}",
                 f"  simulado:   {self.got.describe() if self.got else '(nada)'}"]
        if self.fields:
            lines.append(f"  difieren:   {', '.join(self.fields)}")
        return "\n".join(lines)


class BaselineMismatch(Exception):
    """The policy in force does not reproduce the recorded clocks: nothing after this can be trusted."""

    def __init__(self, difference: Difference) -> None:
        super().__init__(difference.describe())
        self.difference = difference


def first_difference(ticket: TicketLog, expected: list[ClockFact], got: list[ClockFact]) -> Difference | None:
    for index in range(max(len(expected), len(got))):
        a = expected[index] if index < len(expected) else None
        b = got[index] if index < len(got) else None
        fields = differing_fields(a, b) if a is not None and b is not None else []
        if a is None or b is None or fields:
            return Difference(ticket.number, ticket.ticket_id, index + 1, a, b, tuple(fields))
    return None


# -- outcomes and the diff -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """Where a ticket's clock stands at the horizon, under one policy."""

    version: str
    state: str  # met, breached, running, paused, cancelled, exempt, none (never classified)
    target: Target | None = None
    deadline: datetime | None = None
    breached: bool = False
    warnings: tuple[float, ...] = ()
    exempt: str | None = None


def outcome_of(run: TicketRun, version: str) -> Outcome:
    """The clock in force (the last one started): its state, its deadline (the last one it had, when
    paused), whether it breached (a fact even if a newer engine keeps the clock going after the breach)."""
    t = run.state
    clock = t.current() if t is not None else None
    if t is None or clock is None:
        return Outcome(version, "exempt" if t is not None and t.exempt else "none",
                       exempt=t.exempt if t is not None else None)
    mine = [e.payload for _, e in run.emitted if getattr(e.payload, "clock", None) == clock.name]
    breached = any(isinstance(p, SlaBreached) for p in mine)
    deadline = clock.deadline or next((x.deadline for x in reversed(clock.ledger) if x.deadline), None)
    return Outcome(version, "breached" if breached else clock.state, clock.target, deadline, breached,
                   tuple(p.fraction for p in mine if isinstance(p, SlaWarning)))


@dataclass(frozen=True)
class TicketChange:
    ticket_id: str
    number: str
    opened_at: datetime
    ticket_type: str | None
    priority: str | None
    before: Outcome
    after: Outcome

    @property
    def change(self) -> str:
        """The most important difference: breach_gained, breach_avoided, deadline_moved, outcome_changed,
        warnings_changed or unchanged."""
        b, a = self.before, self.after
        if a.breached and not b.breached:
            return "breach_gained"
        if b.breached and not a.breached:
            return "breach_avoided"
        if b.deadline != a.deadline:
            return "deadline_moved"
        if b.state != a.state:
            return "outcome_changed"
        if b.warnings != a.warnings:
            return "warnings_changed"
        return "unchanged"

    @property
    def shift(self) -> timedelta | None:
        if self.before.deadline is None or self.after.deadline is None:
            return None
        return self.after.deadline - self.before.deadline


@dataclass(frozen=True)
class Attainment:
    """001: attainment against the targets by type = met / (met + breached); open clocks do not count."""

    ticket_type: str
    met_before: int
    breached_before: int
    met_after: int
    breached_after: int

    @staticmethod
    def _rate(met: int, breached: int) -> float | None:
        return met / (met + breached) if met + breached else None

    @property
    def rate_before(self) -> float | None:
        return self._rate(self.met_before, self.breached_before)

    @property
    def rate_after(self) -> float | None:
        return self._rate(self.met_after, self.breached_after)


@dataclass(frozen=True)
class Excluded:
    number: str
    ticket_id: str
    reason: str


@dataclass
class WhatIf:
    tenant: str
    timezone: str  # the tenant's, from the proposed policy: how its people read instants
    window: Window
    baseline_versions: list[str]
    policy_version: str
    verified: bool
    tickets: list[TicketChange]
    excluded: list[Excluded]

    def count(self, change: str) -> int:
        return sum(1 for t in self.tickets if t.change == change)

    @property
    def breaches_before(self) -> int:
        return sum(1 for t in self.tickets if t.before.breached)

    @property
    def breaches_after(self) -> int:
        return sum(1 for t in self.tickets if t.after.breached)

    @property
    def gained(self) -> list[TicketChange]:
        return [t for t in self.tickets if t.after.breached and not t.before.breached]

    @property
    def avoided(self) -> list[TicketChange]:
        return [t for t in self.tickets if t.before.breached and not t.after.breached]

    @property
    def moved(self) -> list[TicketChange]:
        return [t for t in self.tickets if t.before.deadline != t.after.deadline]

    @property
    def warnings_before(self) -> int:
        return sum(len(t.before.warnings) for t in self.tickets)

    @property
    def warnings_after(self) -> int:
        return sum(len(t.after.warnings) for t in self.tickets)

    def attainment(self) -> list[Attainment]:
        """By type, then the total (ticket_type "total")."""
        types = sorted({t.ticket_type or "sin_tipo" for t in self.tickets})
        rows = []
        for name in [*types, "total"]:
            chosen = [t for t in self.tickets if name == "total" or (t.ticket_type or "sin_tipo") == name]
            rows.append(Attainment(
                name,
                sum(1 for t in chosen if t.before.state == "met"), sum(1 for t in chosen if t.before.breached),
                sum(1 for t in chosen if t.after.state == "met"), sum(1 for t in chosen if t.after.breached),
            ))
        return rows


def run_whatif(docs: Iterable[Doc], tenant: str, proposal: TenantPolicy, start: datetime, end: datetime,
               given: list[TenantPolicy], verify: bool = True) -> WhatIf:
    """The baseline check, then the proposal, for every ticket opened in [start, end)."""
    if proposal.tenant != tenant:
        raise WhatIfError(f"the proposed policy is for tenant {proposal.tenant!r}, not {tenant!r}")
    if end <= start:
        raise WhatIfError(f"empty window: --to {end.isoformat()} is not after --from {start.isoformat()}")
    recorded = collect(docs, tenant, start, end)
    horizon = end - _TICK if recorded.last_at is None else min(end - _TICK, recorded.last_at)
    window = Window(start, end, horizon)
    book = PolicyBook(recorded.applied, given)
    cache: dict[str, SlaRules] = {}

    def rules(policy: TenantPolicy) -> SlaRules:
        if policy.version not in cache:
            cache[policy.version] = rules_for(policy)
        return cache[policy.version]

    alternative = rules_for(proposal)
    changes, excluded, versions = [], [], set()
    for ticket in recorded.tickets:
        stamped = sorted({str(d["data"].get("policy_version")) for d in ticket.recorded
                          if _at(d) <= horizon and "policy_version" in (d.get("data") or {})})
        if len(stamped) > 1:
            excluded.append(Excluded(ticket.number, ticket.ticket_id,
                                     f"reloj registrado con varias versiones de política ({', '.join(stamped)})"))
            continue
        baseline = book.version(stamped[0], ticket.opened_at) if stamped else book.in_force_at(ticket.opened_at)
        versions.add(baseline.version)
        before = simulate_ticket(ticket, rules(baseline), horizon)
        if verify:
            difference = first_difference(ticket, recorded_facts(ticket, horizon), simulated_facts(before))
            if difference is not None:
                raise BaselineMismatch(difference)
        after = simulate_ticket(ticket, alternative, horizon)
        state = before.state
        changes.append(TicketChange(
            ticket.ticket_id, ticket.number, ticket.opened_at,
            state.ticket_type.value if state and state.ticket_type else None,
            state.priority.value if state and state.priority else None,
            outcome_of(before, baseline.version), outcome_of(after, proposal.version),
        ))
    return WhatIf(tenant, proposal.calendar.timezone, window, sorted(versions), proposal.version, verify, changes,
                  excluded)
