"""`guardia whatif`: the baseline reproduces the recorded clocks, then a proposal changes exactly what it should.

The log (tests/whatif/log.py) is navegasoft's week of 2026-11-09 under its built-in policy (001 §3.2:
problema 24 h, pregunta 48 h, solicitud 3 business days; WhatsApp not official, 001 §2.3).
"""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from guardia.analytics.whatif import (
    BaselineMismatch,
    WhatIf,
    WhatIfError,
    load_any_policy_file,
    parse_bound,
    run_whatif,
)
from guardia.analytics.whatif_input import parse_lines, read_stream
from guardia.analytics.whatif_report import render, render_attainment_csv
from guardia.cli import app
from guardia.policy import Policies, TenantPolicy
from guardia.settings import Settings
from shared.schemas import event_subject

from .log import BUILTIN, TENANT, Log, at, load_named, policy_yaml, week, write_policy

BOGOTA = Policies.load()[TENANT].business_calendar.tz
FROM, TO = "2026-11-09", "2026-11-16"


def whatif(docs: list[dict[str, Any]], proposal: TenantPolicy, given: list[TenantPolicy] | None = None) -> WhatIf:
    return run_whatif(docs, TENANT, proposal, parse_bound(FROM, BOGOTA), parse_bound(TO, BOGOTA),
                      [Policies.load()[TENANT]] if given is None else given)


def proposal(tmp_path: Path, change: Any, version: str = "propuesta") -> TenantPolicy:
    def edit(doc: dict[str, Any]) -> None:
        change(doc)
        doc["version"] = version

    return load_any_policy_file(write_policy(tmp_path / "propuesta.yaml", policy_yaml(edit)))


def tighter_problema(doc: dict[str, Any]) -> None:
    doc["sla"]["targets"]["problema"] = {"amount": 12, "unit": "calendar_hours"}


def numbers(changes: list[Any]) -> list[str]:
    return sorted(t.number for t in changes)


def by_number(result: WhatIf) -> dict[str, Any]:
    return {t.number: t for t in result.tickets}


def attainment(result: WhatIf) -> dict[str, tuple[int, int, int, int]]:
    return {a.ticket_type: (a.met_before, a.breached_before, a.met_after, a.breached_after)
            for a in result.attainment()}


# -- the proof the issue asks for ----------------------------------------------------------------------------


def test_the_identical_policy_changes_nothing() -> None:
    result = whatif(week().docs, load_any_policy_file(BUILTIN / f"{TENANT}.yaml"))
    assert result.verified and result.baseline_versions == ["001-2026.11"]
    assert numbers(result.tickets) == ["NS-1", "NS-2", "NS-3", "NS-4", "NS-5", "NS-6", "NS-7"]  # NS-8 is after
    assert {t.change for t in result.tickets} == {"unchanged"}
    assert (result.gained, result.avoided, result.moved) == ([], [], [])
    assert (result.breaches_before, result.breaches_after) == (1, 1)
    assert (result.warnings_before, result.warnings_after) == (6, 6)
    assert attainment(result) == {"problema": (3, 1, 3, 1), "pregunta": (1, 0, 1, 0), "solicitud": (0, 0, 0, 0),
                                  "total": (4, 1, 4, 1)}


def test_a_tighter_problema_target_flips_exactly_the_tickets_resolved_after_12_hours(tmp_path: Path) -> None:
    result = whatif(week().docs, proposal(tmp_path, tighter_problema))
    assert numbers(result.gained) == ["NS-1", "NS-6"]  # resolved after 16 h; 6 h + 10 h around a 24 h pause
    assert result.avoided == []
    assert numbers(result.moved) == ["NS-1", "NS-2", "NS-4", "NS-6"]  # every clocked problema; NS-7 is exempt
    tickets = by_number(result)
    assert tickets["NS-1"].after.deadline == at("2026-11-10T21:00:00-05:00")
    assert tickets["NS-1"].shift == timedelta(hours=-12)
    assert tickets["NS-6"].after.deadline == at("2026-11-12T02:00:00-05:00")  # 6 h used before the pause
    assert (tickets["NS-6"].before.state, tickets["NS-6"].after.state) == ("met", "breached")
    assert tickets["NS-4"].change == "deadline_moved"  # breached either way, 12 h earlier
    assert tickets["NS-2"].after.state == "met" and tickets["NS-2"].after.warnings == ()
    assert [tickets[n].change for n in ("NS-3", "NS-5", "NS-7")] == ["unchanged"] * 3
    assert attainment(result)["problema"] == (3, 1, 1, 3)
    assert attainment(result)["total"] == (4, 1, 2, 3)


