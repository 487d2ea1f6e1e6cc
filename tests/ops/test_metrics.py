"""/metrics (guardia/metrics.py) on a service process and on the gateway, against a real nats-server and
real HTTP; a body too large for one NATS message kept in the dead letters' object store; and the
dashboard, alert rules and README naming only (and all) the metrics the code exports."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

import guardia.metrics
from guardia.bus.topology import DEAD_LETTER_BODIES
from guardia.cli import app as cli
from guardia.embedded import free_port
from guardia.runner import SERVICES, running
from guardia.settings import Settings
from tests.api import api_client
from tests.e2e.helpers import contact, dead_letters, events, eventually

Sample = tuple[str, frozenset[tuple[str, str]]]


async def _scrape(url: str) -> dict[Sample, float]:
    """Every sample of a /metrics answer, by name and labels."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def _now(name: str, **labels: str) -> float:
    """A sample's value in this process before the action under test (counters are process-wide)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _at(samples: dict[Sample, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_a_contact_through_the_pipeline_shows_on_a_service_s_metrics(
    settings: Settings, js: JetStreamContext
) -> None:
    settings = settings.model_copy(update={"health_port": free_port()})
    opened = {"service": "sla_watch", "event_type": "ticket.opened", "outcome": "ok"}
    classified = {"service": "triage", "event_type": "ticket.opened", "outcome": "ok"}
    before_opened = _now("guardia_events_handled_total", **opened)
    before_classified = _now("guardia_events_handled_total", **classified)
    before_latency = _now("guardia_handler_seconds_count", service="sla_watch", event_type="ticket.opened")
    async with running(SERVICES, settings) as state, api_client(state.base_url, timeout=10) as http:
        before_sent = {t: _now("guardia_notifications_total", transport=t, outcome="sent") for t in ("outbox",)}
        answer = await http.post("/v1/contacts", json=contact("No puedo ingresar a la plataforma, urgente"))
        assert answer.status_code == 202
        ticket = answer.json()["ticket_id"]
        sent = await eventually(lambda: events(js, ticket, "ev.*.*.notification.sent"), within=30,
                                what="the acknowledgment sent")
        transport = sent[0]["data"]["transport"]
        await eventually(lambda: events(js, ticket, "ev.*.*.sla.started"), what="the clock started")

        samples = await _scrape(f"http://{settings.http_host}:{settings.health_port}/metrics")

    assert _at(samples, "guardia_events_handled_total", **opened) == before_opened + 1
    assert _at(samples, "guardia_events_handled_total", **classified) == before_classified + 1
    assert _at(samples, "guardia_handler_seconds_count", service="sla_watch",
               event_type="ticket.opened") == before_latency + 1
    assert _at(samples, "guardia_notifications_total", transport=transport, outcome="sent") >= \
        before_sent.get(transport, 0.0) + 1
    # counted from sla_watch's bucket on this (wiped) server: exactly this ticket's running clock
    assert _at(samples, "guardia_sla_open_clocks", tenant="navegasoft", state="running") == 1
    assert _at(samples, "guardia_sla_open_clocks", tenant="navegasoft", state="breached") == 0
    # every consumer of every service reports its backlog; nothing left unacked once the flow is done
    pending = {dict(labels)["consumer"] for (name, labels) in samples if name == "guardia_consumer_pending"}
    assert {"triage-p00", "sla_watch-p15", "notify-p07", "intake_raw", "sla_watch_timers"} <= pending
    assert _at(samples, "guardia_consumer_pending", service="sla_watch", stream="GUARDIA_EVENTS",
               consumer="sla_watch-p00") == 0


async def test_a_malformed_webhook_counts_its_dead_letter_reason_and_its_status_on_the_gateway(
    settings: Settings, js: JetStreamContext
) -> None:
    letters = {"service": "intake", "reason_code": "malformed_json", "stored": "inline"}
    requests = {"provider": "telegram", "status": "400"}
    before_letters = _now("guardia_dead_letters_total", **letters)
    before_requests = _now("guardia_webhook_requests_total", **requests)
    before_ok = _now("guardia_webhook_requests_total", provider="telegram", status="200")
    async with running(("intake",), settings) as state, httpx.AsyncClient(base_url=state.base_url) as http:
        bad = await http.post("/webhooks/telegram", content=b'{"update_id": 1, "message": {',
                              headers={"content-type": "application/json"})
        assert bad.status_code == 400
        samples = await _scrape(f"{state.base_url}/metrics")

    assert _at(samples, "guardia_dead_letters_total", **letters) == before_letters + 1
    assert _at(samples, "guardia_webhook_requests_total", **requests) == before_requests + 1
    assert _at(samples, "guardia_webhook_requests_total", provider="telegram", status="200") == before_ok
    assert (await dead_letters(js))[0]["data"]["reason_code"] == "malformed_json"


async def test_a_5_mb_webhook_body_gets_413_and_its_bytes_are_kept_in_the_object_store(
    settings: Settings, js: JetStreamContext
) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "x" * (5 * 1024 * 1024)}]}).encode()
    stored = {"service": "intake", "reason_code": "payload_too_large", "stored": "object_store"}
    before = _now("guardia_dead_letters_total", **stored)
    async with running(("intake",), settings) as state, httpx.AsyncClient(base_url=state.base_url, timeout=30) as http:
        answer = await http.post("/webhooks/whatsapp", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 413 and answer.json()["error"] == "payload_too_large"
        samples = await _scrape(f"{state.base_url}/metrics")

    [letter] = await dead_letters(js)
    data = letter["data"]
    assert data["reason_code"] == "payload_too_large" and data["raw_size"] == len(body)
    assert data["raw_base64"] == ""  # the event itself stays under NATS's max payload
    digest = hashlib.sha256(body).hexdigest()
    assert data["raw_ref"] == {"bucket": DEAD_LETTER_BODIES, "name": digest, "size": len(body), "sha256": digest}
    kept = await (await js.object_store(DEAD_LETTER_BODIES)).get(digest)
    assert kept.data == body
    assert _at(samples, "guardia_dead_letters_total", **stored) == before + 1


async def test_dead_letters_lists_a_stored_body_s_reference_and_retry_posts_the_stored_bytes_again(
    settings: Settings, js: JetStreamContext
) -> None:
    body = b'{"update_id": 1, "message": {"text": "' + b"y" * (2 * 1024 * 1024) + b'"}}'
    digest = hashlib.sha256(body).hexdigest()
    env = {"NATS_URL": settings.nats_url or ""}
    async with running(("intake",), settings) as state, httpx.AsyncClient(base_url=state.base_url, timeout=30) as http:
        assert (await http.post("/webhooks/telegram", content=body)).status_code == 413
        [letter] = await eventually(lambda: dead_letters(js), what="the dead letter")
        listed = await asyncio.to_thread(CliRunner().invoke, cli, ["dead-letters"], env=env)
        assert listed.exit_code == 0, listed.output
        [row] = listed.stdout.splitlines()[1:]
        assert row.split("\t")[6] == f"object {DEAD_LETTER_BODIES}/{digest} ({len(body)} bytes, sha256 {digest})"

        # the retry reads the bytes back from the object store and posts them as they came: 413 again
        retried = await asyncio.to_thread(CliRunner().invoke, cli,
                                          ["dead-letters", "retry", letter["event_id"], "--url", state.base_url],
                                          env=env)
        assert retried.exit_code == 1 and "413" in retried.stdout
        again = await eventually(lambda: _more_than_one(js), what="the retry's dead letter")
    assert [d["data"]["raw_ref"]["sha256"] for d in again] == [digest, digest]


async def _more_than_one(js: JetStreamContext) -> list[dict[str, Any]] | None:
    letters = await dead_letters(js)
    return letters if len(letters) > 1 else None


async def test_a_small_dead_letter_keeps_its_bytes_inline(settings: Settings, js: JetStreamContext) -> None:
    raw = b'{"update_id": 1,'
    async with running(("intake",), settings) as state, httpx.AsyncClient(base_url=state.base_url) as http:
        assert (await http.post("/webhooks/telegram", content=raw)).status_code == 400
    [letter] = await dead_letters(js)
    assert letter["data"]["raw_ref"] is None
    assert base64.b64decode(letter["data"]["raw_base64"]) == raw


# -- the dashboard and the alert rules in deploy/ ---------------------------------------------------------

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC_NAME = re.compile(r"\bguardia_[a-z0-9_]+\b")


def _exported() -> dict[str, set[str]]:
    """guardia's metric families -> the sample names Prometheus sees for each (guardia/metrics.py)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {family.name: {family.name + s for s in suffixes[family.type]}
            for family in REGISTRY.collect() if family.name.startswith("guardia_")}


