"""compose.yaml and the Dockerfile, checked without a Docker engine (none runs on our machines)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from typer.testing import CliRunner

from guardia.cli import SERVICE_NAMES
from guardia.cli import app as cli
from guardia.embedded import nats_server_binary
from guardia.natsauth import ADMIN, env_password

NODES = ("nats-1", "nats-2", "nats-3")
NATS_URL = "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, dict[str, object]]:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(doc, dict)
    return doc["services"]  # type: ignore[no-any-return]


def test_compose_runs_every_service_as_its_own_container_from_one_image() -> None:
    services = _compose()
    workers = {name: svc for name, svc in services.items() if name not in (*NODES, "gateway", "migrate")}
    assert set(workers) == set(SERVICE_NAMES)
    for name, svc in workers.items():
        assert svc["command"] == ["run", name]
        assert svc["image"] == "guardia:latest"
        env: dict[str, str] = svc["environment"]  # type: ignore[assignment]
        assert env["NATS_URL"] == NATS_URL and env["GUARDIA_NATS_REPLICAS"] == "3"
        # its own NATS user, its password from the environment (never written in the file)
        assert env["GUARDIA_NATS_USER"] == name
        assert env["GUARDIA_NATS_PASSWORD"] == f"${{{env_password(name)}:?}}"
        assert svc["depends_on"] == {**{n: {"condition": "service_healthy"} for n in NODES},
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
        if name in (*NODES, "gateway"):
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


def test_nats_in_compose_is_a_three_node_cluster_each_on_its_volume_with_a_valid_config() -> None:
    services = _compose()
    assert sorted(n for n in services if n.startswith("nats")) == list(NODES)
    conf = (ROOT / "deploy" / "nats.conf").read_text()
    for node in NODES:
        svc = services[node]
        assert f"{node}-data:/data" in svc["volumes"]  # type: ignore[operator]
        assert "./deploy/nats-accounts.conf:/etc/nats/nats-accounts.conf:ro" in svc["volumes"]  # type: ignore[operator]
        env: dict[str, str] = svc["environment"]  # type: ignore[assignment]
        assert env["NATS_SERVER_NAME"] == node
        for user in (*SERVICE_NAMES, ADMIN):  # every password the accounts name, from the environment
            assert env[env_password(user)].startswith(f"${{{env_password(user)}:?")
        assert f"nats-route://{node}:6222" in conf
        assert "/healthz" in " ".join(svc["healthcheck"]["test"])  # type: ignore[index]
    assert "include ./nats-accounts.conf" in conf and "cluster {" in conf
    # nats-server itself parses the file, with the variables compose gives it
    env = {"NATS_SERVER_NAME": "nats-1", **{env_password(u): "x" for u in (*SERVICE_NAMES, ADMIN)}}
    checked = subprocess.run([nats_server_binary(), "-t", "-c", str(ROOT / "deploy" / "nats.conf")],
                             capture_output=True, text=True, timeout=30, env=env)
    assert checked.returncode == 0, checked.stderr + checked.stdout


def test_migrate_connects_as_admin_and_no_password_is_written_in_compose() -> None:
    services = _compose()
    assert services["migrate"]["environment"]["GUARDIA_NATS_USER"] == ADMIN  # type: ignore[index]
    text = (ROOT / "compose.yaml").read_text() + (ROOT / "deploy" / "nats-accounts.conf").read_text()
    assert "password: $GUARDIA_NATS_PASSWORD_TRIAGE" in text
    assert 'password: "' not in text


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
