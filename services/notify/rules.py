"""Who must hear of what (pure): events + what notify knows of the ticket -> rendered notifications.

- 003 and 001 §3.1: the customer always gets the ticket number; with it, type, priority (as impact,
  001 §3.2) and the deadline the SLA promises.
- 001 §2.3: on WhatsApp where it is not official, the customer is told the official channels.
- 001 §3.5: urgent -> the 24/7 emergency number; escalations -> the level that receives the ticket.
- 001 §3.7 Fase 2: the committee -> the projects leader convenes it.
- 000 and 001 §3.5 ("informar al usuario del estado de su solicitud"): the customer hears of each stage change.
- 004 Notificaciones: when the case is resolved, a summary mail to the customer and everyone involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.schemas import (
    CommitteeConvened,
    Event,
    FollowUpDue,
    MessageAdded,
    NotificationRequested,
    SlaExempted,
    SlaStarted,
    SlaWarning,
    StatusChanged,
    TicketAssigned,
    TicketEscalated,
    TicketMerged,
)
from shared.schemas.sla import fraction_label

from .policy import NotifyPolicy
from .render import (
    IMPACT,
    PRIORITY_LABELS,
    REASON_LABELS,
    STAGE_LABELS,
    TYPE_LABELS,
    local_time,
    render,
    timezone_label,
)

#: How much of the customer's first message the resolution summary quotes.
EXCERPT = 600


class TicketView(BaseModel):
    """notify's own projection of a ticket: enough to address and word a message."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    number: str = ""
    channel: str = "email"
    customer: dict[str, Any] = {}
    subject: str = ""
    ticket_type: str | None = None
    priority: str | None = None
    level: str | None = None
    deadline: str | None = None
    acknowledged: bool = False
    reply_to: str | None = None  # the opening message's id at the provider: what a reply quotes/threads under
    thread_key: str | None = None  # e-mail: the root of the customer's thread
    last_inbound_at: str | None = None  # the customer's last message: WhatsApp's 24 h window runs from it
    opened_at: str | None = None
    request: str = ""  # the opening message, cut to EXCERPT: what the resolution summary recalls
    involved: list[str] = []  # every level or area that held the ticket, in order: the summary goes to them


def addresses(view: TicketView) -> dict[str, str]:
    """Every way back the customer gave us, by channel: the ids their channels gave (WhatsApp's `wa_id`
    exactly as the webhook gave it: Mexican and Argentine ids carry a mobile digit that the E.164 form
    drops, and a message to the E.164 form fails, notify-facts.md §1), their phone for SMS (and for
    WhatsApp when no `wa_id` is known), their e-mail."""
    c = view.customer
    found = {str(k): str(v) for k, v in (c.get("channel_ids") or {}).items() if v}
    if c.get("phone"):
        found["sms"] = str(c["phone"])
        found.setdefault("whatsapp", str(c["phone"]))
    if c.get("email"):
        found["email"] = str(c["email"])
    return found


def customer_address(view: TicketView) -> tuple[str, str] | None:
    """Answer on the channel the customer used (SMS for a phone call), falling back to email then SMS."""
    reachable = addresses(view)
    own = "sms" if view.channel == "phone" else view.channel
    for channel in (own, view.channel, "email", "sms"):
        if channel in reachable:
            return channel, reachable[channel]
    return None


