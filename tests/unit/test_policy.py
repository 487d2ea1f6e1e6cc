"""Tenant policies (design.md invariant 5): the built-in files load, broken ones fail with field paths."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from guardia.policy import BUILTIN_DIR, Policies, PolicyError, load_policy_file
from shared.schemas import Channel, Priority, Target, TicketType

BASE: dict[str, Any] = yaml.safe_load((BUILTIN_DIR / "navegasoft.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, mutate: Callable[[dict[str, Any]], None], name: str = "navegasoft") -> Path:
    doc = copy.deepcopy(BASE)
    mutate(doc)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# -- the built-in policies ------------------------------------------------------------------------------------------


def test_every_built_in_policy_loads() -> None:
    policies = Policies.load()
    assert {"navegasoft", "wolk", "mecodex", "miskuentas"} <= set(policies.tenants())
    assert "navegasoft" in policies


def test_an_unknown_tenant_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="navegasoft"):
        Policies.load()["nadie"]


def test_navegasoft_is_seed_001() -> None:
    p = Policies.load()["navegasoft"]
    assert p.calendar.timezone == "America/Bogota"
    assert p.calendar.country == "CO"
    assert set(p.calendar.working_hours) == {"mon", "tue", "wed", "thu", "fri"}
    assert all(spans == [("08:00", "18:00")] for spans in p.calendar.working_hours.values())
    assert p.channels.whatsapp_official is False
    assert not p.channels.counts_for_sla(Channel.whatsapp)
    assert p.channels.counts_for_sla(Channel.email)
    assert p.intake.ticket_prefix == "NS"


def test_navegasoft_sla_targets_are_those_of_001() -> None:
    sla = Policies.load()["navegasoft"].sla
    hours = {t: sla.target_for(t, Priority.media) for t in TicketType}
    assert hours == {
        TicketType.problema: Target(amount=24, unit="calendar_hours"),
        TicketType.pregunta: Target(amount=48, unit="calendar_hours"),
        TicketType.anomalia: Target(amount=72, unit="calendar_hours"),
        TicketType.solicitud: Target(amount=3, unit="business_days"),
        TicketType.usabilidad: Target(amount=2, unit="business_days"),
        TicketType.bug: None,
    }
    assert sla.target_for(TicketType.solicitud, Priority.urgente) == Target(amount=8, unit="calendar_hours")
    assert sla.target_for(None, Priority.urgente) is None
    assert sla.warnings == (0.5, 0.8, 0.95)


def test_navegasoft_escalation_matrix_is_that_of_001() -> None:
    matrix = Policies.load()["navegasoft"].escalation.matrix
    assert matrix[TicketType.problema] == ("nivel_1", "nivel_2", "nivel_3")
    assert matrix[TicketType.pregunta] == ("nivel_1", "nivel_2")
    assert matrix[TicketType.anomalia] == ("nivel_1", "nivel_3")
    assert matrix[TicketType.bug] == ("nivel_1", "nivel_3")
    assert matrix[TicketType.solicitud] == ("nivel_1", "area_correspondiente")
    assert matrix[TicketType.usabilidad] == ("nivel_1", "area_de_proyectos")


def test_the_business_calendar_is_built_from_the_policy() -> None:
    cal = Policies.load()["navegasoft"].business_calendar
    assert cal.working_hours["mon"] == ((time(8), time(18)),)
    assert cal.timezone == "America/Bogota"


def test_a_copy_of_a_valid_policy_loads_and_gets_a_content_version_when_none_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, lambda d: d.pop("version"))
    policy = load_policy_file(path)
    assert policy.tenant == "navegasoft"
    assert len(policy.version) == 12


def test_an_operator_folder_overrides_a_built_in_policy(tmp_path: Path) -> None:
    write(tmp_path, lambda d: d.__setitem__("name", "Navegasoft (override)"))
    assert Policies.load(tmp_path)["navegasoft"].name == "Navegasoft (override)"


def test_a_missing_operator_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        Policies.load(tmp_path / "nope")


# -- broken files name the field at fault -----------------------------------------------------------------------------


def _hours(day: str, spans: list[list[str]]) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["calendar"]["working_hours"].__setitem__(day, spans)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["calendar"].__setitem__("timezone", "America/Bogotá"),
         ["calendar.timezone", "America/Bogotá"]),
        (_hours("lunes", [["08:00", "18:00"]]), ["calendar.working_hours", "'lunes'"]),
        (_hours("mon", [["08:00", "13:00"], ["12:00", "18:00"]]), ["calendar.working_hours", "working_hours.mon",
                                                                   "overlaps"]),
        (_hours("tue", [["18:00", "08:00"]]), ["calendar.working_hours", "working_hours.tue"]),
        (_hours("wed", [["8h", "18:00"]]), ["calendar.working_hours", "working_hours.wed", "HH:MM"]),
        (lambda d: d["escalation"]["matrix"].__setitem__("problema", ["nivel_1", "nivel_2", "nivel_9"]),
         ["escalation", "matrix.problema", "nivel_9", "roles"]),
        (lambda d: d["escalation"]["matrix"].__setitem__("pregunta", []), ["escalation", "matrix.pregunta"]),
        (lambda d: d["calendar"].__setitem__("country", "XX"), ["calendar.country", "XX"]),
        (lambda d: d["sla"].__setitem__("warnings", [0.5, 1.2]), ["sla.warnings"]),
        (lambda d: d["sla"]["targets"].__setitem__("problema", {"amount": 24, "unit": "hours"}),
         ["sla.targets.problema.unit"]),
        (lambda d: d["sla"]["targets"].__setitem__("problema", {"amount": 0, "unit": "calendar_hours"}),
         ["sla.targets.problema.amount"]),
        (lambda d: d["intake"].__setitem__("ticket_prefix", "ns"), ["intake.ticket_prefix"]),
        (lambda d: d.__setitem__("colour", "blue"), ["colour", "Extra inputs"]),
        (lambda d: d["notify"].pop("signature"), ["notify.signature"]),
    ],
    ids=["bad-timezone", "unknown-weekday", "overlapping-hours", "reversed-hours", "not-hhmm",
         "level-without-role", "empty-matrix-row", "unknown-country", "warning-out-of-range", "unknown-unit",
         "zero-amount", "lower-case-prefix", "unknown-key", "missing-signature"],
)
def test_a_broken_policy_raises_policy_error_naming_the_field_path(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    path = write(tmp_path, mutate)
    with pytest.raises(PolicyError) as info:
        load_policy_file(path)
    text = str(info.value)
    assert str(path) in text
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not in {text!r}"


def test_a_broken_file_in_an_operator_folder_stops_loading(tmp_path: Path) -> None:
    write(tmp_path, lambda d: d["calendar"].__setitem__("timezone", "Mars/Olympus"))
    with pytest.raises(PolicyError, match=r"calendar\.timezone"):
        Policies.load(tmp_path)


def test_invalid_yaml_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "navegasoft.yaml"
    path.write_text("tenant: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="cannot read YAML"):
        load_policy_file(path)


def test_a_file_that_is_not_a_mapping_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "navegasoft.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="expected a mapping"):
        load_policy_file(path)


def test_the_file_name_must_be_the_tenant_id(tmp_path: Path) -> None:
    path = write(tmp_path, lambda d: None, name="otra")
    with pytest.raises(PolicyError, match=r"navegasoft\.yaml"):
        load_policy_file(path)


def test_touching_intervals_and_a_day_ending_at_midnight_are_valid(tmp_path: Path) -> None:
    path = write(tmp_path, _hours("sat", [["08:00", "12:00"], ["12:00", "24:00"]]))
    cal = load_policy_file(path).business_calendar
    assert cal.working_hours["sat"] == ((time(8), time(12)), (time(12), time(0)))


@pytest.mark.parametrize("amount", [0.5, 2.5])
def test_a_fractional_business_days_target_is_rejected_at_load(tmp_path: Path, amount: float) -> None:
    path = write(tmp_path, lambda d: d["sla"]["targets"].__setitem__(
        "solicitud", {"amount": amount, "unit": "business_days"}))
    with pytest.raises(PolicyError, match=r"sla\.targets\.solicitud"):
        load_policy_file(path)


# -- notify: a tenant's own templates and accounts ------------------------------------------------------------------


def templates_of(tmp_path: Path, files: dict[str, str]) -> Path:
    write(tmp_path, lambda d: None)
    folder = tmp_path / "navegasoft" / "templates"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_tenants_template_folder_is_found_beside_its_policy(tmp_path: Path) -> None:
    folder = templates_of(tmp_path, {"acuse_recibo.txt.j2": "Hola {{ customer_name }}, tique {{ ticket_number }}"})
    policies = Policies.load(tmp_path)
    assert policies.templates("navegasoft") == folder
    assert policies.templates("wolk") is None


@pytest.mark.parametrize(("files", "says"), [
    ({"acuse_recibos.txt.j2": "x"}, "no built-in template has this name"),
    ({"acuse_recibo.txt.j2": "Hola {{ customer_name }"}, "acuse_recibo.txt.j2:1: template syntax error"),
    ({"acuse_recibo.txt.j2": "Hola {{ cliente }}"}, "uses cliente, which this message does not receive"),
])
def test_a_broken_template_stops_loading_and_says_which_and_why(tmp_path: Path, files: dict[str, str],
                                                                 says: str) -> None:
    templates_of(tmp_path, files)
    with pytest.raises(PolicyError, match="invalid message templates") as err:
        Policies.load(tmp_path)
    assert says in str(err.value)


@pytest.mark.parametrize(("accounts", "says"), [
    ({"whatsapp_access_token": "EAAGrealtoken", "whatsapp_phone_number_id": "1"}, "must say where the secret is"),
    ({"whatsapp_acces_token": "env:X"}, "unknown keys whatsapp_acces_token"),
    ({"whatsapp_phone_number_id": "1"}, "own whatsapp account also needs whatsapp_access_token"),
    ({"smtp_url": "env:SMTP_URL"}, "own email account also needs mail_from"),
])
def test_a_tenants_accounts_hold_no_secret_and_no_half_account(tmp_path: Path, accounts: dict[str, str],
                                                                says: str) -> None:
    path = write(tmp_path, lambda d: d["notify"].update(accounts=accounts))
    with pytest.raises(PolicyError, match="notify") as err:
        load_policy_file(path)
    assert says in str(err.value)


def test_the_summary_copies_only_roles_that_have_a_recipient(tmp_path: Path) -> None:
    path = write(tmp_path, lambda d: d["notify"].update(resolution_copy=["lider_de_calidad"]))
    with pytest.raises(PolicyError, match="resolution_copy names roles with no recipient: lider_de_calidad"):
        load_policy_file(path)
