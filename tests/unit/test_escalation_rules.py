"""Escalation: the 001 §3.5 matrix, urgent alerts, and the §3.7 committee every 5 tickets."""

from __future__ import annotations

import pytest

from guardia.policy import Policies
from services.escalation.policy import CommitteePolicy
from services.escalation.rules import CommitteeCount, counts_for_committee, route_for, step_up
from shared.schemas import Area, Category, Priority, TicketClassified, TicketType

POLICY = Policies.load()["navegasoft"].escalation


def classified(ticket_type: TicketType | None, priority: Priority = Priority.media, area: Area = Area.otro,
               categories: tuple[Category, ...] = ()) -> TicketClassified:
    return TicketClassified(ticket_type=ticket_type, priority=priority, area=area, categories=categories,
                            confidence=0.9, classifier="test")


def walk(ticket_type: TicketType, area: Area = Area.otro, steps: int = 2) -> list[str]:
    """The levels a ticket visits: its first line, then each escalation on breach."""
    route, assigned, escalations = route_for(POLICY, classified(ticket_type, area=area))
    visited = [assigned.level] + [e.to_level for e in escalations]
    for _ in range(steps):
        visited.append(step_up(route, "sla_breached", POLICY).to_level)
    return visited


# -- the matrix ---------------------------------------------------------------------------------------------------


def test_problema_goes_nivel_1_then_nivel_2_then_nivel_3() -> None:
    assert walk(TicketType.problema) == ["nivel_1", "nivel_2", "nivel_3"]


def test_pregunta_goes_nivel_1_then_nivel_2() -> None:
    assert walk(TicketType.pregunta, steps=1) == ["nivel_1", "nivel_2"]


def test_anomalia_goes_nivel_1_then_straight_to_nivel_3() -> None:
    assert walk(TicketType.anomalia, steps=1) == ["nivel_1", "nivel_3"]


def test_bug_is_escalated_to_nivel_3_at_once() -> None:
    route, assigned, escalations = route_for(POLICY, classified(TicketType.bug, Priority.alta))
    assert assigned.level == "nivel_1"
    assert [(e.from_level, e.to_level, e.reason) for e in escalations] == [
        ("nivel_1", "nivel_3", "bug_to_development")
    ]
    assert route.level == "nivel_3"
    assert escalations[0].rule == "001 §3.5 bug: nivel_1 -> nivel_3"


def test_an_unsure_classification_goes_to_nivel_1_to_be_confirmed_first() -> None:
    unsure = classified(TicketType.anomalia).model_copy(update={"needs_review": True, "confidence": 0.41})
    route, assigned, escalations = route_for(POLICY, unsure)
    assert assigned.level == "nivel_1" and "confianza baja (0.41)" in assigned.reason
    assert escalations == []
    assert step_up(route, "sla_breached", POLICY).to_level == "nivel_3"  # then the anomalía matrix
    bug = classified(TicketType.bug).model_copy(update={"needs_review": True, "confidence": 0.5})
    assert route_for(POLICY, bug)[2] == []  # not sent to development before nivel 1 confirms it is a bug


def test_an_unsure_urgent_ticket_is_still_assigned_at_once() -> None:
    unsure = classified(TicketType.problema, Priority.urgente).model_copy(update={"needs_review": True})
    _, assigned, _ = route_for(POLICY, unsure)
    assert assigned.alert_emergency and "urgente" in assigned.reason


def test_no_other_type_is_escalated_at_once() -> None:
    for ticket_type in (TicketType.problema, TicketType.pregunta, TicketType.anomalia, TicketType.solicitud,
                        TicketType.usabilidad):
        assert route_for(POLICY, classified(ticket_type))[2] == []


@pytest.mark.parametrize("area", [Area.facturacion, Area.nomina, Area.comercial])
def test_solicitud_goes_to_the_area_in_charge(area: Area) -> None:
    assert walk(TicketType.solicitud, area=area, steps=1) == ["nivel_1", f"area_{area.value}"]


def test_usabilidad_goes_to_the_projects_area() -> None:
    route, assigned, _ = route_for(POLICY, classified(TicketType.usabilidad, area=Area.facturacion))
    escalated = step_up(route, "sla_breached", POLICY)
    assert (assigned.level, escalated.to_level) == ("nivel_1", "area_de_proyectos")
    assert escalated.rule == "001 §3.5 usabilidad: nivel_1 -> area_de_proyectos"


def test_the_role_of_a_level_comes_from_the_policy() -> None:
    _, assigned, _ = route_for(POLICY, classified(TicketType.problema))
    assert assigned.role == "Soporte Nivel 1"
    assert assigned.reason == "001 §3.3: problema -> nivel_1"


