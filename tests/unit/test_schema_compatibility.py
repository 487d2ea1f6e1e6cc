"""Versioned schemas (design.md invariant 4): the compatibility rule, upcasting, the checked-in files."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import pytest

from shared.schemas import REGISTRY, Payload, SchemaError, decode_event, make_event
from shared.schemas.base import Registry
from shared.schemas.export import SCHEMA_DIR, check_against_checked_in, file_name, incompatibilities, schema_of

AT = "2026-12-07T14:00:00+00:00"

# -- test-local models: one event type in several shapes ------------------------------------------------


class Thing(Payload):
    event_type = "demo.thing_happened"
    version = 1

    name: str
    size: int


class ThingRemoved(Payload):
    event_type = "demo.thing_happened"
    version = 1

    name: str


class ThingRequiredAdded(Payload):
    event_type = "demo.thing_happened"
    version = 1

    name: str
    size: int
    colour: str


class ThingOptionalAdded(Payload):
    event_type = "demo.thing_happened"
    version = 1

    name: str
    size: int
    colour: str = "gris"
    note: str | None = None


class ThingRetyped(Payload):
    event_type = "demo.thing_happened"
    version = 1

    name: str
    size: str


class ThingWidened(Payload):
    event_type = "demo.thing_happened"
    version = 1

    name: str
    size: int | None


class Mood(StrEnum):
    good = "good"
    bad = "bad"


class Mood2(StrEnum):
    good = "good"


class Mood3(StrEnum):
    good = "good"
    bad = "bad"
    meh = "meh"


class Feeling(Payload):
    event_type = "demo.felt"
    version = 1
    mood: Mood


class FeelingNarrowed(Payload):
    event_type = "demo.felt"
    version = 1
    mood: Mood2


class FeelingWidened(Payload):
    event_type = "demo.felt"
    version = 1
    mood: Mood3


def test_identical_schemas_are_compatible() -> None:
    assert incompatibilities(schema_of(Thing), schema_of(Thing)) == []


def test_adding_an_optional_property_is_compatible() -> None:
    assert incompatibilities(schema_of(Thing), schema_of(ThingOptionalAdded)) == []


def test_removing_a_property_is_incompatible() -> None:
    problems = incompatibilities(schema_of(Thing), schema_of(ThingRemoved))
    assert any("size" in p and "removed" in p for p in problems), problems


def test_a_newly_required_property_is_incompatible() -> None:
    problems = incompatibilities(schema_of(Thing), schema_of(ThingRequiredAdded))
    assert any("colour" in p and "required" in p for p in problems), problems


def test_changing_a_property_type_is_incompatible() -> None:
    problems = incompatibilities(schema_of(Thing), schema_of(ThingRetyped))
    assert any("size" in p and "type changed" in p for p in problems), problems


def test_accepting_null_as_well_is_compatible_but_dropping_null_is_not() -> None:
    assert incompatibilities(schema_of(Thing), schema_of(ThingWidened)) == []
    assert incompatibilities(schema_of(ThingWidened), schema_of(Thing)) != []


def test_dropping_an_enum_value_is_incompatible_and_adding_one_is_not() -> None:
    problems = incompatibilities(schema_of(Feeling), schema_of(FeelingNarrowed))
    assert any("enum values removed" in p and "bad" in p for p in problems), problems
    assert incompatibilities(schema_of(Feeling), schema_of(FeelingWidened)) == []


def test_a_version_bump_is_reported_as_a_changed_constant() -> None:
    old = schema_of(Thing)
    new = json.loads(json.dumps(old))
    new["properties"]["schema_version"] = {"const": 2}
    problems = incompatibilities(old, new)
    assert any("schema_version" in p and "constant changed" in p for p in problems), problems


# -- upcasting: old versions are still read -------------------------------------------------------------


class ThingV1(Payload):
    event_type = "demo.thing_happened"
    version = 1

    name: str
    size_cm: int


class ThingV2(Payload):
    event_type = "demo.thing_happened"
    version = 2

    name: str
    size_mm: int
    unit: str


def _registry_with_upcaster() -> Registry:
    reg = Registry()
    reg.register(ThingV1)
    reg.register(ThingV2)

    @reg.upcaster("demo.thing_happened", 1)
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in data.items() if k != "size_cm"}
        return {**out, "size_mm": data["size_cm"] * 10, "unit": "mm"}

    return reg


def _wire(payload: Payload) -> bytes:
    return make_event(payload, tenant="navegasoft", occurred_at=AT, producer="test").to_json()


def test_an_old_version_is_read_upcast_to_the_newest_model() -> None:
    reg = _registry_with_upcaster()
    raw = _wire(ThingV1(name="caja", size_cm=12))
    ev = decode_event(raw, registry=reg)
    assert isinstance(ev.payload, ThingV2)
    assert ev.payload == ThingV2(name="caja", size_mm=120, unit="mm")
    assert ev.envelope.schema_version == 1  # the envelope still says what was on the wire


def test_the_newest_version_is_read_as_is() -> None:
    reg = _registry_with_upcaster()
    ev = decode_event(_wire(ThingV2(name="caja", size_mm=5, unit="mm")), registry=reg)
    assert ev.payload == ThingV2(name="caja", size_mm=5, unit="mm")


def test_a_missing_upcaster_is_a_schema_error() -> None:
    reg = Registry()
    reg.register(ThingV1)
    reg.register(ThingV2)
    with pytest.raises(SchemaError, match="no upcaster"):
        decode_event(_wire(ThingV1(name="caja", size_cm=1)), registry=reg)


def test_registering_an_older_version_after_a_newer_one_is_refused() -> None:
    reg = Registry()
    reg.register(ThingV2)
    with pytest.raises(ValueError, match="registered after"):
        reg.register(ThingV1)


def test_the_global_registry_knows_every_event_at_one_version() -> None:
    assert "ticket.opened" in REGISTRY.latest
    assert all(cls.event_type == name for name, cls in REGISTRY.latest.items())


# -- the checked-in JSON schemas --------------------------------------------------------------------------


def _checked_in() -> list[type[Payload]]:
    return [cls for cls in REGISTRY.latest.values() if (SCHEMA_DIR / file_name(cls)).exists()]


def test_the_core_events_have_a_checked_in_schema() -> None:
    for name in ("contact.received", "ticket.opened", "ticket.classified", "sla.started", "committee.convened"):
        assert (SCHEMA_DIR / file_name(REGISTRY.latest[name])).exists(), name


@pytest.mark.parametrize("cls", _checked_in(), ids=lambda c: c.event_type)
def test_checked_in_schema_is_compatible_with_its_model(cls: type[Payload]) -> None:
    old = json.loads((SCHEMA_DIR / file_name(cls)).read_text())
    assert incompatibilities(old, schema_of(cls)) == []


def test_every_model_matches_its_checked_in_schema_with_no_problems() -> None:
    assert check_against_checked_in() == []


def test_check_against_checked_in_reports_a_missing_file(tmp_path) -> None:
    reg = Registry()
    reg.register(Thing)
    problems = check_against_checked_in(directory=tmp_path, registry=reg)
    assert problems == ["demo.thing_happened.v1.json: no checked-in schema (run `guardia schemas export`)"]


def test_check_against_checked_in_reports_an_incompatible_model(tmp_path) -> None:
    (tmp_path / "demo.thing_happened.v1.json").write_text(json.dumps(schema_of(Thing)))
    reg = Registry()
    reg.register(ThingRemoved)
    problems = check_against_checked_in(directory=tmp_path, registry=reg)
    assert any("size" in p for p in problems), problems
