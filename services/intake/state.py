"""Intake's state (KV buckets it alone owns) and the two use cases that change it.

- `intake_contacts`: contact key -> the ticket it went to. A provider retry finds it and changes nothing.
- `intake_threads`:  customer + channel -> their open ticket (created with CAS, so two concurrent
  contacts of one customer cannot open two tickets).
- `intake_tickets`:  ticket id -> number, tenant, thread, status.
- numbers: the tenant's claims stream behind the human ticket numbers, unique and gap-free (numbers.py).

Crash safety: the thread reservation records which contact opened it, so a contact replayed after a
crash recognises its own reservation; events carry deterministic ids, so publishing twice is harmless;
the contact record is written last, when everything it stands for is published.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from nats.js.errors import KeyWrongLastSequenceError

from guardia.bus import faults
from guardia.bus.runtime import ServiceRuntime
from guardia.bus.state import kv_key, read
from shared.schemas import (
    Channel,
    Event,
    MessageAdded,
    NoteAdded,
    NotificationStatusReported,
    Standing,
    Status,
    StatusChanged,
    TicketMerged,
    TicketOpened,
    make_event,
)
from shared.schemas.ids import derived_id, new_event_id

from . import commands, rules
from .activity import from_contact
from .channels.base import CanonicalContact, DeliveryStatus
from .directory import Directory, eligibility
from .duplicates import OpenTicket, customer_identities, find_duplicate, merge_note
from .numbers import Claim, TicketNumbers

Outcome = Literal["opened", "appended", "duplicate", "updated", "merged"]


@dataclass(frozen=True)
class Accepted:
    outcome: Outcome
    ticket_id: UUID
    ticket_number: str
    contact_id: str
    merged_into: UUID | None = None


class Busy(RuntimeError):
    """The request cannot be served right now (another contact is opening the same thread): the
    gateway answers 503 with Retry-After, and the provider's retry will find the ticket."""


#: A thread reservation whose opener has not claimed a number after this long is abandoned (its
#: process died before the claim): the customer's next contact may take it over.
STALE_RESERVATION = timedelta(seconds=30)


