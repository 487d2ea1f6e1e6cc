"""sla_watch — the 001 §3.2 clocks, computed by the pure engine, armed as NATS message schedules.

Subjects in:   ev.*.<p>.ticket.opened · ev.*.<p>.ticket.classified · ev.*.<p>.ticket.status_changed
               · ev.*.<p>.ticket.message_added · ev.*.<p>.ticket.merged
               · timer.fire.sla.<ticket>.<clock> (GUARDIA_TIMERS)
Subjects out:  ev.<t>.<p>.sla.started|warning|breached|paused|resumed|met|cancelled|retargeted|exempted
               · ev.<t>.<p>.followup.due|exhausted (001 §3.5 follow-up calls, 001 §3.4.1 No.6 suspension notice)
               · timer.arm.sla.<ticket>.<clock|followup> (the next instant of each clock / follow-up)
               (consumers <service>-pNN: one per partition of the event log, one message in flight each)
Handlers:      on_opened, on_classified, on_status_changed, on_message_added, on_merged, on_timer
State:         KV sla_clocks: ticket id -> TicketClocks (rules.py)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from guardia.bus import timers
from guardia.bus.runtime import Context, RawMessage, Rejected, ServiceRuntime
from guardia.bus.state import Staged, read
from guardia.bus.topology import TIMERS
from guardia.policy import Policies
from guardia.settings import Settings
from shared.schemas import (
    Event,
    MessageAdded,
    StatusChanged,
    TicketClassified,
    TicketMerged,
    TicketOpened,
    make_event,
)
from shared.schemas.ids import derived_id

from .engine import Emitted, Engine
from .metrics import OPEN_CLOCKS_EVERY, count_open_clocks
from .rules import FOLLOWUP_TIMER, SlaRules, TicketClocks

PRODUCER = "sla_watch"


def _cause(event: Event) -> str:
    return f"{event.event_type} {event.event_id}"


def build(settings: Settings, policies: Policies) -> ServiceRuntime:
    rt = ServiceRuntime(PRODUCER, settings, buckets=("sla_clocks",))
    rules: dict[str, SlaRules] = {
        tenant: SlaRules(
            policies[tenant].sla, Engine(policies[tenant].business_calendar),
            policies[tenant].channels.whatsapp_official, policies[tenant].version,
        )
        for tenant in policies.tenants()
    }

    def to_events(t: TicketClocks, ticket_id: UUID, emitted: list[Emitted], cause: Event | None) -> list[Event]:
        """Clock events get ids from (ticket, clock, what): the timer path and the event path agree."""
        return [
            make_event(
                e.payload, tenant=t.tenant, occurred_at=e.at, producer=PRODUCER, ticket_id=ticket_id,
                correlation_id=UUID(t.correlation_id), causation_id=cause.event_id if cause else None,
                event_id=derived_id(e.at, ticket_id, getattr(e.payload, "clock", FOLLOWUP_TIMER), e.key),
            )
            for e in emitted
        ]

    def save(staged: Staged, t: TicketClocks, ticket_id: UUID, revision: int | None) -> None:
        """Stage the new state and, after commit, (re)arm or disarm each clock's next instant.

        A timer with an instant is armed again on every save: arming is idempotent, and it heals a
        crash between the commit and the arming. A timer never armed is not purged: a cancel costs
        nats-server a purge by subject, and most tickets never have a follow-up to cancel."""
        engine = rules[t.tenant].engine
        instants = {name: engine.next_instant(clock) for name, clock in t.clocks.items()}
        instants[FOLLOWUP_TIMER] = t.followups.next_instant()
        armed = set(t.armed)
        for name, nxt in instants.items():
            if nxt is None and name not in armed:
                continue
            key = f"sla.{ticket_id}.{name}"

            async def rearm(key: str = key, nxt: datetime | None = nxt, name: str = name) -> None:
                if nxt is None:
                    await timers.disarm(rt.js, key)
                else:
                    await timers.arm(rt.js, key, nxt, {"tenant": t.tenant, "ticket_id": str(ticket_id),
                                                       "clock": name})

            if nxt is None:
                armed.discard(name)
            else:
                armed.add(name)
            staged.after_commit(rearm)
        t.armed = sorted(armed)
        staged.put(rt.buckets["sla_clocks"], str(ticket_id), t.to_state(), revision)

    async def load(ctx: Context, ticket_id: UUID) -> tuple[TicketClocks | None, int | None]:
        entry = await read(ctx.kv("sla_clocks"), str(ticket_id))
        return (TicketClocks.model_validate(entry.value) if entry.value else None), entry.revision

    async def advance(event: Event, ctx: Context,
                      step: Callable[[SlaRules, TicketClocks], list[Emitted]]) -> list[Event]:
        """Load the ticket's clocks, apply one rule step, stage the new state and emit its clock events.
        A ticket sla_watch never saw opened has no clocks to move."""
        assert event.ticket_id is not None
        t, revision = await load(ctx, event.ticket_id)
        if t is None:
            return []
        emitted = step(rules[t.tenant], t)
        save(ctx.staged, t, event.ticket_id, revision)
        return to_events(t, event.ticket_id, emitted, event)

    @rt.handles("ticket.opened")
    async def on_opened(event: Event, ctx: Context) -> list[Event]:
        opened = event.payload
        assert isinstance(opened, TicketOpened) and event.ticket_id is not None
        t, revision = await load(ctx, event.ticket_id)
        if t is None:
            t = TicketClocks(tenant=event.tenant, opened_at=event.occurred_at, channel=opened.channel,
                             correlation_id=str(event.envelope.correlation_id), ticket_number=opened.ticket_number,
                             eligible=opened.standing is None or opened.standing.eligible)
            save(ctx.staged, t, event.ticket_id, revision)
        return []

    @rt.handles("ticket.classified")
    async def on_classified(event: Event, ctx: Context) -> list[Event]:
        assert isinstance(event.payload, TicketClassified) and event.ticket_id is not None
        t, revision = await load(ctx, event.ticket_id)
        if t is None:
            raise LookupError(f"ticket {event.ticket_id} classified before sla_watch saw it opened")
        emitted = rules[t.tenant].on_classified(t, event.payload, event.occurred_at, key=str(event.event_id),
                                                cause=_cause(event))
        save(ctx.staged, t, event.ticket_id, revision)
        return to_events(t, event.ticket_id, emitted, event)

    @rt.handles("ticket.status_changed")
    async def on_status_changed(event: Event, ctx: Context) -> list[Event]:
        change = event.payload
        assert isinstance(change, StatusChanged)
        return await advance(event, ctx, lambda r, t: r.on_status(t, change.status, event.occurred_at,
                                                                   str(event.event_id), _cause(event)))

    @rt.handles("ticket.message_added")
    async def on_message_added(event: Event, ctx: Context) -> list[Event]:
        assert isinstance(event.payload, MessageAdded)
        if event.payload.author != "customer":
            return []
        return await advance(event, ctx, lambda r, t: r.on_customer_message(t, event.occurred_at, str(event.event_id),
                                                                             _cause(event)))

    @rt.handles("ticket.merged")
    async def on_merged(event: Event, ctx: Context) -> list[Event]:
        """001 §3.4.1: the newer duplicate loses its clock (and gets one back if the merge is undone)."""
        merged = event.payload
        assert isinstance(merged, TicketMerged)
        return await advance(event, ctx, lambda r, t: r.on_merged(t, event.occurred_at, merged.undone, _cause(event)))

    async def on_timer(fired: RawMessage) -> None:
        """A fired schedule: re-check the ticket's state, emit only what is really due."""
        try:
            doc = json.loads(fired.body)
            ticket_id, clock, due_at = UUID(doc["ticket_id"]), doc["clock"], datetime.fromisoformat(doc["due_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise Rejected("schema_violation", f"timer payload: {exc}") from exc
        ctx = Context(rt)
        t, revision = await load(ctx, ticket_id)
        if t is None:
            return
        emitted = rules[t.tenant].on_timer(t, clock, due_at)
        save(ctx.staged, t, ticket_id, revision)
        await rt.publish(to_events(t, ticket_id, emitted, None))
        await ctx.staged.commit()

    rt.consume_raw("timer.fire.sla.>", stream=TIMERS, durable="sla_watch_timers", handler=on_timer,
                   purge_handled=True)
    rt.on_scrape(lambda: count_open_clocks(rt.buckets["sla_clocks"], rules), every=OPEN_CLOCKS_EVERY)
    return rt
