"""The whole pipeline over a real nats-server: contact -> ticket -> classification -> clock -> owner -> ack."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from nats.js import JetStreamContext

from guardia.runner import Running

from .helpers import contact, events, eventually, outbox, types_of


async def test_contact_yields_opened_classified_started_assigned_and_an_acknowledgment(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("No podemos timbrar la nómina electrónica, el SAT rechaza todos los CFDI desde ayer",
                   subject="No puedo timbrar la nómina", pid="e2e-ack-1")
    response = await http.post("/v1/contacts", json=body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["outcome"] == "opened" and answer["ticket_number"].startswith("NS-")
    ticket = answer["ticket_id"]

    async def acknowledged() -> list[dict[str, object]]:
        return [n for n in outbox(guardia.settings.outbox_path) if n["kind"] == "acknowledgment"]

    acks = await eventually(acknowledged, what="the acknowledgment in the outbox")
    flow = [t for t in types_of(await events(js, ticket)) if t in
            ("ticket.opened", "ticket.classified", "sla.started", "ticket.assigned")]
    assert flow == ["ticket.opened", "ticket.classified", "sla.started", "ticket.assigned"]

    started = next(d for d in await events(js, ticket) if d["event_type"] == "sla.started")
    classified = next(d for d in await events(js, ticket) if d["event_type"] == "ticket.classified")
    assert classified["data"]["priority"] == "alta"  # 001 §3.2: cannot issue electronic documents
    deadline_local = datetime.fromisoformat(started["data"]["deadline"]).astimezone(ZoneInfo("America/Bogota"))

    assert len(acks) == 1
    ack = acks[0]
    assert ack["audience"] == "customer" and ack["to"] == "laura.gomez@ferreteriaelsol.co"
    assert answer["ticket_number"] in ack["body"]
    assert "Tipo: Problema" in ack["body"]
    assert "Prioridad: Alta (impacto alto)" in ack["body"]
    assert deadline_local.strftime("%d/%m/%Y %H:%M") in ack["body"]


async def test_further_message_of_same_customer_and_channel_joins_the_open_ticket(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    first = (await http.post("/v1/contacts", json=contact("No cuadra el reporte de cartera", pid="j-1"))).json()
    second = (await http.post("/v1/contacts", json=contact("Adjunto el reporte que no cuadra", pid="j-2"))).json()
    other = (await http.post("/v1/contacts", json=contact("No cuadra el reporte", pid="j-3",
                                                          email="otra.persona@ejemplo.co"))).json()
    assert second["outcome"] == "appended" and second["ticket_id"] == first["ticket_id"]
    assert other["outcome"] == "opened" and other["ticket_id"] != first["ticket_id"]
    added = await eventually(
        lambda: _of_type(js, first["ticket_id"], "ticket.message_added"), what="message_added on the first ticket"
    )
    assert added[0]["data"]["author"] == "customer"


async def test_resolved_ticket_frees_the_thread_and_meets_its_clock(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    first = (await http.post("/v1/contacts", json=contact("No carga el reporte de ventas", pid="r-1"))).json()
    await eventually(lambda: _of_type(js, first["ticket_id"], "sla.started"), what="the clock")
    moved = await http.post(f"/v1/tickets/{first['ticket_id']}/status", json={"status": "resuelto", "by": "ana"})
    assert moved.status_code == 202, moved.text
    await eventually(lambda: _of_type(js, first["ticket_id"], "sla.met"), what="sla.met")

    attempts = iter(range(1000))

    async def reopened_elsewhere() -> dict[str, str] | None:
        body = contact("Otra consulta distinta", pid=f"r-again-{next(attempts)}")
        again = (await http.post("/v1/contacts", json=body)).json()
        return again if again["ticket_id"] != first["ticket_id"] else None

    again = await eventually(reopened_elsewhere, what="a new ticket after the first was resolved")
    assert again["outcome"] == "opened"


async def test_whatsapp_where_not_official_gets_no_clock_and_is_told_the_official_channels(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("buenas no me deja facturar", channel="whatsapp", pid="wamid.TEST1")
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    exempted = await eventually(lambda: _of_type(js, ticket, "sla.exempted"), what="sla.exempted")
    assert exempted[0]["data"]["reason"] == "whatsapp_not_official"
    assert not await _of_type(js, ticket, "sla.started")
    acks = await eventually(
        lambda: _async([n for n in outbox(guardia.settings.outbox_path) if n["kind"] == "acknowledgment"]),
        what="the WhatsApp acknowledgment",
    )
    assert acks[0]["channel"] == "whatsapp" and acks[0]["to"] == "+573001234567"
    assert "no es un canal oficial" in acks[0]["body"] and "soporte@navegasoft.com" in acks[0]["body"]


async def test_urgent_ticket_is_assigned_at_once_and_alerts_the_emergency_number(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("Nadie puede entrar al sistema desde las 7, no podemos vender en el punto de venta", pid="u-1")
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    started = await eventually(lambda: _of_type(js, ticket, "sla.started"), what="sla.started")
    assert started[0]["data"]["target"] == {"amount": 8.0, "unit": "calendar_hours"}
    assigned = await eventually(lambda: _of_type(js, ticket, "ticket.assigned"), what="ticket.assigned")
    assert assigned[0]["data"]["alert_emergency"] is True
    alerts = await eventually(
        lambda: _async([n for n in outbox(guardia.settings.outbox_path) if n["kind"] == "emergency_alert"]),
        what="the emergency alert",
    )
    assert alerts[0]["channel"] == "whatsapp" and alerts[0]["to"] == "+573001110000"


async def _of_type(js: JetStreamContext, ticket: str, event_type: str) -> list[dict[str, object]]:
    return [d for d in await events(js, ticket) if d["event_type"] == event_type]


async def _async(value: list[dict[str, object]]) -> list[dict[str, object]]:
    return value


async def test_every_interaction_leaves_a_002_activity_record(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    body = contact("Mi RFC es GOML850101AB1 y no puedo timbrar, adjunto el XML", pid="act-1", subject="Timbrado")
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]
    await http.post(f"/v1/tickets/{ticket}/status", json={"status": "en_proceso_del_solicitante", "by": "ana"})

    async def two() -> list[dict[str, object]] | None:
        found = await _of_type(js, ticket, "activity.recorded")
        return found if len(found) >= 2 else None

    records = await eventually(two, what="an activity for the contact and one for the stage change")
    first = records[0]["data"]
    assert first["direction"] == "entrante" and first["medium"] == "correo"  # type: ignore[index]
    assert "Laura Gómez" in first["person"]  # type: ignore[index]
    assert any(i["value"] == "GOML850101AB1" for i in first["inputs"])  # type: ignore[index]
    assert "Persona:" in first["text"] and "Llamada programada:" in first["text"]  # type: ignore[index]
