"""Crashes lose nothing: every process, and nats-server, killed with `kill -9` while contacts arrive.

Every service runs as its own `guardia run` process. They die two ways: a killer sends SIGKILL to a
random one every few seconds, and each process kills itself at the instants an outside killer cannot
aim at (`GUARDIA_CRASH_POINTS`: right after a fetch, after publishing but before committing, after
committing but before the ack, after claiming a ticket number, after opening the ticket). nats-server
is killed once and started again on the same store. Contacts keep arriving at 20/s, each posted again
until a 2xx like a provider's webhook. At the end, every accepted contact must have exactly one
ticket, classification, clock decision, owner and acknowledgment; numbers run 1..N with no gap;
nothing is dead-lettered; every service handled each ticket's events in stream order.

The default run is the short variant CI runs. The long one:
    GUARDIA_FAULTS_CONTACTS=600 .venv/bin/pytest -q -s tests/faults/test_kill9.py
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

from .harness import Cluster, contacts, post_at_rate, quiet

CONTACTS = int(os.environ.get("GUARDIA_FAULTS_CONTACTS", "160"))
RATE = 20.0
CRASH_POINTS = ("after_fetch=0.004,after_publish=0.004,after_commit=0.004,before_ack=0.004,"
                "after_claim=0.01,after_open=0.01")


async def test_kill9_of_every_process_and_of_nats_while_contacts_arrive_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(int(os.environ.get("GUARDIA_FAULTS_SEED", "9")))
    cluster = Cluster(tmp_path / "cluster", replicas=1, crash_points=CRASH_POINTS, ack_wait=3.0)
    await cluster.start()
    kills: list[str] = []
    posting = asyncio.Event()

    async def killer() -> None:
        """A random service every 2-4 s; nats-server once, a third of the way through."""
        nats_at = time.monotonic() + CONTACTS / RATE / 3
        while not posting.is_set():
            await asyncio.sleep(rng.uniform(2.0, 4.0))
            if posting.is_set():
                return
            if cluster.nats_kills == 0 and time.monotonic() >= nats_at:
                cluster.kill9_nats()
                kills.append("nats-server")
                await asyncio.sleep(1.0)
                cluster.start_nats()
            else:
                kills.append(cluster.kill_random(rng).name)

    started = time.monotonic()
    try:
        task = asyncio.create_task(killer())
        answers = await post_at_rate(cluster.gateways, contacts(CONTACTS, tag="k9"), RATE, rng)
        posting.set()
        await task
        tickets = {a["ticket_id"] for a in answers.values()}
        await quiet(cluster, tickets, within=240)
        ledger = await cluster.ledger()
    finally:
        await cluster.stop()
    elapsed = time.monotonic() - started
    print(f"\n{len(answers)} contacts accepted, {len(tickets)} tickets; killed: {len(kills)} "
          f"({', '.join(kills)}); process deaths in all (kills and crash points): {cluster.crashes()}; "
          f"{len(ledger.events)} events; {elapsed:.0f} s")

    assert len(answers) == CONTACTS and len(tickets) == CONTACTS  # one customer each: one ticket each
    assert "nats-server" in kills and cluster.crashes() > len(kills)  # the crash points fired too
    assert ledger.problems(tickets) == []
    assert cluster.out_of_order() == []
    assert ledger.numbers("navegasoft") == [f"NS-{i:06d}" for i in range(1, CONTACTS + 1)]  # unique, no gap

