"""002 'Casos de soporte': one activity record per interaction with the customer (pure, no I/O).

002: "DEBE REGISTRARSE 1 ACTIVIDAD POR INTERACCIÓN CON EL CLIENTE", being as specific as possible, with
(3) the person, (4) the medium (correo, WhatsApp, central, Skype), (5) the reason for the contact,
(6) the inputs the customer gives or support gives the customer, (7) what is pending, (8) the solution,
(9) whether a protocol was applied and (10) any call or session scheduled, with its day and time.

`Activity` is that record. The builders fill what an event already knows; the rest stays empty (None,
()) until an agent completes it. Where each field comes from:

- person (3): from_contact: the contact's customer (name, company, email/phone/channel id). The other
  builders: the `person` argument (the events carry no customer), else empty.
- medium (4): the channel of the contact or message (MEDIUM_OF_CHANNEL); from_followup: teléfono for a
  follow-up call (001 §3.5, via Zadarma); from_status: only the `medium` argument (a stage change does
  not say how the agent talked to the customer), else None.
- reason (5): the subject without RE:/RV:, else the first sentence past the greetings; from_status: the
  stage change, its reason and who made it; from_followup: which follow-up is due and why.
- inputs (6): from_contact: attachments, the customer's tax id and the hints found in the text (RFC,
  NIT, cédula jurídica, CUIT, ticket numbers, emails); from_message: the `attachments` argument. What
  support hands the customer is the agent's to add.
- pending (7): from_status 'en proceso del solicitante': the customer's information; from_followup:
  the call, the 7-day notice or the commercial area's hand-over. Otherwise the agent's.
- solution (8): from_status 'resuelto': the reason given. Otherwise the agent's.
- protocol (9): the `playbook` argument (triage's 001 §3.4.1 playbook id, turned into the manual's
  name); from_followup's 7-day notice: No.6 Bajar base.
- scheduled_call (10): from_followup: the call's due instant. Otherwise the agent's.
- direction: entrante for the customer's contacts and messages, saliente for agents' messages, stage
  changes and follow-ups.

`ticket_id`, `ticket_number`, `at` and `source_event_id` are always the caller's (the envelope's).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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


class Medium(StrEnum):
    """002 item 4: how support and the customer talked, in the words agents use."""

    correo = "correo"
    whatsapp = "WhatsApp"
    telefono = "teléfono"
    chat = "chat"
    telegram = "Telegram"
    formulario_web = "formulario web"
    sms = "SMS"
    skype = "Skype"


#: The medium of each guardia channel (002 names 'central', the PBX, which is the phone channel).
MEDIUM_OF_CHANNEL: dict[Channel, Medium] = {
    Channel.email: Medium.correo,
    Channel.whatsapp: Medium.whatsapp,
    Channel.phone: Medium.telefono,
    Channel.webchat: Medium.chat,
    Channel.telegram: Medium.telegram,
    Channel.webform: Medium.formulario_web,
    Channel.sms: Medium.sms,
}


class Direction(StrEnum):
    entrante = "entrante"  # the customer reached support
    saliente = "saliente"  # support reached the customer


#: 001 §3.4.1: the triage playbook ids and the names the manual gives them.
PROTOCOLS: dict[str, str] = {
    "desconfiguracion": "No.1 Desconfiguración",
    "emision_documentos_electronicos": "No.2 Emisión de documentos electrónicos",
    "instalaciones_actualizaciones": "No.3 Instalaciones y actualizaciones",
    "errores_sistema": "No.4 Errores dentro del sistema",
    "clientes_nuevos": "No.5 Clientes nuevos",
    "bajar_base": "No.6 Bajar base",
    "ambiente_de_pruebas": "No.7 Ambiente de pruebas",
}

#: Hints worth recording as inputs, with the label an agent reads (services/intake/channels/text.py).
_HINT_LABELS = {
    "rfc": "RFC",
    "nit": "NIT",
    "cedula_juridica": "cédula jurídica",
    "cuit": "CUIT",
    "ticket_number": "ticket mencionado",
    "email": "correo mencionado",
}

REASON_MAX = 200


class Person(BaseModel):
    """002 item 3: who support interacted with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    company: str | None = None
    contact: str | None = Field(default=None, description="Email, phone or channel id used to reach them.")

    @classmethod
    def of(cls, customer: Customer) -> Person:
        contact = customer.email or customer.phone
        if contact is None:
            contact = next((f"{ch}:{ident}" for ch, ident in sorted(customer.channel_ids.items())), None)
        return cls(name=customer.name, company=customer.company, contact=contact)

    def label(self) -> str:
        parts = [p for p in (self.name, self.company) if p]
        who = " — ".join(parts) if parts else "sin nombre"
        return f"{who} ({self.contact})" if self.contact else who


