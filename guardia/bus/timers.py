"""Durable timers as NATS message schedules (nats-facts.md; design.md invariant 7).

A timer is one schedule on `timer.arm.<key>`: at its instant the server writes the message to
`timer.fire.<key>`, where the owning service's durable consumer picks it up. Arming the same key
again replaces the schedule; disarming purges it. Schedules live in GUARDIA_TIMERS on disk, so they
survive restarts of the service and of NATS, and a past instant fires as soon as NATS is back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext

from .topology import TIMERS


def schedule_time(at: datetime) -> str:
    """RFC 3339 in UTC with microseconds: nats-server fires a schedule within a few milliseconds of it
    (measured by bench/clocks.py), so a warning is emitted well within a second of its instant."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def arm(js: JetStreamContext, key: str, at: datetime, payload: dict[str, Any]) -> None:
    body = json.dumps({**payload, "due_at": at.astimezone(UTC).isoformat()}).encode()
    headers = {"Nats-Schedule": f"@at {schedule_time(at)}", "Nats-Schedule-Target": f"timer.fire.{key}"}
    await js.publish(f"timer.arm.{key}", body, headers=headers, stream=TIMERS)


async def disarm(js: JetStreamContext, key: str) -> None:
    await js.purge_stream(TIMERS, subject=f"timer.arm.{key}")


__all__ = ["arm", "disarm", "schedule_time"]
