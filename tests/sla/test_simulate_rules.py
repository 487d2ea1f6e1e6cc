"""Table tests for the SLA rules, through `simulate` (the same engine the live service runs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardia.policy import Policies, TenantPolicy, load_policy_file
from services.sla_watch.engine import Engine
from services.sla_watch.simulate import parse_timeline, simulate

BUILTIN = Path(__file__).resolve().parents[2] / "guardia" / "policies"


def policy(tenant: str = "navegasoft", tmp: Path | None = None,
           change: Callable[[dict[str, Any]], None] | None = None) -> TenantPolicy:
    if change is None:
        return Policies.load()[tenant]
    assert tmp is not None
    doc = yaml.safe_load((BUILTIN / f"{tenant}.yaml").read_text())
    change(doc)
    path = tmp / f"{tenant}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return load_policy_file(path)


def run(lines: list[dict[str, Any]], p: TenantPolicy | None = None, until: str | None = None) -> list[dict[str, Any]]:
    p = p or policy()
    timeline = parse_timeline(json.dumps(x) for x in lines)
    horizon = datetime.fromisoformat(until) if until else None
    return simulate(timeline, p.sla, Engine(p.business_calendar), p.channels.whatsapp_official, p.version, horizon)


def opened(at: str, channel: str = "email", ticket: str = "T") -> dict[str, Any]:
    return {"type": "opened", "ticket_id": ticket, "at": at, "channel": channel}


def classified(at: str, ticket_type: str | None, priority: str = "media", ticket: str = "T") -> dict[str, Any]:
    return {"type": "classified", "ticket_id": ticket, "at": at, "ticket_type": ticket_type, "priority": priority}


def status(at: str, value: str, ticket: str = "T") -> dict[str, Any]:
    return {"type": "status", "ticket_id": ticket, "at": at, "status": value}


def events(out: list[dict[str, Any]]) -> list[str]:
    return [o["event"] + (f" {round(o['fraction'] * 100)}" if o["fraction"] else "") for o in out]


def first(out: list[dict[str, Any]], event: str) -> dict[str, Any]:
    return next(o for o in out if o["event"] == event)


# -- targets of 001 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ticket_type", "hours"), [("problema", 24), ("pregunta", 48), ("anomalia", 72)])
def test_calendar_hour_targets_run_through_weekends_and_holidays(ticket_type: str, hours: int) -> None:
    out = run([opened("2026-12-04T17:00:00-05:00"), classified("2026-12-04T17:10:00-05:00", ticket_type)])
    start = datetime.fromisoformat("2026-12-04T17:00:00-05:00")
    assert datetime.fromisoformat(first(out, "started")["deadline"]) == start + timedelta(hours=hours)
    assert events(out) == ["started", "warning 50", "warning 80", "warning 95", "breached"]


def test_solicitud_is_due_at_the_same_time_on_the_third_working_day_skipping_a_colombian_holiday() -> None:
    # Fri 4 Dec 17:00 -> Mon 7 (1), Tue 8 is Inmaculada Concepción, Wed 9 (2), Thu 10 (3) at 17:00
    out = run([opened("2026-12-04T17:00:00-05:00"), classified("2026-12-04T17:01:00-05:00", "solicitud")])
    assert first(out, "started")["deadline"] == "2026-12-10T17:00:00-05:00"


def test_usabilidad_opened_on_a_saturday_counts_from_monday_opening() -> None:
    out = run([opened("2026-12-12T11:00:00-05:00"), classified("2026-12-12T11:01:00-05:00", "usabilidad")])
    assert first(out, "started")["deadline"] == "2026-12-16T08:00:00-05:00"


def test_mexican_holiday_moves_a_miskuentas_deadline() -> None:
    # Fri 13 Nov 2026 10:00 Mexico City; Mon 16 Nov is Día de la Revolución -> Tue 17 (1), Wed 18 (2)
    out = run([opened("2026-11-13T10:00:00-06:00"), classified("2026-11-13T10:05:00-06:00", "usabilidad")],
              policy("miskuentas"))
    assert first(out, "started")["deadline"] == "2026-11-18T10:00:00-06:00"


def test_urgent_is_eight_calendar_hours_whatever_the_type() -> None:
    out = run([opened("2026-12-05T22:00:00-05:00"), classified("2026-12-05T22:05:00-05:00", "solicitud", "urgente")])
    assert first(out, "started")["deadline"] == "2026-12-06T06:00:00-05:00"


def test_bug_gets_no_support_clock_and_whatsapp_where_not_official_gets_none() -> None:
    assert run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "bug", "alta")]) == []
    whatsapp = [opened("2026-12-01T09:00:00-05:00", "whatsapp"), classified("2026-12-01T09:01:00-05:00", "problema")]
    assert run(whatsapp) == []
    assert events(run(whatsapp, policy("mecodex")))[0] == "started"  # official for Mecodex (seed 000)


def test_business_hours_count_only_working_intervals_of_a_split_day(tmp_path: Path) -> None:
    def split(doc: dict[str, Any]) -> None:
        doc["calendar"]["working_hours"] = {d: [["08:00", "12:00"], ["14:00", "18:00"]]
                                            for d in ("mon", "tue", "wed", "thu", "fri")}
        doc["sla"]["targets"]["problema"] = {"amount": 6, "unit": "business_hours"}

    out = run([opened("2026-12-01T10:00:00-05:00"), classified("2026-12-01T10:01:00-05:00", "problema")],
              policy(tmp=tmp_path, change=split))
    # Tue 10:00-12:00 (2 h) + 14:00-18:00 (4 h) = 6 h -> due at 18:00 the same day
    assert first(out, "started")["deadline"] == "2026-12-01T18:00:00-05:00"
    # 50 % = 3 h of working time: 10-12 then one hour after lunch -> 15:00
    assert first(out, "warning")["at"] == "2026-12-01T15:00:00-05:00"


def test_business_hours_across_a_dst_change_count_wall_clock_working_time(tmp_path: Path) -> None:
    def new_york(doc: dict[str, Any]) -> None:
        doc["calendar"].update(timezone="America/New_York", country="US")
        doc["sla"]["targets"]["problema"] = {"amount": 12, "unit": "business_hours"}

    # Fri 6 Mar 2026 12:00 EST; clocks go forward Sun 8 Mar; Mon 9 is EDT
    out = run([opened("2026-03-06T12:00:00-05:00"), classified("2026-03-06T12:01:00-05:00", "problema")],
              policy(tmp=tmp_path, change=new_york))
    # Fri 12:00-18:00 (6 h) + Mon 08:00-14:00 (6 h) = Mon 14:00 EDT
    assert first(out, "started")["deadline"] == "2026-03-09T14:00:00-04:00"


# -- pause and resume ---------------------------------------------------------------------------------------

def test_waiting_on_the_customer_freezes_the_business_time_left() -> None:
    out = run([
        opened("2026-12-01T08:00:00-05:00"), classified("2026-12-01T08:01:00-05:00", "solicitud"),
        status("2026-12-01T13:00:00-05:00", "en_proceso_del_solicitante"),
        {"type": "message", "ticket_id": "T", "at": "2026-12-03T08:00:00-05:00", "author": "customer"},
    ], until="2026-12-10T00:00:00-05:00")
    assert events(out)[:3] == ["started", "paused", "resumed"]
    paused, resumed = first(out, "paused"), first(out, "resumed")
    assert paused["deadline"] is None  # every clock event carries the deadline in force: none while paused
    # 30 h budget, 5 h used on Tue -> 25 h left from Thu 08:00: Thu 10 h, Fri 10 h, Mon 5 h -> Mon 13:00
    assert resumed["deadline"] == "2026-12-07T13:00:00-05:00"


def test_an_agent_message_does_not_resume_a_paused_clock_but_moving_the_stage_back_does() -> None:
    base = [opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "problema"),
            status("2026-12-01T10:00:00-05:00", "en_proceso_del_solicitante"),
            {"type": "message", "ticket_id": "T", "at": "2026-12-01T11:00:00-05:00", "author": "agent"}]
    assert events(run(base, until="2026-12-20T00:00:00-05:00")) == ["started", "paused"]
    back = run([*base, status("2026-12-01T12:00:00-05:00", "en_proceso")], until="2026-12-01T12:30:00-05:00")
    assert events(back) == ["started", "paused", "resumed"]
    assert first(back, "resumed")["deadline"] == "2026-12-02T11:00:00-05:00"  # 1 h used, 23 h from 12:00


# -- met, cancelled, merged ---------------------------------------------------------------------------------

def test_resolved_exactly_at_the_deadline_is_met() -> None:
    out = run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "problema"),
               status("2026-12-02T09:00:00-05:00", "resuelto")])
    assert events(out) == ["started", "warning 50", "warning 80", "warning 95", "met"]


def test_cancelled_and_merged_tickets_are_retracted_and_nothing_fires_after() -> None:
    cancelled = run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "problema"),
                     status("2026-12-01T10:00:00-05:00", "cancelado")])
    assert events(cancelled) == ["started", "cancelled"]
    merged = run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "problema"),
                  {"type": "merged", "ticket_id": "T", "at": "2026-12-01T22:00:00-05:00", "into": "OLD"}])
    assert events(merged) == ["started", "warning 50", "cancelled"]


# -- reclassification ---------------------------------------------------------------------------------------

def _reclassify(rule: str, tmp: Path) -> list[dict[str, Any]]:
    p = policy(tmp=tmp, change=lambda d: d["sla"].__setitem__("reclassification", rule))
    return run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "anomalia"),
                classified("2026-12-02T09:00:00-05:00", "problema")], p, until="2026-12-02T09:00:00-05:00")


def test_retarget_applies_the_new_target_from_the_original_start_and_breaches_at_once_if_past(tmp_path: Path) -> None:
    out = _reclassify("retarget", tmp_path)
    # anomalía 72 h -> problema 24 h from Tue 09:00: due Wed 09:00 = the reclassification instant
    retargeted = first(out, "retargeted")
    assert retargeted["deadline"] == "2026-12-02T09:00:00-05:00"
    assert events(out) == ["started", "retargeted", "warning 50", "warning 80", "warning 95", "breached"]
    assert {o["at"] for o in out[1:]} == {"2026-12-02T09:00:00-05:00"}  # fired at once, fractions in order


def test_restart_applies_the_new_target_from_the_reclassification(tmp_path: Path) -> None:
    out = _reclassify("restart", tmp_path)
    assert first(out, "retargeted")["deadline"] == "2026-12-03T09:00:00-05:00"


def test_stricter_takes_the_earlier_of_retarget_and_restart(tmp_path: Path) -> None:
    assert first(_reclassify("stricter", tmp_path), "retargeted")["deadline"] == "2026-12-02T09:00:00-05:00"


def test_each_warning_fraction_fires_at_most_once_per_clock_even_after_a_retarget() -> None:
    out = run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "problema"),
               classified("2026-12-01T22:00:00-05:00", "anomalia")], until="2026-12-10T00:00:00-05:00")
    # 50 % of 24 h fired at 21:00; after the move to 72 h, 50 % is not fired again
    assert events(out) == ["started", "warning 50", "retargeted", "warning 80", "warning 95", "breached"]


def test_bug_reclassified_to_a_clocked_type_starts_then_counting_from_the_opening() -> None:
    out = run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "bug", "alta"),
               classified("2026-12-01T11:00:00-05:00", "problema")], until="2026-12-01T12:00:00-05:00")
    assert events(out) == ["started"]
    assert out[0]["at"] == "2026-12-01T11:00:00-05:00"
    assert out[0]["deadline"] == "2026-12-02T09:00:00-05:00"


def test_reclassification_to_a_type_with_no_clock_cancels_it_and_met_stays_met() -> None:
    out = run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "problema"),
               classified("2026-12-01T10:00:00-05:00", "bug")])
    assert events(out) == ["started", "cancelled"]
    met = run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "problema"),
               status("2026-12-01T10:00:00-05:00", "resuelto"), classified("2026-12-01T11:00:00-05:00", "pregunta")])
    assert events(met) == ["started", "met"]


def test_started_is_emitted_once_per_clock_and_every_event_carries_the_deadline_in_force() -> None:
    out = run([opened("2026-12-01T09:00:00-05:00"), classified("2026-12-01T09:01:00-05:00", "pregunta"),
               classified("2026-12-01T09:30:00-05:00", "pregunta", "alta"), status("2026-12-03T10:00:00-05:00",
                                                                                     "resuelto")])
    assert events(out).count("started") == 1
    assert all(o["deadline"] == "2026-12-03T09:00:00-05:00" for o in out if o["event"] != "paused")


def test_a_start_on_a_colombian_monday_holiday_counts_from_tuesday_opening() -> None:
    # Sun 1 Nov 2026 19:00; Mon 2 Nov is All Saints' Day (moved to Monday in Colombia)
    out = run([opened("2026-11-01T19:00:00-05:00"), classified("2026-11-01T19:00:00-05:00", "solicitud")])
    assert first(out, "started")["deadline"] == "2026-11-06T08:00:00-05:00"