def test_a_new_holiday_moves_exactly_the_business_day_deadline(tmp_path: Path) -> None:
    result = whatif(week().docs, proposal(tmp_path, lambda d: d["calendar"].update(extra_closed=["2026-11-13"])))
    assert numbers(result.moved) == ["NS-5"]  # the only business-day clock; hours clocks ignore the calendar
    ns5 = by_number(result)["NS-5"]
    assert ns5.before.deadline == at("2026-11-18T10:00:00-05:00")  # Fri 13, Tue 17, Wed 18 (Mon 16 is a holiday)
    assert ns5.after.deadline == at("2026-11-19T10:00:00-05:00")  # Tue 17, Wed 18, Thu 19
    assert (ns5.before.warnings, ns5.after.warnings) == ((0.5,), ())  # 50 % moves from Fri 13 to Tue 17
    assert (result.gained, result.avoided) == ([], [])


def test_a_tampered_recorded_deadline_stops_the_baseline_at_the_first_difference() -> None:
    log = week()
    started = next(d for d in log.docs if d["event_type"] == "sla.started" and d["ticket_id"] == str(log.ids["NS-4"]))
    started["data"]["deadline"] = "2026-11-11T13:00:00-05:00"
    with pytest.raises(BaselineMismatch) as caught:
        whatif(log.docs, Policies.load()[TENANT])
    difference = caught.value.difference
    assert (difference.ticket_number, difference.index, difference.fields) == ("NS-4", 1, ("deadline",))
    assert difference.expected is not None and difference.got is not None
    assert difference.expected.data["deadline"] == "2026-11-11T13:00:00-05:00"
    assert datetime.fromisoformat(difference.got.data["deadline"]) == at("2026-11-11T12:00:00-05:00")
    assert "Tique NS-4" in str(caught.value)


def test_a_missing_recorded_event_is_a_difference_too() -> None:
    log = week()
    ns4 = str(log.ids["NS-4"])
    log.docs = [d for d in log.docs if not (d["event_type"] == "sla.breached" and d["ticket_id"] == ns4)]
    with pytest.raises(BaselineMismatch) as caught:
        whatif(log.docs, Policies.load()[TENANT])
    difference = caught.value.difference
    assert (difference.ticket_number, difference.index, difference.expected) == ("NS-4", 5, None)
    assert difference.got is not None and difference.got.event_type == "sla.breached"


# -- which policy was in force -------------------------------------------------------------------------------


def policy_applied(policy: TenantPolicy, when: str) -> dict[str, Any]:
    """record-12's tenant-level event, as it will be in the dump (its schema is not in this build)."""
    return {"event_id": "0190a000-0000-7000-8000-000000000001", "event_type": "policy.applied", "schema_version": 1,
            "occurred_at": when, "tenant": TENANT, "ticket_id": None,
            "correlation_id": "0190a000-0000-7000-8000-000000000001", "causation_id": None, "producer": "sla_watch",
            "data": {"service": "sla_watch", "version": policy.version, "content_hash": "x" * 64,
                     "policy": policy.model_dump(mode="json")}}


def october_log(tmp_path: Path) -> tuple[Log, Path]:
    """The same week recorded under an earlier policy: problema 20 h, version 001-2026.10."""
    def earlier(doc: dict[str, Any]) -> None:
        doc["sla"]["targets"]["problema"] = {"amount": 20, "unit": "calendar_hours"}
        doc["version"] = "001-2026.10"

    folder = tmp_path / "octubre"
    folder.mkdir()
    path = write_policy(folder / "navegasoft-octubre.yaml", policy_yaml(earlier))
    return week(load_named(path)), path


def test_the_policy_applied_in_the_log_is_the_baseline(tmp_path: Path) -> None:
    log, path = october_log(tmp_path)
    log.docs.insert(0, policy_applied(load_any_policy_file(path), "2026-11-01T00:00:00-05:00"))
    result = whatif(log.docs, Policies.load()[TENANT])
    assert result.baseline_versions == ["001-2026.10"]
    assert numbers(result.moved) == ["NS-1", "NS-2", "NS-4", "NS-6"]
    assert {by_number(result)[n].shift for n in numbers(result.moved)} == {timedelta(hours=4)}
    assert (result.gained, result.avoided) == ([], [])


