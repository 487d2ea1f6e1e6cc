"""The pace and the breaker around every transport (no provider needed: a transport that records)."""

from __future__ import annotations

import asyncio
import time

from services.notify.transports.base import Outcome, Outgoing, Reason
from services.notify.transports.guard import COOL_DOWN, FAILURES, Breaker, Guarded


class Recording:
    """A transport that answers what it is told and remembers when it was called."""

    def __init__(self, name: str, answers: list[Outcome] | None = None) -> None:
        self._name = name
        self.answers = answers or []
        self.calls: list[tuple[str, float]] = []

    @property
    def name(self) -> str:
        return self._name

    async def send(self, message: Outgoing) -> Outcome:
        self.calls.append((message.to, time.monotonic()))
        return self.answers.pop(0) if self.answers else Outcome.ok(self._name, "id")

    async def aclose(self) -> None:
        return None


def message(to: str) -> Outgoing:
    return Outgoing(notification_id=f"n-{to}", channel="telegram", to=to, body="hola")


def down(name: str) -> Outcome:
    return Outcome.failed(name, Reason.provider_unavailable, "HTTP 503", retry=True)


async def test_a_provider_failing_again_and_again_is_left_alone_for_a_while() -> None:
    now = [1000.0]
    inner = Recording("whatsapp", [down("whatsapp")] * FAILURES)
    guarded = Guarded(inner, Breaker(clock=lambda: now[0]))
    for _ in range(FAILURES):
        assert not (await guarded.send(message("57300"))).accepted
    paused = await guarded.send(message("57301"))
    assert len(inner.calls) == FAILURES  # the provider was not called again
    assert (paused.reason, paused.retry) == (Reason.provider_unavailable, True)
    assert paused.retry_after == COOL_DOWN
    now[0] += COOL_DOWN
    assert (await guarded.send(message("57301"))).accepted  # after the cool-down it is tried again
    assert len(inner.calls) == FAILURES + 1


async def test_a_refused_message_does_not_trip_the_breaker() -> None:
    blocked = Outcome.failed("telegram", Reason.blocked_by_user, "403")
    inner = Recording("telegram", [blocked] * (FAILURES + 2))
    guarded = Guarded(inner)
    for i in range(FAILURES + 2):
        await guarded.send(message(f"chat{i}"))
    assert len(inner.calls) == FAILURES + 2


async def test_a_wrong_token_pauses_the_provider_at_once() -> None:
    inner = Recording("sms", [Outcome.failed("sms", Reason.auth_failed, "20003")])
    guarded = Guarded(inner)
    await guarded.send(message("+573001234567"))
    paused = await guarded.send(message("+573001234568"))
    assert len(inner.calls) == 1 and paused.retry_after and paused.retry_after > COOL_DOWN


async def test_telegram_sends_one_message_a_second_to_a_chat_and_does_not_hold_other_chats() -> None:
    inner = Recording("telegram")
    guarded = Guarded(inner)
    await asyncio.gather(*(guarded.send(message(to)) for to in ("chat-a", "chat-a", "chat-b")))
    assert [to for to, _ in inner.calls] == ["chat-a", "chat-b", "chat-a"]  # chat-b did not queue behind chat-a
    assert inner.calls[2][1] - inner.calls[0][1] >= 0.9  # the same chat waited its turn
