"""Agents' commands on a ticket: when they happened (`at`) and what a reply says (pure).

An agent working offline, or an import of an older system's history, tells when a change really
happened (`at`); without it a change happens now. The bound keeps event time trustworthy
(design.md invariant 1, analysts-notes §5.1): never in the future (beyond a small clock skew),
never before the ticket's opening, never before the ticket's last recorded change (monotonic per
ticket, so the clocks replay in the order the changes were told).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

#: How far ahead of the gateway's clock an agent's device may be.
CLOCK_SKEW = timedelta(minutes=2)

#: An agent's reply is a message to a person, not a document.
MAX_REPLY_CHARS = 20_000


class InvalidCommand(ValueError):
    """A command the gateway refuses, with its reason code and the field at fault."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code, self.field = code, field


def parse_at(value: object) -> datetime | None:
    """The command's `at`: absent (None) or an ISO 8601 instant with its UTC offset."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidCommand("invalid_at", "at", "must be an ISO 8601 date-time string")
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidCommand("invalid_at", "at", f"not an ISO 8601 date-time: {value!r}") from exc
    if at.tzinfo is None:
        raise InvalidCommand("invalid_at", "at", "needs its UTC offset, e.g. 2026-11-23T09:15:00-05:00")
    return at


def check_at(at: datetime, opened_at: datetime, last_change: datetime | None, now: datetime) -> None:
    """The bounds of a told instant (module docstring)."""
    if at > now + CLOCK_SKEW:
        raise InvalidCommand("invalid_at", "at", f"is in the future ({at.isoformat()} > now {now.isoformat()})")
    if at < opened_at:
        raise InvalidCommand("invalid_at", "at", f"is before the ticket was opened ({opened_at.isoformat()})")
    if last_change is not None and at < last_change:
        raise InvalidCommand("invalid_at", "at", "is earlier than the ticket's last recorded change "
                                                 f"({last_change.isoformat()}): changes are told in order")


def instant_of(at: datetime | None, opened_at: datetime, last_change: datetime | None, now: datetime) -> datetime:
    """When the command happened: its checked `at`, else now (never before what is recorded already)."""
    if at is not None:
        check_at(at, opened_at, last_change, now)
        return at
    return max(now, opened_at, last_change or now)


def parse_reply(doc: Any) -> tuple[str, str | None]:
    """(text, command_id) of `POST /v1/tickets/{id}/replies`; who replies is the token's name (auth.py)."""
    if not isinstance(doc, dict):
        raise InvalidCommand("schema_violation", "(body)", "body must be a JSON object")
    text = doc.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidCommand("empty_reply", "text", "a reply needs its text (a non-empty string)")
    if len(text) > MAX_REPLY_CHARS:
        raise InvalidCommand("schema_violation", "text", f"is over {MAX_REPLY_CHARS} characters")
    command_id = doc.get("command_id")
    if command_id is not None and (not isinstance(command_id, str) or not command_id.strip()):
        raise InvalidCommand("schema_violation", "command_id", "must be a non-empty string")
    return text.strip(), command_id