class NotifyRules:
    def __init__(self, policy: NotifyPolicy, timezone: str, templates: Path | None = None) -> None:
        """`templates`: the tenant's own template folder, whose files win over the built-in ones by name."""
        self.policy = policy
        self.timezone = timezone
        self.templates = templates

    def _render(self, template: str, **values: Any) -> str:
        return render(template, self.templates, **values)

    def _common(self, view: TicketView) -> dict[str, Any]:
        p = view.priority or "baja"
        return {
            "ticket_number": view.number,
            "customer_name": (view.customer.get("name") or "").split(" ")[0] or "cliente",
            "customer_company": view.customer.get("company") or "",
            "subject": view.subject,
            "ticket_type_label": TYPE_LABELS.get(view.ticket_type or "", "Sin clasificar"),
            "priority_label": PRIORITY_LABELS.get(p, p),
            "impact": IMPACT.get(p, p),
            "deadline": local_time(view.deadline, self.timezone),
            "timezone_label": timezone_label(self.timezone),
            "company": self.policy.company,
            "signature": self.policy.signature,
            "official_channels": self.policy.official_channels,
        }

    def _to_customer(self, view: TicketView, key: str, kind: str, template: str, subject: str,
                     values: dict[str, Any], prefer: str | None = None) -> list[NotificationRequested]:
        """A message to the customer, on the channel they used (nothing if they left no way back), or on
        `prefer` when they gave us that address too."""
        reachable = addresses(view)
        address = (prefer, reachable[prefer]) if prefer in reachable else customer_address(view)
        if address is None:
            return []
        channel, to = address
        threaded = channel == view.channel  # a reply quotes the customer's message only on its own channel
        references = [view.thread_key] if threaded and view.thread_key and view.thread_key != view.reply_to else []
        return [NotificationRequested(notification_id=key, kind=kind, audience="customer", channel=channel, to=to,
                                      subject=subject, body=self._render(template, **values), template=template,
                                      ticket_number=view.number, reply_to=view.reply_to if threaded else None,
                                      references=[r for r in references if r.startswith("<")],
                                      customer_wrote_at=view.last_inbound_at if channel == view.channel else None)]

    def _to_role(self, role: str, kind: str, key: str, template: str, subject: str,
                 values: dict[str, Any], audience: str = "agent") -> list[NotificationRequested]:
        person = self.policy.recipients.get(role)
        if person is None:
            return []
        channel, to = ("email", person.email) if person.email else ("whatsapp", person.whatsapp)
        if kind == "emergency_alert" and person.whatsapp:
            channel, to = "whatsapp", person.whatsapp  # 001 §3.5: "a través de WhatsApp"
        if not to:
            return []
        body = self._render(template, **{"role": person.name, **values, "recipient_name": person.name})
        return [NotificationRequested(notification_id=key, kind=kind, audience=audience,
                                      channel=channel, to=to, subject=subject, body=body, template=template,
                                      ticket_number=str(values.get("ticket_number", "")))]

    def acknowledgment(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        """Sent once per ticket, when its clock started (or it was exempted): it carries the deadline."""
        if view.acknowledged:
            return []
        if isinstance(event.payload, SlaExempted):
            template = {"whatsapp_not_official": "acuse_whatsapp_no_oficial.txt.j2",
                        "no_support_deadline": "acuse_desarrollo.txt.j2",
                        "ineligible": "acuse_comercial.txt.j2"}.get(event.payload.reason)
            if template is None:
                return []  # not a request (thanks, spam, auto-replies): nothing to acknowledge
        elif isinstance(event.payload, SlaStarted):
            template = "acuse_recibo.txt.j2"
        else:
            return []
        return self._to_customer(view, f"{event.ticket_id}:acknowledgment", "acknowledgment", template,
                                 f"[{view.number}] Recibimos tu solicitud", self._common(view))

    def on_assigned(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        a = event.payload
        assert isinstance(a, TicketAssigned)
        if not a.alert_emergency:
            return []
        return self._to_role("emergencia", "emergency_alert", f"{event.ticket_id}:emergency",
                             "alerta_emergencia.txt.j2", f"[{view.number}] URGENTE", self._common(view))

    def on_escalated(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        e = event.payload
        assert isinstance(e, TicketEscalated)
        values = {**self._common(view), "reason_label": REASON_LABELS.get(e.reason, e.reason), "rule": e.rule}
        return self._to_role(e.to_level, "escalation", f"{event.ticket_id}:escalation:{e.to_level}",
                             "escalamiento.txt.j2", f"[{view.number}] Tique escalado", values)

    def on_warning(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        w = event.payload
        assert isinstance(w, SlaWarning)
        values = {**self._common(view), "fraction": fraction_label(w.fraction),
                  "deadline": local_time(w.deadline, self.timezone)}
        return self._to_role(view.level or "nivel_1", "sla_warning", f"{event.ticket_id}:warning:{w.fraction}",
                             "alerta_sla.txt.j2", f"[{view.number}] Alerta de SLA {fraction_label(w.fraction)}",
                             values)

    def on_followup(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        """001 §3.5: the agent owes the customer a call; 001 §3.4.1 No.6: the 7-day suspension notice."""
        f = event.payload
        assert isinstance(f, FollowUpDue)
        if f.kind == "aviso_baja":
            return self._to_customer(view, f"{event.ticket_id}:aviso_baja", "suspension_notice",
                                     "aviso_baja.txt.j2", f"[{view.number}] Cancelación definitiva de tu base",
                                     self._common(view))
        values = {**self._common(view), "attempt": f.attempt, "customer_phone": view.customer.get("phone"),
                  "waiting_since": local_time(f.waiting_since, self.timezone)}
        return self._to_role(view.level or "nivel_1", "followup_call", f"{event.ticket_id}:followup:{f.due_at}",
                             "seguimiento_llamada.txt.j2", f"[{view.number}] Llamada de seguimiento ({f.attempt}/2)",
                             values)

    def on_merged(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        """001 §3.4.1: the duplicate is merged into the oldest; the customer is told which number stays."""
        m = event.payload
        assert isinstance(m, TicketMerged)
        if m.undone:
            return []
        return self._to_customer(view, f"{event.ticket_id}:fusionado", "merged", "fusionado.txt.j2",
                                 f"[{m.into_ticket_number}] Agregamos tu mensaje a tu caso",
                                 {**self._common(view), "into_number": m.into_ticket_number})

    def on_undeliverable(self, view: TicketView, n: NotificationRequested, tried: list[str],
                         reasons: list[str], kind_label: str) -> list[NotificationRequested]:
        """No channel reached the customer: the ticket's owner must call (001 §3.5 comunicación fallida)."""
        values = {**self._common(view), "kind_label": kind_label, "tried": ", ".join(tried),
                  "reasons": ", ".join(reasons), "customer_phone": view.customer.get("phone")}
        return self._to_role(view.level or "nivel_1", "undeliverable", f"{n.notification_id}:sin_entrega",
                             "sin_entrega.txt.j2", f"[{view.number}] No pudimos avisar al cliente", values)

    def agent_reply(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        """001 §3.5 "informar al usuario": an agent's answer reaches the customer on the channel they used,
        quoting or threaded under their message like every message to them; one per reply event."""
        m = event.payload
        assert isinstance(m, MessageAdded) and m.author == "agent"
        return self._to_customer(view, f"{event.ticket_id}:respuesta:{event.event_id}", "agent_reply",
                                 "respuesta_agente.txt.j2", f"Re: [{view.number}] {view.subject or 'Tu caso'}",
                                 {**self._common(view), "reply_text": m.text})

    def on_abusive(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        """003: insults or denigrating language end the attention, politely."""
        return self._to_customer(view, f"{event.ticket_id}:cierre_respetuoso", "abusive_language_close",
                                 "cierre_respetuoso.txt.j2", f"[{view.number}] Sobre tu caso", self._common(view))

    def on_committee(self, event: Event) -> list[NotificationRequested]:
        c = event.payload
        assert isinstance(c, CommitteeConvened)
        values = {"count": len(c.ticket_ids), "batch_number": c.batch_number,
                  "ticket_numbers": list(c.ticket_numbers) or [str(t) for t in c.ticket_ids],
                  "signature": self.policy.signature}
        return self._to_role(c.convener_role, "committee", f"{event.tenant}:committee:{c.batch_number}",
                             "comite.txt.j2", f"Convocar comité de evaluación (sesión {c.batch_number})",
                             values, audience="leader")

    def on_status_changed(self, event: Event, view: TicketView) -> list[NotificationRequested]:
        """The customer is kept informed of every stage the tenant's policy names (000; 001 §3.5 "informar
        al usuario del estado de su solicitud"); a resolution sends 004's summary instead. A change the
        system made itself (a duplicate cancelled as it was merged) was told already, as the merge."""
        change = event.payload
        assert isinstance(change, StatusChanged)
        if change.status == change.previous or change.by in ("intake", "system"):
            return []
        if change.status.value == "resuelto":
            return self.resolution_summary(event, view, change)
        if change.status.value not in self.policy.keep_informed:
            return []
        stage = STAGE_LABELS.get(change.status.value, change.status.value)
        values = {**self._common(view), "status": change.status.value, "stage_label": stage,
                  "reason": change.reason}
        return self._to_customer(view, f"{event.ticket_id}:etapa:{event.event_id}", "stage_update",
                                 "etapa.txt.j2", f"[{view.number}] Tu caso está {stage.lower()}", values)

    def resolution_summary(self, event: Event, view: TicketView, change: StatusChanged) -> list[NotificationRequested]:
        """004 Notificaciones: "una vez finalizado el caso ... el detalle y la resolución del caso", by mail
        when the customer gave one, to the customer and to "varios destinatarios involucrados en el tema,
        como también a otros integrantes del equipo": every level that held the ticket and the roles the
        policy copies. One summary per resolution: a ticket reopened and resolved again sends a new one."""
        values = {**self._common(view), "opened_at": local_time(view.opened_at, self.timezone),
                  "resolved_at": local_time(event.occurred_at, self.timezone), "resolution": change.reason,
                  "request_excerpt": view.request, "handled_by": self._handled_by(view)}
        key = f"{event.ticket_id}:resumen:{event.event_id}"
        subject = f"[{view.number}] Resumen del caso resuelto"
        out = self._to_customer(view, key, "resolution_summary", "resumen_caso.txt.j2", subject,
                                {**values, "for_customer": True}, prefer="email")
        told = {n.to for n in out}
        for role in dict.fromkeys([*view.involved, *self.policy.resolution_copy]):
            for note in self._to_role(role, "resolution_summary", f"{key}:{role}", "resumen_caso.txt.j2", subject,
                                      {**values, "for_customer": False}, audience="agent"):
                if note.to not in told:  # one person holding two roles gets one summary
                    told.add(note.to)
                    out.append(note)
        return out

    def _handled_by(self, view: TicketView) -> str:
        names = [self.policy.recipients[r].name if r in self.policy.recipients else r for r in view.involved]
        return ", ".join(dict.fromkeys(names)) or self.policy.signature