class ActivityInput(BaseModel):
    """002 item 6: one input, given by the customer or by support."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(description="adjunto, RFC, NIT, cédula jurídica, CUIT, ticket mencionado, ...")
    value: str
    given_by: Direction = Field(default=Direction.entrante, description="entrante: the customer gave it.")


class Activity(BaseModel):
    """002: the record of one interaction with the customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: UUID
    ticket_number: str
    at: AwareDatetime
    person: Person = Field(default_factory=Person)
    medium: Medium | None = Field(default=None, description="None until an agent says how they reached them.")
    reason: str = Field(default="", description="002 item 5: motivo de contacto.")
    inputs: tuple[ActivityInput, ...] = ()
    pending: tuple[str, ...] = ()
    solution: str | None = None
    protocol: str | None = Field(default=None, description="001 §3.4.1 playbook name, if one applies.")
    scheduled_call: AwareDatetime | None = None
    direction: Direction
    source_event_id: UUID

    def render(self) -> str:
        """The record as an agent reads it in the ticket, one 002 item per line."""
        lines = [
            f"Actividad {self.direction.value} — {self.ticket_number} — {self.at.isoformat(timespec='minutes')}",
            f"Persona: {self.person.label()}",
            f"Medio: {self.medium.value if self.medium else 'por indicar'}",
            f"Motivo: {self.reason or 'por indicar'}",
            "Insumos: " + ("; ".join(f"{i.kind}: {i.value}" for i in self.inputs) if self.inputs else "ninguno"),
            "Pendientes: " + ("; ".join(self.pending) if self.pending else "ninguno"),
            f"Solución: {self.solution or 'por indicar'}",
            f"Protocolo aplicado: {self.protocol or 'ninguno'}",
            "Llamada programada: "
            + (self.scheduled_call.isoformat(timespec="minutes") if self.scheduled_call else "ninguna"),
        ]
        return "\n".join(lines)


# -- builders ------------------------------------------------------------------------------------------------------


