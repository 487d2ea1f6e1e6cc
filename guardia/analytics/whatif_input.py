"""Where `guardia whatif` reads the recorded facts from: a `guardia events --json` dump or the live stream.

Both give the same thing: the stored envelopes as JSON objects, in stream order. They are not decoded
here: inputs are decoded later with `decode_event`, while recorded clock events and `policy.applied`
are kept as written, so a dump made by a newer build (a field this build does not know yet) can still be
compared field by field instead of being refused at the door.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Doc = dict[str, Any]


class InputError(ValueError):
    """An input that is not an event log, with the line at fault."""


def parse_lines(lines: Iterable[str], source: str = "input") -> list[Doc]:
    """One envelope per line, exactly what `guardia events --json` prints (`json.dumps` of each stored
    message). Blank lines are skipped; anything else that is not a JSON object with an `event_type`
    stops the read, because a silently skipped input would make the baseline check fail far from its cause."""
    docs: list[Doc] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}, line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("event_type"), str):
            raise InputError(f"{source}, line {number}: not an event envelope (no event_type)")
        docs.append(doc)
    return docs


def read_jsonl(path: Path) -> list[Doc]:
    try:
        with path.open(encoding="utf-8") as fh:
            return parse_lines(fh, str(path))
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc


async def read_stream(nats_url: str, tenant: str) -> list[Doc]:
    """The tenant's whole part of GUARDIA_EVENTS, oldest first (the reader `guardia events` uses).

    Windows are on event time (`occurred_at`), which intake backdates and late timers keep, so the
    stream is read from its start and filtered afterwards (analysts-notes §3)."""

    from guardia.bus.connection import connect
    from guardia.bus.topology import EVENTS
    from guardia.eventlog import read_stream as read_messages
    from guardia.settings import Settings

    nc = await connect(Settings(), nats_url)  # as the operator's NATS user when users are configured
    try:
        js = nc.jetstream()
        return [json.loads(m.data) async for m in read_messages(js, EVENTS, f"ev.{tenant}.>")]
    finally:
        await nc.close()
