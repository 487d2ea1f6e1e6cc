"""Crash points for fault-injection tests: `kill -9` of this very process at a named instant.

An outside killer cannot aim at "right after the fetch, before the handler ran" or "after the events
were published, before the state was committed"; those are the instants where a lost or doubled
effect would hide. `GUARDIA_CRASH_POINTS="after_fetch=0.02,after_publish=0.02"` makes the runtime
SIGKILL itself at those points with that probability. Unset (the default and in production), every
point is a dictionary lookup that finds nothing. `GUARDIA_CRASH_ONCE=<file>` makes the first crash
the only one, across restarts: the file is created just before dying, and a point that finds it passes
(a test that needs "die once right here, then run normally").
"""

from __future__ import annotations

import os
import random
import signal

POINTS = ("after_fetch", "after_publish", "after_commit", "before_ack", "after_claim", "after_open",
          "before_send", "after_send")


def parse(spec: str | None) -> dict[str, float]:
    """`name=probability,...` -> {name: probability}; an unknown name or a bad number is an error."""
    found: dict[str, float] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in POINTS:
            raise ValueError(f"GUARDIA_CRASH_POINTS: unknown point {name!r}; one of {', '.join(POINTS)}")
        try:
            probability = float(value)
        except ValueError:
            raise ValueError(f"GUARDIA_CRASH_POINTS: {name}={value!r} is not a probability") from None
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"GUARDIA_CRASH_POINTS: {name}={probability} is not between 0 and 1")
        found[name] = probability
    return found


_ARMED = parse(os.environ.get("GUARDIA_CRASH_POINTS"))
_ONCE = os.environ.get("GUARDIA_CRASH_ONCE")


def point(name: str) -> None:
    """Die here, as `kill -9` would, with the configured probability."""
    probability = _ARMED.get(name)
    if probability and random.random() < probability:
        if _ONCE:
            try:
                with open(_ONCE, "x"):
                    pass
            except FileExistsError:
                return  # crashed once already
        os.kill(os.getpid(), signal.SIGKILL)
