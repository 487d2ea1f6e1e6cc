"""sla_watch's decisions per ticket event, on top of the pure engine.

001 §3.2: the clock starts when the ticket is classified and counts from its opening; it pauses
while the ticket is 'en proceso del solicitante' and resumes on the customer's answer or when the
agent moves it back; it is met at 'resuelto'; a cancelled or merged ticket's clock is retracted.
001 §2.3: WhatsApp where the tenant says it is not official gets no clock.
A reclassification follows the policy's rule (retarget by default); a bug reclassified to a clocked
type starts its clock then, counting from the opening; a reclassification to a type with no clock
cancels it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.schemas import Category, Channel, Priority, SlaExempted, Status, Target, TicketClassified, TicketType

from . import followups
from .engine import Clock, Emitted, Engine
from .followups import FollowUps
from .policy import SlaPolicy

FOLLOWUP_TIMER = "followup"
ExemptReason = Literal["whatsapp_not_official", "no_support_deadline", "not_a_request", "ineligible"]


class TicketClocks(BaseModel):
    """What sla_watch keeps per ticket (one KV value): enough to recompute every instant."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    opened_at: AwareDatetime
    channel: Channel
    correlation_id: str
    classified: bool = False
    exempt: ExemptReason | None = None
    clocks: dict[str, Clock] = {}
    status: Status = Status.nuevo
    ticket_type: TicketType | None = None
    priority: Priority | None = None
    ticket_number: str = ""
    followups: FollowUps = FollowUps()
    eligible: bool = True  # 001 §3.1 / 004: no current subscription or agreement -> no assistance, no clock
    armed: list[str] = []  # timers ever armed and not disarmed since: only those need a purge to cancel

    def to_state(self) -> dict[str, object]:
        """What goes to KV: defaults left out (they come back on load), about 600 B for a running
        clock instead of 850 B; a million open clocks are a million of these (bench/clocks.py)."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def current(self) -> Clock | None:
        """The clock in force: the last one started (a clock cancelled by a reclassification to a
        type with no deadline is followed by a new one if the ticket gets a deadline again)."""
        return list(self.clocks.values())[-1] if self.clocks else None


class SlaRules:
    def __init__(self, policy: SlaPolicy, engine: Engine, whatsapp_official: bool, version: str) -> None:
        self.policy = policy
        self.engine = engine
        self.whatsapp_official = whatsapp_official
        self.version = version

    def on_classified(self, t: TicketClocks, c: TicketClassified, at: datetime, key: str = "",
                      cause: str = "") -> list[Emitted]:
        if Category.bajar_base in c.categories:
            followups.schedule_notice(t.followups, at)  # 001 §3.4.1 No.6: tell them in 7 days
        return self.classify(t, c.ticket_type, c.priority, at, key, cause)

    def classify(self, t: TicketClocks, ticket_type: TicketType | None, priority: Priority, at: datetime,
                 key: str = "", cause: str = "") -> list[Emitted]:
        first = not t.classified
        t.classified, t.ticket_type, t.priority = True, ticket_type, priority
        if t.status.is_closed and t.current() is None:
            return []  # cancelled (e.g. merged as a duplicate) before it was classified: no clock
        if t.channel is Channel.whatsapp and not self.whatsapp_official:
            return self._exempt(t, "whatsapp_not_official", at) if first else []
        if not t.eligible:
            return self._exempt(t, "ineligible", at) if first else []
        target = self.policy.target_for(ticket_type, priority)
        clock = t.current()
        if target is None:
            if clock is not None:
                reason = "reclasificado: sin plazo de soporte" if ticket_type else "reclasificado: sin solicitud"
                return self.engine.cancel(clock, at, reason, cause)
            if first:
                return self._exempt(t, "not_a_request" if ticket_type is None else "no_support_deadline", at)
            return []
        if clock is None or clock.state == "cancelled":
            return self._start(t, target, at, cause)
        return self.engine.retarget(clock, target, at, self.policy.reclassification, self.version, key, cause)

    def _start(self, t: TicketClocks, target: Target, at: datetime, cause: str) -> list[Emitted]:
        """A new clock counting from the ticket's opening; fires at once whatever is already due."""
        name = "resolution" if not t.clocks else f"resolution_{len(t.clocks) + 1}"
        clock, out = self.engine.start(target, t.opened_at, self.policy.warnings, self.version, name, cause)
        started = out[0].payload
        out[0] = Emitted(at, started.model_copy(update={
            "ticket_type": t.ticket_type.value if t.ticket_type else None,
            "priority": t.priority.value if t.priority else None,
        }), out[0].key)
        t.clocks[clock.name] = clock
        t.exempt = None
        if t.status is Status.en_proceso_del_solicitante:
            out += self.engine.pause(clock, at, "at-start", cause)
        return out + self.engine.due(clock, at, at_once=True)

    def _exempt(self, t: TicketClocks, reason: ExemptReason, at: datetime) -> list[Emitted]:
        t.exempt = reason
        return [Emitted(at, SlaExempted(reason=reason, policy_version=self.version), "exempted")]

    def on_status(self, t: TicketClocks, status: Status, at: datetime, key: str, cause: str = "") -> list[Emitted]:
        previous, t.status = t.status, status
        if status is previous:
            return []
        if status is Status.en_proceso_del_solicitante:
            followups.start_waiting(t.followups, at, self.engine.calendar)
        elif previous is Status.en_proceso_del_solicitante:
            followups.stop_waiting(t.followups)
        clock = t.current()
        if previous.is_closed and not status.is_closed and t.classified and (clock is None or clock.state ==
                                                                             "cancelled"):
            # reopened (e.g. a merge undone): its last classification gets its clock again
            assert t.priority is not None
            return self.classify(t, t.ticket_type, t.priority, at, key, cause)
        if clock is None:
            return []
        if status is Status.en_proceso_del_solicitante:
            return self.engine.pause(clock, at, key, cause)
        if status is Status.resuelto:
            return self.engine.meet(clock, at, cause)
        if status is Status.cancelado:
            return self.engine.cancel(clock, at, "ticket cancelado", cause)
        if previous is Status.en_proceso_del_solicitante:
            return self.engine.resume(clock, at, key, cause) + self.engine.due(clock, at)
        return []

    def on_customer_message(self, t: TicketClocks, at: datetime, key: str, cause: str = "") -> list[Emitted]:
        """The customer answered: the ticket is no longer waiting on them (001 stages)."""
        if t.status is not Status.en_proceso_del_solicitante:
            return []
        return self.on_status(t, Status.en_proceso, at, key, cause)

    def on_merged(self, t: TicketClocks, at: datetime, undone: bool, cause: str = "") -> list[Emitted]:
        """001 §3.4.1: a duplicate merged into the oldest loses its clock; undoing the merge gives it
        a new clock on its last target, counting from its opening."""
        clock = t.current()
        if not undone:
            if clock is None:
                return []
            return self.engine.cancel(clock, at, "fusionado con el tique más antiguo", cause)
        if clock is None or clock.state != "cancelled":
            return []
        return self._start(t, clock.target, at, cause)

    def on_timer(self, t: TicketClocks, clock_name: str, due_at: datetime) -> list[Emitted]:
        """A fired timer is only a wake-up call: what is due is recomputed from the state."""
        if clock_name == FOLLOWUP_TIMER:
            return [Emitted(at, p, k) for at, p, k in followups.due(t.followups, due_at, self.engine.calendar)]
        clock = t.clocks.get(clock_name)
        return [] if clock is None else self.engine.due(clock, due_at)
