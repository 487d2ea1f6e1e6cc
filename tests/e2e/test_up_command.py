"""`guardia up --demo`, the README's first command, as a real process: embedded NATS, demo, graceful stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from guardia.embedded import free_port


def test_up_with_demo_runs_everything_on_its_own_nats_and_stops_gracefully(tmp_path: Path) -> None:
    env = {
        **os.environ, "GUARDIA_DATA_DIR": str(tmp_path), "GUARDIA_HTTP_PORT": str(free_port()),
        "GUARDIA_DEMO_SECONDS": "6", "COLUMNS": "200",
    }
    env.pop("NATS_URL", None)
    guardia = Path(sys.executable).parent / "guardia"
    proc = subprocess.Popen([str(guardia), "up", "--demo"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        outbox = tmp_path / "outbox.jsonl"
        while time.monotonic() < deadline:
            if outbox.exists() and sum(1 for _ in outbox.open()) >= 40 and (tmp_path / "nats.url").exists():
                break
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.5)
        token_file = tmp_path / "api.token"
        assert token_file.exists() and token_file.stat().st_mode & 0o077 == 0  # for this user only
        # `guardia demo` from another terminal: no token given, it finds the local one `up` wrote
        again = subprocess.run([str(guardia), "demo", "--seconds", "0"], env=env, capture_output=True, text=True,
                               timeout=60)
        time.sleep(7)  # let the live table finish
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    notes = [json.loads(line) for line in outbox.read_text().splitlines()]
    acks = [n for n in notes if n["kind"] == "acknowledgment"]
    assert len(acks) >= 35  # one per ticket that is a request (greetings get none)
    assert any(n["kind"] == "committee" for n in notes)
    assert any(n["kind"] == "escalation" for n in notes)
    assert "posted 41 contacts: 41 accepted" in output
    token = token_file.read_text().strip()
    assert f"API token (role agent, name 'local'): {token}" in output
    assert output.count(token) == 1  # printed for the person at the terminal, in no log line
    assert again.returncode == 0 and "posted 41 contacts: 41 accepted" in again.stdout, again.stdout + again.stderr
    assert "nats_server_stopped" in output
    assert not (tmp_path / "nats.url").exists()  # cleaned up on the way out
    assert (tmp_path / "nats" / "jetstream").is_dir()  # JetStream on the local data folder