def protocol_name(playbook: str | None) -> str | None:
    """The manual's name of a triage playbook id; an unknown name passes through as given."""
    if not playbook:
        return None
    return PROTOCOLS.get(playbook, playbook)


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|rv|fw|fwd|tr|reenviar|respuesta)\s*:\s*)+", re.IGNORECASE)
_GREETING = re.compile(
    r"^\s*(?:(?:hola|buen[oa]s?\s+(?:d[ií]as?|tardes?|noches?)|buen\s+d[ií]a|saludos(?:\s+cordiales)?|"
    r"cordial\s+saludo|estimad[oa]s?(?:\s+\w+)?|señor(?:es|a|as)?|buenas)\s*[,.!:;-]*\s*)+",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def reason_of(subject: str, text: str, limit: int = REASON_MAX) -> str:
    """002 item 5: the subject (without RE:/RV:), or else the first sentence of the text past greetings."""
    subject = _REPLY_PREFIX.sub("", subject or "").strip()
    if subject:
        return _clip(subject, limit)
    for raw in _SENTENCE_END.split(text or ""):
        sentence = _GREETING.sub("", raw).strip(" \t,.;:-")
        if len(re.findall(r"\w+", sentence)) >= 2:
            return _clip(sentence, limit)
    return _clip(" ".join((text or "").split()), limit)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _attachment_inputs(attachments: tuple[Attachment, ...], given_by: Direction) -> list[ActivityInput]:
    return [ActivityInput(kind="adjunto", value=a.name, given_by=given_by) for a in attachments]


def from_contact(
    event_payload: ContactReceived,
    ticket_id: UUID,
    ticket_number: str,
    at: datetime,
    event_id: UUID,
    *,
    playbook: str | None = None,
) -> Activity:
    """A customer's contact (`contact.received`): who, by which medium, why, and what they sent."""
    c = event_payload
    inputs = _attachment_inputs(c.attachments, Direction.entrante)
    seen: set[tuple[str, str]] = set()
    if c.customer.tax_id:
        inputs.append(ActivityInput(kind="identificación tributaria", value=c.customer.tax_id))
        seen.add(("tax", c.customer.tax_id.upper()))
    for key, label in _HINT_LABELS.items():
        for value in c.hints.get(key, []):
            tax_key = ("tax", value.upper()) if key in ("rfc", "nit", "cedula_juridica", "cuit") else (key, value)
            if tax_key in seen:
                continue
            seen.add(tax_key)
            inputs.append(ActivityInput(kind=label, value=value))
    return Activity(
        ticket_id=ticket_id,
        ticket_number=ticket_number,
        at=at,
        person=Person.of(c.customer),
        medium=MEDIUM_OF_CHANNEL[c.channel],
        reason=reason_of(c.subject, c.body_text),
        inputs=tuple(inputs),
        protocol=protocol_name(playbook),
        direction=Direction.entrante,
        source_event_id=event_id,
    )


def from_message(
    event_payload: MessageAdded,
    ticket_id: UUID,
    ticket_number: str,
    at: datetime,
    event_id: UUID,
    *,
    person: Person | None = None,
    attachments: tuple[Attachment, ...] = (),
    playbook: str | None = None,
) -> Activity:
    """A further message on the ticket: the customer's (entrante) or an agent's answer (saliente)."""
    m = event_payload
    direction = Direction.entrante if m.author == "customer" else Direction.saliente
    return Activity(
        ticket_id=ticket_id,
        ticket_number=ticket_number,
        at=at,
        person=person or Person(),
        medium=MEDIUM_OF_CHANNEL[m.channel],
        reason=reason_of(m.subject, m.text),
        inputs=tuple(_attachment_inputs(attachments, direction)),
        protocol=protocol_name(playbook),
        direction=direction,
        source_event_id=event_id,
    )


_STATUS_ES = {
    Status.nuevo: "Nuevo",
    Status.en_proceso: "En proceso",
    Status.en_proceso_del_solicitante: "En proceso del solicitante",
    Status.resuelto: "Resuelto",
    Status.cancelado: "Cancelado",
}


def from_status(
    event_payload: StatusChanged,
    ticket_id: UUID,
    ticket_number: str,
    at: datetime,
    event_id: UUID,
    *,
    person: Person | None = None,
    medium: Medium | None = None,
    playbook: str | None = None,
) -> Activity:
    """An agent moved the ticket between the 001 §3.2 stages and told the customer.

    En proceso del solicitante: the customer's information is pending. Resuelto: the reason given is the
    solution. The medium is only known if the caller passes it (the event does not say how the agent
    talked to the customer).
    """
    s = event_payload
    stage = _STATUS_ES[s.status]
    previous = f" (antes: {_STATUS_ES[s.previous]})" if s.previous else ""
    detail = f": {s.reason.strip()}" if s.reason.strip() else ""
    pending: tuple[str, ...] = ()
    solution: str | None = None
    if s.status is Status.en_proceso_del_solicitante:
        pending = (f"Información del solicitante{detail}" if detail else "Información del solicitante",)
    elif s.status is Status.resuelto:
        solution = s.reason.strip() or None
    return Activity(
        ticket_id=ticket_id,
        ticket_number=ticket_number,
        at=at,
        person=person or Person(),
        medium=medium,
        reason=_clip(f"Cambio de etapa a {stage}{previous}{detail} — por {s.by}", REASON_MAX),
        pending=pending,
        solution=solution,
        protocol=protocol_name(playbook),
        direction=Direction.saliente,
        source_event_id=event_id,
    )


def from_followup(
    event_payload: FollowUpDue | FollowUpExhausted,
    ticket_id: UUID,
    ticket_number: str,
    at: datetime,
    event_id: UUID,
    *,
    person: Person | None = None,
    medium: Medium | None = None,
    playbook: str | None = None,
) -> Activity:
    """sla_watch's follow-ups: the 001 §3.5 call (teléfono, via Zadarma), the 001 §3.4.1 No.6 7-day
    notice of a suspension, or the hand-over to the commercial area after two unanswered calls."""
    f = event_payload
    scheduled: datetime | None = None
    protocol = protocol_name(playbook)
    if isinstance(f, FollowUpExhausted):
        since = f.waiting_since.isoformat(timespec="minutes")
        reason = f"Sin respuesta del solicitante tras {f.attempts} llamadas de seguimiento (esperando desde {since})"
        pending: tuple[str, ...] = ("Área comercial: contactar al cliente y actualizar sus datos de contacto",)
    elif f.kind == "llamada_seguimiento":
        since = f" (esperando desde {f.waiting_since.isoformat(timespec='minutes')})" if f.waiting_since else ""
        reason = f"Llamada de seguimiento, intento {f.attempt}: el ticket espera información del solicitante{since}"
        pending = ("Llamar al solicitante y obtener la información que falta",)
        scheduled = f.due_at
        medium = medium or Medium.telefono
    else:
        reason = "Aviso de baja: a los 7 días de la suspensión se procede a la cancelación definitiva"
        pending = ("Informar al solicitante la cancelación definitiva y sus consecuencias (términos y condiciones)",)
        protocol = protocol or PROTOCOLS["bajar_base"]
    return Activity(
        ticket_id=ticket_id,
        ticket_number=ticket_number,
        at=at,
        person=person or Person(),
        medium=medium,
        reason=reason,
        pending=pending,
        protocol=protocol,
        scheduled_call=scheduled,
        direction=Direction.saliente,
        source_event_id=event_id,
    )
