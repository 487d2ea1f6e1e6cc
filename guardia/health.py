"""Liveness and readiness over HTTP: `/healthz` and `/readyz`, for orchestrators and compose; and
`/metrics` for Prometheus (guardia/metrics.py).

- `/healthz` (alive): the process answers, its event loop turns. 200 whatever NATS does: restarting a
  service because NATS is away would not bring NATS back, and a running service reconnects by itself.
- `/readyz` (ready to do its work): NATS is reachable, the streams exist, and every durable consumer
  the service reads is on the server and being pulled by this process. Otherwise 503 with what is
  missing, e.g. `{"nats": true, "missing": {"streams": ["GUARDIA_DLQ"], "consumers": [...]}}`.

The gateway (intake) serves both on its own port; each service process serves them on
`GUARDIA_HEALTH_PORT` when it is set (0, the default, serves nothing: several processes on one
machine, as `guardia up` and the tests run them, would fight over one port).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nats.js.errors import NotFoundError
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from guardia import metrics
from guardia.bus.runtime import ServiceRuntime
from guardia.bus.topology import STREAMS

#: Each NATS request of a readiness check gives up after this long: a probe must answer in time.
CHECK_TIMEOUT = 2.0
#: The JetStream API lists at most this many consumers per page.
PAGE = 256


@dataclass
class Readiness:
    """What a readiness check found missing (nothing missing: ready)."""

    services: list[str]
    nats: bool = True
    streams: list[str] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)
    not_pulling: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.nats and not (self.streams or self.consumers or self.not_pulling or self.errors)

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"status": "ready" if self.ready else "not_ready", "services": self.services,
                               "nats": self.nats}
        missing = {k: v for k, v in (("streams", self.streams), ("consumers", self.consumers),
                                     ("pulling", self.not_pulling), ("errors", self.errors)) if v}
        if missing:
            doc["missing"] = missing
        return doc


async def _durables(rt: ServiceRuntime, stream: str) -> set[str]:
    """Names of the durable consumers on `stream` (every page)."""
    names: set[str] = set()
    offset = 0
    while True:
        page = await asyncio.wait_for(rt.js.consumers_info(stream, offset=offset), CHECK_TIMEOUT)
        names.update(info.name for info in page)
        if len(page) < PAGE:
            return names
        offset += len(page)


async def check(runtimes: Sequence[ServiceRuntime]) -> Readiness:
    """Whether these services can do their work now, and if not, why."""
    found = Readiness(services=[rt.name for rt in runtimes])
    if not runtimes or not all(rt.connected for rt in runtimes):
        found.nats = False
        return found
    wanted_streams = {spec.name for spec in STREAMS}
    for rt in runtimes:
        wanted_streams.update(stream for stream, _ in rt.consumer_configs())
        if not rt.pulling:
            found.not_pulling.append(rt.name)
    js_owner = runtimes[0]
    try:
        for stream in sorted(wanted_streams):
            try:
                await asyncio.wait_for(js_owner.js.stream_info(stream), CHECK_TIMEOUT)
            except NotFoundError:
                found.streams.append(stream)
        for rt in runtimes:
            by_stream: dict[str, set[str]] = {}
            for stream, config in rt.consumer_configs():
                durable = config.durable_name or ""
                if stream in found.streams:
                    found.consumers.append(f"{stream}/{durable}")
                    continue
                if stream not in by_stream:
                    by_stream[stream] = await _durables(rt, stream)
                if durable not in by_stream[stream]:
                    found.consumers.append(f"{stream}/{durable}")
    except (TimeoutError, OSError) as exc:  # NATS went away mid-check, or does not answer in time
        found.errors.append(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    except Exception as exc:  # a JetStream API error: report it, never crash the probe
        found.errors.append(f"{type(exc).__name__}: {exc}")
    found.nats = all(rt.connected for rt in runtimes)
    return found


def health_routes(runtimes: Sequence[ServiceRuntime]) -> list[Route]:
    """`GET /healthz`, `GET /readyz` and `GET /metrics` for the services of this process."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive", "services": [rt.name for rt in runtimes],
                             "nats": all(rt.connected for rt in runtimes)})

    async def readyz(request: Request) -> JSONResponse:
        found = await check(runtimes)
        return JSONResponse(found.as_json(), status_code=200 if found.ready else 503)

    async def prometheus(request: Request) -> Response:
        return Response(await metrics.exposition(runtimes), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"])]


def health_app(runtimes: Sequence[ServiceRuntime]) -> Starlette:
    """The tiny HTTP server a service process runs on GUARDIA_HEALTH_PORT."""
    return Starlette(routes=health_routes(runtimes))