def _names_in(expressions: list[str]) -> set[str]:
    return {name for expr in expressions for name in METRIC_NAME.findall(expr)}


def test_the_alert_rules_are_valid_yaml_with_the_expected_alerts_on_exported_metrics() -> None:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == {
        "GuardiaConsumerLag", "GuardiaRedeliveries", "GuardiaDeadLetters", "GuardiaDeadLetterWriteFailed",
        "GuardiaSlaBreachRate", "GuardiaNotificationFailures", "GuardiaWebhookServerErrors"}
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    sample_names = set().union(*_exported().values())
    used = _names_in([str(rule["expr"]) for rule in rules])
    assert used and used <= sample_names, used - sample_names


def test_the_dashboard_parses_and_charts_every_exported_metric_and_nothing_else() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "guardia-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = _names_in(expressions)
    exported = _exported()
    assert used <= set().union(*exported.values()), used - set().union(*exported.values())
    uncharted = {family for family, names in exported.items() if not names & used}
    assert not uncharted, f"metrics the dashboard does not show: {uncharted}"


def test_the_readme_names_every_exported_metric() -> None:
    readme = (DEPLOY.parent / "README.md").read_text()
    missing = {family for family, names in _exported().items()
               if not any(f"`{name}`" in readme for name in names | {family})}
    assert not missing, f"README 'Operating guardia' does not describe: {missing}"


async def test_a_slow_scrape_time_refresh_answers_with_the_values_it_has_and_is_shared(monkeypatch: Any) -> None:
    monkeypatch.setattr(guardia.metrics, "SCRAPE_WAIT", 0.05)
    runs: list[float] = []
    release = asyncio.Event()

    async def slow() -> None:
        runs.append(asyncio.get_running_loop().time())
        await release.wait()

    hook = guardia.metrics.ScrapeHook(slow, every=60.0)
    started = asyncio.get_running_loop().time()
    await asyncio.gather(hook.run(), hook.run())  # two scrapes at once
    assert asyncio.get_running_loop().time() - started < 1.0 and len(runs) == 1
    release.set()
    await asyncio.sleep(0.01)
    await hook.run()  # fresh for another `every` seconds: no second run
    assert len(runs) == 1 and hook.task is None
