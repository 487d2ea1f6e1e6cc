"""`guardia migrate`: bring an installation's event log to the partitioned layout (README "Upgrading").

Before partitions, each service read the event log through one durable consumer named after it, on
subjects `ev.<tenant>.<aggregate>.<event>`. Today's services read `ev.<tenant>.<p>.<aggregate>.<event>`
through one consumer per partition and refuse to start beside a legacy consumer, whose unhandled
messages they would otherwise overtake. This command hands those messages over: for each service, in
pipeline order, it handles whatever still waits on the legacy consumer with today's handlers (their
events go out in the new layout), then deletes that consumer. Old events stay in the stream as the
history they are; the event log readers read both layouts. Ticket numbering continues after the old
counter (services/intake/numbers.py). Stop the old services first; running it twice is harmless.
"""

from __future__ import annotations

from guardia.policy import Policies
from guardia.runner import SERVICES, build_service
from guardia.settings import Settings


async def migrate(settings: Settings, services: tuple[str, ...] = SERVICES) -> dict[str, int | None]:
    """Drain every service's legacy consumer; returns messages handled per service (None: none there)."""
    policies = Policies.load(settings.policy_dir)
    handled: dict[str, int | None] = {}
    for name in services:
        runtime, _ = build_service(name, settings, policies)
        await runtime.connect(migrating=True)
        try:
            handled[name] = await runtime.drain_legacy()
        finally:
            await runtime.stop()
    return handled
