"""intake — every contact becomes a ticket (001 §2.3: all cases are registered, whatever the medium).

Subjects in:   HTTP gateway (gateway.py) · intake.raw.<channel> (GUARDIA_INTAKE)
               · numbers.<tenant> (GUARDIA_NUMBERS_<TENANT>: number claims, completed if their opener died)
               · ev.*.<p>.ticket.status_changed
               · ev.*.<p>.followup.due|exhausted
               · ev.<t>.<aggregate>.<event> (the layout before partitions, from integrations not updated yet)
Subjects out:  ev.<t>.<p>.contact.received · ev.<t>.<p>.ticket.opened · ev.<t>.<p>.ticket.message_added
               · ev.<t>.<p>.ticket.status_changed (agent commands) · ev.<t>.<p>.ticket.merged|note_added
               · ev.<t>.<p>.activity.recorded (002) · ev.<t>.<p>.contact.updated · dlq.<t>.intake
               · ev.<t>.<p>.notification.status_reported (providers' delivery reports, for notify)
               · numbers.<tenant> (one claim per new ticket: its number is the claim's sequence, numbers.py)
               (consumers <service>-pNN: one per partition of the event log, one message in flight each)
Handlers:      on_raw_contact, on_claim, on_legacy_subject, on_status_changed, on_followup; the gateway's routes
State:         KV intake_contacts, intake_threads, intake_tickets, intake_open and
               intake_identities (open tickets per customer identity, for duplicates),
               intake_conversations (thread key -> ticket, so a reply in a thread finds it) (state.py)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from guardia.bus.runtime import Context, NotYet, RawMessage, Rejected, ServiceRuntime
from guardia.bus.state import read
from guardia.bus.topology import EVENTS, INTAKE
from guardia.policy import Policies
from guardia.settings import Settings
from shared.schemas import Channel, Event, SchemaError, StatusChanged, decode_event

from . import numbers, rules
from .activity import from_followup as activity_from_followup
from .activity import from_status as activity_from_status
from .directory import Directory, load_csv, load_yaml
from .gateway import problems_of
from .numbers import Claim
from .numbers import stream_name as numbers_stream
from .numbers import subject as numbers_subject
from .rules import ContactIn
from .state import IntakeState

BUCKETS = ("intake_contacts", "intake_threads", "intake_tickets", "intake_open",
           "intake_identities", "intake_conversations")


def load_directories(folder: Path | None) -> dict[str, Directory]:
    """Each tenant's customer directory, `<tenant>.yaml` or `.csv`, from GUARDIA_DIRECTORY_DIR.

    None is loaded by default: a directory is the tenant's own data (guardia/directories/ holds an
    example), and without one every customer is served (nothing to check eligibility against).
    """
    found: dict[str, Directory] = {}
    if folder is not None:
        if not folder.is_dir():
            raise ValueError(f"GUARDIA_DIRECTORY_DIR={folder}: not a folder")
        for path in sorted(folder.iterdir()):
            if path.suffix in (".yaml", ".yml"):
                found[path.stem] = load_yaml(path)
            elif path.suffix == ".csv":
                found[path.stem] = load_csv(path)
    return found


def build(settings: Settings, policies: Policies) -> tuple[ServiceRuntime, IntakeState]:
    rt = ServiceRuntime("intake", settings, buckets=BUCKETS)
    state = IntakeState(rt, load_directories(settings.directory_dir),
                        {t: policies[t].calendar.timezone for t in policies.tenants()})

    async def on_raw_contact(raw: RawMessage) -> None:
        """A channel pushed a generic contact over NATS instead of HTTP: same rules, same answer."""
        channel_token, headers = raw.subject.rsplit(".", 1)[-1], raw.headers
        try:
            doc = json.loads(raw.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Rejected("malformed_json", str(exc)) from exc
        if isinstance(doc, dict) and "channel" not in doc and channel_token in Channel.__members__:
            doc["channel"] = channel_token
        try:
            contact = ContactIn.model_validate(doc)
        except ValidationError as exc:
            problems = "; ".join(f"{p['field']}: {p['problem']}" for p in problems_of(exc))
            raise Rejected("schema_violation", problems) from exc
        tenant = contact.tenant or headers.get("Guardia-Tenant") or settings.default_tenant
        if tenant not in policies:
            raise Rejected("unknown_tenant", f"no policy for tenant {tenant!r}")
        try:
            await state.accept_contact(contact, tenant, policies[tenant].intake.ticket_prefix)
        except ValueError as exc:
            raise Rejected("timestamp_out_of_range", str(exc)) from exc

    @rt.handles("ticket.status_changed")
    async def on_status_changed(event: Event, ctx: Context) -> list[Event]:
        """Keep the stage; a closed ticket frees its thread, so the customer's next contact opens a new one."""
        change = event.payload
        assert isinstance(change, StatusChanged) and event.ticket_id is not None
        tickets = ctx.kv("intake_tickets")
        record = await read(tickets, str(event.ticket_id))
        if record.value is None or record.value["status"] == change.status.value:
            return []
        last = record.value.get("last_change_at")
        last_change = max(datetime.fromisoformat(last), event.occurred_at) if last else event.occurred_at
        ctx.staged.put(tickets, str(event.ticket_id), {**record.value, "status": change.status.value,
                                                       "last_change_at": last_change.isoformat()}, record.revision)
        activity = activity_from_status(change, event.ticket_id, record.value["ticket_number"], event.occurred_at,
                                        event.event_id)
        out = [rules.activity_event(event, activity)]  # 002: the stage change is part of the record
        if change.status.is_closed:
            ctx.staged.delete(ctx.kv("intake_open"), str(event.ticket_id))  # no longer a merge target
            thread = await read(ctx.kv("intake_threads"), record.value["thread"])
            if thread.value is not None and thread.value["ticket_id"] == str(event.ticket_id):
                ctx.staged.delete(ctx.kv("intake_threads"), record.value["thread"])
        return out

    @rt.handles("followup.due", "followup.exhausted")
    async def on_followup(event: Event, ctx: Context) -> list[Event]:
        """002: a scheduled follow-up call (001 §3.5) is an interaction too: it gets its activity record."""
        record = await read(ctx.kv("intake_tickets"), str(event.ticket_id))
        if record.value is None or event.ticket_id is None:
            return []
        activity = activity_from_followup(event.payload, event.ticket_id,  # type: ignore[arg-type]
                                          record.value["ticket_number"], event.occurred_at, event.event_id)
        return [rules.activity_event(event, activity)]

    async def on_claim(raw: RawMessage) -> None:
        """Every claimed number becomes a ticket: one whose opener died with no retry is opened here."""
        try:
            claim = Claim.parse(raw.body, raw.sequence)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise Rejected("schema_violation", f"number claim: {exc}") from exc
        if await state.ticket(claim.ticket_id) is not None:
            return
        wait = (claim.claimed_at + numbers.COMPLETE_AFTER - datetime.now(UTC)).total_seconds()
        if wait > 0:  # the opener may still be at work (or its provider about to retry): later
            raise NotYet(wait, f"claim {claim.ticket_number}: its opener may be at work")
        if await state.complete_claim(claim):
            rt.log.warning("claim_completed", ticket_number=claim.ticket_number, ticket_id=str(claim.ticket_id))

    async def on_legacy_subject(raw: RawMessage) -> None:
        """An event published on the layout before partitions (`ev.<tenant>.<aggregate>.<event>`) by an
        integration not updated yet: a valid one is published again where it belongs (same id, so a copy
        is dropped), anything else is dead-lettered with what is wrong. Nothing sent to guardia is lost."""
        try:
            event = decode_event(raw.body)
        except SchemaError as exc:
            code, _, reason = str(exc).partition(": ")
            raise Rejected(code, reason or code) from exc
        expected = f"ev.{event.tenant}.{event.event_type}"
        if raw.subject != expected:
            raise Rejected("subject_mismatch", f"a {event.event_type} of tenant {event.tenant} belongs on "
                                               f"{event.subject}, not {raw.subject}")
        await rt.publish([event])

    async def numbers_streams() -> None:
        for tenant in policies.tenants():
            await state.numbers.ensure(tenant)

    rt.on_connect(numbers_streams)
    rt.consume_raw("ev.*.*.*", stream=EVENTS, durable="intake_legacy_subjects", handler=on_legacy_subject,
                   workers=1, new_only=True)
    rt.consume_raw("intake.raw.>", stream=INTAKE, durable="intake_raw", handler=on_raw_contact)
    for tenant in policies.tenants():
        rt.consume_raw(numbers_subject(tenant), stream=numbers_stream(tenant), durable="intake_numbers",
                       handler=on_claim, max_deliver=-1, every=numbers.CHECK_EVERY)
    return rt, state

