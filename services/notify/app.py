"""notify — tells customers, agents, leaders and the committee, once.

Subjects in:   ev.*.<p>.ticket.opened · ev.*.<p>.ticket.classified · ev.*.<p>.ticket.assigned
               · ev.*.<p>.ticket.status_changed · ev.*.<p>.ticket.message_added
               · ev.*.<p>.ticket.escalated · ev.*.<p>.ticket.merged · ev.*.<p>.sla.started|exempted|warning
               · ev.*.<p>.committee.convened · ev.*.<p>.followup.due · ev.*.<p>.notification.requested
               · ev.*.<p>.notification.status_reported (providers' delivery reports, from intake)
               · timer.fire.notify.<id> (GUARDIA_TIMERS: a delivery's next round after an outage)
               (consumers notify-pNN: one per partition, one message in flight each)
Subjects out:  ev.<t>.<p>.notification.requested · ev.<t>.<p>.notification.sent · ev.<t>.<p>.notification.failed
               · ev.<t>.<p>.notification.delivered · ev.<t>.<p>.notification.undeliverable (a task for a person)
               · timer.arm.notify.<id> (the next round of a delivery that keeps failing transiently)
Handlers:      on_opened, on_classified, on_sla, on_routed, on_warning, on_followup, on_committee,
               on_status_changed (stage updates to the customer; 004 resolution summary to everyone involved),
               on_message_added (the customer wrote again: WhatsApp's 24 h window reopens; an agent's
               reply goes to the customer),
               on_requested (delivery through transports/: WhatsApp, Telegram, Twilio SMS, SMTP, staff webhook),
               on_status (delivered / read / late failure -> next channel, fallback.py), on_retry (timer)
State:         KV notify_tickets: ticket id -> TicketView; KV notify_deliveries: notification id ->
               requested | sending (attempt recorded before the provider call) | sent | retrying (quick) |
               waiting (a later round, on a timer) | failed;
               the outbox file (outbox.py) for every channel with no account configured
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js.kv import KeyValue

from guardia.bus import faults, timers
from guardia.bus.runtime import Context, RawMessage, Rejected, ServiceRuntime
from guardia.bus.state import Entry, kv_key, read, write
from guardia.bus.topology import TIMERS
from guardia.policy import Policies
from guardia.settings import Settings
from shared.schemas import (
    Event,
    MessageAdded,
    NotificationDelivered,
    NotificationFailed,
    NotificationRequested,
    NotificationSent,
    NotificationStatusReported,
    NotificationUndeliverable,
    SchemaError,
    SlaStarted,
    TicketAssigned,
    TicketClassified,
    TicketEscalated,
    TicketOpened,
    decode_event,
)

from .delivery import needs_template, outgoing, tenant_transports, transports_from
from .fallback import KIND_LABELS, next_hop
from .outbox import Outbox
from .rules import EXCERPT, NotifyRules, TicketView
from .transports.base import Outcome, Reason, Transport

PRODUCER = "notify"


#: A retry timer that fires this much before its instant (clocks of NATS nodes differ) is still on time.
TIMER_SLACK = timedelta(seconds=2)

#: Error codes of a late `failed` report, why the message did not arrive: WhatsApp `statuses` (notify-facts.md
#: §1) and Twilio's `ErrorCode` on an undelivered SMS (30003 unreachable, 30005 unknown, 30006 landline,
#: 30007 filtered by the carrier, 21610 the recipient texted STOP). The two ranges do not overlap.
LATE_FAILURES = {131047: Reason.outside_window, 131026: Reason.invalid_recipient, 131030: Reason.invalid_recipient,
                 131049: Reason.rate_limited, 131048: Reason.rate_limited, 131000: Reason.provider_unavailable,
                 30003: Reason.invalid_recipient, 30005: Reason.invalid_recipient, 30006: Reason.invalid_recipient,
                 30007: Reason.rejected, 30008: Reason.provider_unavailable, 21610: Reason.blocked_by_user}


class DeliveryDeferred(Exception):
    """A transient failure (rate limit, provider down): the runtime redelivers after `retry_after` (or its
    backoff, whichever is longer) and dead-letters at the delivery limit."""

    def __init__(self, detail: str, retry_after: float | None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def rounds_of(record: dict[str, Any]) -> dict[str, int]:
    """How many later rounds a delivery used, and the attempt its current round started after."""
    return {"round": int(record.get("round", 0)), "round_start": int(record.get("round_start", 0))}


def retry_key(notification_id: str) -> str:
    """The timer subject token of a delivery's next round (a notification id may hold any character)."""
    return f"notify.{hashlib.sha256(notification_id.encode()).hexdigest()[:32]}"


