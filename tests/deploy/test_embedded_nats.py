"""The embedded nats-server runs with a Go soft memory limit (GOMEMLIMIT), which an operator may override."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from guardia.embedded import DEFAULT_MEMORY_LIMIT, EmbeddedNats
from guardia.settings import Settings


def _environ_of(server: EmbeddedNats) -> dict[str, str]:
    assert server.process is not None
    raw = Path(f"/proc/{server.process.pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def test_the_embedded_server_gets_the_default_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    with EmbeddedNats(tmp_path / "nats") as server:
        assert _environ_of(server)["GOMEMLIMIT"] == DEFAULT_MEMORY_LIMIT == "800MiB"


def test_an_operators_own_gomemlimit_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMEMLIMIT", "3GiB")
    with EmbeddedNats(tmp_path / "nats", memory_limit="512MiB") as server:
        assert _environ_of(server)["GOMEMLIMIT"] == "3GiB"


def test_no_limit_leaves_the_go_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    with EmbeddedNats(tmp_path / "nats", memory_limit=None) as server:
        assert "GOMEMLIMIT" not in _environ_of(server)


def test_the_setting_takes_go_sizes_and_rejects_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARDIA_EMBEDDED_NATS_MEMORY_LIMIT", "2GiB")
    assert Settings().embedded_nats_memory_limit == "2GiB"
    monkeypatch.setenv("GUARDIA_EMBEDDED_NATS_MEMORY_LIMIT", "")
    assert Settings().embedded_nats_memory_limit is None
    monkeypatch.setenv("GUARDIA_EMBEDDED_NATS_MEMORY_LIMIT", "2 gigas")
    with pytest.raises(ValidationError, match="embedded_nats_memory_limit"):
        Settings()


def test_compose_gives_nats_the_same_limit() -> None:
    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "compose.yaml").read_text())
    for node in ("nats-1", "nats-2", "nats-3"):
        assert compose["services"][node]["environment"]["GOMEMLIMIT"] == DEFAULT_MEMORY_LIMIT
