"""Event ids (deterministic UUIDv7) and the envelope: building, encoding and decoding events."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.schemas import (
    PARTITIONS,
    REGISTRY,
    Envelope,
    MessageAdded,
    SchemaError,
    SlaWarning,
    Status,
    StatusChanged,
    decode_event,
    event_subject,
    event_type_of,
    make_event,
    partition_of,
)
from shared.schemas.base import fnv1a32
from shared.schemas.ids import derived_id, new_event_id, stable_uuid

AT = datetime(2026, 12, 7, 14, 30, 15, 123000, tzinfo=UTC)
REASON_CODES = {"malformed_json", "schema_violation", "unknown_event_type"}


def _status_event(**overrides: object):
    kwargs = {"tenant": "navegasoft", "occurred_at": AT, "producer": "test", "ticket_id": uuid.uuid4()}
    kwargs.update(overrides)
    return make_event(StatusChanged(status=Status.en_proceso, previous=Status.nuevo), **kwargs)


def _reason_code(exc: SchemaError) -> str:
    """How the runtime splits a SchemaError into a dead letter's reason code (guardia/bus/runtime.py)."""
    return str(exc).partition(": ")[0]


# -- ids ---------------------------------------------------------------------------------------------


def test_derived_id_is_deterministic_for_the_same_instant_and_cause() -> None:
    cause = uuid.uuid4()
    assert derived_id(AT, cause, "sla.warning", 0.5) == derived_id(AT, cause, "sla.warning", 0.5)


def test_derived_id_differs_when_the_cause_or_key_differs() -> None:
    cause = uuid.uuid4()
    ids = {
        derived_id(AT, cause, "sla.warning", 0.5),
        derived_id(AT, cause, "sla.warning", 0.8),
        derived_id(AT, uuid.uuid4(), "sla.warning", 0.5),
        derived_id(AT, cause, "sla.breached", 0.5),
    }
    assert len(ids) == 4


def test_derived_id_is_a_uuid_v7_carrying_the_event_instant_in_milliseconds() -> None:
    value = derived_id(AT, "x")
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == int(AT.timestamp() * 1000)


def test_derived_ids_sort_like_their_instants() -> None:
    earlier = derived_id(AT, "zzz")
    later = derived_id(AT + timedelta(milliseconds=1), "aaa")
    assert earlier < later
    assert str(earlier) < str(later)


def test_new_event_id_is_a_fresh_uuid_v7() -> None:
    a, b = new_event_id(), new_event_id()
    assert a.version == 7 and b.version == 7
    assert a != b


def test_stable_uuid_is_name_based_and_repeatable() -> None:
    assert stable_uuid("ticket", "c-1") == stable_uuid("ticket", "c-1")
    assert stable_uuid("ticket", "c-1") != stable_uuid("ticket", "c-2")
    assert stable_uuid("ticket", "c-1").version == 5


# -- envelope ------------------------------------------------------------------------------------------


def test_make_event_fills_the_envelope_from_the_payload() -> None:
    ev = _status_event()
    env = ev.envelope
    assert env.event_type == "ticket.status_changed"
    assert env.schema_version == 1
    assert env.correlation_id == env.event_id  # the first event of a chain correlates with itself
    assert env.causation_id is None
    assert env.data == {"status": "en_proceso", "previous": "nuevo", "by": "system", "reason": ""}
    assert ev.subject == f"ev.navegasoft.{partition_of(str(env.ticket_id))}.ticket.status_changed"


def test_event_subject_is_ev_tenant_partition_event_type() -> None:
    ticket = "0190a3c4-0000-7000-8000-000000000001"
    subject = event_subject("wolk", "sla.breached", ticket)
    tenant_token, partition, aggregate, name = subject.split(".")[1:]
    assert (tenant_token, aggregate, name) == ("wolk", "sla", "breached")
    assert int(partition) == partition_of(ticket) < PARTITIONS
    assert ticket not in subject  # a subject per ticket would cost nats-server memory for ever


def test_all_events_of_a_ticket_share_one_partition_and_tickets_spread_over_all() -> None:
    tickets = [str(uuid.uuid4()) for _ in range(2000)]
    assert {event_subject("t", "ticket.opened", k).split(".")[2] == event_subject("t", "sla.met", k).split(".")[2]
            for k in tickets} == {True}
    counts = Counter(partition_of(k) for k in tickets)
    assert set(counts) == set(range(PARTITIONS))
    assert max(counts.values()) < 2 * min(counts.values())


def test_partition_hash_is_the_fnv1a_that_nats_server_partition_mapping_uses() -> None:
    # FNV-1a 32-bit reference values (the hash in nats-server's subject_transform.go)
    assert fnv1a32(b"") == 0x811C9DC5
    assert fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968


