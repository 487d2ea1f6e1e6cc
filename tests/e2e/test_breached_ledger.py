"""A breached clock keeps its ledger live: the agent's pause, resumption and late resolution after the
breach reach the stream as sla.paused / sla.resumed / sla.met (breached, how late)."""

from __future__ import annotations

from datetime import datetime

import httpx
from nats.js import JetStreamContext

from guardia.runner import Running

from .helpers import contact, events, eventually


async def _clock(js: JetStreamContext, ticket: str) -> list[dict[str, object]]:
    return [d for d in await events(js, ticket) if str(d["event_type"]).startswith("sla.")]


async def test_after_a_breach_the_pause_resumption_and_late_resolution_are_still_recorded(
    guardia: Running, http: httpx.AsyncClient, js: JetStreamContext
) -> None:
    # a problema (24 h) written 24 h minus 2 s ago: it breaches in about 2 s
    body = contact("No cuadra el reporte de cartera con el saldo contable", pid="ledger-1",
                   minutes_ago=(24 * 3600 - 2) / 60)
    ticket = (await http.post("/v1/contacts", json=body)).json()["ticket_id"]

    async def has(kind: str) -> list[dict[str, object]]:
        return [d for d in await _clock(js, ticket) if d["event_type"] == kind]

    await eventually(lambda: has("sla.breached"), within=20, what="the breach")
    for status in ("en_proceso_del_solicitante", "en_proceso", "resuelto"):
        answer = await http.post(f"/v1/tickets/{ticket}/status", json={"status": status, "by": "ana"})
        assert answer.status_code == 202, answer.text
    met = (await eventually(lambda: has("sla.met"), what="the late sla.met"))[0]
    kinds = [d["event_type"] for d in await _clock(js, ticket)]
    assert kinds[kinds.index("sla.breached"):] == ["sla.breached", "sla.paused", "sla.resumed", "sla.met"]
    data = met["data"]
    assert isinstance(data, dict) and data["breached"] is True
    breach = (await has("sla.breached"))[0]["data"]
    assert isinstance(breach, dict) and data["deadline"] == breach["deadline"]
    late = (datetime.fromisoformat(str(met["occurred_at"])) - datetime.fromisoformat(str(data["deadline"])))
    assert data["overdue_seconds"] == late.total_seconds() > 0
