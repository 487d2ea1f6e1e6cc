"""The tenant policy in force (design.md invariant 5: policies are data), recorded as it is applied.

Analysts re-simulate "what was promised then" after the policy changed (analysts-notes §4.3 item 7):
every clock event names its `policy_version`, and this event keeps that version's whole content.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from .base import Payload, event


@event
class PolicyApplied(Payload):
    """A service started with a tenant policy whose content differs from the last one it recorded.

    A tenant-level event (no ticket): it is partitioned by the tenant, so one tenant's policy
    changes keep their order. Published once per (service, tenant, content): restarts and
    replicas of a service with the same policy publish nothing new."""

    # `version` on the wire is the policy's version; the class var `version` is the schema's, so the
    # field is named apart and travels under its alias both ways
    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True,
                              validate_by_alias=True)

    event_type = "policy.applied"
    version = 1

    service: str = Field(min_length=1, description="The service that applied it (intake, triage, sla_watch...).")
    version_label: str = Field(alias="version", min_length=1,
                               description="TenantPolicy.version: what every clock event's policy_version names.")
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$",
                              description="sha256 hex of the canonical JSON of `policy` (sorted keys, no spaces).")
    policy: dict[str, Any] = Field(description="The validated tenant policy as JSON, enough to re-simulate it.")
