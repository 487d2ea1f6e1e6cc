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

from nats.js.errors import NotFoundError

from guardia.bus.connection import connect
from guardia.bus.topology import EVENTS
from guardia.policy import Policies
from guardia.runner import SERVICES, build_service
from guardia.settings import Settings


async def legacy_consumers(settings: Settings, services: tuple[str, ...] = SERVICES) -> list[str]:
    """The services that still have a consumer of the layout before partitions (cheap: one connection)."""
    nc = await connect(settings)
    try:
        js = nc.jetstream()
        try:
            names = {c.name for c in await js.consumers_info(EVENTS)}
        except NotFoundError:
            return []  # a new installation: no event log yet
        return [s for s in services if s in names]
    finally:
        await nc.close()


async def migrate(settings: Settings, services: tuple[str, ...] = SERVICES) -> dict[str, int | None]:
    """Drain every service's legacy consumer; returns messages handled per service (None: none there)."""
    handled: dict[str, int | None] = dict.fromkeys(services)
    legacy = await legacy_consumers(settings, services)
    if not legacy:
        return handled
    policies = Policies.load(settings.policy_dir)
    for name in services:
        runtime, _ = build_service(name, settings, policies)
        await runtime.connect(migrating=True)
        try:
            handled[name] = await runtime.drain_legacy()
        finally:
            await runtime.stop()
    return handled
