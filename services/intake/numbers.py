"""Human ticket numbers (NS-000123): unique and gap-free per tenant, whatever process dies when.

A number is the stream sequence of a *claim*: one message in the tenant's own stream
`GUARDIA_NUMBERS_<TENANT>` (subject `numbers.<tenant>`), published with `Nats-Msg-Id = ticket id`.
- Unique: JetStream gives every stored message the next sequence, once.
- Idempotent: a claim published again for the same ticket (the opener's retry after a crash) is a
  duplicate inside the dedup window, and NATS answers with the sequence it already has.
- Gap-free: a claim carries the contact that opens the ticket. intake sweeps the claims every
  `CHECK_EVERY` seconds; one whose ticket is still unrecorded after `COMPLETE_AFTER` (its opener died
  and no retry came) is opened from the claim itself. So every sequence ends as a ticket.

Only the contact that won its thread's reservation claims, so a contact that loses that race never burns
a number. An installation from before this scheme continues its numbering: the stream starts after
the tenant's old counter (`intake_counters`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError

from guardia.bus.runtime import ServiceRuntime

from . import rules
from .channels.base import CanonicalContact

#: A claim whose ticket is not recorded this long after it was made is completed by the consumer.
COMPLETE_AFTER = timedelta(seconds=20)
#: Seconds between two sweeps of the claims (a claim is first looked at when its ticket is, as a rule,
#: long recorded: one look per claim, in batches).
CHECK_EVERY = 5.0
#: Longer than any wait between an opener's crash and its retry that still finds the claim by id
#: (after that, the completion has long recorded the ticket, and the retry finds it there).
DEDUP_WINDOW = timedelta(days=1)


def stream_name(tenant: str) -> str:
    return "GUARDIA_NUMBERS_" + tenant.upper().replace("-", "_")


def subject(tenant: str) -> str:
    return f"numbers.{tenant}"


@dataclass(frozen=True)
class Claim:
    tenant: str
    ticket_id: UUID
    ticket_number: str
    contact_id: str
    contact: CanonicalContact
    thread_key: str
    claimed_at: datetime

    @staticmethod
    def parse(body: bytes, sequence: int) -> Claim:
        doc = json.loads(body)
        return Claim(
            tenant=doc["tenant"], ticket_id=UUID(doc["ticket_id"]),
            ticket_number=rules.ticket_number(doc["prefix"], sequence), contact_id=doc["contact_id"],
            contact=CanonicalContact.model_validate(doc["contact"]), thread_key=doc["thread_key"],
            claimed_at=datetime.fromisoformat(doc["claimed_at"]),
        )


class TicketNumbers:
    """The claims of every tenant: the streams, and claiming a number for a ticket."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.rt = runtime

    async def ensure(self, tenant: str) -> None:
        """Create the tenant's stream if it is missing, continuing an old counter if there is one."""
        try:
            info = await self.rt.js.stream_info(stream_name(tenant))
        except NotFoundError:
            pass
        else:
            if (info.config.num_replicas or 1) != self.rt.settings.nats_replicas:  # a cluster grew: scale up
                info.config.num_replicas = self.rt.settings.nats_replicas
                await self.rt.js.update_stream(config=info.config)
            return
        first = await self._old_counter(tenant) + 1
        await self.rt.js.add_stream(config=StreamConfig(
            name=stream_name(tenant), subjects=[subject(tenant)], storage=StorageType.FILE,
            duplicate_window=DEDUP_WINDOW.total_seconds(), max_age=float(400 * 24 * 3600),
            first_seq=first if first > 1 else None, num_replicas=self.rt.settings.nats_replicas,
        ))

    async def _old_counter(self, tenant: str) -> int:
        try:
            kv = await self.rt.js.key_value("intake_counters")
            entry = await kv.get(tenant)
        except (BucketNotFoundError, NotFoundError):
            return 0
        return int(json.loads(entry.value or b"0"))

    async def claim(self, tenant: str, prefix: str, ticket_id: UUID, contact_id: str, contact: CanonicalContact,
                    thread_key: str) -> str:
        body = json.dumps({
            "tenant": tenant, "ticket_id": str(ticket_id), "prefix": prefix, "contact_id": contact_id,
            "thread_key": thread_key, "claimed_at": datetime.now(UTC).isoformat(),
            "contact": contact.model_dump(mode="json"),
        }, separators=(",", ":")).encode()
        ack = await self.rt.js.publish(subject(tenant), body, headers={"Nats-Msg-Id": str(ticket_id)},
                                       stream=stream_name(tenant))
        return rules.ticket_number(prefix, ack.seq)
