"""When a channel cannot deliver: the next channel the customer gave us, in the tenant's order; when none
is left, a task for a person (pure).

A permanent failure (WhatsApp not official or outside its window with no template, the user blocked the
bot, an invalid number, an unsubscribed phone, no address) is not retried on the same channel: the same
message is requested again on the next channel of `notify.fallback` for which the customer left an
address, with an id derived from the first (`<id>~<channel>`), so each hop is delivered once too.
"""

from __future__ import annotations

from shared.schemas import NotificationRequested

from .rules import TicketView, addresses

#: What each kind of message is called in the task a person receives.
KIND_LABELS = {
    "acknowledgment": "acuse de recibo con el número de tique", "suspension_notice": "aviso de cancelación",
    "merged": "aviso de fusión de tiques", "abusive_language_close": "cierre respetuoso de la atención",
    "stage_update": "aviso de cambio de etapa", "resolution_summary": "resumen del caso resuelto",
    "agent_reply": "respuesta del agente al cliente",
}


def next_hop(n: NotificationRequested, view: TicketView, order: tuple[str, ...],
             reason: str) -> NotificationRequested | None:
    """The same message on the next channel not tried yet (`reason`: why `n.channel` failed), or None
    when every channel was tried."""
    tried = {*n.fallback_of, n.channel}
    reachable = addresses(view)
    for channel in order:
        if channel in tried or channel not in reachable:
            continue
        return n.model_copy(update={
            "notification_id": f"{n.notification_id}~{channel}", "channel": channel, "to": reachable[channel],
            "fallback_of": [*n.fallback_of, n.channel], "fallback_reasons": [*n.fallback_reasons, reason],
            # the customer's own message lives on the first channel: nothing to quote or thread elsewhere
            "reply_to": None, "references": [], "customer_wrote_at": None,
        })
    return None