def build(settings: Settings, policies: Policies, outbox: Outbox | None = None,
          transports: Mapping[str, Transport] | None = None) -> ServiceRuntime:
    rt = ServiceRuntime(PRODUCER, settings, buckets=("notify_tickets", "notify_deliveries"))
    outbox = outbox or Outbox(settings.outbox_path)
    accounts = tenant_transports(settings, {t: policies[t].notify.accounts for t in policies.tenants()},
                                 transports if transports is not None else transports_from(settings))
    rules = {
        t: NotifyRules(policies[t].notify, policies[t].calendar.timezone, policies.templates(t))
        for t in policies.tenants()
    }

    async def view_of(ctx: Context, event: Event) -> tuple[TicketView, int | None]:
        entry = await read(ctx.kv("notify_tickets"), str(event.ticket_id))
        view = TicketView.model_validate(entry.value) if entry.value else TicketView(tenant=event.tenant)
        return view, entry.revision

    async def opened_view(ctx: Context, event: Event) -> tuple[TicketView, int | None]:
        """The view of a ticket notify saw opened. Without the opening there is no number and no
        address: fail (and be retried) rather than tell nobody and call it done."""
        view, rev = await view_of(ctx, event)
        if not view.number:
            raise LookupError(f"{event.event_type} for ticket {event.ticket_id} before notify saw it opened")
        return view, rev

    async def requests(ctx: Context, event: Event, notes: Sequence[NotificationRequested]) -> list[Event]:
        """Request each notification once: an id already requested (a redelivery) is skipped. With a
        staff webhook configured, every staff alert is also posted there (the levels', leaders' and the
        24/7 duty's shared channel), besides the person's own e-mail or WhatsApp."""
        deliveries = ctx.kv("notify_deliveries")
        out = []
        if "webhook" in accounts[event.tenant]:
            notes = [*notes, *(n.model_copy(update={"notification_id": f"{n.notification_id}:webhook",
                                                    "channel": "webhook", "to": "staff"})
                               for n in notes if n.audience != "customer" and n.channel != "webhook")]
        for n in notes:
            entry = await read(deliveries, kv_key("n", n.notification_id))
            if entry.value is not None:
                continue
            ctx.staged.put(deliveries, kv_key("n", n.notification_id), {"state": "requested", "attempt": 0}, None)
            out.append(event.derive(n, producer=PRODUCER, key=n.notification_id))
        return out

    async def delivery_of(ctx: Context, notification_id: str) -> tuple[KeyValue, str, Entry, dict[str, Any]]:
        """A notification's delivery record: its bucket, key, entry (for the revision) and a copy to edit."""
        deliveries = ctx.kv("notify_deliveries")
        key = kv_key("n", notification_id)
        entry = await read(deliveries, key)
        return deliveries, key, entry, dict(entry.value or {})

    @rt.handles("ticket.opened")
    async def on_opened(event: Event, ctx: Context) -> list[Event]:
        o = event.payload
        assert isinstance(o, TicketOpened)
        view, rev = await view_of(ctx, event)
        view = view.model_copy(update={"number": o.ticket_number, "channel": o.channel.value,
                                       "customer": o.customer.model_dump(mode="json"), "subject": o.subject,
                                       "reply_to": o.provider_message_id, "thread_key": o.thread_key,
                                       "last_inbound_at": event.occurred_at.isoformat(),
                                       "opened_at": event.occurred_at.isoformat(),
                                       "request": o.text[:EXCERPT] + ("…" if len(o.text) > EXCERPT else "")})
        ctx.staged.put(ctx.kv("notify_tickets"), str(event.ticket_id), view.model_dump(mode="json"), rev)
        return []

    @rt.handles("ticket.classified")
    async def on_classified(event: Event, ctx: Context) -> list[Event]:
        c = event.payload
        assert isinstance(c, TicketClassified)
        view, rev = await opened_view(ctx, event)
        view = view.model_copy(update={"ticket_type": c.ticket_type.value if c.ticket_type else None,
                                       "priority": c.priority.value})
        ctx.staged.put(ctx.kv("notify_tickets"), str(event.ticket_id), view.model_dump(mode="json"), rev)
        if c.abusive:
            return await requests(ctx, event, rules[event.tenant].on_abusive(event, view))
        return []

    @rt.handles("sla.started", "sla.exempted")
    async def on_sla(event: Event, ctx: Context) -> list[Event]:
        view, rev = await opened_view(ctx, event)
        if isinstance(event.payload, SlaStarted) and event.payload.deadline is not None:
            view = view.model_copy(update={"deadline": event.payload.deadline.isoformat()})
        notes = rules[event.tenant].acknowledgment(event, view)
        view = view.model_copy(update={"acknowledged": True})
        ctx.staged.put(ctx.kv("notify_tickets"), str(event.ticket_id), view.model_dump(mode="json"), rev)
        return await requests(ctx, event, notes)

    @rt.handles("ticket.assigned", "ticket.escalated")
    async def on_routed(event: Event, ctx: Context) -> list[Event]:
        view, rev = await opened_view(ctx, event)
        p = event.payload
        level = p.level if isinstance(p, TicketAssigned) else p.to_level if isinstance(p, TicketEscalated) else None
        involved = view.involved if level is None or level in view.involved else [*view.involved, level]
        view = view.model_copy(update={"level": level, "involved": involved})
        ctx.staged.put(ctx.kv("notify_tickets"), str(event.ticket_id), view.model_dump(mode="json"), rev)
        r = rules[event.tenant]
        notes = r.on_assigned(event, view) if isinstance(p, TicketAssigned) else r.on_escalated(event, view)
        return await requests(ctx, event, notes)

    @rt.handles("sla.warning")
    async def on_warning(event: Event, ctx: Context) -> list[Event]:
        view, _ = await opened_view(ctx, event)
        return await requests(ctx, event, rules[event.tenant].on_warning(event, view))

    @rt.handles("followup.due")
    async def on_followup(event: Event, ctx: Context) -> list[Event]:
        view, _ = await opened_view(ctx, event)
        return await requests(ctx, event, rules[event.tenant].on_followup(event, view))

    @rt.handles("ticket.merged")
    async def on_merged(event: Event, ctx: Context) -> list[Event]:
        view, rev = await opened_view(ctx, event)
        ctx.staged.put(ctx.kv("notify_tickets"), str(event.ticket_id),
                       view.model_copy(update={"acknowledged": True}).model_dump(mode="json"), rev)
        return await requests(ctx, event, rules[event.tenant].on_merged(event, view))

    @rt.handles("ticket.status_changed")
    async def on_status_changed(event: Event, ctx: Context) -> list[Event]:
        view, _ = await opened_view(ctx, event)
        return await requests(ctx, event, rules[event.tenant].on_status_changed(event, view))

    @rt.handles("ticket.message_added")
    async def on_message_added(event: Event, ctx: Context) -> list[Event]:
        """The customer wrote again on the ticket's channel: WhatsApp's 24 h window runs from this message.
        An agent answered: the customer reads the answer on their channel, once."""
        m = event.payload
        assert isinstance(m, MessageAdded)
        view, rev = await opened_view(ctx, event)
        if m.author == "agent":
            return await requests(ctx, event, rules[event.tenant].agent_reply(event, view))
        if m.author == "customer" and m.channel.value == view.channel:
            last = view.last_inbound_at
            if last is None or datetime.fromisoformat(last) < event.occurred_at:
                ctx.staged.put(ctx.kv("notify_tickets"), str(event.ticket_id), view.model_copy(
                    update={"last_inbound_at": event.occurred_at.isoformat()}).model_dump(mode="json"), rev)
        return []

    @rt.handles("committee.convened")
    async def on_committee(event: Event, ctx: Context) -> list[Event]:
        return await requests(ctx, event, rules[event.tenant].on_committee(event))

    @rt.handles("notification.requested")
    async def on_requested(event: Event, ctx: Context) -> list[Event]:
        """Deliver once. With a real transport: the attempt is recorded *before* the provider is called
        and completed after, so a redelivery never calls the provider again for a message it accepted,
        except in the one window nobody can close (accepted, then a crash before the record): that re-send
        is marked `uncertain` (README: what is promised)."""
        n = event.payload
        assert isinstance(n, NotificationRequested)
        deliveries, key, entry, record = await delivery_of(ctx, n.notification_id)
        if record.get("state") in ("sent", "failed"):
            return []  # done, or given up for good: a redelivery changes nothing
        due = datetime.fromisoformat(record["retry_at"]) if record.get("state") == "waiting" else None
        if due is not None and due > datetime.now(UTC) + TIMER_SLACK:
            # Its next round is on a timer: a redelivery does not jump the queue. It arms the timer again
            # (arming is idempotent): a crash between the record and the arming must not strand it.
            ctx.staged.after_commit(functools.partial(arm_retry, event, n, due))
            return []
        attempt = int(record.get("attempt", 0)) + 1
        transport = accounts[event.tenant].get(n.channel)
        if transport is None:
            return await to_outbox(event, ctx, n, deliveries, key, entry.revision, attempt)
        message = outgoing(n, policies[event.tenant].notify)
        revision = entry.revision
        if needs_template(n, message):
            outcome = Outcome.failed(transport.name, Reason.outside_window,
                                     f"no approved WhatsApp template for {n.kind!r} and the 24 h window is closed")
        else:
            uncertain = record.get("state") == "sending"  # the last attempt may have reached the provider
            revision = await write(deliveries, key, {**rounds_of(record), "state": "sending", "attempt": attempt,
                                                     "transport": transport.name}, revision)
            faults.point("before_send")
            outcome = await transport.send(message)
            faults.point("after_send")
            if outcome.accepted:
                ctx.staged.put(deliveries, key, {"state": "sent", "attempt": attempt, "transport": transport.name,
                                                 "provider_id": outcome.provider_id,
                                                 "request": n.model_dump(mode="json")}, revision)
                return [event.derive(NotificationSent(
                    notification_id=n.notification_id, transport=transport.name, to=n.to,
                    provider_id=outcome.provider_id, attempt=attempt, uncertain=uncertain), producer=PRODUCER)]
        # A transient failure is retried quickly by redelivery (seconds, honouring Retry-After), then in
        # rounds minutes to hours apart on durable timers (a provider down for an hour loses nothing),
        # and only then given up: the next channel, or a task for a person.
        done = rounds_of(record)
        quick = max(1, settings.max_deliver - 1)
        plan = ("quick" if outcome.retry and attempt - done["round_start"] < quick
                else "later" if outcome.retry and done["round"] < len(settings.notify_retry_rounds) else "give_up")
        failed = NotificationFailed(notification_id=n.notification_id, transport=outcome.transport,
                                    error=outcome.detail, attempt=attempt, will_retry=plan != "give_up",
                                    reason_code=outcome.reason.value if outcome.reason else None)
        after = {**done, "attempt": attempt, "transport": outcome.transport, "reason": failed.reason_code,
                 "request": n.model_dump(mode="json")}
        out = [event.derive(failed, producer=PRODUCER, key=attempt)]
        if plan == "give_up":
            ctx.staged.put(deliveries, key, {**after, "state": "failed"}, revision)
            return out + await give_up(event, ctx, n, failed.reason_code or "failed")
        if plan == "later":
            wait = max(settings.notify_retry_rounds[done["round"]], outcome.retry_after or 0.0)
            due = datetime.now(UTC) + timedelta(seconds=wait)
            ctx.staged.put(deliveries, key, {**after, "state": "waiting", "round": done["round"] + 1,
                                             "round_start": attempt, "retry_at": due.isoformat()}, revision)
            ctx.staged.after_commit(functools.partial(arm_retry, event, n, due))
            return out
        ctx.staged.put(deliveries, key, {**after, "state": "retrying"}, revision)
        await rt.publish(out)
        await ctx.staged.commit()
        raise DeliveryDeferred(outcome.detail, outcome.retry_after)

    async def arm_retry(event: Event, n: NotificationRequested, due: datetime) -> None:
        payload = {"tenant": event.tenant, "event": event.to_json().decode()}
        await timers.arm(rt.js, retry_key(n.notification_id), due, payload)

    async def on_retry(fired: RawMessage) -> None:
        """A later round is due: deliver again exactly as on the first request (same record, same rules)."""
        try:
            event = decode_event(json.loads(fired.body)["event"])
        except (ValueError, KeyError, TypeError, SchemaError) as exc:
            raise Rejected("schema_violation", f"retry timer payload: {exc}") from exc
        await rt.process(event, on_requested)

    rt.consume_raw("timer.fire.notify.>", stream=TIMERS, durable="notify_retries", handler=on_retry,
                   purge_handled=True)

    async def give_up(event: Event, ctx: Context, n: NotificationRequested, reason: str) -> list[Event]:
        """This channel will not deliver: the next channel the customer gave us, else a task for a person."""
        if event.ticket_id is None:
            return []
        view, _ = await view_of(ctx, event)
        if n.audience == "customer":
            hop = next_hop(n, view, policies[event.tenant].notify.fallback, reason)
            if hop is not None:
                return await requests(ctx, event, [hop])
        tried, reasons = [*n.fallback_of, n.channel], [*n.fallback_reasons, reason]
        lost = NotificationUndeliverable(notification_id=n.notification_id, kind=n.kind, audience=n.audience,
                                         tried=tried, reasons=reasons)
        out = [event.derive(lost, producer=PRODUCER, key=n.notification_id)]
        if n.audience == "customer":
            tasks = rules[event.tenant].on_undeliverable(view, n, tried, reasons, KIND_LABELS.get(n.kind, n.kind))
            out += await requests(ctx, event, tasks)
        return out

    @rt.handles("notification.status_reported")
    async def on_status(event: Event, ctx: Context) -> list[Event]:
        """The provider's later word. A 200 was acceptance only: `delivered` / `read` become
        `notification.delivered`; `failed` (131047 outside the window, 131026 undeliverable...) becomes
        `notification.failed` and the message moves to the next channel, as a failure on send would."""
        report = event.payload
        assert isinstance(report, NotificationStatusReported)
        deliveries, key, entry, record = await delivery_of(ctx, report.notification_id)
        if record.get("state") not in ("sent", "failed") or "request" not in record:
            if record.get("state") in ("sending", "requested", "retrying"):
                raise LookupError(f"status {report.status} of {report.notification_id} before its send was recorded")
            return []  # not a message this installation sent
        seen = set(record.get("reports", []))
        if report.status in seen or report.status == "sent":
            return []
        record["reports"] = sorted(seen | {report.status})
        transport = str(record.get("transport", report.provider))
        if report.status in ("delivered", "read"):
            ctx.staged.put(deliveries, key, record, entry.revision)
            return [event.derive(NotificationDelivered(
                notification_id=report.notification_id, transport=transport, provider_id=report.provider_id,
                read=report.status == "read", at=report.reported_at), producer=PRODUCER)]
        if record.get("state") == "failed":
            ctx.staged.put(deliveries, key, record, entry.revision)
            return []  # failed already on send: its fallback was taken then
        reason = LATE_FAILURES.get(report.error_code or 0, Reason.provider_unavailable)
        record.update(state="failed", reason=reason.value)
        ctx.staged.put(deliveries, key, record, entry.revision)
        n = NotificationRequested.model_validate(record["request"])
        failed = NotificationFailed(notification_id=n.notification_id, transport=transport,
                                    error=f"{report.status} {report.error_code}: {report.error_title}"[:300],
                                    attempt=int(record.get("attempt", 1)), will_retry=False,
                                    reason_code=reason.value)
        return [event.derive(failed, producer=PRODUCER, key="late")] + await give_up(event, ctx, n, reason.value)

    async def to_outbox(event: Event, ctx: Context, n: NotificationRequested, deliveries: KeyValue, key: str,
                        revision: int | None, attempt: int) -> list[Event]:
        """No account for this channel: the outbox file, its own idempotency record (outbox.py)."""
        try:
            outbox.deliver(event.tenant, str(event.ticket_id) if event.ticket_id else None, n)
        except OSError as exc:
            ctx.staged.put(deliveries, key, {"state": "retrying", "attempt": attempt}, revision)
            failed = NotificationFailed(notification_id=n.notification_id, transport=outbox.name, error=str(exc),
                                        attempt=attempt, will_retry=attempt < settings.max_deliver,
                                        reason_code=Reason.provider_unavailable.value)
            await rt.publish([event.derive(failed, producer=PRODUCER, key=attempt)])
            await ctx.staged.commit()
            raise  # retried with backoff by the runtime, dead-lettered at the limit
        ctx.staged.put(deliveries, key, {"state": "sent", "attempt": attempt, "transport": outbox.name}, revision)
        return [event.derive(NotificationSent(notification_id=n.notification_id, transport=outbox.name, to=n.to,
                                              attempt=attempt), producer=PRODUCER)]

    return rt


