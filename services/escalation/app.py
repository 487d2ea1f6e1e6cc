"""escalation — owners, the 001 §3.5 matrix, and the improvement committee count.

Subjects in:   ev.*.<p>.ticket.opened · ev.*.<p>.ticket.classified · ev.*.<p>.sla.started|exempted
               · ev.*.<p>.sla.breached · ev.*.<p>.followup.exhausted      (consumers escalation-pNN, per ticket)
               · ev.*.*.committee.candidate                               (consumer escalation-committee, serial)
Subjects out:  ev.<t>.<p>.ticket.assigned · ev.<t>.<p>.ticket.escalated · ev.<t>.<p>.committee.candidate
               · ev.<t>.<p>.committee.convened
Handlers:      on_opened, on_classified, on_clock_decided, on_breached, on_followup_exhausted; on_candidate
               (the one writer of the committee count)
State:         KV escalation_state: ticket.<id> -> number, classification, route (per ticket, written only by
               the partition that owns the ticket); committee.<tenant> -> pending count and batches, and
               member.<tenant>.<ticket> -> counted marker (a ticket counts once, ever), both written only by
               the serial committee consumer
"""

from __future__ import annotations

from uuid import UUID

from guardia.bus.runtime import Context, ServiceRuntime
from guardia.bus.state import kv_key, read
from guardia.policy import Policies
from guardia.settings import Settings
from shared.schemas import (
    CommitteeCandidate,
    CommitteeConvened,
    Event,
    SlaExempted,
    TicketAssigned,
    TicketClassified,
    TicketEscalated,
    TicketOpened,
)

from .rules import CommitteeCount, TicketRoute, counts_for_committee, role_of, route_for, step_up

PRODUCER = "escalation"
COMMERCIAL = "area_comercial"


