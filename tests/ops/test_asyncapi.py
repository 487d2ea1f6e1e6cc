"""The AsyncAPI document (guardia/asyncapi/): current, well-formed, and true to the services' code."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from guardia.asyncapi import ASYNCAPI_PATH, build_document, build_services, render
from guardia.asyncapi.declared import DEAD_LETTER_EVENT, PRODUCERS, covers
from guardia.asyncapi.document import SERVICES, Built
from guardia.bus.runtime import ServiceRuntime
from guardia.cli import app as cli
from guardia.settings import Settings
from shared.schemas import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")  # AsyncAPI 3.0: keys of components and ids


@pytest.fixture(scope="module")
def built() -> list[Built]:
    return list(build_services())


@pytest.fixture(scope="module")
def doc(built: list[Built]) -> dict[str, Any]:
    return build_document(built)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref}: no {part!r}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_checked_in_asyncapi_document_is_current(doc: dict[str, Any]) -> None:
    assert ASYNCAPI_PATH.read_text(encoding="utf-8") == render(doc), \
        "shared/schemas/asyncapi.yaml is stale: run `guardia schemas asyncapi`"


def test_the_document_has_the_asyncapi_3_structure(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"]["nats"]["protocol"] == "nats"
    for ref in _refs(doc):  # every reference lands somewhere
        _resolve(doc, ref)
    for cid, channel in doc["channels"].items():
        assert NAME.match(cid), cid
        placeholders = set(re.findall(r"{(\w+)}", channel["address"]))
        assert placeholders == set(channel.get("parameters", {})), cid
        assert channel["messages"], cid
    for oid, op in doc["operations"].items():
        assert NAME.match(oid), oid
        assert op["action"] in ("send", "receive"), oid
        channel_ref = op["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), oid
        for message in op["messages"]:  # 3.0: an operation's messages are its channel's
            assert message["$ref"].startswith(channel_ref + "/messages/"), oid
    for mid, message in doc["components"]["messages"].items():
        assert NAME.match(mid), mid
        assert message["contentType"] == "application/json" and message["payload"], mid
    assert all(NAME.match(name) for name in doc["components"]["schemas"])


def test_every_event_has_a_channel_on_its_subject_with_its_exported_schema(doc: dict[str, Any]) -> None:
    for event_type, cls in REGISTRY.latest.items():
        if event_type == DEAD_LETTER_EVENT:
            continue
        channel = doc["channels"][event_type]
        assert channel["address"] == f"ev.{{tenant}}.{{partition}}.{event_type}"
        message = _resolve(doc, channel["messages"][f"{event_type}.v{cls.version}"]["$ref"])
        payload = message["payload"]
        assert payload["properties"]["event_type"] == {"const": event_type}
        assert payload["properties"]["schema_version"] == {"const": cls.version}
        data = _resolve(doc, payload["properties"]["data"]["$ref"])
        assert set(data["properties"]) == set(cls.model_json_schema(mode="serialization")["properties"])
    letters = doc["channels"]["dead_letters"]
    assert letters["address"] == "dlq.{tenant}.{service}"
    assert {f"{s}.sends.dead_letters" for s in SERVICES} <= set(doc["operations"])


def test_receivers_are_exactly_the_services_handler_registrations(doc: dict[str, Any], built: list[Built]) -> None:
    derived = {oid for oid, op in doc["operations"].items()
               if op["action"] == "receive" and op["channel"]["$ref"].removeprefix("#/channels/") in REGISTRY.latest}
    handled = {f"{b.name}.receives.{t}" for b in built for t in b.runtime.handlers}
    assert derived == handled
    assert "triage.receives.ticket.opened" in derived and "escalation.receives.sla.breached" in derived
    committee = doc["operations"]["escalation.receives.committee.candidate"]
    assert committee["x-durable"] == "escalation-committee" and "on_candidate" in committee["description"]
    assert doc["operations"]["notify.receives.ticket.assigned"]["x-durable"] == "notify-pNN"


def test_every_raw_consumer_reads_a_declared_channel(doc: dict[str, Any], built: list[Built]) -> None:
    receivers = {oid: op for oid, op in doc["operations"].items() if op["action"] == "receive"}
    for b in built:
        for raw in b.runtime.raw_consumers:
            matching = [op for oid, op in receivers.items() if oid.startswith(f"{b.name}.receives.")
                        and op["x-durable"] == raw.durable]
            assert len(matching) == 1, (b.name, raw.durable)
            channel = _resolve(doc, matching[0]["channel"]["$ref"])
            assert raw.subject.split(".")[0] == channel["address"].split(".")[0]
    assert receivers["sla_watch.receives.timer.fire.sla"]["x-durable"] == "sla_watch_timers"
    assert receivers["intake.receives.numbers"]["x-durable"] == "intake_numbers"
    assert doc["operations"]["sla_watch.sends.timer.arm.sla"]["action"] == "send"


def test_a_raw_consumer_with_no_declared_channel_fails_the_build() -> None:
    rt = ServiceRuntime("billing", Settings.model_construct())

    async def handler(raw: object) -> None:
        return None

    rt.consume_raw("billing.invoices.>", stream="BILLING", durable="billing", handler=handler)
    with pytest.raises(LookupError, match=r"billing\.invoices"):
        build_document([Built("billing", rt)])


def _published_by(service: str) -> set[str]:
    """Event types a service's package builds: `Payload(...)` constructions, and payloads it validates
    and wraps itself (`X.model_validate` in a module that calls `make_event`, as the gateway does with
    an agent's correction)."""
    classes = {cls.__name__: t for t, cls in REGISTRY.latest.items()}
    found: set[str] = set()
    # the entry point hooks this module on every service it builds (runner.build_service)
    shared = [ROOT / "guardia" / "policy_applied.py"]
    for path in [*(ROOT / "services" / service).rglob("*.py"), *shared]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call)]
        wraps = any(isinstance(f, ast.Name) and f.id == "make_event" for f in calls)
        for f in calls:
            if isinstance(f, ast.Name) and f.id in classes:
                found.add(classes[f.id])
            elif (wraps and isinstance(f, ast.Attribute) and f.attr == "model_validate"
                  and isinstance(f.value, ast.Name) and f.value.id in classes):
                found.add(classes[f.value.id])
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_the_declared_producers_are_what_each_service_s_code_publishes(service: str) -> None:
    declared = {t for t, producers in PRODUCERS.items() if service in producers}
    assert declared == _published_by(service) - {DEAD_LETTER_EVENT}


