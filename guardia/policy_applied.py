"""Record the tenant policy each service starts with, as a `policy.applied` event (analysts-notes §4.3
item 7: "what was promised then" must be re-simulated after the policy changes).

Hooked by the entry point (runner.build_service) on every service's connect, not by the bus: the
platform knows nothing of policies. Idempotent across restarts and replicas:

- the KV bucket `policies_applied` holds, per service and tenant (each key written by its service
  only), the last content hash recorded and whether its event was published;
- a new hash is claimed there first with compare-and-swap (one replica wins), then published, then
  marked published; a replica or a restart that finds it claimed but not marked publishes the same
  event again: same instant, same deterministic id, so JetStream's dedup drops the copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from guardia.bus.runtime import ServiceRuntime
from guardia.bus.state import kv_key, read, write
from guardia.bus.topology import bucket
from guardia.policy import Policies, TenantPolicy
from shared.schemas import Event, PolicyApplied, make_event
from shared.schemas.ids import derived_id, stable_uuid

BUCKET = "policies_applied"


def policy_document(policy: TenantPolicy) -> dict[str, Any]:
    """The validated policy as JSON (defaults filled in): what a what-if loads again."""
    return policy.model_dump(mode="json")


def content_hash(policy: TenantPolicy) -> str:
    """sha256 hex of the canonical JSON (sorted keys, no spaces, UTF-8): equal content, equal hash,
    whatever the YAML's layout or comments."""
    canonical = json.dumps(policy_document(policy), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def applied_event(service: str, policy: TenantPolicy, digest: str, at: datetime) -> Event:
    """The event, a pure function of (service, tenant, hash, claim instant): every replica builds the
    same one. Tenant-level: no ticket; its correlation id (the partition key) is the tenant's."""
    payload = PolicyApplied.model_validate({"service": service, "version": policy.version,
                                            "content_hash": digest, "policy": policy_document(policy)})
    return make_event(payload, tenant=policy.tenant, occurred_at=at, producer=service,
                      correlation_id=stable_uuid("policy.applied", policy.tenant),
                      event_id=derived_id(at, "policy.applied", service, policy.tenant, digest))


async def record_one(rt: ServiceRuntime, kv: KeyValue, policy: TenantPolicy, now: datetime | None = None
                     ) -> Event | None:
    """Publish `policy.applied` for this service and tenant if its content is new; None if not."""
    digest = content_hash(policy)
    key = kv_key(rt.name, policy.tenant)
    for _ in range(20):
        entry = await read(kv, key)
        known = entry.value or {}
        if known.get("hash") == digest and known.get("published"):
            return None
        claimed = known.get("hash") == digest  # by an earlier run or a replica, not yet marked published
        record: dict[str, Any] = dict(known) if claimed else {
            "hash": digest, "version": policy.version, "at": (now or datetime.now(UTC)).isoformat(),
            "published": False}
        revision = entry.revision
        if not claimed:
            try:
                revision = await write(kv, key, record, entry.revision)
            except KeyWrongLastSequenceError:
                continue  # another replica claimed it first: read its claim
        ev = applied_event(rt.name, policy, digest, datetime.fromisoformat(record["at"]))
        await rt.publish([ev])
        # another replica may have marked it (or claimed a newer one): the event is out either way
        with contextlib.suppress(KeyWrongLastSequenceError):
            await write(kv, key, {**record, "published": True}, revision)
        return ev
    raise RuntimeError(f"{rt.name}: policy record of {policy.tenant}: too much contention")


async def record_policies(rt: ServiceRuntime, policies: Policies, now: datetime | None = None) -> list[Event]:
    """Every tenant's policy this service starts with; returns the events published (new content only)."""
    kv = await bucket(rt.js, BUCKET, rt.settings.nats_replicas)
    out = []
    for tenant in policies.tenants():
        ev = await record_one(rt, kv, policies[tenant], now)
        if ev is not None:
            rt.log.info("policy_applied", tenant=tenant, version=policies[tenant].version,
                        content_hash=ev.payload.content_hash if isinstance(ev.payload, PolicyApplied) else "")
            out.append(ev)
    return out


def record_on_connect(rt: ServiceRuntime, policies: Policies) -> None:
    """Record the service's policies each time it connects (before its consumers start)."""

    async def hook() -> None:
        await record_policies(rt, policies)

    rt.on_connect(hook)
