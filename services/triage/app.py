"""triage — type, priority (= impact), area, categories and playbook for every ticket (001 §3.1-3.2).

Subjects in:   ev.*.<p>.ticket.opened · ev.*.<p>.ticket.message_added · ev.*.<p>.ticket.reclassification_requested
Subjects out:  ev.<t>.<p>.ticket.classified
               (consumers <service>-pNN: one per partition of the event log, one message in flight each)
Handlers:      on_ticket_opened, on_message_added (classify again on the customer's new words),
               on_reclassification_requested (an agent's correction)
State:         KV triage_tickets: ticket id -> its customer text and the classification in force (so a
               redelivered event is not classified twice, and a new message or a correction starts
               from the current decision); KV triage_corrections: ticket id -> the agent's labels and
               reason, exported by `guardia triage corrections` as training data
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guardia.bus.runtime import Context, ServiceRuntime
from guardia.bus.state import read
from guardia.policy import Policies
from guardia.settings import Settings
from shared.schemas import (
    Event,
    MessageAdded,
    Reason,
    ReclassificationRequested,
    TicketClassified,
    TicketOpened,
)

from .model import trained_model
from .rules import Classifier, Decision

PRODUCER = "triage"
MAX_TEXT = 20_000  # characters of customer text kept per ticket for re-classification


def classified(decision: Decision, review_below: float, note: str = "") -> TicketClassified:
    return TicketClassified(
        ticket_type=decision.ticket_type, priority=decision.priority, area=decision.area,
        categories=decision.categories, playbook=decision.playbook, abusive=decision.abusive,
        confidence=decision.confidence, needs_review=decision.confidence < review_below,
        reasons=decision.reasons, classifier=decision.classifier, note=note,
    )


def accepted_corrections(settings: Settings) -> Path:
    """Agents' corrections that a retrain accepted: training data on top of the repository's corpus."""
    return settings.data_dir / "triage" / "corrections.jsonl"


def _labels(data: dict[str, Any]) -> tuple[Any, ...]:
    return data.get("ticket_type"), data.get("priority"), data.get("area"), tuple(data.get("categories", ()))


def build(settings: Settings, policies: Policies) -> ServiceRuntime:
    rt = ServiceRuntime(PRODUCER, settings, buckets=("triage_tickets", "triage_corrections"))
    models = settings.data_dir / "models"
    corrections = accepted_corrections(settings)  # `guardia triage retrain` adds to it; read at start
    classifiers = {
        t: Classifier(policies[t].triage.merged_vocabulary(), policies[t].triage.review_below,
                      model=trained_model(policies[t].triage.merged_vocabulary(), cache_dir=models,
                                          extra=corrections))
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
        ctx.staged.put(tickets, str(event.ticket_id), {
            "subject": opened.subject, "text": opened.text[:MAX_TEXT], "channel": opened.channel.value,
            "classification": out.envelope.data, "by_agent": False, "seen": [str(event.event_id)],
        }, known.revision)
        return [out]

    @rt.handles("ticket.message_added")
    async def on_message_added(event: Event, ctx: Context) -> list[Event]:
        """The customer said more: classify the whole conversation again; publish only a change.
        An agent's correction is never overridden by the model."""
        message = event.payload
        assert isinstance(message, MessageAdded)
        tickets = ctx.kv("triage_tickets")
        entry = await read(tickets, str(event.ticket_id))
        if entry.value is None or message.author != "customer" or str(event.event_id) in entry.value["seen"]:
            return []
        record = dict(entry.value)
        record["text"] = f"{record['text']}\n{message.text}"[-MAX_TEXT:]
        record["seen"] = [*record["seen"][-50:], str(event.event_id)]
        out: list[Event] = []
        if not record["by_agent"]:
            classifier = classifiers[event.tenant]
            decision = classifier.classify(record["subject"], record["text"])
            new = classified(decision, classifier.review_below, note="reclasificado por un nuevo mensaje del cliente")
            # A thank-you or an out-of-office reply later in the conversation does not undo a request:
            # a ticket leaves the clocks only by an agent's hand (a correction or a status).
            undoes_request = decision.ticket_type is None and record["classification"].get("ticket_type") is not None
            if not undoes_request and _labels(new.model_dump(mode="json")) != _labels(record["classification"]):
                ev = event.derive(new, producer=PRODUCER)
                record["classification"] = ev.envelope.data
                out.append(ev)
        ctx.staged.put(tickets, str(event.ticket_id), record, entry.revision)
        return out

    @rt.handles("ticket.reclassification_requested")
    async def on_reclassification_requested(event: Event, ctx: Context) -> list[Event]:
        """An agent corrects the decision: it is published as is, and kept as labeled data."""
        fix = event.payload
        assert isinstance(fix, ReclassificationRequested)
        tickets = ctx.kv("triage_tickets")
        entry = await read(tickets, str(event.ticket_id))
        record = dict(entry.value or {"subject": "", "text": "", "channel": "", "seen": []})
        if str(event.event_id) in record.get("seen", []):
            return []
        payload = TicketClassified(
            ticket_type=fix.ticket_type, priority=fix.priority, area=fix.area, categories=fix.categories,
            abusive=bool((record.get("classification") or {}).get("abusive", False)), confidence=1.0,
            reasons=(Reason(rule="corrección del agente", detail=f"{fix.by}: {fix.reason}"),),
            classifier=f"agent:{fix.by}", by="agent", note=fix.reason,
        )
        out = event.derive(payload, producer=PRODUCER)
        record.update(classification=out.envelope.data, by_agent=True,
                      seen=[*record.get("seen", [])[-50:], str(event.event_id)])
        ctx.staged.put(tickets, str(event.ticket_id), record, entry.revision)
        corrections = ctx.kv("triage_corrections")
        previous = await read(corrections, str(event.ticket_id))
        ctx.staged.put(corrections, str(event.ticket_id), {
            "id": str(event.ticket_id), "tenant": event.tenant,
            "text": f"{record['subject']}\n{record['text']}".strip(),
            "channel": record.get("channel", ""), "type": fix.ticket_type.value if fix.ticket_type else None,
            "priority": fix.priority.value, "area": fix.area.value, "categories": [c.value for c in fix.categories],
            "by": fix.by, "reason": fix.reason, "at": event.occurred_at.isoformat(),
        }, previous.revision)
        return [out]

    return rt