def test_every_event_but_dead_letters_has_a_declared_producer() -> None:
    assert set(PRODUCERS) == set(REGISTRY.latest) - {DEAD_LETTER_EVENT}


@pytest.mark.parametrize(("pattern", "subject", "expected"), [
    ("numbers.*", "numbers.navegasoft", True),
    ("timer.fire.sla.>", "timer.fire.sla.>", True),
    ("timer.fire.sla.>", "timer.fire.notify.>", False),
    ("ev.*.*.*", "ev.*.*.*", True),
    ("ev.*.*.*", "ev.*.*.*.*", False),
    ("numbers.*", "numbers.>", False),
])
def test_covers_follows_nats_wildcards(pattern: str, subject: str, expected: bool) -> None:
    assert covers(pattern, subject) is expected


def test_schemas_asyncapi_writes_the_document_and_check_fails_on_a_stale_one(tmp_path: Path,
                                                                               doc: dict[str, Any]) -> None:
    target = tmp_path / "asyncapi.yaml"
    runner = CliRunner()
    assert runner.invoke(cli, ["schemas", "asyncapi", "--out", str(target)]).exit_code == 0
    assert target.read_text(encoding="utf-8") == render(doc)
    assert runner.invoke(cli, ["schemas", "asyncapi", "--out", str(target), "--check"]).exit_code == 0
    target.write_text(render(doc).replace("ticket.opened", "ticket.abierto", 1), encoding="utf-8")
    stale = runner.invoke(cli, ["schemas", "asyncapi", "--out", str(target), "--check"])
    assert stale.exit_code == 1 and "not current" in stale.output
