"""002 'Casos de soporte': one activity per interaction (services/intake/activity.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from services.intake.activity import (
    MEDIUM_OF_CHANNEL,
    PROTOCOLS,
    Activity,
    ActivityInput,
    Direction,
    Medium,
    Person,
    from_contact,
    from_followup,
    from_message,
    from_status,
    protocol_name,
    reason_of,
)
from services.intake.rules import ContactIn, contact_event
from shared.schemas import (
    Attachment,
    Channel,
    ContactReceived,
    Customer,
    FollowUpDue,
    FollowUpExhausted,
    MessageAdded,
    Status,
    StatusChanged,
)

BOGOTA = timezone(timedelta(hours=-5))
AT = datetime(2026, 11, 23, 9, 15, tzinfo=BOGOTA)
TICKET = UUID("0193a0b4-0000-7000-8000-000000000001")
EVENT = UUID("0193a0b4-0000-7000-8000-0000000000aa")


def contact(**overrides: object) -> ContactReceived:
    doc: dict[str, object] = {
        "contact_id": "c-1",
        "channel": Channel.email,
        "provider_message_id": "<m1@ferreteriaelsol.co>",
        "customer": Customer(name="Laura Gómez", email="laura@ferreteriaelsol.co", company="Ferretería El Sol",
                             tax_id="GOML800101AB1"),
        "subject": "RE: No puedo timbrar la nómina",
        "body_text": "Buenos días. El SAT rechaza todos los CFDI de nómina desde ayer. RFC GOML800101AB1",
        "received_at": AT,
        "attachments": (Attachment(name="rechazo.xml"), Attachment(name="captura.png")),
        "hints": {"rfc": ["GOML800101AB1"], "ticket_number": ["NS-000123"]},
    }
    doc.update(overrides)
    return ContactReceived.model_validate(doc)


def test_from_contact_fills_what_the_contact_knows_and_leaves_the_agents_part_empty() -> None:
    a = from_contact(contact(), TICKET, "NS-000130", AT, EVENT, playbook="emision_documentos_electronicos")
    assert a.ticket_id == TICKET and a.ticket_number == "NS-000130" and a.at == AT and a.source_event_id == EVENT
    assert a.person == Person(name="Laura Gómez", company="Ferretería El Sol", contact="laura@ferreteriaelsol.co")
    assert a.medium is Medium.correo and a.direction is Direction.entrante
    assert a.reason == "No puedo timbrar la nómina"
    assert a.inputs == (
        ActivityInput(kind="adjunto", value="rechazo.xml"),
        ActivityInput(kind="adjunto", value="captura.png"),
        ActivityInput(kind="identificación tributaria", value="GOML800101AB1"),
        ActivityInput(kind="ticket mencionado", value="NS-000123"),
    ), "the RFC hint repeats the customer's tax id and is recorded once"
    assert a.protocol == "No.2 Emisión de documentos electrónicos"
    assert a.pending == () and a.solution is None and a.scheduled_call is None


def test_from_contact_on_a_real_intake_event_with_hints_found_in_the_text() -> None:
    incoming = ContactIn.model_validate({
        "channel": "whatsapp", "provider_message_id": "wamid.1",
        "customer": {"name": "Pedro", "phone": "+573001234567"},
        "text": "Hola buenas tardes!! La DIAN rechaza las facturas. NIT 900123456-7, caso NS-000123",
    })
    event = contact_event("navegasoft", incoming, "c-2", AT)
    assert isinstance(event.payload, ContactReceived)
    a = from_contact(event.payload, TICKET, "NS-000131", event.occurred_at, event.event_id)
    assert a.medium is Medium.whatsapp and a.person.contact == "+573001234567"
    assert a.reason == "La DIAN rechaza las facturas"
    assert ActivityInput(kind="NIT", value="900123456-7") in a.inputs
    assert ActivityInput(kind="ticket mencionado", value="NS-000123") in a.inputs
    assert a.protocol is None and a.source_event_id == event.event_id


def test_a_contact_known_only_by_a_channel_id_is_still_someone_to_reach() -> None:
    c = contact(customer=Customer(channel_ids={"telegram": "99887766"}), channel=Channel.telegram, hints={},
                attachments=())
    a = from_contact(c, TICKET, "NS-1", AT, EVENT)
    assert a.person == Person(contact="telegram:99887766") and a.medium is Medium.telegram
    assert a.person.label() == "sin nombre (telegram:99887766)"


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel_has_its_spanish_medium(channel: Channel) -> None:
    a = from_contact(contact(channel=channel), TICKET, "NS-1", AT, EVENT)
    assert a.medium is MEDIUM_OF_CHANNEL[channel]
    assert a.medium.value in {"correo", "WhatsApp", "teléfono", "chat", "Telegram", "formulario web", "SMS"}


@pytest.mark.parametrize(
    ("subject", "text", "reason"),
    [
        ("Fw: RE: Factura rechazada", "x", "Factura rechazada"),
        ("", "Hola, buenos días.\nNo puedo entrar al sistema. Me dice clave errada.", "No puedo entrar al sistema"),
        ("", "Cordial saludo, la nómina no timbra", "la nómina no timbra"),
        ("", "ok", "ok"),
        ("", "", ""),
    ],
)
def test_the_reason_is_the_subject_or_the_first_sentence_past_the_greetings(
    subject: str, text: str, reason: str
) -> None:
    assert reason_of(subject, text) == reason


def test_a_long_reason_is_clipped() -> None:
    reason = reason_of("", "palabra " * 100)
    assert len(reason) == 200 and reason.endswith("…")


def test_from_message_direction_follows_the_author() -> None:
    customer = MessageAdded(author="customer", channel=Channel.whatsapp, text="Les envío el XML. Gracias")
    agent = MessageAdded(author="agent", channel=Channel.email, text="Le enviamos el manual de folios.",
                         subject="RE: Folios")
    a = from_message(customer, TICKET, "NS-1", AT, EVENT, attachments=(Attachment(name="f.xml"),))
    b = from_message(agent, TICKET, "NS-1", AT, EVENT, person=Person(name="Laura"), playbook="bajar_base")
    assert (a.direction, a.medium, a.reason) == (Direction.entrante, Medium.whatsapp, "Les envío el XML")
    assert a.inputs == (ActivityInput(kind="adjunto", value="f.xml", given_by=Direction.entrante),)
    assert (b.direction, b.medium, b.reason, b.person.name) == (Direction.saliente, Medium.correo, "Folios", "Laura")
    assert b.protocol == "No.6 Bajar base"


def test_from_status_waiting_on_the_customer_leaves_the_information_pending() -> None:
    change = StatusChanged(status=Status.en_proceso_del_solicitante, previous=Status.en_proceso, by="ana",
                           reason="falta el XML de la factura")
    a = from_status(change, TICKET, "NS-1", AT, EVENT)
    assert a.direction is Direction.saliente and a.medium is None
    assert a.reason == "Cambio de etapa a En proceso del solicitante (antes: En proceso): falta el XML de la factura " \
                       "— por ana"
    assert a.pending == ("Información del solicitante: falta el XML de la factura",)
    assert a.solution is None


def test_from_status_resolved_records_the_solution_and_the_medium_when_given() -> None:
    change = StatusChanged(status=Status.resuelto, by="ana", reason="Se corrigió el NIT del adquiriente y se reenvió")
    a = from_status(change, TICKET, "NS-1", AT, EVENT, medium=Medium.telefono,
                    playbook="emision_documentos_electronicos")
    assert a.solution == "Se corrigió el NIT del adquiriente y se reenvió"
    assert a.medium is Medium.telefono and a.protocol == PROTOCOLS["emision_documentos_electronicos"]
    assert a.pending == ()
    assert from_status(StatusChanged(status=Status.resuelto), TICKET, "NS-1", AT, EVENT).solution is None


def test_from_followup_call_is_a_phone_call_scheduled_at_its_due_time() -> None:
    due = FollowUpDue(kind="llamada_seguimiento", attempt=2, due_at=AT + timedelta(days=1), waiting_since=AT)
    a = from_followup(due, TICKET, "NS-1", AT, EVENT, person=Person(name="Laura", contact="+573001234567"))
    assert a.medium is Medium.telefono and a.scheduled_call == AT + timedelta(days=1)
    assert a.direction is Direction.saliente and "intento 2" in a.reason
    assert a.pending == ("Llamar al solicitante y obtener la información que falta",)


def test_from_followup_notice_applies_the_bajar_base_protocol() -> None:
    notice = FollowUpDue(kind="aviso_baja", attempt=1, due_at=AT)
    a = from_followup(notice, TICKET, "NS-1", AT, EVENT)
    assert a.protocol == "No.6 Bajar base" and a.scheduled_call is None and a.medium is None
    assert "cancelación definitiva" in a.pending[0]


def test_from_followup_exhausted_hands_over_to_the_commercial_area() -> None:
    done = FollowUpExhausted(attempts=2, waiting_since=AT)
    a = from_followup(done, TICKET, "NS-1", AT + timedelta(days=3), EVENT)
    assert "2 llamadas" in a.reason and a.pending[0].startswith("Área comercial")
    assert a.scheduled_call is None


def test_protocol_names() -> None:
    assert protocol_name(None) is None and protocol_name("") is None
    assert protocol_name("desconfiguracion") == "No.1 Desconfiguración"
    assert protocol_name("Protocolo migración") == "Protocolo migración"
    assert len(PROTOCOLS) == 7


def test_render_shows_every_002_item() -> None:
    a = from_contact(contact(), TICKET, "NS-000130", AT, EVENT)
    text = a.render()
    for label in ("Persona: Laura Gómez — Ferretería El Sol (laura@ferreteriaelsol.co)", "Medio: correo",
                  "Motivo: No puedo timbrar la nómina", "Insumos: adjunto: rechazo.xml", "Pendientes: ninguno",
                  "Solución: por indicar", "Protocolo aplicado: ninguno", "Llamada programada: ninguna",
                  "Actividad entrante — NS-000130 — 2026-11-23T09:15-05:00"):
        assert label in text


def test_an_activity_round_trips_through_json() -> None:
    due = FollowUpDue(kind="llamada_seguimiento", attempt=1, due_at=datetime(2026, 11, 24, 9, tzinfo=UTC))
    a = from_followup(due, uuid4(), "NS-1", AT, uuid4())
    assert Activity.model_validate_json(a.model_dump_json()) == a
