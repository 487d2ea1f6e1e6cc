"""Reading the streams back: the event log and the dead letters, for people and tools."""

from __future__ import annotations

from collections.abc import AsyncIterator

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError


async def read_stream(
    js: JetStreamContext, stream: str, subject: str, follow: bool = False, idle: float = 1.0
) -> AsyncIterator[Msg]:
    """Every message of `stream` on `subject` from the start; then, if `follow`, new ones as they come."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return
    if info.state.messages == 0 and not follow:
        return
    sub = await js.subscribe(subject, stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=idle)
            except TimeoutError:
                if follow:
                    continue
                # nothing more on this subject up to the stream's end
                return
            yield msg
            if not follow and msg.metadata.num_pending == 0:
                return
    finally:
        await sub.unsubscribe()
