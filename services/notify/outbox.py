"""The outbox transport: where notifications go when no real channel is configured.

Each delivered notification is one JSON line in `<data_dir>/outbox.jsonl` and one line on the
console. The file is its own idempotency record: every write happens under an exclusive lock after
reading what other writers appended since (several notify replicas on one host share the file), so a
notification redelivered to any replica, after any crash, is never written twice.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import structlog

from shared.schemas import NotificationRequested

log = structlog.get_logger("guardia.outbox")


class Outbox:
    name = "outbox"

    def __init__(self, path: Path, echo: bool = True) -> None:
        self.path = path
        self.echo = echo
        self._written: set[str] = set()
        self._offset = 0  # how far this process has read the file

    def _catch_up(self, fh: IO[bytes]) -> None:
        """Read the lines appended since we last looked (ours or another replica's)."""
        fh.seek(self._offset)
        chunk = fh.read()
        if chunk and not chunk.endswith(b"\n"):
            # A crash mid-write left a torn last line: close it so the next record starts clean.
            fh.write(b"\n")
            chunk += b"\n"
        self._offset += len(chunk)
        for line in chunk.splitlines():
            try:
                self._written.add(json.loads(line)["notification_id"])
            except (ValueError, KeyError, TypeError):
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
        with self.path.open("a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file is closed, or the process dies
            self._catch_up(fh)
            if n.notification_id in self._written:
                return False
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
            self._offset += len(line)
        self._written.add(n.notification_id)
        if self.echo:
            log.info("notification", kind=n.kind, channel=n.channel, to=n.to, subject=n.subject)
        return True
