"""Small event logs for the analytics tests, written as `guardia events --json` writes them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from shared.schemas import (
    Customer,
    Payload,
    SlaBreached,
    SlaMet,
    SlaStarted,
    SlaWarning,
    Standing,
    StatusChanged,
    Target,
    TicketClassified,
    TicketOpened,
    make_event,
)

NS = UUID("00000000-0000-0000-0000-00000000a12a")
VERSION = "001-2026.11"


def tid(name: str) -> UUID:
    """A stable ticket id per test name, so outputs repeat byte for byte."""
    return uuid5(NS, name)


class Log:
    """Events in storage order (the order `add` is called), whatever their `occurred_at`."""

    def __init__(self, tenant: str = "navegasoft") -> None:
        self.tenant = tenant
        self.lines: list[str] = []
        self.n = 0

    def add(self, payload: Payload, at: datetime, ticket: str | None = None, producer: str = "test") -> None:
        self.n += 1
        ev = make_event(payload, tenant=self.tenant, occurred_at=at, producer=producer,
                        ticket_id=tid(ticket) if ticket else None, event_id=uuid5(NS, f"event-{self.n}"))
        self.lines.append(json.dumps(json.loads(ev.to_json()), ensure_ascii=False))

    def raw(self, line: str) -> None:
        self.n += 1
        self.lines.append(line)

    def doc(self, doc: dict[str, Any]) -> None:
        self.raw(json.dumps(doc, ensure_ascii=False))

    def opened(self, ticket: str, at: datetime, number: str, channel: str = "email", email: str | None = None,
               name: str = "Ana Pérez", eligible: bool | None = True, reason: str = "active") -> None:
        standing = None if eligible is None else Standing(
            customer_id="c-1", matched_by="email", eligible=eligible, reason=reason,
            route_to=None if eligible else "area_comercial")
        self.add(TicketOpened(ticket_number=number, channel=channel,  # type: ignore[arg-type]
                              customer=Customer(name=name, email=email or f"{ticket}@cliente.co", company="ACME SAS"),
                              text="No puedo facturar", contact_id=f"ct-{ticket}", standing=standing),
                 at, ticket, "intake")

    def classified(self, ticket: str, at: datetime, type_: str | None, priority: str = "media",
                   area: str = "facturacion", categories: tuple[str, ...] = (), by: str = "triage") -> None:
        self.add(TicketClassified(ticket_type=type_, priority=priority, area=area,  # type: ignore[arg-type]
                                  categories=categories, confidence=0.9, classifier="rules-1",  # type: ignore[arg-type]
                                  by=by), at, ticket, "triage")  # type: ignore[arg-type]

    def status(self, ticket: str, at: datetime, status: str, by: str = "agente") -> None:
        self.add(StatusChanged(status=status, by=by), at, ticket, "intake")  # type: ignore[arg-type]

    def started(self, ticket: str, at: datetime, deadline: datetime, amount: float = 24,
                unit: str = "calendar_hours", type_: str = "problema", priority: str = "media") -> None:
        self.add(SlaStarted(deadline=deadline, policy_version=VERSION, started_at=at, ticket_type=type_,
                            priority=priority, target=Target(amount=amount, unit=unit)),  # type: ignore[arg-type]
                 at, ticket, "sla_watch")

    def warning(self, ticket: str, at: datetime, deadline: datetime, fraction: float) -> None:
        self.add(SlaWarning(deadline=deadline, policy_version=VERSION, fraction=fraction), at, ticket, "sla_watch")

    def breached(self, ticket: str, at: datetime) -> None:
        self.add(SlaBreached(deadline=at, policy_version=VERSION), at, ticket, "sla_watch")

    def met(self, ticket: str, at: datetime, deadline: datetime) -> None:
        self.add(SlaMet(deadline=deadline, policy_version=VERSION), at, ticket, "sla_watch")

    def write(self, path: Path) -> Path:
        path.write_text("".join(line + "\n" for line in self.lines), encoding="utf-8")
        return path