def test_past_the_top_of_the_matrix_failed_communication_goes_to_the_projects_leader() -> None:
    route, _, _ = route_for(POLICY, classified(TicketType.pregunta))
    step_up(route, "sla_breached", POLICY)  # -> nivel_2, the top for preguntas
    escalated = step_up(route, "sla_breached", POLICY)
    assert (escalated.from_level, escalated.to_level) == ("nivel_2", "lider_de_proyectos")
    assert "comunicación fallida" in escalated.rule


def test_a_message_that_is_no_request_stays_with_nivel_1() -> None:
    route, assigned, escalations = route_for(POLICY, classified(None, Priority.baja))
    assert assigned.level == "nivel_1"
    assert route.levels == ["nivel_1"]
    assert escalations == []
    assert not assigned.alert_emergency


# -- urgent ----------------------------------------------------------------------------------------------------------


def test_urgent_is_assigned_at_once_with_the_emergency_alert() -> None:
    _, assigned, _ = route_for(POLICY, classified(TicketType.problema, Priority.urgente))
    assert assigned.alert_emergency is True
    assert assigned.level == "nivel_1"
    assert "emergencia 24/7" in assigned.reason


@pytest.mark.parametrize("priority", [Priority.alta, Priority.media, Priority.baja])
def test_non_urgent_tickets_raise_no_emergency_alert(priority: Priority) -> None:
    _, assigned, _ = route_for(POLICY, classified(TicketType.problema, priority))
    assert assigned.alert_emergency is False


def test_escalating_an_urgent_ticket_alerts_the_emergency_number_again() -> None:
    route, _, _ = route_for(POLICY, classified(TicketType.problema, Priority.urgente))
    assert step_up(route, "sla_breached", POLICY).alert_emergency is True
    route, _, _ = route_for(POLICY, classified(TicketType.problema, Priority.media))
    assert step_up(route, "sla_breached", POLICY).alert_emergency is False


def test_an_urgent_level_in_the_policy_takes_the_first_assignment() -> None:
    policy = POLICY.model_copy(update={"urgent_level": "nivel_2"})
    _, assigned, _ = route_for(policy, classified(TicketType.problema, Priority.urgente))
    assert assigned.level == "nivel_2"


# -- the committee (001 §3.7 Fase 2) ---------------------------------------------------------------------------------


def test_five_counted_tickets_convene_one_committee_listing_them() -> None:
    count = CommitteeCount(pending=[])
    results = [count.add(f"id-{i}", f"NS-{i:06d}", POLICY.committee.every) for i in range(1, 6)]
    assert results[:4] == [None] * 4
    assert results[4] == [(f"id-{i}", f"NS-{i:06d}") for i in range(1, 6)]
    assert count.batches == 1
    assert count.pending == []


def test_ten_counted_tickets_convene_two_committees() -> None:
    count = CommitteeCount(pending=[])
    batches = [b for i in range(10) if (b := count.add(f"id-{i}", f"NS-{i}", 5)) is not None]
    assert len(batches) == 2
    assert [t for t, _ in batches[1]] == [f"id-{i}" for i in range(5, 10)]
    assert count.batches == 2


def test_the_same_ticket_twice_counts_once() -> None:
    count = CommitteeCount(pending=[])
    for i in range(4):
        count.add(f"id-{i}", f"NS-{i}", 5)
    assert count.add("id-3", "NS-3", 5) is None
    assert len(count.pending) == 4
    assert count.add("id-4", "NS-4", 5) is not None


def test_the_policy_of_001_convenes_every_five_via_the_projects_leader() -> None:
    assert POLICY.committee == CommitteePolicy(
        every=5, categories=(Category.oportunidad_de_mejora,), types=(TicketType.usabilidad,),
        convener_role="lider_de_proyectos",
    )


@pytest.mark.parametrize(
    ("ticket", "counts"),
    [
        (classified(TicketType.usabilidad), True),
        (classified(TicketType.problema, categories=(Category.oportunidad_de_mejora,)), True),
        (classified(TicketType.usabilidad, categories=(Category.oportunidad_de_mejora,)), True),
        (classified(TicketType.problema), False),
        (classified(TicketType.bug, categories=(Category.garantia,)), False),
        (classified(TicketType.solicitud, categories=(Category.cotizacion, Category.modulos)), False),
        (classified(None, Priority.baja), False),
    ],
    ids=["usabilidad", "oportunidad-de-mejora", "both", "problema", "bug-garantia", "solicitud", "no-request"],
)
def test_only_oportunidad_de_mejora_or_usabilidad_counts_for_the_committee(
    ticket: TicketClassified, counts: bool
) -> None:
    assert counts_for_committee(POLICY.committee, ticket) is counts
