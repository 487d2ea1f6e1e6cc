"""compose.yaml and the Dockerfile, checked without a Docker engine (none runs on our machines)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from typer.testing import CliRunner

from guardia.cli import SERVICE_NAMES
from guardia.cli import app as cli
from guardia.embedded import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, dict[str, object]]:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(doc, dict)
    return doc["services"]  # type: ignore[no-any-return]


def test_compose_runs_every_service_as_its_own_container_from_one_image() -> None:
    services = _compose()
    workers = {name: svc for name, svc in services.items() if name not in ("nats", "gateway", "migrate")}
    assert set(workers) == set(SERVICE_NAMES)
    for name, svc in workers.items():
        assert svc["command"] == ["run", name]
        assert svc["image"] == "guardia:latest"
        assert svc["environment"]["NATS_URL"] == "nats://nats:4222"  # type: ignore[index]
        assert svc["depends_on"] == {"nats": {"condition": "service_healthy"},
                                     "migrate": {"condition": "service_completed_successfully"}}
        assert "healthcheck" in svc


def test_every_service_can_scale_behind_one_published_gateway_port() -> None:
    services = _compose()
    # `--scale` fails on a fixed host port or container name: only the load balancer and NATS publish
    for name in SERVICE_NAMES:
        assert "ports" not in services[name] and "container_name" not in services[name], name
    gateway = services["gateway"]
    assert gateway["ports"] == ["8080:8080"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in gateway["volumes"]  # type: ignore[operator]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server intake:8080 resolve;" in conf  # re-resolved: new and replaced replicas are found
    assert "resolver 127.0.0.11" in conf and "listen 8080;" in conf
    assert services["migrate"]["command"] == ["migrate"] and services["migrate"]["restart"] == "no"


def test_every_command_compose_runs_exists_in_the_cli() -> None:
    runner = CliRunner()
    for name, svc in _compose().items():
        if name in ("nats", "gateway"):
            continue
        command = svc["command"]
        assert isinstance(command, list)
        assert runner.invoke(cli, [command[0], "--help"]).exit_code == 0
        check = svc.get("healthcheck", {"test": ["CMD", "none"]})["test"]  # type: ignore[attr-defined]
        if check[1] == "guardia":
            assert runner.invoke(cli, [check[2], "--help"]).exit_code == 0
            assert check[3] in SERVICE_NAMES


def test_run_rejects_an_unknown_service_and_a_missing_nats_url() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["run", "billing"], env={"NATS_URL": "nats://x:4222"}).exit_code != 0
    result = runner.invoke(cli, ["run", "triage"], env={"NATS_URL": ""})
    assert result.exit_code == 2 and "NATS_URL" in result.output


def test_nats_in_compose_has_jetstream_on_a_volume_and_a_valid_config() -> None:
    nats = _compose()["nats"]
    assert any(str(v).startswith("nats-data:/data") for v in nats["volumes"])  # type: ignore[attr-defined]
    checked = subprocess.run([nats_server_binary(), "-t", "-c", str(ROOT / "deploy" / "nats.conf")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr + checked.stdout


def test_dockerfile_installs_the_package_and_enters_through_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install ." in dockerfile
    assert 'ENTRYPOINT ["guardia"]' in dockerfile


def test_every_service_container_is_healthy_only_when_its_readyz_answers_200() -> None:
    services = _compose()
    for name in SERVICE_NAMES:
        svc = services[name]
        env: dict[str, str] = svc["environment"]  # type: ignore[assignment]
        port = env["GUARDIA_HTTP_PORT"] if name == "intake" else env["GUARDIA_HEALTH_PORT"]
        check = " ".join(svc["healthcheck"]["test"])  # type: ignore[index]
        assert f"http://localhost:{port}/readyz" in check, name
        assert "status != 200" in check, name
