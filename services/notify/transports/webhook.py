"""Staff alerts to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): `{"text": ...}`.

Success is 200 with the body `ok`; errors are plain strings (`no_text`, `invalid_payload`,
`channel_not_found`...); a 429 carries `Retry-After` (notify-facts.md §5).
"""

from __future__ import annotations

import httpx

from .base import SEND_TIMEOUT_SECONDS, Outcome, Outgoing, Reason, by_status, http_failure

NAME = "webhook"


class StaffWebhookTransport:
    name = NAME

    def __init__(self, url: str, client: httpx.AsyncClient | None = None) -> None:
        self._url = url
        self._client = client or httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS)

    async def send(self, message: Outgoing) -> Outcome:
        heading = f"*{message.subject}*\n" if message.subject else ""
        try:
            response = await self._client.post(self._url, json={"text": f"{heading}{message.body}"})
        except httpx.HTTPError as exc:
            return http_failure(NAME, exc)
        detail = f"HTTP {response.status_code}: {response.text[:200]}"
        if response.is_success:
            return Outcome.ok(NAME, None)
        if response.status_code in (404, 410):  # channel_not_found / channel_is_archived: fix the setting
            return Outcome.failed(NAME, Reason.rejected, detail)
        return by_status(NAME, response, detail)

    async def aclose(self) -> None:
        await self._client.aclose()
