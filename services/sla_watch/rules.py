"""sla_watch's decisions per ticket event, on top of the pure engine.

001 §3.2: the clock starts when the ticket is classified and counts from its opening; it pauses
while the ticket is 'en proceso del solicitante' and resumes on the customer's answer or when the
agent moves it back; it is met at 'resuelto'; a cancelled ticket's clock is retracted.
001 §2.3: WhatsApp where the tenant says it is not official gets no clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.schemas import Channel, SlaExempted, Status, TicketClassified, TicketType

from .engine import Clock, Emitted, Engine
from .policy import SlaPolicy


class TicketClocks(BaseModel):
    """What sla_watch keeps per ticket (one KV value): enough to recompute every instant."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    opened_at: AwareDatetime
    channel: Channel
    correlation_id: str
    classified: bool = False
    exempt: str | None = None
    clocks: dict[str, Clock] = {}
    status: Status = Status.nuevo


class SlaRules:
    def __init__(self, policy: SlaPolicy, engine: Engine, whatsapp_official: bool, version: str) -> None:
        self.policy = policy
        self.engine = engine
        self.whatsapp_official = whatsapp_official
        self.version = version

    def on_classified(self, t: TicketClocks, c: TicketClassified, at: datetime) -> list[Emitted]:
        if t.classified:
            return []  # re-targeting on reclassification is the SLA issue's (#5) rule set
        t.classified = True
        if t.channel is Channel.whatsapp and not self.whatsapp_official:
            return self._exempt(t, "whatsapp_not_official", at)
        if c.ticket_type is None:
            return self._exempt(t, "not_a_request", at)
        target = self.policy.target_for(c.ticket_type, c.priority)
        if target is None:
            return self._exempt(t, "no_support_deadline", at)  # 001: bugs go to development
        clock, out = self.engine.start(target, t.opened_at, self.policy.warnings, self.version)
        started = out[0].payload
        out[0] = Emitted(at, started.model_copy(update={
            "ticket_type": c.ticket_type.value if isinstance(c.ticket_type, TicketType) else None,
            "priority": c.priority.value,
        }), out[0].key)
        t.clocks[clock.name] = clock
        if t.status is Status.en_proceso_del_solicitante:
            out += self.engine.pause(clock, at, "at-start")
        return out + self.engine.due(clock, at)

    def _exempt(self, t: TicketClocks, reason: Any, at: datetime) -> list[Emitted]:
        t.exempt = reason
        return [Emitted(at, SlaExempted(reason=reason, policy_version=self.version), "exempted")]

    def on_status(self, t: TicketClocks, status: Status, at: datetime, key: str) -> list[Emitted]:
        previous, t.status = t.status, status
        out: list[Emitted] = []
        for clock in t.clocks.values():
            if status is Status.en_proceso_del_solicitante:
                out += self.engine.pause(clock, at, key)
            elif status is Status.resuelto:
                out += self.engine.meet(clock, at)
            elif status is Status.cancelado:
                out += self.engine.cancel(clock, at, "ticket cancelado")
            elif previous is Status.en_proceso_del_solicitante:
                out += self.engine.resume(clock, at, key)
                out += self.engine.due(clock, at)
        return out

    def on_customer_message(self, t: TicketClocks, at: datetime, key: str) -> list[Emitted]:
        """The customer answered: the ticket is no longer waiting on them."""
        if t.status is not Status.en_proceso_del_solicitante:
            return []
        return self.on_status(t, Status.en_proceso, at, key)

    def on_timer(self, t: TicketClocks, clock_name: str, due_at: datetime) -> list[Emitted]:
        """A fired timer is only a wake-up call: what is due is recomputed from the state."""
        clock = t.clocks.get(clock_name)
        return [] if clock is None else self.engine.due(clock, due_at)
