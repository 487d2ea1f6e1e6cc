"""001 §3.7 Fase 2: every 5 improvement/usability tickets convene the committee, exactly once."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext

from guardia.runner import SERVICES, running
from guardia.settings import Settings
from tests.api import api_client

from .helpers import IDEAS, contact, events, eventually, outbox


async def _post(base_url: str, start: int, stop: int) -> list[str]:
    numbers = []
    async with api_client(base_url) as http:
        for i in range(start, stop):
            body = contact(IDEAS[i], pid=f"idea-{i}", email=f"cliente{i}@empresa{i}.co")
            numbers.append((await http.post("/v1/contacts", json=body)).json()["ticket_number"])
    return numbers


async def _committees(js: JetStreamContext) -> list[dict[str, object]]:
    return [d["data"] for d in await events(js, subject="ev.*.*.committee.convened")]


async def test_five_then_ten_improvement_tickets_convene_one_then_two_committees_across_a_restart(
    settings: Settings, js: JetStreamContext
) -> None:
    async with running(SERVICES, settings) as guardia:
        first_three = await _post(guardia.base_url, 0, 3)
        await eventually(lambda: _counted(js, 3), what="three tickets classified")
        await asyncio.sleep(0.5)
        assert await _committees(js) == []

    # escalation (and everything else) restarts: its count lives in its KV bucket, not in memory
    async with running(SERVICES, settings) as guardia:
        next_two = await _post(guardia.base_url, 3, 5)
        first = await eventually(lambda: _committees(js), what="the first committee")
        assert len(first) == 1
        assert first[0]["batch_number"] == 1
        assert sorted(first[0]["ticket_numbers"]) == sorted(first_three + next_two)
        assert first[0]["convener_role"] == "lider_de_proyectos"

        await _post(guardia.base_url, 5, 10)
        both = await eventually(lambda: _at_least(js, 2), what="the second committee")
        await asyncio.sleep(1.0)
        assert len(await _committees(js)) == 2
        assert both[1]["batch_number"] == 2
        assert not set(both[0]["ticket_numbers"]) & set(both[1]["ticket_numbers"])
        calls = await eventually(
            lambda: _async([n for n in outbox(guardia.settings.outbox_path) if n["kind"] == "committee"]),
            what="the projects leader told to convene",
        )
        await asyncio.sleep(0.5)
        calls = [n for n in outbox(guardia.settings.outbox_path) if n["kind"] == "committee"]
        assert len(calls) == 2 and calls[0]["to"] == "lider.proyectos@navegasoft.com"
        assert all(number in calls[0]["body"] for number in both[0]["ticket_numbers"])


async def _counted(js: JetStreamContext, n: int) -> bool:
    return len(await events(js, subject="ev.*.*.ticket.classified")) >= n


async def _at_least(js: JetStreamContext, n: int) -> list[dict[str, object]] | None:
    found = await _committees(js)
    return found if len(found) >= n else None


async def _async(value: list[dict[str, object]]) -> list[dict[str, object]]:
    return value
