"""Tenant policies: one YAML file per tenant, validated at start-up with errors that say where.

design.md invariant 5: ticket types, SLA targets, calendars and holidays, escalation matrix,
committee rule and message templates are data. Each service owns and validates its own section;
this module only composes them and finds the files.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardia.analytics.policy import ReportsPolicy
from services.escalation.policy import EscalationPolicy
from services.intake.policy import IntakePolicy
from services.notify.policy import NotifyPolicy
from services.notify.render import override_problems
from services.sla_watch.calendar import BusinessCalendar
from services.sla_watch.policy import CalendarPolicy, SlaPolicy
from services.triage.policy import TriagePolicy
from shared.schemas import Channel, TenantId

BUILTIN_DIR = Path(__file__).parent / "policies"


class ChannelPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    whatsapp_official: bool = Field(description="001 §2.3: if false, WhatsApp never counts for SLA.")

    def counts_for_sla(self, channel: Channel) -> bool:
        return channel is not Channel.whatsapp or self.whatsapp_official


class TenantPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant: TenantId
    name: str
    version: str = Field(description="Changes whenever the policy does; stamped on every clock event.")
    calendar: CalendarPolicy
    channels: ChannelPolicy
    intake: IntakePolicy
    triage: TriagePolicy = TriagePolicy()
    sla: SlaPolicy
    escalation: EscalationPolicy
    notify: NotifyPolicy
    reports: ReportsPolicy = ReportsPolicy()

    @cached_property
    def business_calendar(self) -> BusinessCalendar:
        return self.calendar.calendar()


class PolicyError(ValueError):
    """A policy file that cannot be used, with the file and the field paths at fault."""


def load_policy_file(path: Path) -> TenantPolicy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    raw.setdefault("version", hashlib.sha256(path.read_bytes()).hexdigest()[:12])
    try:
        policy = TenantPolicy.model_validate(raw)
        policy.business_calendar.holiday_name(date.today())  # builds the calendar, surfacing its errors
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)]
        raise PolicyError(f"{path}: invalid policy\n" + "\n".join(lines)) from exc
    except ValueError as exc:
        raise PolicyError(f"{path}: invalid policy: {exc}") from exc
    if path.stem != policy.tenant:
        raise PolicyError(f"{path}: file name must be the tenant id ({policy.tenant}.yaml)")
    return policy


class Policies:
    """All tenants' policies, the built-in ones first, then an operator's folder overriding them."""

    def __init__(self, policies: dict[str, TenantPolicy], templates: dict[str, Path] | None = None) -> None:
        self._by_tenant = policies
        self._templates = templates or {}

    @classmethod
    def load(cls, extra_dir: Path | None = None) -> Policies:
        found: dict[str, TenantPolicy] = {}
        templates: dict[str, Path] = {}
        for folder in (BUILTIN_DIR, extra_dir):
            if folder is None:
                continue
            if not folder.is_dir():
                raise PolicyError(f"{folder}: policy folder does not exist")
            for path in sorted(folder.glob("*.yaml")):
                policy = load_policy_file(path)
                found[policy.tenant] = policy
                own = folder / policy.tenant / "templates"
                if own.is_dir():
                    if problems := override_problems(own):
                        raise PolicyError(f"{own}: invalid message templates\n  " + "\n  ".join(problems))
                    templates[policy.tenant] = own
                else:
                    templates.pop(policy.tenant, None)
        return cls(found, templates)

    def __getitem__(self, tenant: str) -> TenantPolicy:
        try:
            return self._by_tenant[tenant]
        except KeyError:
            raise KeyError(f"no policy for tenant {tenant!r} (known: {', '.join(sorted(self._by_tenant))})") from None

    def __contains__(self, tenant: str) -> bool:
        return tenant in self._by_tenant

    def templates(self, tenant: str) -> Path | None:
        """The tenant's own message templates (`<policy folder>/<tenant>/templates/`), overriding the
        built-in ones by file name; None when it has none."""
        return self._templates.get(tenant)

    def tenants(self) -> list[str]:
        return sorted(self._by_tenant)