def test_an_unknown_recorded_version_asks_for_a_baseline_file(tmp_path: Path) -> None:
    log, path = october_log(tmp_path)
    with pytest.raises(WhatIfError, match=r"'001-2026.10'.*--baseline"):
        whatif(log.docs, Policies.load()[TENANT])
    given = [load_any_policy_file(path), Policies.load()[TENANT]]
    assert whatif(log.docs, Policies.load()[TENANT], given).baseline_versions == ["001-2026.10"]


def test_a_ticket_recorded_under_two_versions_is_listed_apart(tmp_path: Path) -> None:
    log = week()
    met = next(d for d in log.docs if d["event_type"] == "sla.met" and d["ticket_id"] == str(log.ids["NS-2"]))
    met["data"]["policy_version"] = "otra"
    result = whatif(log.docs, Policies.load()[TENANT])
    assert [(x.number, x.reason) for x in result.excluded] == [
        ("NS-2", "reloj registrado con varias versiones de política (001-2026.11, otra)")]
    assert "NS-2" not in by_number(result)


def test_a_sla_met_with_fields_this_build_does_not_know_still_compares() -> None:
    """A newer build's sla.met may carry fields this one lacks: present on one side only, not a difference."""
    log = week()
    for doc in log.docs:
        if doc["event_type"] == "sla.met":
            doc["data"].update(resolved_by_rule="001 §3.2", csat=None)
    assert whatif(log.docs, Policies.load()[TENANT]).verified


# -- the command ---------------------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["whatif", "--tenant", TENANT, "--from", FROM, "--to", TO, *args])


def test_the_command_writes_the_tickets_and_the_attainment_as_csv(tmp_path: Path) -> None:
    dump = week().dump(tmp_path / "events.jsonl")
    proposed = write_policy(tmp_path / "propuesta.yaml", policy_yaml(tighter_problema))
    out = tmp_path / "whatif.csv"
    result = cli("--policy", str(proposed), "--input", str(dump), "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0] == ("tique,tipo,prioridad,abierto,meta_antes,meta_despues,plazo_antes,plazo_despues,"
                       "desplazamiento_horas,resultado_antes,resultado_despues,incumplido_antes,incumplido_despues,"
                       "alertas_antes,alertas_despues,cambio")
    assert rows[1] == ("NS-1,problema,media,2026-11-10T09:00:00-05:00,24 h,12 h,2026-11-11T09:00:00-05:00,"
                       "2026-11-10T21:00:00-05:00,-12,cumplido,incumplido,no,sí,50 %,\"50 %, 80 %, 95 %\","
                       "incumplimiento nuevo")
    assert [r.split(",")[0] for r in rows[1:]] == ["NS-1", "NS-6", "NS-2", "NS-4", "NS-3", "NS-7", "NS-5"]
    assert (tmp_path / "whatif_resumen.csv").read_text(encoding="utf-8").splitlines() == [
        "tipo,cumplidos_antes,incumplidos_antes,cumplimiento_antes,cumplidos_despues,incumplidos_despues,"
        "cumplimiento_despues",
        "pregunta,1,0,1.0000,1,0,1.0000",
        "problema,3,1,0.7500,1,3,0.2500",
        "solicitud,0,0,,0,0,",
        "total,4,1,0.8000,2,3,0.4000",
    ]


def test_the_html_report_is_one_self_contained_page(tmp_path: Path) -> None:
    dump = week().dump(tmp_path / "events.jsonl")
    proposed = write_policy(tmp_path / "propuesta.yaml", policy_yaml(tighter_problema))
    result = cli("--policy", str(proposed), "--input", str(dump), "--format", "html")
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "<link" not in page
    assert page.count('<tr class="breach_gained">') == 2
    assert "<td>75,0 %</td><td>1</td><td>3</td><td>25,0 %</td>" in page


def test_the_markdown_report_lists_the_flips_first() -> None:
    log = week()
    md = render(whatif(log.docs, Policies.load()[TENANT]), "md")
    assert md.startswith("# Simulación de política (what-if)\n")
    assert "| total | 4 | 1 | 80,0 % | 4 | 1 | 80,0 % |" in md
    assert "- **Incumplimientos antes → después:** 1 → 1" in md


