"""What one NATS round trip costs on this machine, in CPU of the client and of nats-server.

    .venv/bin/python bench/roundtrip.py [--n 3000]

Why it exists: the pipeline benchmark (bench/pipeline.py) reports about 50 ms of CPU per contact over
all processes, which caps `guardia up` near 40 contacts/s on 2 cores. A contact costs about 11.5
handler runs, and each run is a handful of JetStream round trips (take the message, read the ticket's
state, publish, compare-and-swap the state, ack). This measures the price of each kind of round trip,
awaited one after the other as a handler does, against a nats-server of its own: CPU microseconds per
operation in this Python process (time.process_time) and in the server (/proc/<pid>/stat), and wall
time. A fire-and-forget core publish is the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
from nats.js.api import KeyValueConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guardia.embedded import nats_server_binary


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 10 ms


def main(n: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="guardia-rt-")
    server = subprocess.Popen([nats_server_binary(), "-js", "-sd", store, "-a", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        asyncio.run(measure(port, server.pid, n))
    finally:
        server.terminate()
        server.wait(timeout=10)


async def measure(port: int, server_pid: int, n: int) -> None:
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    js = nc.jetstream()
    kv = await js.create_key_value(KeyValueConfig(bucket="rt"))
    await kv.put("k", b"x" * 300)
    await js.add_stream(name="RT", subjects=["rt.>"])
    state = {"rev": await kv.put("k2", b"x" * 300)}

    async def cas(i: int) -> None:
        state["rev"] = await kv.update("k2", b"y" * 300, last=state["rev"])

    async def core(i: int) -> None:
        await nc.publish("core.x", b"z" * 100)

    ops: list[tuple[str, Callable[[int], Awaitable[object]]]] = [
        ("KV get", lambda i: kv.get("k")),
        ("JetStream publish (PubAck)", lambda i: js.publish("rt.x", b"y" * 500, headers={"Nats-Msg-Id": f"m{i}"})),
        ("KV update (compare-and-swap)", cas),
        ("core request/reply ($JS.API.INFO)", lambda i: nc.request("$JS.API.INFO", b"", timeout=2)),
        ("core publish, not awaited (floor)", core),
    ]
    print(f"{n} operations each, awaited one after the other; nats-server {port}, nats-py client")
    print(f"{'operation':<36}{'client CPU us':>15}{'server CPU us':>15}{'wall us':>10}")
    for name, op in ops:
        t0, s0, w0 = time.process_time(), server_cpu(server_pid), time.perf_counter()
        for i in range(n):
            await op(i)
        await nc.flush()
        t1, s1, w1 = time.process_time(), server_cpu(server_pid), time.perf_counter()
        print(f"{name:<36}{1e6 * (t1 - t0) / n:>15.0f}{1e6 * (s1 - s0) / n:>15.0f}{1e6 * (w1 - w0) / n:>10.0f}")
    await nc.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    main(parser.parse_args().n)
