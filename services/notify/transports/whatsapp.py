"""WhatsApp Business Cloud API: `POST {base}/{phone_number_id}/messages` with a Bearer token.

Free text is only allowed within 24 h of the customer's last message (the caller decides and passes a
template outside it); the recipient is the `wa_id` exactly as the customer's webhook gave it (Mexican
and Argentine ids carry a mobile digit E.164 drops). `biz_opaque_callback_data` carries the
notification id: Meta returns it on every status webhook, the only way to tie a late `failed` (131047
arrives that way, after a 200) back to the notification (notify-facts.md §1).
"""

from __future__ import annotations

from typing import Any

import httpx

from .base import SEND_TIMEOUT_SECONDS, Outcome, Outgoing, Reason, by_code, http_failure, json_of

NAME = "whatsapp"
MAX_TEXT = 4096
DEFAULT_BASE_URL = "https://graph.facebook.com/v24.0"

#: Meta error codes (error.code; notify-facts.md §1 table) -> (reason, worth retrying)
_CODES: dict[int, tuple[Reason, bool]] = {
    131047: (Reason.outside_window, False),
    131026: (Reason.invalid_recipient, False),
    131030: (Reason.invalid_recipient, False),
    130429: (Reason.rate_limited, True),
    131056: (Reason.rate_limited, True),
    131057: (Reason.rate_limited, True),
    131048: (Reason.rate_limited, True),
    131049: (Reason.rate_limited, True),
    131000: (Reason.provider_unavailable, True),
    190: (Reason.auth_failed, False),
    368: (Reason.auth_failed, False),
    100: (Reason.rejected, False),
    132000: (Reason.template_missing, False),
    132001: (Reason.template_missing, False),
}


def payload(message: Outgoing) -> dict[str, Any]:
    """The request body Meta documents for a text or an approved template message."""
    # Cloud API recipient ids are digits only: a staff number written +57... in a policy goes without the +
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": message.to.lstrip("+")}
    if message.template is not None:
        name, language, parameters = message.template
        template: dict[str, Any] = {"name": name, "language": {"code": language, "policy": "deterministic"}}
        if parameters:
            template["components"] = [{"type": "body", "parameters": [{"type": "text", "text": p[:1024]}
                                                                       for p in parameters]}]
        body.update(type="template", template=template)
    else:
        text = message.body if len(message.body) <= MAX_TEXT else message.body[:MAX_TEXT - 1] + "…"
        body.update(type="text", text={"preview_url": False, "body": text})
    if message.reply_to and message.reply_to.startswith("wamid."):
        body["context"] = {"message_id": message.reply_to}  # quote the customer's message
    body["biz_opaque_callback_data"] = message.notification_id[:512]
    return body


class WhatsAppTransport:
    name = NAME

    def __init__(self, access_token: str, phone_number_id: str, base_url: str = DEFAULT_BASE_URL,
                 client: httpx.AsyncClient | None = None) -> None:
        self._url = f"{base_url.rstrip('/')}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._client = client or httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS)

    async def send(self, message: Outgoing) -> Outcome:
        try:
            response = await self._client.post(self._url, json=payload(message), headers=self._headers)
        except httpx.HTTPError as exc:
            return http_failure(NAME, exc)
        data = json_of(response)
        if response.is_success:
            # accepted, held_for_quality_assessment or paused (template pacing) are all acceptance: Meta
            # delivers a held message later, so sending it again would double it
            messages = data.get("messages") or [{}]
            return Outcome.ok(NAME, messages[0].get("id"))
        found = data.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        code = error.get("code")
        return by_code(NAME, _CODES, code, response, f"HTTP {response.status_code} code {code}: "
                                                     f"{error.get('message', '')}"[:300])

    async def aclose(self) -> None:
        await self._client.aclose()
