"""notify: who hears of what (001 §2.3, §3.2, §3.5, §3.7), rendering, and the outbox's idempotency."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guardia.policy import Policies
from services.notify.outbox import Outbox
from services.notify.render import local_time, timezone_label
from services.notify.rules import NotifyRules, TicketView, customer_address
from shared.schemas import (
    CommitteeConvened,
    NotificationRequested,
    SlaExempted,
    SlaStarted,
    SlaWarning,
    Status,
    StatusChanged,
    Target,
    TicketAssigned,
    TicketEscalated,
    make_event,
)

TENANT = Policies.load()["navegasoft"]
RULES = NotifyRules(TENANT.notify, TENANT.calendar.timezone)
AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # Fri 4 Dec 10:00 in Bogotá
DEADLINE = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)  # Thu 10 Dec 10:00 in Bogotá
TICKET_ID = uuid.UUID("0192f0c4-0000-7000-8000-000000000001")


def ev(payload, ticket_id: uuid.UUID | None = TICKET_ID):
    return make_event(payload, tenant="navegasoft", occurred_at=AT, producer="test", ticket_id=ticket_id)


def view(**overrides) -> TicketView:
    values = {
        "tenant": "navegasoft", "number": "NS-000123", "channel": "email",
        "customer": {"name": "Ana María Pérez", "email": "ana@cliente.co", "phone": "+573001234567",
                     "company": "Tiendas Ana"},
        "subject": "Resolución de facturación", "ticket_type": "solicitud", "priority": "alta",
        "deadline": DEADLINE.isoformat(),
    }
    values.update(overrides)
    return TicketView(**values)


def started() -> SlaStarted:
    return SlaStarted(deadline=DEADLINE, policy_version="v", target=Target(amount=3, unit="business_days"),
                      started_at=AT)


# -- rendering ---------------------------------------------------------------------------------------------------


def test_local_time_renders_in_the_tenants_zone_day_first() -> None:
    assert local_time(DEADLINE, "America/Bogota") == "10/12/2026 10:00"
    assert local_time(DEADLINE.isoformat(), "America/Mexico_City") == "10/12/2026 09:00"
    assert local_time(None, "America/Bogota") is None


def test_timezone_label_is_the_city_name() -> None:
    assert timezone_label("America/Costa_Rica") == "Costa Rica"


# -- acknowledgment -------------------------------------------------------------------------------------------------


def test_acknowledgment_carries_number_type_priority_and_local_deadline() -> None:
    [note] = RULES.acknowledgment(ev(started()), view())
    assert note.kind == "acknowledgment"
    assert note.audience == "customer"
    assert (note.channel, note.to) == ("email", "ana@cliente.co")
    assert note.notification_id == f"{TICKET_ID}:acknowledgment"
    assert note.subject == "[NS-000123] Recibimos tu solicitud"
    body = note.body
    assert "NS-000123" in body
    assert "Tipo: Solicitud" in body
    assert "Prioridad: Alta (impacto alto)" in body
    assert "10/12/2026 10:00" in body  # the UTC deadline 15:00 rendered in America/Bogota
    assert "15:00" not in body
    assert "Bogota" in body
    assert body.startswith("Hola Ana,")
    assert TENANT.notify.signature in body


def test_urgent_acknowledgment_shows_the_customer_facing_impact_critico() -> None:
    [note] = RULES.acknowledgment(ev(started()), view(priority="urgente", ticket_type="problema"))
    assert "Prioridad: Urgente (impacto crítico)" in note.body
    assert "Tipo: Problema" in note.body


def test_whatsapp_not_official_acknowledgment_names_the_official_channels() -> None:
    exempt = SlaExempted(reason="whatsapp_not_official", policy_version="v")
    [note] = RULES.acknowledgment(ev(exempt), view(channel="whatsapp", deadline=None))
    assert (note.channel, note.to) == ("whatsapp", "+573001234567")
    assert note.template == "acuse_whatsapp_no_oficial.txt.j2"
    assert "NS-000123" in note.body
    assert "WhatsApp no es un canal oficial" in note.body
    assert "soporte@navegasoft.com" in note.body
    assert "chat de Odoo" in note.body
    assert TENANT.notify.official_channels in note.body


def test_bug_acknowledgment_says_development_owns_it() -> None:
    exempt = SlaExempted(reason="no_support_deadline", policy_version="v")
    [note] = RULES.acknowledgment(ev(exempt), view(ticket_type="bug", deadline=None))
    assert note.template == "acuse_desarrollo.txt.j2"
    assert "desarrollo" in note.body
    assert "NS-000123" in note.body


def test_a_message_that_is_no_request_gets_no_acknowledgment() -> None:
    exempt = SlaExempted(reason="not_a_request", policy_version="v")
    assert RULES.acknowledgment(ev(exempt), view(ticket_type=None)) == []


def test_a_ticket_is_acknowledged_only_once() -> None:
    assert RULES.acknowledgment(ev(started()), view(acknowledged=True)) == []


def test_a_customer_with_no_address_gets_no_acknowledgment() -> None:
    assert RULES.acknowledgment(ev(started()), view(customer={"name": "Anónimo"})) == []


def test_other_events_are_not_acknowledgments() -> None:
    warning = SlaWarning(deadline=DEADLINE, policy_version="v", fraction=0.5)
    assert RULES.acknowledgment(ev(warning), view()) == []


@pytest.mark.parametrize(
    ("channel", "customer", "expected"),
    [
        ("email", {"email": "a@b.co", "phone": "+573001234567"}, ("email", "a@b.co")),
        ("whatsapp", {"email": "a@b.co", "phone": "+573001234567"}, ("whatsapp", "+573001234567")),
        ("phone", {"phone": "+573001234567"}, ("sms", "+573001234567")),
        ("telegram", {"email": "a@b.co", "channel_ids": {"telegram": "998877"}}, ("telegram", "998877")),
        ("webchat", {"email": "a@b.co"}, ("email", "a@b.co")),
        ("webchat", {"phone": "+573001234567"}, ("sms", "+573001234567")),
        ("webchat", {}, None),
    ],
)
def test_customer_is_answered_on_their_channel_falling_back_to_email_then_phone(channel, customer, expected) -> None:
    assert customer_address(TicketView(tenant="navegasoft", channel=channel, customer=customer)) == expected


# -- agents and leaders -----------------------------------------------------------------------------------------------


def test_urgent_assignment_alerts_the_247_emergency_number_on_whatsapp() -> None:
    assigned = TicketAssigned(level="nivel_1", role="Soporte Nivel 1", reason="urgente", alert_emergency=True)
    [note] = RULES.on_assigned(ev(assigned), view(priority="urgente"))
    assert (note.channel, note.to) == ("whatsapp", "+573001110000")
    assert note.kind == "emergency_alert"
    assert note.notification_id == f"{TICKET_ID}:emergency"
    assert note.body.startswith("*URGENTE NS-000123*")  # bold where WhatsApp renders it


def test_a_routine_assignment_notifies_nobody() -> None:
    assigned = TicketAssigned(level="nivel_1", role="Soporte Nivel 1", reason="x")
    assert RULES.on_assigned(ev(assigned), view()) == []


def test_an_escalation_tells_the_receiving_level() -> None:
    escalated = TicketEscalated(from_level="nivel_1", to_level="nivel_2", reason="sla_breached",
                                rule="001 §3.5 problema: nivel_1 -> nivel_2")
    [note] = RULES.on_escalated(ev(escalated), view(ticket_type="problema"))
    assert (note.channel, note.to) == ("email", "funcional@navegasoft.com")
    assert note.notification_id == f"{TICKET_ID}:escalation:nivel_2"
    assert "se venció el tiempo de atención" in note.body
    assert "nivel_1 -> nivel_2" in note.body


def test_an_escalation_to_a_level_with_no_recipient_sends_nothing() -> None:
    escalated = TicketEscalated(from_level="nivel_1", to_level="area_inventario", reason="sla_breached", rule="r")
    assert RULES.on_escalated(ev(escalated), view()) == []


def test_a_warning_goes_to_the_level_in_charge_with_the_fraction_and_local_deadline() -> None:
    warning = SlaWarning(deadline=DEADLINE, policy_version="v", fraction=0.8)
    [note] = RULES.on_warning(ev(warning), view(level="nivel_3"))
    assert note.to == "analistas@navegasoft.com"
    assert note.notification_id == f"{TICKET_ID}:warning:0.8"
    assert "80 %" in note.body
    assert "10/12/2026 10:00" in note.body


def test_the_committee_notice_goes_to_the_projects_leader_listing_the_five_tickets() -> None:
    numbers = tuple(f"NS-00010{i}" for i in range(5))
    convened = CommitteeConvened(batch_number=2, ticket_ids=tuple(uuid.uuid4() for _ in range(5)),
                                 ticket_numbers=numbers, convener_role="lider_de_proyectos")
    [note] = RULES.on_committee(ev(convened, ticket_id=None))
    assert note.to == "lider.proyectos@navegasoft.com"
    assert note.audience == "leader"
    assert note.notification_id == "navegasoft:committee:2"
    assert "Ya hay 5 tiques" in note.body
    assert ", ".join(numbers) in note.body


# -- the outbox --------------------------------------------------------------------------------------------------------


def _note(notification_id: str) -> NotificationRequested:
    return NotificationRequested(notification_id=notification_id, kind="acknowledgment", audience="customer",
                                 channel="email", to="ana@cliente.co", subject="s", body="b", template="t")


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["notification_id"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_outbox_writes_each_notification_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    box = Outbox(path, echo=False)
    assert box.deliver("navegasoft", str(TICKET_ID), _note("n-1")) is True
    assert box.deliver("navegasoft", str(TICKET_ID), _note("n-1")) is False
    assert box.deliver("navegasoft", str(TICKET_ID), _note("n-2")) is True
    assert _ids(path) == ["n-1", "n-2"]


def test_outbox_remembers_what_it_wrote_across_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "data" / "outbox.jsonl"
    assert Outbox(path, echo=False).deliver("navegasoft", None, _note("n-1")) is True
    again = Outbox(path, echo=False)
    assert again.deliver("navegasoft", None, _note("n-1")) is False
    assert _ids(path) == ["n-1"]
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["tenant"] == "navegasoft" and record["to"] == "ana@cliente.co"


def test_outbox_skips_unreadable_lines_when_loading(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    path.write_text('not json\n{"no_id": 1}\n{"notification_id": "n-1"}\n', encoding="utf-8")
    box = Outbox(path, echo=False)
    assert box.deliver("navegasoft", None, _note("n-1")) is False
    assert box.deliver("navegasoft", None, _note("n-2")) is True


def test_outbox_after_a_torn_last_line_still_writes_each_notification_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    path.write_text('{"notification_id": "n-0", "tena', encoding="utf-8")  # crash mid-write
    Outbox(path, echo=False).deliver("navegasoft", None, _note("n-1"))
    assert Outbox(path, echo=False).deliver("navegasoft", None, _note("n-1")) is False


# -- keeping the customer informed, and the 004 summary ------------------------------------------------------------


def changed(status: Status, previous: Status, reason: str = "", by: str = "agente.ana") -> StatusChanged:
    return StatusChanged(status=status, previous=previous, by=by, reason=reason)


def test_waiting_on_the_customer_tells_them_what_is_needed_and_that_the_clock_waits() -> None:
    event = ev(changed(Status.en_proceso_del_solicitante, Status.en_proceso, "envíanos el XML de la factura"))
    [note] = RULES.on_status_changed(event, view(channel="whatsapp",
                                                 customer={"name": "Ana", "phone": "+573001234567"}))
    assert (note.kind, note.channel, note.to) == ("stage_update", "whatsapp", "+573001234567")
    assert note.notification_id == f"{TICKET_ID}:etapa:{event.event_id}"  # each change is its own message
    assert "envíanos el XML de la factura" in note.body and "en pausa" in note.body
    assert "*NS-000123*" in note.body


def test_a_change_the_system_made_itself_or_a_stage_the_tenant_mutes_tells_nobody() -> None:
    merged_away = ev(changed(Status.cancelado, Status.nuevo, "duplicado de NS-000100", by="intake"))
    assert RULES.on_status_changed(merged_away, view()) == []
    muted = NotifyRules(TENANT.notify.model_copy(update={"keep_informed": ()}), TENANT.calendar.timezone)
    assert muted.on_status_changed(ev(changed(Status.en_proceso, Status.nuevo)), view()) == []
    assert RULES.on_status_changed(ev(changed(Status.nuevo, Status.cancelado)), view()) == []  # a reopen


def test_a_resolution_mails_the_summary_to_the_customer_and_everyone_involved() -> None:
    event = ev(changed(Status.resuelto, Status.en_proceso, "Se corrigió el certificado del PAC y se re-timbró."))
    copying = NotifyRules(TENANT.notify.model_copy(update={"resolution_copy": ("lider_de_operaciones",)}),
                          TENANT.calendar.timezone)
    notes = copying.on_status_changed(event, view(
        channel="whatsapp", customer={"name": "Ana", "email": "ana@cliente.co", "phone": "+573001234567"},
        involved=["nivel_1", "nivel_2"], opened_at=AT.isoformat(), request="No puedo timbrar ninguna factura"))
    by_to = {n.to: n for n in notes}
    # 004: "En el correo se comunicará el detalle y la resolución del caso": by mail, though she wrote on WhatsApp
    assert set(by_to) == {"ana@cliente.co", "soporte@navegasoft.com", "funcional@navegasoft.com",
                          "lider.operaciones@navegasoft.com"}
    customer = by_to["ana@cliente.co"]
    assert (customer.channel, customer.audience, customer.kind) == ("email", "customer", "resolution_summary")
    assert "Se corrigió el certificado del PAC" in customer.body and "No puedo timbrar" in customer.body
    assert "Abierto: 04/12/2026 10:00" in customer.body and "Soporte Nivel 1, Soporte Nivel 2" in customer.body
    staff = by_to["funcional@navegasoft.com"]
    assert staff.audience == "agent" and staff.body.startswith("Hola Soporte Nivel 2")
    assert len({n.notification_id for n in notes}) == len(notes)


def test_one_person_holding_two_involved_roles_gets_one_summary() -> None:
    same = TENANT.notify.recipients["nivel_1"]
    policy = TENANT.notify.model_copy(update={"recipients": {**TENANT.notify.recipients, "nivel_2": same}})
    notes = NotifyRules(policy, TENANT.calendar.timezone).on_status_changed(
        ev(changed(Status.resuelto, Status.en_proceso)), view(involved=["nivel_1", "nivel_2"]))
    assert [n.to for n in notes].count(same.email) == 1


def test_a_tenants_own_template_wins_over_the_built_in_one(tmp_path: Path) -> None:
    own_words = "¡Hola {{ customer_name }}! Caso {{ ticket_number }}.\n{{ signature }}"
    (tmp_path / "acuse_recibo.txt.j2").write_text(own_words, encoding="utf-8")
    own = NotifyRules(TENANT.notify, TENANT.calendar.timezone, templates=tmp_path)
    [note] = own.acknowledgment(ev(started()), view())
    assert note.body.startswith("¡Hola Ana! Caso NS-000123.")
    [other] = own.on_abusive(ev(started()), view())  # any template it does not override stays built in
    assert "no podemos continuar la atención" in other.body


def test_every_value_a_tenant_template_may_rely_on_is_one_every_message_gets() -> None:
    from services.notify.render import COMMON_VALUES

    assert set(RULES._common(view())) == COMMON_VALUES
