"""Running services in this process: one (`guardia run NAME`, as a container and each child of
`guardia up` does, supervisor.py), or several at once (the end-to-end tests).

Shutdown is graceful on Ctrl-C and SIGTERM: the HTTP gateway stops taking requests, each service
stops pulling and finishes the message in hand (fetched-but-unstarted ones stay unacked and are
redelivered).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import uvicorn
from starlette.applications import Starlette

from guardia.bus.runtime import ServiceRuntime
from guardia.health import health_app
from guardia.policy import Policies
from guardia.policy_applied import record_on_connect
from guardia.settings import Settings

log = structlog.get_logger("guardia.runner")

SERVICES = ("intake", "triage", "sla_watch", "escalation", "notify")


@dataclass
class Running:
    """Everything started in this process, so tests and the demo can reach inside."""

    settings: Settings
    services: dict[str, ServiceRuntime] = field(default_factory=dict)
    http: _Server | None = None
    http_task: asyncio.Task[None] | None = None
    health: _Server | None = None  # /healthz and /readyz on settings.health_port (guardia/health.py)
    health_task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.settings.http_port}"


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops everything in order itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_service(name: str, settings: Settings, policies: Policies) -> tuple[ServiceRuntime, Starlette | None]:
    """The service's runtime and, for intake, its ASGI gateway.

    Each service is imported only when built: a container running one service does not pay for the
    others' imports (triage's scikit-learn alone is most of a second), which is restart time."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{name}.app")
    if name == "intake":
        from services.intake.gateway import create_gateway

        rt, state = module.build(settings, policies)
        record_on_connect(rt, policies)
        return rt, create_gateway(state, policies, settings)
    build: Callable[[Settings, Policies], ServiceRuntime] = module.build
    rt = build(settings, policies)
    record_on_connect(rt, policies)  # policy.applied: the policies it starts with, when new
    return rt, None


async def _serve_http(app: Starlette, host: str, port: int) -> tuple[_Server, asyncio.Task[None]]:
    """Serve `app` until told to stop; returns once it listens (or raises "address already in use")."""
    # log_config=None: uvicorn's loggers propagate to the root handler, whose formatter masks personal
    # data (logs.py), instead of to handlers of uvicorn's own that would not
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                    log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task


async def _stop_http(server: _Server | None, task: asyncio.Task[None] | None) -> None:
    if server is not None and task is not None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task


@contextlib.asynccontextmanager
async def running(names: tuple[str, ...], settings: Settings) -> AsyncIterator[Running]:
    """Start the named services (and intake's gateway) against settings.nats_url; stop them on exit.

    With `health_port`, /healthz and /readyz of these services listen first, so a probe sees the
    process alive (and not ready) while a service is still starting (triage trains its model)."""
    policies = Policies.load(settings.policy_dir)
    state = Running(settings)
    runtimes: list[ServiceRuntime] = []
    try:
        if settings.health_port:
            state.health, state.health_task = await _serve_http(health_app(runtimes), settings.http_host,
                                                                settings.health_port)
            log.info("health_listening", url=f"http://{settings.http_host}:{settings.health_port}/readyz")
        for name in names:
            rt, asgi = build_service(name, settings, policies)
            runtimes.append(rt)
            await rt.start()
            state.services[name] = rt
            if asgi is not None:
                state.http, state.http_task = await _serve_http(asgi, settings.http_host, settings.http_port)
                log.info("gateway_listening", url=state.base_url)
        yield state
    finally:
        await _stop_http(state.http, state.http_task)
        await _stop_http(state.health, state.health_task)
        for name in reversed(list(state.services)):
            with contextlib.suppress(Exception):
                await state.services[name].stop()


async def serve_until_signalled(names: tuple[str, ...], settings: Settings, grace: float = 2.0) -> None:
    """`guardia run`: serve until SIGINT/SIGTERM against settings.nats_url.

    A signal that comes while the service is still starting (training a model, or connecting to a NATS
    that is gone) stops the start after `grace` seconds, instead of waiting for it to finish."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = asyncio.Event()

    async def serve() -> None:
        async with running(names, settings):
            started.set()
            await stop.wait()
            log.info("shutting_down")

    serving = asyncio.create_task(serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not serving.done() and not started.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(started.wait()), timeout=grace)
        if not started.is_set():
            log.info("stopped_while_starting")
            serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving


def url_file(settings: Settings) -> Path:
    """Where `guardia up` leaves its embedded server's URL for the other commands to find."""
    return settings.data_dir / "nats.url"


def resolve_nats_url(settings: Settings) -> str:
    """NATS_URL, else the URL of a running `guardia up` on this data folder."""
    if settings.nats_url:
        return settings.nats_url
    path = url_file(settings)  # left by a running `guardia up`
    if path.exists():
        return path.read_text().strip()
    raise RuntimeError(
        f"no NATS_URL and no running `guardia up` found ({path} missing): set NATS_URL or start guardia"
    )
