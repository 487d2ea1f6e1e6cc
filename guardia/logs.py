"""structlog set-up: console for people, JSON lines for containers, no personal data by default.

Every line goes through `mask_personal_data` (guardia/pii.py says what it masks and why) unless
`GUARDIA_LOG_PII=true` asks for the raw values, for local debugging only. The standard library's
loggers (uvicorn, nats-py, APScheduler, anything a dependency logs) are routed through the same
processors by a `ProcessorFormatter` on the root handler, so a uvicorn access line with a phone in
its query string is masked like guardia's own lines, and rendered in the same format. (The gateway's
uvicorn runs with `log_config=None`, so its loggers propagate here instead of to handlers of its own.)
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from guardia.pii import is_sensitive, is_version, mask_value, masked

#: The root handler `configure` installs; replaced, never stacked, when `configure` runs again.
_HANDLER_NAME = "guardia"


def mask_personal_data(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: sensitive keys masked whole, every other value scanned for personal data.
    Keys starting with `_` are structlog's own bookkeeping (the stdlib record), not output."""
    return {key: value if key.startswith("_") or is_version(key, value)
            else masked(value) if is_sensitive(key) else mask_value(value)
            for key, value in event_dict.items()}


def processors(show_pii: bool = False) -> list[Processor]:
    """What every line goes through before it is rendered. Tracebacks are rendered to text first, so
    the masking sees them too (a validation error quotes the input it refused)."""
    chain: list[Processor] = [structlog.processors.add_log_level,
                              structlog.processors.TimeStamper(fmt="iso", utc=True)]
    if not show_pii:
        chain += [structlog.processors.format_exc_info, mask_personal_data]
    return chain


def configure(fmt: str = "console", level: str = "INFO", show_pii: bool = False,
              stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's root logger (stderr unless `stream`)."""
    renderer: Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *processors(show_pii), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream) if stream is not None else structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *processors(show_pii)],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
