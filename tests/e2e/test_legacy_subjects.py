"""An integration still publishing on the layout before partitions (`ev.<tenant>.<aggregate>.<event>`)
loses nothing: a valid event is published again where it belongs, anything else is dead-lettered."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from uuid import uuid4

from nats.js import JetStreamContext

from guardia.bus.topology import EVENTS
from guardia.runner import Running
from shared.schemas import Status, StatusChanged, make_event

from .helpers import dead_letters, events, eventually


async def test_an_event_on_the_old_subject_layout_is_moved_to_its_partition_and_a_bad_one_dead_lettered(
    guardia: Running, js: JetStreamContext
) -> None:
    ev = make_event(StatusChanged(status=Status.en_proceso, by="crm"), tenant="navegasoft",
                    occurred_at=datetime.now(UTC), producer="crm", ticket_id=uuid4())
    await js.publish("ev.navegasoft.ticket.status_changed", ev.to_json(), stream=EVENTS)
    await js.publish("ev.navegasoft.ticket.opened", b'{"event_id": "nope"}', stream=EVENTS)
    await js.publish("ev.wolk.ticket.status_changed", ev.to_json(), stream=EVENTS)  # another tenant's subject

    async def moved() -> list[dict[str, object]]:
        return [d for d in await events(js, subject=ev.subject) if d["event_id"] == str(ev.event_id)]

    assert len(await eventually(moved, what="the event on its partitioned subject")) == 1
    letters = await eventually(lambda: _at_least(js, 2), what="two dead letters")
    codes = sorted(d["data"]["reason_code"] for d in letters)
    assert codes == ["schema_violation", "subject_mismatch"]
    mismatch = next(d["data"] for d in letters if d["data"]["reason_code"] == "subject_mismatch")
    assert ev.subject in mismatch["reason"]  # says where it belongs
    assert json.loads(base64.b64decode(mismatch["raw_base64"]))["event_id"] == str(ev.event_id)  # raw bytes kept


async def _at_least(js: JetStreamContext, n: int) -> list[dict[str, object]]:
    found = await dead_letters(js)
    return found if len(found) >= n else []
