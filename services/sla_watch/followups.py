"""Follow-ups of 001 §3.5 and the suspension notice of 001 §3.4.1 No.6 (pure).

"Si el avance del ticket se ve obstaculizado por la falta de información por parte del solicitante,
y no se recibe respuesta al día siguiente, se hará un seguimiento marcando al número vía Zadarma
[...] Si después de dos intentos no se obtiene respuesta, el caso se deberá escalar al área
comercial." -> attempt 1 on the next working day, attempt 2 the working day after, and the
commercial area the working day after that if the customer is still silent.
"Si se trata de una suspensión [...] crear la tarea programada de informar a los 7 días" -> a
notice 7 calendar days after the suspension request is classified.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from shared.schemas import FollowUpDue, FollowUpExhausted, Payload

from .calendar import BusinessCalendar

ATTEMPTS = 2
NOTICE_AFTER = timedelta(days=7)


class FollowUps(BaseModel):
    model_config = ConfigDict(extra="forbid")

    waiting_since: AwareDatetime | None = None
    attempts: int = 0
    next_due: AwareDatetime | None = None
    exhausted: bool = False
    notice_due: AwareDatetime | None = None
    notice_sent: bool = False

    def next_instant(self) -> datetime | None:
        due = [d for d in (self.next_due, None if self.notice_sent else self.notice_due) if d is not None]
        return min(due) if due else None


def start_waiting(f: FollowUps, at: datetime, calendar: BusinessCalendar) -> None:
    """The ticket went to 'en proceso del solicitante': the first call is due the next working day."""
    f.waiting_since, f.attempts, f.exhausted = at, 0, False
    f.next_due = calendar.add_business_days(at, 1)


def stop_waiting(f: FollowUps) -> None:
    """The customer answered, or the ticket left the waiting stage: no more calls."""
    f.waiting_since, f.next_due = None, None


def schedule_notice(f: FollowUps, at: datetime) -> None:
    if f.notice_due is None:
        f.notice_due = at + NOTICE_AFTER


def due(f: FollowUps, now: datetime, calendar: BusinessCalendar) -> list[tuple[datetime, Payload, str]]:
    """What is due by `now`: calls in order, then the hand-over to the commercial area; the notice."""
    out: list[tuple[datetime, Payload, str]] = []
    while f.next_due is not None and f.next_due <= now and f.waiting_since is not None:
        at = f.next_due
        if f.attempts < ATTEMPTS:
            f.attempts += 1
            out.append((at, FollowUpDue(kind="llamada_seguimiento", attempt=f.attempts, due_at=at,
                                        waiting_since=f.waiting_since), f"followup:{f.waiting_since}:{f.attempts}"))
            f.next_due = calendar.add_business_days(at, 1)
        else:
            f.exhausted = True
            out.append((at, FollowUpExhausted(attempts=f.attempts, waiting_since=f.waiting_since),
                        f"followup:{f.waiting_since}:exhausted"))
            f.next_due = None
    if f.notice_due is not None and not f.notice_sent and f.notice_due <= now:
        f.notice_sent = True
        out.append((f.notice_due, FollowUpDue(kind="aviso_baja", attempt=1, due_at=f.notice_due), "notice"))
    return sorted(out, key=lambda x: x[0])
