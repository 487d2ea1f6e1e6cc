"""triage — type, priority (= impact), area, categories and playbook for every ticket (001 §3.1-3.2).

Subjects in:   ev.*.ticket.opened
Subjects out:  ev.<t>.ticket.classified
Handlers:      on_ticket_opened
State:         KV triage_tickets: ticket id -> the classification it published (so a redelivered
               ticket.opened is not classified twice, and a later message or correction has the
               current decision to start from)
"""

from __future__ import annotations

from guardia.bus.runtime import Context, ServiceRuntime
from guardia.bus.state import read
from guardia.policy import Policies
from guardia.settings import Settings
from shared.schemas import Event, TicketClassified, TicketOpened

from .rules import Classifier, Decision

PRODUCER = "triage"


def classified(decision: Decision, review_below: float) -> TicketClassified:
    return TicketClassified(
        ticket_type=decision.ticket_type, priority=decision.priority, area=decision.area,
        categories=decision.categories, playbook=decision.playbook, abusive=decision.abusive,
        confidence=decision.confidence, needs_review=decision.confidence < review_below,
        reasons=decision.reasons, classifier=decision.classifier,
    )


def build(settings: Settings, policies: Policies) -> ServiceRuntime:
    rt = ServiceRuntime(PRODUCER, settings, buckets=("triage_tickets",))
    classifiers = {
        t: Classifier(policies[t].triage.merged_vocabulary(), policies[t].triage.review_below)
        for t in policies.tenants()
    }

    @rt.handles("ticket.opened")
    async def on_ticket_opened(event: Event, ctx: Context) -> list[Event]:
        """001 §3.1 'Clasificar el problema', §3.2 priority by impact."""
        opened = event.payload
        assert isinstance(opened, TicketOpened)
        tickets = ctx.kv("triage_tickets")
        known = await read(tickets, str(event.ticket_id))
        if known.value is not None:
            return []  # classified already: a redelivery
        classifier = classifiers[event.tenant]
        decision = classifier.classify(opened.subject, opened.text)
        out = event.derive(classified(decision, classifier.review_below), producer=PRODUCER)
        ctx.staged.put(tickets, str(event.ticket_id), {"classified_event": str(out.event_id),
                                                       "classification": out.envelope.data}, known.revision)
        return [out]

    rt.consume_events(subject="ev.*.ticket.opened")
    return rt