def test_event_type_is_read_from_both_subject_layouts() -> None:
    assert event_type_of("ev.wolk.7.sla.breached") == "sla.breached"
    assert event_type_of("ev.wolk.sla.breached") == "sla.breached"  # before partitions (migration)
    assert event_type_of("dlq.wolk.intake") is None


def test_envelope_rejects_an_upper_case_tenant_and_a_malformed_event_type() -> None:
    with pytest.raises(ValidationError):
        _status_event(tenant="Navegasoft")
    with pytest.raises(ValidationError):
        Envelope(event_id=uuid.uuid4(), event_type="TicketOpened", schema_version=1, occurred_at=AT,
                 tenant="navegasoft", correlation_id=uuid.uuid4(), producer="t", data={})


def test_envelope_rejects_a_naive_occurred_at() -> None:
    with pytest.raises(ValidationError):
        _status_event(occurred_at=datetime(2026, 12, 7, 9, 0))


def test_derive_gives_the_same_id_for_the_same_cause_and_key() -> None:
    cause = _status_event()
    payload = SlaWarning(deadline=AT + timedelta(hours=1), policy_version="v", fraction=0.5)
    first = cause.derive(payload, producer="sla_watch", key="warning:0.5")
    again = cause.derive(payload, producer="sla_watch", key="warning:0.5")
    other = cause.derive(payload, producer="sla_watch", key="warning:0.8")
    assert first.event_id == again.event_id
    assert first.event_id != other.event_id
    assert first.envelope.causation_id == cause.event_id
    assert first.envelope.correlation_id == cause.envelope.correlation_id
    assert first.ticket_id == cause.ticket_id
    assert first.occurred_at == cause.occurred_at


def test_an_event_survives_a_round_trip_through_json() -> None:
    ev = _status_event()
    back = decode_event(ev.to_json())
    assert back.envelope == ev.envelope
    assert back.payload == ev.payload
    assert isinstance(back.payload, StatusChanged)


# -- decode errors with reason codes ------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00garbage", ""])
def test_decode_event_reports_malformed_json(raw: bytes | str) -> None:
    with pytest.raises(SchemaError) as info:
        decode_event(raw)
    assert _reason_code(info.value) == "malformed_json"


def test_decode_event_reports_an_envelope_schema_violation_naming_the_field() -> None:
    doc = json.loads(_status_event().to_json())
    del doc["occurred_at"]
    with pytest.raises(SchemaError) as info:
        decode_event(json.dumps(doc))
    assert _reason_code(info.value) == "schema_violation"
    assert "occurred_at" in str(info.value)


def test_decode_event_reports_a_json_value_that_is_not_an_object_as_schema_violation() -> None:
    with pytest.raises(SchemaError) as info:
        decode_event(b"[1, 2, 3]")
    assert _reason_code(info.value) == "schema_violation"


def test_decode_event_reports_a_payload_schema_violation_naming_the_field() -> None:
    doc = json.loads(_status_event().to_json())
    doc["data"]["status"] = "archivado"
    with pytest.raises(SchemaError) as info:
        decode_event(json.dumps(doc))
    assert _reason_code(info.value) == "schema_violation"
    assert "ticket.status_changed" in str(info.value)
    assert "status" in str(info.value)


def test_decode_event_rejects_extra_payload_fields() -> None:
    ev = make_event(MessageAdded(author="customer", channel="email", text="hola"), tenant="navegasoft",
                    occurred_at=AT, producer="t")
    doc = json.loads(ev.to_json())
    doc["data"]["unexpected"] = 1
    with pytest.raises(SchemaError) as info:
        decode_event(json.dumps(doc))
    assert _reason_code(info.value) == "schema_violation"
    assert "unexpected" in str(info.value)


def test_decode_event_reports_an_unknown_event_type() -> None:
    doc = json.loads(_status_event().to_json())
    doc["event_type"] = "ticket.teleported"
    with pytest.raises(SchemaError) as info:
        decode_event(json.dumps(doc))
    assert _reason_code(info.value) == "unknown_event_type"
    assert "ticket.teleported" in str(info.value)


def test_decode_event_reports_a_version_newer_than_known_with_a_reason_code() -> None:
    doc = json.loads(_status_event().to_json())
    doc["schema_version"] = REGISTRY.latest["ticket.status_changed"].version + 1
    with pytest.raises(SchemaError) as info:
        decode_event(json.dumps(doc))
    assert "newer" in str(info.value)
    assert _reason_code(info.value) in REASON_CODES | {"unsupported_version", "unknown_version"}
