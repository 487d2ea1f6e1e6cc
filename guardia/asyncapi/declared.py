"""What the AsyncAPI document cannot read off the services' runtimes, declared here.

Who *consumes* what is read from the runtimes themselves (each service's `rt.handles(...)` and
`rt.consume_raw(...)`, document.py). Who *publishes* an event is not registered anywhere at run time
(a handler returns events), so it is declared in `PRODUCERS`; `tests/ops/test_asyncapi.py` proves the
table against the code: each service's package constructs exactly the payload classes listed for it.
The subjects that are not events (raw contacts, number claims, timers, dead letters, the layout before
partitions) are declared in `RAW_CHANNELS`; a raw consumer that no entry covers fails the build, so a
new one cannot be left out of the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guardia.bus.topology import DLQ, EVENTS, INTAKE, TIMERS

#: event type -> the services that publish it (on `ev.<tenant>.<partition>.<event_type>`).
PRODUCERS: dict[str, tuple[str, ...]] = {
    "activity.recorded": ("intake",),
    "committee.candidate": ("escalation",),
    "committee.convened": ("escalation",),
    "contact.received": ("intake",),
    "contact.updated": ("intake",),
    "followup.due": ("sla_watch",),
    "followup.exhausted": ("sla_watch",),
    "notification.delivered": ("notify",),
    "notification.failed": ("notify",),
    "notification.requested": ("notify",),
    "notification.sent": ("notify",),
    "notification.status_reported": ("intake",),
    "notification.undeliverable": ("notify",),
    # every service, at start, through the entry point (guardia/policy_applied.py, hooked in runner.py)
    "policy.applied": ("intake", "triage", "sla_watch", "escalation", "notify"),
    "sla.breached": ("sla_watch",),
    "sla.cancelled": ("sla_watch",),
    "sla.exempted": ("sla_watch",),
    "sla.met": ("sla_watch",),
    "sla.paused": ("sla_watch",),
    "sla.resumed": ("sla_watch",),
    "sla.retargeted": ("sla_watch",),
    "sla.started": ("sla_watch",),
    "sla.warning": ("sla_watch",),
    "ticket.assigned": ("escalation",),
    "ticket.classified": ("triage",),
    "ticket.escalated": ("escalation",),
    "ticket.merged": ("intake",),
    "ticket.message_added": ("intake",),
    "ticket.note_added": ("intake",),
    "ticket.opened": ("intake",),
    "ticket.reclassification_requested": ("intake",),  # the gateway validates an agent's correction
    "ticket.status_changed": ("intake",),
}

#: The event that never travels on `ev.>`: every service's runtime writes it to the dead letters.
DEAD_LETTER_EVENT = "dead_letter.recorded"

NATS_SERVER = "nats-server"  # a message schedule fires: the server itself publishes the timer


@dataclass(frozen=True)
class RawChannel:
    """A subject that carries something other than a domain event on `ev.>`."""

    id: str
    address: str  # AsyncAPI address with {parameters}
    filter: str  # the NATS pattern a consumer of this channel subscribes to (or a subject it covers)
    stream: str
    summary: str
    parameters: dict[str, str]
    payload: str  # a key of document.RAW_PAYLOADS, or an event type (its envelope)
    producers: tuple[str, ...] = ()  # services; empty: outside guardia (integrations, old versions)
    headers: dict[str, str] = field(default_factory=dict)
    note: str = ""


RAW_CHANNELS: tuple[RawChannel, ...] = (
    RawChannel(
        id="intake.raw", address="intake.raw.{channel}", filter="intake.raw.>", stream=INTAKE,
        summary="A generic JSON contact pushed over NATS instead of `POST /v1/contacts` (same rules, same "
                "answers); the subject's last token names the channel when the body does not.",
        parameters={"channel": "whatsapp, email, phone, chat, telegram, web_form..."},
        payload="ContactIn", note="Published by integrations outside guardia.",
    ),
    RawChannel(
        id="numbers", address="numbers.{tenant}", filter="numbers.*", stream="GUARDIA_NUMBERS_<TENANT>",
        summary="A ticket number claim: the claim's stream sequence is the ticket's number (gap-free); intake "
                "sweeps the claims and opens any ticket whose opener died.",
        parameters={"tenant": "the tenant id"}, payload="NumberClaim", producers=("intake",),
        headers={"Nats-Msg-Id": "the ticket id: a retried claim gets its number back"},
    ),
    RawChannel(
        id="timer.arm.sla", address="timer.arm.sla.{ticket}.{clock}", filter="timer.arm.sla.>", stream=TIMERS,
        summary="The next instant of a ticket's SLA clock or follow-up, armed as a NATS message schedule "
                "(arming again replaces it; a closed clock purges it).",
        parameters={"ticket": "the ticket id", "clock": "the clock's name, or `followup`"},
        payload="SlaTimer", producers=("sla_watch",),
        headers={"Nats-Schedule": "@at <RFC 3339 instant>", "Nats-Schedule-Target": "timer.fire.sla.<ticket>.<clock>"},
    ),
    RawChannel(
        id="timer.fire.sla", address="timer.fire.sla.{ticket}.{clock}", filter="timer.fire.sla.>", stream=TIMERS,
        summary="A fired SLA schedule: a wake-up call, sla_watch re-checks the ticket's state before it emits.",
        parameters={"ticket": "the ticket id", "clock": "the clock's name, or `followup`"},
        payload="SlaTimer", producers=(NATS_SERVER,),
    ),
    RawChannel(
        id="timer.arm.notify", address="timer.arm.notify.{delivery}", filter="timer.arm.notify.>", stream=TIMERS,
        summary="The next round of a delivery that keeps failing transiently (GUARDIA_NOTIFY_RETRY_ROUNDS).",
        parameters={"delivery": "sha-256 of the notification id, 32 hex digits"},
        payload="NotifyTimer", producers=("notify",),
        headers={"Nats-Schedule": "@at <RFC 3339 instant>", "Nats-Schedule-Target": "timer.fire.notify.<delivery>"},
    ),
    RawChannel(
        id="timer.fire.notify", address="timer.fire.notify.{delivery}", filter="timer.fire.notify.>", stream=TIMERS,
        summary="A delivery's next round is due: notify delivers again exactly as on the first request.",
        parameters={"delivery": "sha-256 of the notification id, 32 hex digits"},
        payload="NotifyTimer", producers=(NATS_SERVER,),
    ),
    RawChannel(
        id="dead_letters", address="dlq.{tenant}.{service}", filter="dlq.>", stream=DLQ,
        summary="What was rejected, raw bytes and reason: a payload that is not valid, or a message whose handler "
                "kept failing up to GUARDIA_MAX_DELIVER. Read with `guardia dead-letters`.",
        parameters={"tenant": "the tenant id", "service": "the service that rejected it"},
        payload=DEAD_LETTER_EVENT, producers=("intake", "triage", "sla_watch", "escalation", "notify"),
        headers={"Nats-Msg-Id": "the letter's id, or dlq:<service>:<stream sequence> for a consumer's reject"},
    ),
    RawChannel(
        id="legacy.events", address="ev.{tenant}.{aggregate}.{event}", filter="ev.*.*.*", stream=EVENTS,
        summary="An event on the layout before partitions, from an integration not updated yet: intake publishes "
                "a valid one again on its partitioned subject (same id) and dead-letters anything else.",
        parameters={"tenant": "the tenant id", "aggregate": "ticket, sla, contact...", "event": "opened, ..."},
        payload="AnyEvent", note="Published by integrations outside guardia (README: Upgrading).",
    ),
)


def covers(pattern: str, subject: str) -> bool:
    """Whether NATS pattern `pattern` takes in every subject `subject` (itself maybe a pattern) stands for."""
    wanted, given = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(given) > i
        if i >= len(given) or (token != "*" and token != given[i]) or (token == "*" and given[i] == ">"):
            return False
    return len(given) == len(wanted)


def raw_channel_for(subject: str) -> RawChannel:
    """The declared channel a raw consumer's subject belongs to (the most specific that covers it)."""
    found = [c for c in RAW_CHANNELS if covers(c.filter, subject)]
    if not found:
        raise LookupError(f"no channel declared for consumers of {subject!r}: add it to RAW_CHANNELS "
                          "(guardia/asyncapi/declared.py)")
    return min(found, key=lambda c: c.filter.count("*") + 2 * c.filter.count(">"))