class IntakeState:
    def __init__(self, runtime: ServiceRuntime, directories: Mapping[str, Directory] | None = None,
                 timezones: Mapping[str, str] | None = None) -> None:
        self.rt = runtime
        self.directories = directories or {}
        self.timezones = timezones or {}
        self.numbers = TicketNumbers(runtime)

    def standing(self, tenant: str, contact: CanonicalContact) -> Standing | None:
        """001 §3.1: who the customer is and whether their subscription entitles them to support."""
        directory = self.directories.get(tenant)
        if directory is None:
            return None
        match = directory.match(contact.customer, contact.channel.value)
        if match is None:
            return None
        today = contact.received_at.astimezone(ZoneInfo(self.timezones.get(tenant, "UTC"))).date()
        verdict = eligibility(match.customer.subscription, today)
        return Standing(customer_id=match.customer.customer_id, matched_by=match.field, eligible=verdict.eligible,
                        reason=verdict.reason, route_to=verdict.route_to, message=verdict.message)

    async def accept_contact(
        self, contact: rules.ContactIn | CanonicalContact, tenant: str, prefix: str, now: datetime | None = None
    ) -> Accepted:
        """A new contact: dedup by provider id, then the customer's open ticket or a new one."""
        now = now or datetime.now(UTC)
        if isinstance(contact, rules.ContactIn):
            contact = rules.canonical_from_api(contact, contact.received_at or now)
        received_at = contact.received_at
        rules.check_received_at(received_at, now)
        contact_id = rules.canonical_key(tenant, contact)
        contacts = self.rt.buckets["intake_contacts"]
        known = await read(contacts, kv_key("c", contact_id))
        if known.value is not None:
            if contact.raw_event and contact.raw_event != known.value.get("raw_event", contact.raw_event):
                # the same call or chat seen again through another event (a missed call's NOTIFY_END
                # after its NOTIFY_START): news about the contact, not a retry
                return await self.update_contact(contact, tenant, prefix)
            return Accepted("duplicate", UUID(known.value["ticket_id"]), known.value["ticket_number"], contact_id)

        received = rules.contact_event(tenant, contact, contact_id, received_at)
        own = contact.thread_key or contact.provider_message_id
        tkey = kv_key("t", *rules.thread_key(tenant, contact.channel, contact.customer, own))
        conversation = await self._conversation(tenant, contact)
        if conversation is not None:  # a reply in the thread of an open ticket (Message-ID / References)
            ticket_id, number, opener = conversation[0], conversation[1], False
        else:
            ticket_id, number, opener = await self._reserve_thread(tkey, contact_id, tenant, prefix, contact, now)
            if contact.thread_key:
                await self._remember_conversation(tenant, contact.thread_key, ticket_id, number)
        if not opener:
            follow = rules.appended_event(received, ticket_id)
            activity = rules.activity_event(received, from_contact(
                received.payload, ticket_id, number, received_at, received.event_id))  # type: ignore[arg-type]
            await self.rt.publish([received, follow, activity])
            await self._remember_contact(contact_id, ticket_id, number, contact.raw_event)
            return Accepted("appended", ticket_id, number, contact_id)
        merged_into = await self.open_ticket(tenant, contact, contact_id, ticket_id, number, tkey)
        return Accepted("merged" if merged_into else "opened", ticket_id, number, contact_id, merged_into)

    async def open_ticket(self, tenant: str, contact: CanonicalContact, contact_id: str, ticket_id: UUID,
                          number: str, tkey: str) -> UUID | None:
        """Publish the contact and the opening of its ticket (merged into an older one if it is the same
        matter), then record them. Deterministic event ids make a second run (a provider's retry after a
        crash, or the claim completion) publish nothing new."""
        received = rules.contact_event(tenant, contact, contact_id, contact.received_at)
        follow = rules.opened_event(received, ticket_id, number, self.standing(tenant, contact))
        merged_into, merge = await self._duplicate_of(follow, contact, tenant)
        activity = rules.activity_event(received, from_contact(
            received.payload, ticket_id, number, contact.received_at, received.event_id))  # type: ignore[arg-type]
        # one batch: the merge lands in the stream right behind the opening it cancels
        await self.rt.publish([received, follow, *merge, activity])
        faults.point("after_open")
        await self._after_merge(merged_into, follow, contact, tenant)
        await self.rt.buckets["intake_tickets"].put(
            str(ticket_id),
            _json({"ticket_id": str(ticket_id), "ticket_number": number, "tenant": tenant,
                   "thread": tkey, "opened_at": contact.received_at.isoformat(), "channel": contact.channel.value,
                   "status": (Status.cancelado if merged_into else Status.nuevo).value,
                   "merged_into": str(merged_into) if merged_into else None}),
        )
        await self._remember_contact(contact_id, ticket_id, number, contact.raw_event)
        return merged_into

    async def _remember_contact(self, contact_id: str, ticket_id: UUID, number: str, raw_event: str | None) -> None:
        """Written last, once everything the contact stands for is published: a provider's retry finds it."""
        await self.rt.buckets["intake_contacts"].put(
            kv_key("c", contact_id),
            _json({"ticket_id": str(ticket_id), "ticket_number": number, "raw_event": raw_event}),
        )

    async def _duplicate_of(self, opened: Event, contact: CanonicalContact, tenant: str
                            ) -> tuple[UUID | None, list[Event]]:
        """001 §3.4.1 'Unicidad del ticket': a new ticket of the same customer about the same matter as
        an open one is merged into the oldest; what it adds goes to the oldest's internal notes."""
        payload = opened.payload
        assert isinstance(payload, TicketOpened) and opened.ticket_id is not None
        new = OpenTicket.from_opened(payload, opened.ticket_id, opened.occurred_at)
        candidates = await self._open_tickets(tenant, _identities(payload))
        verdict = find_duplicate(new, candidates)
        if verdict is None:
            return None, []
        oldest = next(t for t in candidates if t.ticket_id == verdict.duplicate_of)
        merged = opened.derive(verdict.merged_payload(), producer=rules.PRODUCER)
        note = opened.derive(NoteAdded(text=merge_note(new, oldest, verdict), source_ticket_id=new.ticket_id),
                             producer=rules.PRODUCER, ticket_id=oldest.ticket_id)
        cancelled = opened.derive(StatusChanged(status=Status.cancelado, previous=Status.nuevo, by="intake",
                                                reason=f"duplicado de {oldest.ticket_number}"),
                                  producer=rules.PRODUCER)
        return oldest.ticket_id, [merged, note, cancelled]

    async def _after_merge(self, merged_into: UUID | None, opened: Event, contact: CanonicalContact,
                           tenant: str) -> None:
        """An open ticket becomes a merge target; a merged one hands its thread to the ticket that stays."""
        payload = opened.payload
        assert isinstance(payload, TicketOpened) and opened.ticket_id is not None
        if merged_into is None:
            new = OpenTicket.from_opened(payload, opened.ticket_id, opened.occurred_at)
            await self._remember_open(tenant, new, _identities(payload))
            return
        oldest = await self.ticket(merged_into) or {}
        own = contact.thread_key or contact.provider_message_id
        tkey = kv_key("t", *rules.thread_key(tenant, contact.channel, contact.customer, own))
        await self.rt.buckets["intake_threads"].put(tkey, _json({
            "ticket_id": str(merged_into), "ticket_number": oldest.get("ticket_number", ""),
            "opened_by": f"merged:{opened.ticket_id}"}))

    async def _open_tickets(self, tenant: str, identities: list[str]) -> list[OpenTicket]:
        ids: set[str] = set()
        for identity in identities:
            entry = await read(self.rt.buckets["intake_identities"], kv_key("i", tenant, identity))
            ids.update(entry.value or [])
        found = []
        for ticket_id in sorted(ids):
            entry = await read(self.rt.buckets["intake_open"], ticket_id)
            if entry.value is not None:
                found.append(OpenTicket.model_validate(entry.value))
        return found

    async def _remember_open(self, tenant: str, ticket: OpenTicket, identities: list[str]) -> None:
        await self.rt.buckets["intake_open"].put(str(ticket.ticket_id), _json(ticket.model_dump(mode="json")))
        index = self.rt.buckets["intake_identities"]
        for identity in identities:
            key = kv_key("i", tenant, identity)
            for _ in range(20):
                entry = await read(index, key)
                current = [t for t in (entry.value or []) if t != str(ticket.ticket_id)][-50:]
                try:
                    if entry.revision is None:
                        await index.create(key, _json([*current, str(ticket.ticket_id)]))
                    else:
                        await index.update(key, _json([*current, str(ticket.ticket_id)]), last=entry.revision)
                except KeyWrongLastSequenceError:
                    continue
                break

    async def undo_merge(self, ticket_id: UUID, by: str, reason: str) -> list[Event]:
        """An agent says the two tickets were not the same matter: the newer one lives again."""
        record = await self.ticket(ticket_id)
        if record is None:
            raise LookupError(f"ticket {ticket_id} not found")
        if not record.get("merged_into"):
            raise ValueError(f"ticket {record['ticket_number']} is not merged")
        into = UUID(record["merged_into"])
        into_record = await self.ticket(into) or {}
        now = datetime.now(UTC)
        base = make_event(TicketMerged(into_ticket_id=into, into_ticket_number=into_record.get("ticket_number", ""),
                                       reason=reason, undone=True), tenant=record["tenant"], occurred_at=now,
                          producer=rules.PRODUCER, ticket_id=ticket_id)
        reopened = base.derive(StatusChanged(status=Status.nuevo, previous=Status.cancelado, by=by,
                                             reason=f"fusión deshecha: {reason}"), producer=rules.PRODUCER)
        note = base.derive(NoteAdded(text=f"{by} deshizo la fusión con {record['ticket_number']}: {reason}",
                                     by=by, source_ticket_id=ticket_id), producer=rules.PRODUCER, ticket_id=into)
        await self.rt.publish([base, reopened, note])
        await self.rt.buckets["intake_tickets"].put(str(ticket_id), _json({**record, "merged_into": None}))
        return [base, reopened, note]

    async def update_contact(self, contact: CanonicalContact, tenant: str, prefix: str) -> Accepted:
        """A provider's later event about a contact (edit, call end, recording). Unknown contact: a new
        one (e.g. a missed call whose start was never notified)."""
        contact_id = rules.canonical_key(tenant, contact)
        known = await read(self.rt.buckets["intake_contacts"], kv_key("c", contact_id))
        if known.value is None:
            return await self.accept_contact(contact, tenant, prefix)
        ticket_id = UUID(known.value["ticket_id"])
        await self.rt.publish([rules.updated_event(tenant, contact, contact_id, ticket_id)])
        if contact.raw_event and known.value.get("raw_event") != contact.raw_event:
            await self.rt.buckets["intake_contacts"].put(
                kv_key("c", contact_id), _json({**known.value, "raw_event": contact.raw_event}))
        return Accepted("updated", ticket_id, known.value["ticket_number"], contact_id)

    async def _conversation(self, tenant: str, contact: CanonicalContact) -> tuple[UUID, str] | None:
        """The open ticket a reply belongs to by its thread (e-mail's root Message-ID, a quoted message),
        whoever in the thread wrote it."""
        if not (contact.is_reply and contact.thread_key):
            return None
        entry = await read(self.rt.buckets["intake_conversations"], kv_key("conv", tenant, contact.thread_key))
        if entry.value is None:
            return None
        record = await self.ticket(UUID(entry.value["ticket_id"]))
        if record is None or Status(record["status"]).is_closed:
            return None
        return UUID(entry.value["ticket_id"]), entry.value["ticket_number"]

    async def _remember_conversation(self, tenant: str, thread_key: str, ticket_id: UUID, number: str) -> None:
        conversations = self.rt.buckets["intake_conversations"]
        key = kv_key("conv", tenant, thread_key)
        current = await read(conversations, key)
        if current.value is None or current.value["ticket_id"] != str(ticket_id):
            await conversations.put(key, _json({"ticket_id": str(ticket_id), "ticket_number": number}))

    async def _reserve_thread(self, tkey: str, contact_id: str, tenant: str, prefix: str,
                              contact: CanonicalContact, now: datetime) -> tuple[UUID, str, bool]:
        """The customer's open ticket on this channel, or a new one opened by this contact.

        The thread is reserved first, with no number; only the winner of the reservation claims a
        number (numbers.py), so a contact that loses the race never burns one. A reservation whose
        opener died before claiming is taken over after `STALE_RESERVATION`."""
        threads = self.rt.buckets["intake_threads"]
        for _ in range(20):
            entry = await read(threads, tkey)
            v = entry.value
            if v is not None and v.get("ticket_number"):
                return UUID(v["ticket_id"]), v["ticket_number"], v["opened_by"] == contact_id
            if v is not None and v["opened_by"] != contact_id:
                reserved_at = datetime.fromisoformat(v.get("reserved_at", now.isoformat()))
                if now - reserved_at < STALE_RESERVATION:
                    raise Busy("the customer's ticket on this channel is being opened by another contact")
            if v is not None and v["opened_by"] == contact_id:
                # ours, from a run that died before the number was claimed
                ticket_id, reservation, revision = UUID(v["ticket_id"]), v, entry.revision
            else:
                ticket_id = rules.ticket_id_for(contact_id)
                reservation = {"ticket_id": str(ticket_id), "ticket_number": "", "opened_by": contact_id,
                               "reserved_at": now.isoformat()}
                try:
                    if entry.revision is None:
                        revision = await threads.create(tkey, _json(reservation))
                    else:
                        revision = await threads.update(tkey, _json(reservation), last=entry.revision)
                except KeyWrongLastSequenceError:
                    continue  # another contact of this customer got there first: append to theirs
            number = await self.numbers.claim(tenant, prefix, ticket_id, contact_id, contact, tkey)
            faults.point("after_claim")
            try:  # the reservation as we just wrote it: no read needed unless someone changed it since
                await threads.update(tkey, _json({**reservation, "ticket_number": number}), last=revision)
            except KeyWrongLastSequenceError:
                await self._set_thread_number(tkey, ticket_id, number)
            return ticket_id, number, True
        raise Busy(f"thread {tkey}: too much contention")

    async def _set_thread_number(self, tkey: str, ticket_id: UUID, number: str) -> None:
        """Write the claimed number into the reservation, if the thread is still this ticket's."""
        threads = self.rt.buckets["intake_threads"]
        for _ in range(20):
            entry = await read(threads, tkey)
            if entry.value is None or entry.value["ticket_id"] != str(ticket_id) or entry.value.get("ticket_number"):
                return
            try:
                await threads.update(tkey, _json({**entry.value, "ticket_number": number}), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue
            return

    async def complete_claim(self, claim: Claim) -> bool:
        """A number was claimed but its ticket never recorded (the opener died and no retry came):
        open the ticket from the claimed contact, so every number is a ticket (no gaps)."""
        if await self.ticket(claim.ticket_id) is not None:
            return False
        await self._set_thread_number(claim.thread_key, claim.ticket_id, claim.ticket_number)
        await self.open_ticket(claim.tenant, claim.contact, claim.contact_id, claim.ticket_id, claim.ticket_number,
                               claim.thread_key)
        return True

    async def ticket(self, ticket_id: UUID) -> dict[str, str] | None:
        entry = await read(self.rt.buckets["intake_tickets"], str(ticket_id))
        return entry.value  # type: ignore[no-any-return]

    async def change_status(
        self, ticket_id: UUID, status: Status, by: str, reason: str, command_id: str | None = None,
        at: datetime | None = None,
    ) -> Event:
        """An agent moves the ticket between 001 stages; intake publishes it, its handler applies it.
        `at`: when it happened, if not now (commands.py bounds it)."""
        record, when = await self.stamp_change(ticket_id, at)
        payload = StatusChanged(status=status, previous=Status(record["status"]), by=by, reason=reason)
        # A retried command (same command_id) must yield the same event id; its time bits are the
        # ticket's opening so that the id does not depend on when the retry happened.
        opened = datetime.fromisoformat(record["opened_at"])
        eid = derived_id(opened, "status", ticket_id, command_id) if command_id else new_event_id()
        ev = make_event(payload, tenant=record["tenant"], occurred_at=when, producer=rules.PRODUCER,
                        ticket_id=ticket_id, event_id=eid)
        await self.rt.publish([ev])
        return ev

    async def stamp_change(self, ticket_id: UUID, at: datetime | None,
                           now: datetime | None = None) -> tuple[dict[str, str], datetime]:
        """The ticket's record and the instant of an agent's command on it (`at` within its bounds, else
        now), recorded first as the ticket's last change (compare-and-swap: of two concurrent commands,
        the second is checked against the first). Raises LookupError (unknown ticket) or
        commands.InvalidCommand (`at` out of bounds)."""
        tickets = self.rt.buckets["intake_tickets"]
        for _ in range(20):
            entry = await read(tickets, str(ticket_id))
            record = entry.value
            if record is None:
                raise LookupError(f"ticket {ticket_id} not found")
            last = datetime.fromisoformat(record["last_change_at"]) if record.get("last_change_at") else None
            when = commands.instant_of(at, datetime.fromisoformat(record["opened_at"]), last,
                                       now or datetime.now(UTC))
            if last is not None and when == last:
                return record, when  # a retried command with the same `at`: nothing new to record
            try:
                await tickets.update(str(ticket_id), _json({**record, "last_change_at": when.isoformat()}),
                                     last=entry.revision)
            except KeyWrongLastSequenceError:
                continue  # a concurrent command or the status handler: check against what it wrote
            return record, when
        raise Busy(f"ticket {ticket_id}: too much contention")

    async def add_reply(self, ticket_id: UUID, text: str, by: str, command_id: str | None,
                        at: datetime | None = None) -> Event:
        """An agent answers the customer: `ticket.message_added` (author agent) that notify delivers on
        the customer's channel. A retried POST with its command_id is the same event (JetStream drops
        the copy), so the customer reads it once. `at`: when it was written, if not now (an import, a
        back-dated history: bounded like a status change, commands.py), so first-reply times are true."""
        record, when = await self.stamp_change(ticket_id, at)
        channel = record.get("channel") or await self._channel_of(ticket_id)
        opened = datetime.fromisoformat(record["opened_at"])
        eid = derived_id(opened, "reply", ticket_id, command_id) if command_id else new_event_id()
        payload = MessageAdded(author="agent", channel=Channel(channel), text=text, by=by, reply_id=command_id)
        ev = make_event(payload, tenant=record["tenant"], occurred_at=when, producer=rules.PRODUCER,
                        ticket_id=ticket_id, event_id=eid)
        await self.rt.publish([ev])
        return ev

    async def _channel_of(self, ticket_id: UUID) -> str:
        """The channel of a ticket recorded before records kept it: its open-ticket entry (duplicates)."""
        entry = await read(self.rt.buckets["intake_open"], str(ticket_id))
        if entry.value is None:
            raise ValueError("this ticket was opened before replies were recorded and is closed: "
                             "its channel is unknown")
        return str(entry.value["channel"])


    async def report_statuses(self, statuses: tuple[DeliveryStatus, ...]) -> int:
        """A provider's reports on messages notify sent, as events on each notification's ticket (its id
        begins with the ticket id), so notify reads them in order with the ticket's other events. The
        event id is a function of the report: a provider retrying its webhook publishes nothing new. The
        event goes to the ticket's own tenant, whichever account's webhook brought the report."""
        out = []
        for status in statuses:
            try:
                ticket_id = UUID(status.notification_id.split(":", 1)[0])
            except ValueError:
                continue  # not a ticket's notification (a committee's): nothing to tie it to
            record = await self.ticket(ticket_id)
            if record is None:
                continue  # no ticket of this installation: not a message it sent
            payload = NotificationStatusReported(
                notification_id=status.notification_id, provider=status.provider, provider_id=status.provider_id,
                status=status.status, reported_at=status.reported_at,
                error_code=status.error_code, error_title=status.error_title)
            eid = derived_id(status.reported_at, "status", status.provider_id, status.status)
            out.append(make_event(payload, tenant=record["tenant"], occurred_at=status.reported_at,
                                  producer=rules.PRODUCER,
                                  ticket_id=ticket_id, event_id=eid))
        if out:
            await self.rt.publish(out)
        return len(out)


def _identities(opened: TicketOpened) -> list[str]:
    """Email, phone, channel ids and, when the directory knows the person, their customer id: so one
    person on WhatsApp and on e-mail is one customer for duplicates."""
    found = set(customer_identities(opened.customer))
    if opened.standing is not None:
        found.add(f"customer:{opened.standing.customer_id}")
    return sorted(found)


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
