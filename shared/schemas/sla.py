"""SLA clock events (001 §3.2 targets; design.md invariant 7: computed, then armed)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .base import Payload, event

Unit = Literal["calendar_hours", "business_hours", "business_days"]


class Target(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: float = Field(gt=0)
    unit: Unit


class _ClockEvent(Payload):
    clock: str = Field(default="resolution", description="Which clock of the ticket.")
    deadline: AwareDatetime | None = Field(description="The deadline in force; None while paused.")
    policy_version: str


@event
class SlaStarted(_ClockEvent):
    event_type = "sla.started"
    version = 1

    target: Target
    started_at: AwareDatetime
    ticket_type: str | None = None
    priority: str | None = None


@event
class SlaWarning(_ClockEvent):
    event_type = "sla.warning"
    version = 1

    fraction: float = Field(gt=0, lt=1)


@event
class SlaBreached(_ClockEvent):
    event_type = "sla.breached"
    version = 1


@event
class SlaPaused(_ClockEvent):
    """'En proceso del solicitante': the customer owes an answer, the clock stops (001 stages). A breached
    clock pauses too: then `deadline` is the one it missed and `remaining_seconds` is 0."""

    event_type = "sla.paused"
    version = 1

    remaining_seconds: float = Field(ge=0)


@event
class SlaResumed(_ClockEvent):
    event_type = "sla.resumed"
    version = 1


@event
class SlaMet(_ClockEvent):
    """Resolved. A clock that breached first is still met, late: `breached` and how far past its
    deadline (`deadline`, the one it missed) the resolution came."""

    event_type = "sla.met"
    version = 1

    breached: bool = Field(default=False, description="The clock breached before the resolution (met late).")
    overdue_seconds: float | None = Field(
        default=None, ge=0, description="Breached only: calendar seconds from the missed deadline to the resolution.")
    overdue_business_seconds: float | None = Field(
        default=None, ge=0, description="Breached only: the same span in working seconds of the tenant's calendar "
                                        "(holidays and hours outside the schedule excluded).")


@event
class SlaExempted(Payload):
    """The ticket gets no clock, and why (WhatsApp not official, bugs go to development, no request)."""

    event_type = "sla.exempted"
    version = 1

    reason: Literal["whatsapp_not_official", "no_support_deadline", "not_a_request", "ineligible"]
    policy_version: str


def fraction_label(fraction: float) -> str:
    return f"{round(fraction * 100)} %"



@event
class SlaCancelled(_ClockEvent):
    """The ticket was cancelled or merged: its clock is retracted, nothing fires after this."""

    event_type = "sla.cancelled"
    version = 1

    reason: str = ""


@event
class SlaRetargeted(_ClockEvent):
    """A reclassification changed the clock's target; `deadline` is the new one (None while paused)."""

    event_type = "sla.retargeted"
    version = 1

    target: Target
    previous_deadline: AwareDatetime | None
    rule: Literal["retarget", "restart", "stricter"]


@event
class FollowUpDue(Payload):
    """001 §3.5: a ticket waits on the customer with no answer by the next working day -> a follow-up
    call (Zadarma, not WhatsApp); 001 §3.4.1 No.6: a suspension's 7-day notice is due."""

    event_type = "followup.due"
    version = 1

    kind: Literal["llamada_seguimiento", "aviso_baja"]
    attempt: int = Field(ge=1)
    due_at: AwareDatetime
    waiting_since: AwareDatetime | None = None


@event
class FollowUpExhausted(Payload):
    """001 §3.5: two follow-up attempts went unanswered -> the commercial area asks for contact data."""

    event_type = "followup.exhausted"
    version = 1

    attempts: int = Field(ge=1)
    waiting_since: AwareDatetime
