"""`guardia up`: every service in its own process, as the containers run them, on one machine.

One Python process runs on one core at a time; five services and the gateway in one process left the
second core to nats-server alone (README "Benchmarks" has the profile). So `guardia up` starts the
embedded nats-server (without NATS_URL), hands an older event log over (`guardia migrate`), then runs
`guardia run <service>` for each service and supervises them like an orchestrator would: a child that
dies is started again, and its unacknowledged messages are redone after the ack wait. Ctrl-C or
SIGTERM stops the children gracefully (each finishes the message in hand), then nats-server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from guardia.embedded import EmbeddedNats, die_with_parent
from guardia.runner import SERVICES, url_file
from guardia.settings import Settings
from guardia.tokens import client_token

log = structlog.get_logger("guardia.up")

RESTART_DELAY = 1.0
STOP_TIMEOUT = 20.0


@dataclass
class Up:
    """What a started `guardia up` offers the demo: where the gateway and NATS are."""

    settings: Settings
    token: str | None = None  # what the demo sends: the local token (embedded), else the CLI's (tokens.py)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.settings.http_host in ("0.0.0.0", "::") else self.settings.http_host
        return f"http://{host}:{self.settings.http_port}"


class Child:
    """One `guardia run <service>` process."""

    def __init__(self, service: str, env: dict[str, str]) -> None:
        self.service = service
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        command = [sys.executable, "-m", "guardia.cli", "run", self.service]
        self.process = subprocess.Popen(command, env=self.env, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)

    @property
    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def serve(settings: Settings, after_start: Callable[[Up], Coroutine[Any, Any, None]] | None = None) -> None:
    """Run until SIGINT/SIGTERM: embedded nats-server (without NATS_URL), then one process per service."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedNats | None = None
    if settings.nats_url is None:
        embedded = EmbeddedNats(settings.data_dir / "nats", port=settings.embedded_nats_port,
                                memory_limit=settings.embedded_nats_memory_limit).start()
        settings = settings.model_copy(update={"nats_url": embedded.url})
        url_file(settings).write_text(embedded.url)
    children: list[Child] = []
    demo: asyncio.Task[None] | None = None
    try:
        from guardia.migrate import migrate

        drained = {k: v for k, v in (await migrate(settings)).items() if v is not None}
        if drained:
            log.info("migrated_to_partitions", handled=drained)
        token = await _local_token(settings) if embedded is not None else client_token(settings)
        env = {**os.environ, "NATS_URL": settings.nats_url or "", "GUARDIA_DATA_DIR": str(settings.data_dir),
               "GUARDIA_HTTP_HOST": settings.http_host, "GUARDIA_HTTP_PORT": str(settings.http_port),
               "GUARDIA_HEALTH_PORT": "0"}  # five processes cannot share one health port; `up` watches them itself
        children = [Child(name, env) for name in SERVICES]
        for child in children:
            child.start()
        up = Up(settings, token)
        await _ready(up, children, stop)
        if not stop.is_set():
            log.info("guardia_up", gateway=up.base_url, nats=settings.nats_url, processes=len(children))
            if after_start is not None:
                demo = asyncio.create_task(after_start(up))
        while not stop.is_set():
            for child in children:
                code = child.exited
                if code is not None:
                    child.restarts += 1
                    log.warning("service_exited_restarting", service=child.service, code=code,
                                restarts=child.restarts)
                    await asyncio.sleep(RESTART_DELAY)
                    child.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
        log.info("shutting_down")
    finally:
        if demo is not None:
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await demo
        for child in children:
            child.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in children:
            await asyncio.to_thread(child.wait, deadline - time.monotonic())
        if embedded is not None:
            embedded.stop()
            url_file(settings).unlink(missing_ok=True)


async def _local_token(settings: Settings) -> str:
    """The embedded default's `agent` token, so the demo and curl work with no set-up: printed on stdout
    for the person at the terminal, never logged (logs travel further than a terminal)."""
    import nats

    from guardia.tokens import ensure_local_token, local_token_path

    nc = await nats.connect(settings.nats_url or "")
    try:
        token = await ensure_local_token(nc.jetstream(), settings)
    finally:
        await nc.close()
    path = local_token_path(settings)
    print(f"API token (role agent, name 'local'): {token}\n"
          f"  saved in {path}; `guardia demo` and the other client commands send it.\n"
          f"  curl ... -H \"Authorization: Bearer $(cat {path})\"", flush=True)
    return token


async def _ready(up: Up, children: list[Child], stop: asyncio.Event, within: float = 120.0) -> None:
    """The gateway is ready (NATS, streams, intake's consumers) and every service keeps its heartbeat
    (or we are asked to stop)."""
    deadline = time.monotonic() + within
    beats = [up.settings.data_dir / f"{c.service}.alive" for c in children]
    async with httpx.AsyncClient(timeout=2) as http:
        while not stop.is_set() and time.monotonic() < deadline:
            for child in children:
                if child.exited is not None:
                    raise RuntimeError(f"{child.service} exited with {child.exited} while starting")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{up.base_url}/readyz")).status_code == 200 and all(b.exists() for b in beats):
                    return
            await asyncio.sleep(0.2)
    if not stop.is_set():
        raise RuntimeError(f"guardia did not become ready within {within:.0f} s")
