"""sla_watch's open clocks for /metrics, counted from its KV bucket when Prometheus scrapes.

Counted from the state on the NATS server, not kept in memory by the handlers: a restarted process, or
any one of several replicas, reports every open clock at once (read it with `max by (tenant, state)`,
not `sum`: replicas count the same bucket). The scan reads every ticket's latest value (closed tickets
stay in the bucket), so its cost grows with the tickets kept and it runs at most every
`OPEN_CLOCKS_EVERY` seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from nats.js.kv import KeyValue

from guardia.metrics import SCRAPE_TIMEOUT, SLA_OPEN_CLOCKS

from .rules import TicketClocks

OPEN_CLOCKS_EVERY = 60.0
OPEN_STATES = ("running", "paused", "breached")


async def count_open_clocks(kv: KeyValue, tenants: Iterable[str]) -> None:
    """Set `guardia_sla_open_clocks{tenant,state}` from every ticket's current clock (zero included)."""
    counts: Counter[tuple[str, str]] = Counter()
    watcher = await kv.watchall(ignore_deletes=True)
    try:
        while (entry := await watcher.updates(timeout=SCRAPE_TIMEOUT)) is not None:  # type: ignore[no-untyped-call]
            if not entry.value:
                continue
            clock = TicketClocks.model_validate_json(entry.value)
            current = clock.current()
            if current is not None and current.state in OPEN_STATES:
                counts[(clock.tenant, current.state)] += 1
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]
    for tenant in {*tenants, *(t for t, _ in counts)}:
        for state in OPEN_STATES:
            SLA_OPEN_CLOCKS.labels(tenant, state).set(counts[(tenant, state)])