def test_the_command_stops_with_the_first_difference_and_exit_1(tmp_path: Path) -> None:
    log = week()
    for doc in log.docs:
        if doc["event_type"] == "sla.started" and doc["ticket_id"] == str(log.ids["NS-4"]):
            doc["data"]["deadline"] = "2026-11-11T13:00:00-05:00"
    dump = log.dump(tmp_path / "events.jsonl")
    out = tmp_path / "never.md"
    result = cli("--policy", str(BUILTIN / f"{TENANT}.yaml"), "--input", str(dump), "--out", str(out))
    assert result.exit_code == 1
    assert "Tique NS-4" in result.output and "difieren:   deadline" in result.output
    assert not out.exists()


def test_the_dump_format_is_what_guardia_events_json_prints() -> None:
    log = week()
    lines = [json.dumps(d, ensure_ascii=False) for d in log.docs]
    assert parse_lines(["", *lines, ""]) == copy.deepcopy(log.docs)
    csv = render_attainment_csv(whatif(parse_lines(lines), Policies.load()[TENANT]))
    assert csv.splitlines()[-1] == "total,4,1,0.8000,4,1,0.8000"


# -- the live stream -----------------------------------------------------------------------------------------


@pytest.mark.e2e
async def test_the_stream_gives_the_same_what_if_as_the_dump(nats_url: str, tmp_path: Path) -> None:
    import nats

    from guardia.bus.topology import EVENTS, ensure_streams

    log = week()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        for doc in log.docs:
            subject = event_subject(doc["tenant"], doc["event_type"], str(doc["ticket_id"] or doc["correlation_id"]))
            await js.publish(subject, json.dumps(doc).encode(), stream=EVENTS)
    finally:
        await nc.close()
    ours = {d["event_id"] for d in log.docs}  # the session's stream holds other tests' events too
    docs = [d for d in await read_stream(nats_url, TENANT) if d["event_id"] in ours]
    assert docs == log.docs
    result = whatif(docs, proposal(tmp_path, tighter_problema))
    assert numbers(result.gained) == ["NS-1", "NS-6"]


@pytest.mark.e2e
async def test_the_baseline_reproduces_what_the_real_sla_watch_recorded(settings: Settings, tmp_path: Path) -> None:
    """The inputs alone go to GUARDIA_EVENTS; the real sla_watch writes the clocks (its timers, all in the
    past, fire through NATS); the what-if must reproduce every one of them, then flip the same tickets."""
    import nats

    from guardia.bus.topology import EVENTS, ensure_streams
    from guardia.runner import running

    log = week()
    inputs = [d for d in log.docs if not d["event_type"].startswith("sla.")]
    expected = len(log.docs) - len(inputs)
    tickets = {d["ticket_id"] for d in log.docs}  # the session's stream holds other tests' events too

    async def ours() -> list[dict[str, Any]]:
        return [d for d in await read_stream(str(settings.nats_url), TENANT) if d["ticket_id"] in tickets]

    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        async with running(("sla_watch",), settings):
            for doc in inputs:
                subject = event_subject(doc["tenant"], doc["event_type"], str(doc["ticket_id"]))
                await js.publish(subject, json.dumps(doc).encode(), stream=EVENTS)
            for _ in range(100):
                written = await ours()
                if sum(d["event_type"].startswith("sla.") for d in written) >= expected:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # anything doubled would have arrived by now
    finally:
        await nc.close()
    docs = await ours()
    assert sum(d["event_type"].startswith("sla.") for d in docs) == expected
    assert whatif(docs, Policies.load()[TENANT]).verified
    assert numbers(whatif(docs, proposal(tmp_path, tighter_problema)).gained) == ["NS-1", "NS-6"]


def test_two_contents_under_one_version_label_resolve_to_the_one_in_force_at_the_opening() -> None:
    from datetime import datetime

    from guardia.analytics.whatif import Applied, PolicyBook

    builtin = Policies.load()[TENANT]
    edited = builtin.model_copy(update={"name": "editada sin cambiar version"})
    book = PolicyBook([Applied(datetime.fromisoformat("2026-11-01T00:00:00+00:00"), builtin),
                       Applied(datetime.fromisoformat("2026-11-20T00:00:00+00:00"), edited)], [])
    assert book.version(builtin.version, datetime.fromisoformat("2026-11-10T00:00:00+00:00")) is builtin
    assert book.version(builtin.version, datetime.fromisoformat("2026-11-25T00:00:00+00:00")) is edited
    given = PolicyBook([Applied(datetime.fromisoformat("2026-12-01T00:00:00+00:00"), edited)], [builtin])
    assert given.version(builtin.version, datetime.fromisoformat("2026-11-10T00:00:00+00:00")) is builtin
