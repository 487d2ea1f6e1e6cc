"""001 §3.4.1 'Unicidad del ticket': a duplicate is merged into the oldest, and the merge can be undone."""

from __future__ import annotations

import httpx
from nats.js import JetStreamContext

from guardia.runner import Running

from .helpers import contact, events, eventually, outbox


async def _of(js: JetStreamContext, ticket: str, event_type: str) -> list[dict[str, object]]:
    return [d for d in await events(js, ticket) if d["event_type"] == event_type]


async def test_same_matter_on_another_channel_is_merged_into_the_oldest_and_can_be_undone(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    first = (await http.post("/v1/contacts", json=contact(
        "La DIAN rechaza la factura electrónica FE-10234 con el error de NIT del adquiriente", pid="dup-a",
        subject="Factura FE-10234 rechazada"))).json()
    await eventually(lambda: _of(js, first["ticket_id"], "sla.started"), what="the first ticket's clock")
    second = (await http.post("/v1/contacts", json=contact(
        "Buenas tardes, sigue rechazada la factura FE-10234 por la DIAN, el error dice NIT del adquiriente. "
        "Adjunto pantallazo", pid="dup-b", channel="webform"))).json()
    assert second["outcome"] == "merged" and second["merged_into"] == first["ticket_id"]
    newer = second["ticket_id"]

    merged = await eventually(lambda: _of(js, newer, "ticket.merged"), what="ticket.merged")
    assert merged[0]["data"]["into_ticket_id"] == first["ticket_id"]
    note = await eventually(lambda: _of(js, first["ticket_id"], "ticket.note_added"), what="the internal note")
    assert "FE-10234" in note[0]["data"]["text"] or second["ticket_number"] in note[0]["data"]["text"]
    cancelled = [d for d in await _of(js, newer, "ticket.status_changed") if d["data"]["status"] == "cancelado"]
    assert cancelled and first["ticket_number"] in cancelled[0]["data"]["reason"]
    told = await eventually(lambda: _async([n for n in outbox(guardia.settings.outbox_path)
                                            if n["kind"] == "merged"]), what="the customer told")
    assert first["ticket_number"] in told[0]["body"]
    # whatever the newer ticket started is retracted: no clock of it stays running
    assert len(await _of(js, newer, "sla.started")) == len(await _of(js, newer, "sla.cancelled"))

    undo = await http.post(f"/v1/tickets/{newer}/merge/undo", json={"by": "ana", "reason": "son dos facturas"})
    assert undo.status_code == 202, undo.text
    await eventually(lambda: _of(js, newer, "sla.started"), what="the newer ticket's clock after the undo")
    again = await http.post(f"/v1/tickets/{newer}/merge/undo", json={"by": "ana", "reason": "otra vez"})
    assert again.status_code == 409


async def test_a_different_matter_of_the_same_customer_is_not_merged(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    await http.post("/v1/contacts", json=contact("La DIAN rechaza la factura FE-10234", pid="diff-a"))
    other = (await http.post("/v1/contacts", json=contact(
        "¿Cómo configuro las vacaciones de los empleados en la nómina?", pid="diff-b", channel="webform"))).json()
    assert other["outcome"] == "opened"


async def _async(value: list[dict[str, object]]) -> list[dict[str, object]]:
    return value
