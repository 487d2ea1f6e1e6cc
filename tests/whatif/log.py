"""A small recorded event log for the what-if tests, made the way the live pipeline makes it.

Inputs are real envelopes (make_event). The clock events are what sla_watch would have written under
the policy in force: this module drives services/sla_watch's rules itself from hand-written timeline
lines (not through the what-if's adapter), up to the log's last instant, as live timers would have fired.

Navegasoft (001), America/Bogota, Mon-Fri 08:00-18:00; the window is the week of Mon 2026-11-09 (Mon
2026-11-16 is a national holiday, Cartagena's independence moved to Monday).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import yaml

from guardia.policy import Policies, TenantPolicy, load_policy_file
from services.sla_watch.engine import Engine
from services.sla_watch.rules import SlaRules
from services.sla_watch.simulate import TimelineLine, parse_timeline, run_ticket
from shared.schemas import (
    Customer,
    MessageAdded,
    Payload,
    StatusChanged,
    TicketClassified,
    TicketOpened,
    make_event,
)
from shared.schemas.vocabulary import Area, Channel, Priority, Status, TicketType

BUILTIN = Path(__file__).resolve().parents[2] / "guardia" / "policies"
TENANT = "navegasoft"
NS = UUID("00000000-0000-0000-0000-000000000001")
LAST = "2026-11-20T09:00:00-05:00"  # a ticket opened after the window: the log goes on to here


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def policy_yaml(change: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((BUILTIN / f"{TENANT}.yaml").read_text(encoding="utf-8"))
    if change is not None:
        change(doc)
    return doc


def write_policy(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def load_named(path: Path) -> TenantPolicy:
    """A policy file under the tenant's name (load_policy_file's rule), for generating the log."""
    target = path.with_name(f"{TENANT}.yaml") if path.name != f"{TENANT}.yaml" else path
    if target != path:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return load_policy_file(target)


@dataclass
class Log:
    docs: list[dict[str, Any]] = field(default_factory=list)
    ids: dict[str, UUID] = field(default_factory=dict)
    timeline: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def _add(self, number: str, when: str, payload: Payload, line: dict[str, Any]) -> None:
        event = make_event(payload, tenant=TENANT, occurred_at=at(when), producer="test",
                           ticket_id=self.ids[number], correlation_id=self.ids[number])
        self.docs.append(event.envelope.model_dump(mode="json"))
        self.timeline[number].append({"ticket_id": number, "at": when, **line})

    def opened(self, number: str, when: str, channel: str = "email") -> None:
        self.ids[number] = uuid5(NS, number)
        self.timeline[number] = []
        self._add(number, when, TicketOpened(
            ticket_number=number, channel=Channel(channel), customer=Customer(email=f"{number.lower()}@example.com"),
            text="no me deja firmar", contact_id=f"contact-{number}",
        ), {"type": "opened", "channel": channel})

    def classified(self, number: str, when: str, ticket_type: str, priority: str = "media") -> None:
        self._add(number, when, TicketClassified(
            ticket_type=TicketType(ticket_type), priority=Priority(priority), area=Area.otro, confidence=0.9,
            classifier="test",
        ), {"type": "classified", "ticket_type": ticket_type, "priority": priority})

    def status(self, number: str, when: str, status: str) -> None:
        self._add(number, when, StatusChanged(status=Status(status), by="agente"), {"type": "status", "status": status})

    def customer_message(self, number: str, when: str) -> None:
        self._add(number, when, MessageAdded(author="customer", channel=Channel.email, text="ya le envío el dato"),
                  {"type": "message", "author": "customer"})

    def record_clocks(self, policy: TenantPolicy, until: str = LAST) -> None:
        """What sla_watch would have written under `policy`, every timer fired by `until`."""
        rules = SlaRules(policy.sla, Engine(policy.business_calendar), policy.channels.whatsapp_official,
                         policy.version)
        for number, lines in self.timeline.items():
            timeline: list[TimelineLine] = parse_timeline(json.dumps(x) for x in lines)
            for _, e in run_ticket(rules, rules.engine, timeline, at(until)).emitted:
                event = make_event(e.payload, tenant=TENANT, occurred_at=e.at, producer="sla_watch",
                                   ticket_id=self.ids[number], correlation_id=self.ids[number])
                self.docs.append(event.envelope.model_dump(mode="json"))
        self.docs.sort(key=lambda d: at(d["occurred_at"]))  # stream order: stable, inputs before their effects

    def dump(self, path: Path) -> Path:
        """Exactly what `guardia events --json` prints: one json.dumps of each stored envelope per line."""
        path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in self.docs), encoding="utf-8")
        return path


def week(policy: TenantPolicy | None = None) -> Log:
    """Seven tickets of 001 in the week of 2026-11-09, plus one after it.

    NS-1 problema, resolved after 16 h          NS-5 solicitud (3 business days), opened Thu, still open
    NS-2 problema, resolved after 5 h           NS-6 problema, 6 h, waits 24 h on the customer, 10 h more
    NS-3 pregunta, resolved after 24 h          NS-7 problema by WhatsApp (not official: no clock, 001 §2.3)
    NS-4 problema alta, never resolved          NS-8 opened 2026-11-20, outside the window
    """
    log = Log()
    log.opened("NS-1", "2026-11-10T09:00:00-05:00")
    log.classified("NS-1", "2026-11-10T09:00:00-05:00", "problema")
    log.status("NS-1", "2026-11-10T09:30:00-05:00", "en_proceso")
    log.status("NS-1", "2026-11-11T01:00:00-05:00", "resuelto")
    log.opened("NS-2", "2026-11-10T10:00:00-05:00")
    log.classified("NS-2", "2026-11-10T10:00:00-05:00", "problema")
    log.status("NS-2", "2026-11-10T15:00:00-05:00", "resuelto")
    log.opened("NS-3", "2026-11-10T11:00:00-05:00")
    log.classified("NS-3", "2026-11-10T11:00:00-05:00", "pregunta")
    log.status("NS-3", "2026-11-11T11:00:00-05:00", "resuelto")
    log.opened("NS-4", "2026-11-10T12:00:00-05:00")
    log.classified("NS-4", "2026-11-10T12:00:00-05:00", "problema", "alta")
    log.opened("NS-5", "2026-11-12T10:00:00-05:00")
    log.classified("NS-5", "2026-11-12T10:00:00-05:00", "solicitud")
    log.opened("NS-6", "2026-11-10T14:00:00-05:00")
    log.classified("NS-6", "2026-11-10T14:00:00-05:00", "problema")
    log.status("NS-6", "2026-11-10T14:30:00-05:00", "en_proceso")
    log.status("NS-6", "2026-11-10T20:00:00-05:00", "en_proceso_del_solicitante")
    log.customer_message("NS-6", "2026-11-11T20:00:00-05:00")
    log.status("NS-6", "2026-11-12T06:00:00-05:00", "resuelto")
    log.opened("NS-7", "2026-11-10T16:00:00-05:00", channel="whatsapp")
    log.classified("NS-7", "2026-11-10T16:00:00-05:00", "problema")
    log.opened("NS-8", LAST)
    log.record_clocks(policy or Policies.load()[TENANT])
    return log
