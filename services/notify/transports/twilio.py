"""SMS through the Twilio Messages API: form fields, HTTP Basic auth, 201 `queued` on acceptance.

Twilio's 201 is acceptance, not delivery (its StatusCallback reports that later). A 429 / 20429 "is never
processed and is always safe to retry"; 21610 (the recipient texted STOP) and 21211 (invalid number) are
permanent (notify-facts.md §3).
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from .base import SEND_TIMEOUT_SECONDS, Outcome, Outgoing, Reason, by_code, http_failure, json_of

NAME = "sms"
MAX_BODY = 1600
DEFAULT_BASE_URL = "https://api.twilio.com"

_CODES: dict[int, tuple[Reason, bool]] = {
    20429: (Reason.rate_limited, True),
    21610: (Reason.blocked_by_user, False),
    21211: (Reason.invalid_recipient, False),
    21614: (Reason.invalid_recipient, False),
    21612: (Reason.invalid_recipient, False),
    20003: (Reason.auth_failed, False),
    21606: (Reason.rejected, False),
    21602: (Reason.rejected, False),
    21604: (Reason.rejected, False),
    21617: (Reason.rejected, False),
}


class TwilioSmsTransport:
    name = NAME

    def __init__(self, account_sid: str, auth_token: str, from_number: str, base_url: str = DEFAULT_BASE_URL,
                 client: httpx.AsyncClient | None = None, status_callback: str | None = None) -> None:
        """`status_callback`: the public URL of intake's `/webhooks/twilio/status`; each message's own
        callback carries its notification id, so its later `delivered` / `undelivered` is tied back."""
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._status_callback = status_callback
        self._auth = (account_sid, auth_token)
        self._from = from_number
        self._client = client or httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS)

    async def send(self, message: Outgoing) -> Outcome:
        body = message.body if len(message.body) <= MAX_BODY else message.body[:MAX_BODY - 1] + "…"
        form = {"To": message.to, "From": self._from, "Body": body}
        if self._status_callback:
            form["StatusCallback"] = f"{self._status_callback}?{urlencode({'n': message.notification_id})}"
        try:
            response = await self._client.post(self._url, data=form, auth=self._auth)
        except httpx.HTTPError as exc:
            return http_failure(NAME, exc)
        data = json_of(response)
        if response.is_success:
            return Outcome.ok(NAME, data.get("sid"))
        code = data.get("code")
        return by_code(NAME, _CODES, code, response, f"HTTP {response.status_code} code {code}: "
                                                     f"{data.get('message', '')}"[:300])

    async def aclose(self) -> None:
        await self._client.aclose()
