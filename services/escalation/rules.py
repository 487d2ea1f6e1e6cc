"""Escalation's pure decisions: who owns a ticket, where it goes next, when the committee meets.

001 §3.3: tickets are assigned to the level their classification calls for.
001 §3.5: the escalation matrix (problema L1->L2->L3, pregunta L1->L2, anomalía L1->L3, bugs L1->L3,
solicitud L1->area in charge, usabilidad L1->projects area); urgent tickets are assigned at once and
the 24/7 emergency number is alerted; with no next level, failed communication goes to the projects
leader.
001 §3.7 Fase 2: every 5 tickets of category 'oportunidad de mejora' and/or type usabilidad, the
projects leader is told to convene the committee with those tickets.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from shared.schemas import Priority, TicketAssigned, TicketClassified, TicketEscalated, TicketType

from .policy import CommitteePolicy, EscalationPolicy

NOT_A_REQUEST_LEVEL = "nivel_1"
FAILED_COMMUNICATION = "lider_de_proyectos"


class TicketRoute(BaseModel):
    """What escalation keeps per ticket."""

    model_config = ConfigDict(extra="forbid")

    levels: list[str]
    position: int = 0
    ticket_type: str | None = None
    priority: str = "baja"

    @property
    def level(self) -> str:
        return self.levels[self.position]


def resolve_level(level: str, area: str) -> str:
    """'Al área correspondiente' (001 §3.5 solicitud) is the ticket's own area."""
    return f"area_{area}" if level == "area_correspondiente" else level


def role_of(policy: EscalationPolicy, level: str) -> str:
    return policy.roles.get(level, level.replace("_", " ").capitalize())


Routing = tuple[TicketRoute, TicketAssigned, list[TicketEscalated]]


def route_for(policy: EscalationPolicy, c: TicketClassified) -> Routing:
    """First assignment of a classified ticket, and the escalations the matrix makes at once."""
    area = c.area.value
    if c.ticket_type is None:
        route = TicketRoute(levels=[NOT_A_REQUEST_LEVEL], priority=c.priority.value)
        return route, TicketAssigned(level=route.level, role=role_of(policy, route.level),
                                     reason="001 §3.3: sin solicitud; nivel 1 revisa y cierra"), []
    levels = [resolve_level(x, area) for x in policy.matrix.get(c.ticket_type, (NOT_A_REQUEST_LEVEL,))]
    urgent = c.priority is Priority.urgente
    review = c.needs_review and not urgent  # an urgent ticket is never held back for a check
    if urgent and policy.urgent_level:
        levels[0] = policy.urgent_level
    elif review and levels[0] != NOT_A_REQUEST_LEVEL:
        # triage was unsure: nivel 1 confirms the classification before the matrix takes over
        levels.insert(0, NOT_A_REQUEST_LEVEL)
    route = TicketRoute(levels=levels, ticket_type=c.ticket_type.value, priority=c.priority.value)
    reason = f"001 §3.3: {c.ticket_type.value} -> {route.level}"
    if urgent:
        reason = "001 §3.5: urgente, asignación inmediata y alerta al número de emergencia 24/7"
    elif review:
        reason = (f"clasificación con confianza baja ({c.confidence:.2f}): {route.level} confirma tipo, "
                  f"prioridad y área antes de seguir la matriz (001 §3.3)")
    assigned = TicketAssigned(level=route.level, role=role_of(policy, route.level), reason=reason,
                              alert_emergency=urgent)
    escalations: list[TicketEscalated] = []
    if c.ticket_type is TicketType.bug and len(levels) > 1 and not review:
        # 001 §3.2 Bugs: "deben ser escalados al equipo de desarrollo".
        escalations.append(step_up(route, "bug_to_development", policy))
    return route, assigned, escalations


def step_up(route: TicketRoute, reason: str, policy: EscalationPolicy) -> TicketEscalated:
    """Move the ticket one level up the matrix; past the top, failed communication -> projects leader."""
    current = route.level
    if route.position + 1 < len(route.levels):
        route.position += 1
        rule = f"001 §3.5 {route.ticket_type}: {current} -> {route.level}"
    else:
        route.levels.append(FAILED_COMMUNICATION)
        route.position = len(route.levels) - 1
        rule = f"001 §3.5 comunicación fallida: {current} -> {FAILED_COMMUNICATION}"
    return TicketEscalated(from_level=current, to_level=route.level, reason=reason, rule=rule,
                           alert_emergency=route.priority == Priority.urgente.value)


def counts_for_committee(rule: CommitteePolicy, c: TicketClassified) -> bool:
    """001 §3.7: category 'oportunidad de mejora' and/or type usabilidad."""
    return (c.ticket_type in rule.types) or any(cat in rule.categories for cat in c.categories)


@dataclass
class CommitteeCount:
    """The committee counter of one tenant: tickets waiting for the next session."""

    pending: list[tuple[str, str]]  # (ticket id, ticket number)
    batches: int = 0

    def add(self, ticket_id: str, number: str, every: int) -> list[tuple[str, str]] | None:
        """Count a ticket once; return the batch to convene when it completes one."""
        if any(t == ticket_id for t, _ in self.pending):
            return None
        self.pending.append((ticket_id, number))
        if len(self.pending) < every:
            return None
        batch, self.pending = self.pending[:every], self.pending[every:]
        self.batches += 1
        return batch
