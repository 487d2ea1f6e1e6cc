"""Around every transport: the provider's pace, and a breaker for a provider that keeps failing.

- **Pace.** Providers refuse more than so many messages a second, overall and to one recipient
  (notify-facts.md §1-5): WhatsApp 80/s per number, Telegram ~30/s per bot and 1/s per chat, Slack 1/s per
  webhook. A send waits for its turn (aiolimiter's leaky bucket) instead of earning a 429. The budget is
  per process: with several notify replicas each keeps its own, and the provider's 429 (honoured, with
  its Retry-After) is the backstop.
- **Breaker.** After `FAILURES` failures in a row that say the provider itself is unwell (down, 5xx,
  timeouts) the provider is not called for `COOL_DOWN` seconds; a wrong token opens it for longer. Sends in
  that time fail at once as `provider_unavailable` with the time left as `retry_after`, so each message
  waits in its retry schedule instead of spending its attempts on a provider that cannot answer, and the
  other channels go on. Why hand-written: thirty lines, with the clock injectable for tests, against a
  dependency whose asyncio flavour (aiobreaker) is unmaintained since 2021.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

from .base import Outcome, Outgoing, Reason, Transport

FAILURES = 5
COOL_DOWN = 30.0
COOL_DOWN_AUTH = 300.0  # a wrong or expired token will not fix itself in seconds
MAX_RECIPIENTS = 10_000

#: transport name -> (messages per second overall, per recipient); None: no limit of that kind
PACE: dict[str, tuple[float | None, float | None]] = {
    "whatsapp": (80.0, None), "telegram": (30.0, 1.0), "sms": (10.0, None), "email": (20.0, None),
    "webhook": (1.0, None),
}


@dataclass
class Breaker:
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    open_until: float = 0.0

    def remaining(self) -> float:
        return max(0.0, self.open_until - self.clock())

    def record(self, outcome: Outcome) -> None:
        if outcome.accepted or outcome.reason not in (Reason.provider_unavailable, Reason.auth_failed):
            self.failures = 0  # the provider answered: a refusal of one message says nothing of the rest
            return
        self.failures += 1
        if outcome.reason is Reason.auth_failed:
            self.open_until = self.clock() + COOL_DOWN_AUTH
        elif self.failures >= FAILURES:
            self.open_until = self.clock() + COOL_DOWN


@dataclass
class Guarded:
    """A transport behind its provider's pace and a breaker; the same interface."""

    inner: Transport
    breaker: Breaker = field(default_factory=Breaker)
    _overall: AsyncLimiter | None = None
    _per_recipient: dict[str, AsyncLimiter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        overall, _ = PACE.get(self.inner.name, (None, None))
        self._overall = AsyncLimiter(overall, 1.0) if overall else None

    @property
    def name(self) -> str:
        return self.inner.name

    async def send(self, message: Outgoing) -> Outcome:
        if (wait := self.breaker.remaining()) > 0:
            return Outcome.failed(self.name, Reason.provider_unavailable,
                                  f"{self.name} paused after repeated failures; calls resume in {wait:.0f} s",
                                  retry=True, retry_after=wait)
        _, per_recipient = PACE.get(self.name, (None, None))
        if per_recipient:
            if len(self._per_recipient) > MAX_RECIPIENTS:
                self._per_recipient.clear()  # a recipient's bucket only matters for its last second or so
            limiter = self._per_recipient.setdefault(message.to, AsyncLimiter(1, 1.0 / per_recipient))
            await limiter.acquire()
        if self._overall is not None:
            await self._overall.acquire()
        outcome = await self.inner.send(message)
        self.breaker.record(outcome)
        return outcome

    async def aclose(self) -> None:
        await self.inner.aclose()