def build(settings: Settings, policies: Policies) -> ServiceRuntime:
    rt = ServiceRuntime(PRODUCER, settings, buckets=("escalation_state",))

    @rt.handles("ticket.opened")
    async def on_opened(event: Event, ctx: Context) -> list[Event]:
        assert isinstance(event.payload, TicketOpened)
        kv = ctx.kv("escalation_state")
        key = kv_key("ticket", event.ticket_id)
        entry = await read(kv, key)
        if entry.value is None:
            standing = event.payload.standing.model_dump(mode="json") if event.payload.standing else None
            ctx.staged.put(kv, key, {"number": event.payload.ticket_number, "route": None, "standing": standing},
                           entry.revision)
        return []

    @rt.handles("ticket.classified")
    async def on_classified(event: Event, ctx: Context) -> list[Event]:
        """Keep the classification for routing; count the ticket for the committee (001 §3.7)."""
        c = event.payload
        assert isinstance(c, TicketClassified) and event.ticket_id is not None
        kv = ctx.kv("escalation_state")
        key = kv_key("ticket", event.ticket_id)
        entry = await read(kv, key)
        if entry.value is None:
            # Per-ticket order brings ticket.opened first; without it there is no number to count or tell.
            raise LookupError(f"ticket {event.ticket_id} classified before escalation saw it opened")
        record = entry.value
        out: list[Event] = []
        if record.get("route") is None:
            ctx.staged.put(kv, key, {**record, "classified": c.model_dump(mode="json")}, entry.revision)
        else:
            # reclassified after assignment: a new type or a new urgency re-routes by the matrix (001 §3.5)
            old = TicketRoute.model_validate(record["route"])
            new_type = c.ticket_type.value if c.ticket_type else None
            became_urgent = c.priority.value == "urgente" and old.priority != "urgente"
            if new_type != old.ticket_type or became_urgent:
                route, assigned, escalations = route_for(policies[event.tenant].escalation, c)
                assigned = assigned.model_copy(update={"reason": f"reclasificado: {assigned.reason}"})
                out.append(event.derive(assigned, producer=PRODUCER))
                out += [event.derive(e, producer=PRODUCER, key=i) for i, e in enumerate(escalations)]
                ctx.staged.put(kv, key, {**record, "classified": c.model_dump(mode="json"),
                                         "route": route.model_dump()}, entry.revision)
        if counts_for_committee(policies[event.tenant].escalation.committee, c):
            # 001 §3.7: counted by the one serial committee consumer (on_candidate), never here: two
            # tickets handled at once would both see four pending and both convene batch k.
            out.append(event.derive(CommitteeCandidate(ticket_number=record["number"]), producer=PRODUCER))
        return out

    @rt.handles("sla.started", "sla.exempted")
    async def on_clock_decided(event: Event, ctx: Context) -> list[Event]:
        """001 §3.3: assign once the ticket is classified and its clock decided (so the owner is told
        the deadline in force); urgent tickets also alert the 24/7 number (001 §3.5)."""
        kv = ctx.kv("escalation_state")
        key = kv_key("ticket", event.ticket_id)
        entry = await read(kv, key)
        if entry.value is None or entry.value.get("classified") is None:
            raise LookupError(f"ticket {event.ticket_id}: clock decided before escalation saw it classified")
        if entry.value.get("route") is not None:
            return []
        c = TicketClassified.model_validate(entry.value["classified"])
        standing = entry.value.get("standing")
        if isinstance(event.payload, SlaExempted) and event.payload.reason == "ineligible" and standing:
            # 001 §3.1: no active subscription / in arrears -> commercial area; 004: no agreement -> projects
            level = standing.get("route_to") or COMMERCIAL
            route = TicketRoute(levels=[level], ticket_type=c.ticket_type.value if c.ticket_type else None,
                                priority=c.priority.value)
            ctx.staged.put(kv, key, {**entry.value, "route": route.model_dump()}, entry.revision)
            assigned = TicketAssigned(level=level, role=role_of(policies[event.tenant].escalation, level),
                                      reason=f"001 §3.1 / 004: sin asistencia técnica — {standing.get('message', '')}")
            return [event.derive(assigned, producer=PRODUCER)]
        route, assigned, escalations = route_for(policies[event.tenant].escalation, c)
        ctx.staged.put(kv, key, {**entry.value, "route": route.model_dump()}, entry.revision)
        out = [event.derive(assigned, producer=PRODUCER)]
        return out + [event.derive(e, producer=PRODUCER, key=i) for i, e in enumerate(escalations)]

    @rt.handles("committee.candidate", serial="committee")
    async def on_candidate(event: Event, ctx: Context) -> list[Event]:
        """001 §3.7 Fase 2: every `every` improvement tickets, one convocation with exactly those.

        The only writer of the count, one message at a time over all partitions: a re-run of the
        same candidate on the same state (a redelivery) derives the same convocation id, which NATS
        drops; the member marker keeps a ticket from being counted twice, ever."""
        candidate = event.payload
        assert isinstance(candidate, CommitteeCandidate)
        rule = policies[event.tenant].escalation.committee
        kv = ctx.kv("escalation_state")
        marker = kv_key("member", event.tenant, event.ticket_id)
        if (await read(kv, marker)).value is not None:
            return []  # counted already: a redelivery or a reclassification
        doc_key = kv_key("committee", event.tenant)
        doc = await read(kv, doc_key)
        count = CommitteeCount(
            pending=[(str(t), str(n)) for t, n in (doc.value or {}).get("pending", [])],
            batches=(doc.value or {}).get("batches", 0),
        )
        batch = count.add(str(event.ticket_id), candidate.ticket_number, rule.every)
        ctx.staged.put(kv, doc_key, {"pending": count.pending, "batches": count.batches}, doc.revision)
        ctx.staged.put(kv, marker, {"batch": count.batches + (0 if batch else 1)}, None)
        if batch is None:
            return []
        convened = CommitteeConvened(
            batch_number=count.batches, ticket_ids=tuple(UUID(t) for t, _ in batch),
            ticket_numbers=tuple(n for _, n in batch), convener_role=rule.convener_role,
        )
        return [event.derive(convened, producer=PRODUCER, key=f"committee:{count.batches}")]

    @rt.handles("sla.breached")
    async def on_breached(event: Event, ctx: Context) -> list[Event]:
        """001 §3.5: the level in charge did not make it in time -> the next one."""
        kv = ctx.kv("escalation_state")
        key = kv_key("ticket", event.ticket_id)
        entry = await read(kv, key)
        if entry.value is None or entry.value.get("route") is None:
            raise LookupError(f"ticket {event.ticket_id} breached before escalation saw it classified")
        handled = entry.value.get("breaches", [])
        if str(event.event_id) in handled:
            return []  # this breach already moved the ticket up (a redelivery past the dedup window)
        route = TicketRoute.model_validate(entry.value["route"])
        escalated = step_up(route, "sla_breached", policies[event.tenant].escalation)
        record = {**entry.value, "route": route.model_dump(), "breaches": [*handled, str(event.event_id)]}
        ctx.staged.put(kv, key, record, entry.revision)
        return [event.derive(escalated, producer=PRODUCER)]

    @rt.handles("followup.exhausted")
    async def on_followup_exhausted(event: Event, ctx: Context) -> list[Event]:
        """001 §3.5: two unanswered follow-up calls -> the commercial area asks for more contact data."""
        kv = ctx.kv("escalation_state")
        key = kv_key("ticket", event.ticket_id)
        entry = await read(kv, key)
        record = entry.value or {"number": "", "route": None}
        if str(event.event_id) in record.get("followups", []):
            return []
        current = TicketRoute.model_validate(record["route"]).level if record.get("route") else None
        escalated = TicketEscalated(
            from_level=current, to_level=COMMERCIAL, reason="customer_unreachable",
            rule="001 §3.5 seguimiento: dos intentos sin respuesta -> área comercial",
        )
        ctx.staged.put(kv, key, {**record, "followups": [*record.get("followups", []), str(event.event_id)]},
                       entry.revision)
        return [event.derive(escalated, producer=PRODUCER)]

    return rt
