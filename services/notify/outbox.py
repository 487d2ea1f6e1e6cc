"""The outbox transport: where notifications go when no real channel is configured.

Each delivered notification is one JSON line in `<data_dir>/outbox.jsonl` and one line on the
console. The file is its own idempotency record: the ids already written are loaded at start, so a
redelivered notification is never written twice.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from shared.schemas import NotificationRequested

log = structlog.get_logger("guardia.outbox")


class Outbox:
    name = "outbox"

    def __init__(self, path: Path, echo: bool = True) -> None:
        self.path = path
        self.echo = echo
        self._written: set[str] = set()
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            if text and not text.endswith("\n"):
                # A crash mid-write left a torn last line: close it so the next record starts clean.
                with path.open("a", encoding="utf-8") as fh:
                    fh.write("\n")
            for line in text.splitlines():
                try:
                    self._written.add(json.loads(line)["notification_id"])
                except (ValueError, KeyError):
                    continue

    def deliver(self, tenant: str, ticket_id: str | None, n: NotificationRequested) -> bool:
        """Append the notification; False if it was already there (a redelivery)."""
        if n.notification_id in self._written:
            return False
        record: dict[str, Any] = {
            "notification_id": n.notification_id, "tenant": tenant, "ticket_id": ticket_id, "kind": n.kind,
            "audience": n.audience, "channel": n.channel, "to": n.to, "subject": n.subject, "body": n.body,
            "written_at": datetime.now(UTC).isoformat(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._written.add(n.notification_id)
        if self.echo:
            log.info("notification", kind=n.kind, channel=n.channel, to=n.to, subject=n.subject)
        return True
