"""Streams, buckets and durable consumers are declared idempotently at every start."""

from __future__ import annotations

from pathlib import Path

from nats.js import JetStreamContext
from nats.js.api import StorageType

from guardia.bus.topology import DLQ, EVENTS, INTAKE, TIMERS
from guardia.runner import SERVICES, running
from guardia.settings import Settings
from shared.schemas import PARTITIONS

from .helpers import eventually


async def test_starting_twice_declares_the_same_topology_and_updates_changed_consumers(
    settings: Settings, js: JetStreamContext
) -> None:
    async with running(SERVICES, settings):
        pass
    changed = settings.model_copy(update={"max_deliver": 7})
    async with running(SERVICES, changed):
        for name in (EVENTS, INTAKE, TIMERS, DLQ):
            info = await js.stream_info(name)
            assert info.config.storage == StorageType.FILE
        assert (await js.stream_info(TIMERS)).config.allow_msg_schedules is True
        assert (await js.stream_info(TIMERS)).config.max_msgs_per_subject == 1  # no pile of old firings
        consumers = {c.name: c for c in await js.consumers_info(EVENTS)}
        partitioned = {f"{s}-p{p:02d}" for s in ("intake", "triage", "sla_watch", "escalation", "notify")
                       for p in range(PARTITIONS)}
        assert set(consumers) == partitioned | {"escalation-committee", "intake_legacy_subjects"}
        assert all(c.config.max_deliver == 7 for c in consumers.values())
        # one message in flight per partition: what keeps a ticket's events in order across replicas
        assert all(c.config.max_ack_pending == 1 for name, c in consumers.items() if name in partitioned)
        assert consumers["triage-p03"].config.filter_subjects == [
            "ev.*.3.ticket.message_added", "ev.*.3.ticket.opened", "ev.*.3.ticket.reclassification_requested"]
        assert consumers["escalation-committee"].config.filter_subject == "ev.*.*.committee.candidate"
        timers = {c.name for c in await js.consumers_info(TIMERS)}
        assert timers == {"sla_watch_timers", "notify_retries"}
        buckets = {info.config.name for info in await js.streams_info() if info.config.name.startswith("KV_")}
        assert {"KV_intake_threads", "KV_sla_clocks", "KV_escalation_state", "KV_notify_deliveries"} <= buckets


async def test_each_running_service_keeps_a_heartbeat_that_health_reads(settings: Settings) -> None:
    from typer.testing import CliRunner

    from guardia.cli import app as cli

    env = {"GUARDIA_DATA_DIR": str(settings.data_dir)}
    async with running(SERVICES, settings):
        for name in SERVICES:
            await eventually(lambda n=name: _exists(settings.data_dir / f"{n}.alive"), within=5, what=f"{name} beat")
            assert CliRunner().invoke(cli, ["health", name], env=env).exit_code == 0
    assert CliRunner().invoke(cli, ["health", "triage"], env=env).exit_code == 1


async def _exists(path: Path) -> bool:
    return path.exists()  # noqa: ASYNC240 - one stat in a test poll
