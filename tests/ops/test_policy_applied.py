"""`policy.applied`: each service records the tenant policy it starts with, once per content, against a
real nats-server (restarts and replicas publish nothing new; a changed policy publishes again)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext

from guardia.bus.runtime import ServiceRuntime
from guardia.bus.state import kv_key, write
from guardia.bus.topology import EVENTS, bucket
from guardia.policy import Policies, TenantPolicy
from guardia.policy_applied import BUCKET, applied_event, content_hash, record_policies
from guardia.runner import running
from guardia.settings import Settings
from shared.schemas import PolicyApplied, decode_event
from tests.e2e.helpers import events

POLICIES = Policies.load()


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[ServiceRuntime]:
    rt = ServiceRuntime("sla_watch", settings)
    await rt.connect()
    try:
        yield rt
    finally:
        await rt.stop()


async def _applied(js: JetStreamContext) -> list[dict[str, object]]:
    return await events(js, subject="ev.*.*.policy.applied")


def _changed(tenant: str) -> Policies:
    policy = POLICIES[tenant]
    newer = TenantPolicy.model_validate({**policy.model_dump(mode="json"), "version": "001-2027.01"})
    return Policies({**{t: POLICIES[t] for t in POLICIES.tenants()}, tenant: newer})


async def test_a_service_records_each_tenant_policy_with_its_version_hash_and_content(
    service: ServiceRuntime, js: JetStreamContext
) -> None:
    published = await record_policies(service, POLICIES)
    docs = await _applied(js)
    assert sorted(d["tenant"] for d in docs) == POLICIES.tenants() == sorted(e.tenant for e in published)
    nav = next(d for d in docs if d["tenant"] == "navegasoft")
    data = nav["data"]
    assert isinstance(data, dict)
    assert data["service"] == "sla_watch" and data["version"] == "001-2026.11"
    assert data["content_hash"] == content_hash(POLICIES["navegasoft"])
    assert TenantPolicy.model_validate(data["policy"]) == POLICIES["navegasoft"]  # enough to re-simulate
    assert nav["ticket_id"] is None and nav["producer"] == "sla_watch"
    decoded = decode_event(json.dumps(nav))
    assert isinstance(decoded.payload, PolicyApplied) and decoded.payload.version_label == "001-2026.11"


async def test_a_restart_with_the_same_policy_publishes_nothing(service: ServiceRuntime, js: JetStreamContext) -> None:
    await record_policies(service, POLICIES)
    assert await record_policies(service, POLICIES) == []
    assert len(await _applied(js)) == len(POLICIES.tenants())


async def test_a_changed_policy_is_recorded_again_for_that_tenant_only(
    service: ServiceRuntime, js: JetStreamContext
) -> None:
    await record_policies(service, POLICIES)
    again = await record_policies(service, _changed("navegasoft"))
    assert [e.tenant for e in again] == ["navegasoft"]
    nav = [d["data"] for d in await _applied(js) if d["tenant"] == "navegasoft"]
    assert [d["version"] for d in nav] == ["001-2026.11", "001-2027.01"]  # type: ignore[index]
    assert nav[0]["content_hash"] != nav[1]["content_hash"]  # type: ignore[index]


async def test_replicas_starting_together_publish_each_policy_once(settings: Settings, js: JetStreamContext) -> None:
    replicas = [ServiceRuntime("sla_watch", settings) for _ in range(3)]
    for rt in replicas:
        await rt.connect()
    try:
        await asyncio.gather(*(record_policies(rt, POLICIES) for rt in replicas))
    finally:
        for rt in replicas:
            await rt.stop()
    assert sorted(d["tenant"] for d in await _applied(js)) == POLICIES.tenants()


async def test_a_claim_whose_publisher_died_is_published_by_the_next_start_with_the_claimed_instant(
    service: ServiceRuntime, js: JetStreamContext
) -> None:
    policy = POLICIES["wolk"]
    claimed_at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    kv = await bucket(service.js, BUCKET)
    await write(kv, kv_key("sla_watch", "wolk"), {"hash": content_hash(policy), "version": policy.version,
                                                  "at": claimed_at.isoformat(), "published": False}, None)
    published = {e.tenant: e for e in await record_policies(service, POLICIES)}
    assert published["wolk"].event_id == applied_event("sla_watch", policy, content_hash(policy), claimed_at).event_id
    assert published["wolk"].occurred_at == claimed_at
    assert await record_policies(service, POLICIES) == []


async def test_every_service_the_runner_starts_records_its_policies(settings: Settings, js: JetStreamContext) -> None:
    async with running(("escalation",), settings):
        docs = await _applied(js)
    assert {(d["tenant"], d["data"]["service"]) for d in docs} == {  # type: ignore[index]
        (t, "escalation") for t in POLICIES.tenants()}
    info = await js.stream_info(EVENTS, subjects_filter="ev.navegasoft.*.policy.applied")
    assert sum((info.state.subjects or {}).values()) == 1
