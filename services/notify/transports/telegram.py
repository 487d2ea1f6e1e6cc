"""Telegram Bot API `sendMessage` to the customer's chat.

Plain text only (no `parse_mode`): a customer's own words quoted back could break HTML or MarkdownV2
parsing and the message would be refused (notify-facts.md §2). Texts over 4,096 characters are split at
paragraph or line ends, each part sent in order; `retry_after` on a 429 is honoured exactly.
"""

from __future__ import annotations

from typing import Any

import httpx

from .base import SEND_TIMEOUT_SECONDS, Outcome, Outgoing, Reason, http_failure, json_of

NAME = "telegram"
MAX_TEXT = 4096
DEFAULT_BASE_URL = "https://api.telegram.org"


def split(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most `limit` characters, cut at a paragraph, else a line, else a space (looking only
    in the second half of the window, so no part is tiny), else at the limit."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = limit
        for separator in ("\n\n", "\n", " "):
            at = rest.rfind(separator, limit // 2, limit)
            if at != -1:
                cut = at
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


class TelegramTransport:
    name = NAME

    def __init__(self, bot_token: str, base_url: str = DEFAULT_BASE_URL,
                 client: httpx.AsyncClient | None = None) -> None:
        self._url = f"{base_url.rstrip('/')}/bot{bot_token}/sendMessage"
        self._client = client or httpx.AsyncClient(timeout=SEND_TIMEOUT_SECONDS)

    async def send(self, message: Outgoing) -> Outcome:
        ids: list[str] = []
        reply = _reply_parameters(message.reply_to)
        for i, part in enumerate(split(message.body)):
            body: dict[str, Any] = {"chat_id": message.to, "text": part}
            if reply is not None and i == 0:
                body["reply_parameters"] = reply
            try:
                response = await self._client.post(self._url, json=body)
            except httpx.HTTPError as exc:
                return http_failure(NAME, exc)
            outcome = _read(response)
            if not outcome.accepted:
                return outcome  # the parts already sent are in `ids`: a retry resends from the start
            ids.append(outcome.provider_id or "")
        return Outcome.ok(NAME, ids[0] if ids else None, parts=tuple(ids))

    async def aclose(self) -> None:
        await self._client.aclose()


def _reply_parameters(reply_to: str | None) -> dict[str, Any] | None:
    """intake keeps a Telegram message as "<chat_id>:<message_id>": quote it when answering it."""
    if not reply_to or ":" not in reply_to:
        return None
    _, _, message_id = reply_to.rpartition(":")
    return {"message_id": int(message_id), "allow_sending_without_reply": True} if message_id.isdigit() else None


def _read(response: httpx.Response) -> Outcome:
    data = json_of(response)
    if response.is_success and data.get("ok"):
        return Outcome.ok(NAME, str((data.get("result") or {}).get("message_id", "")))
    code = data.get("error_code", response.status_code)
    description = str(data.get("description", ""))
    detail = f"HTTP {response.status_code} error_code {code}: {description}"[:300]
    if code == 429:
        retry_after = (data.get("parameters") or {}).get("retry_after")
        return Outcome.failed(NAME, Reason.rate_limited, detail, retry=True,
                              retry_after=float(retry_after) if retry_after is not None else None)
    if code == 403:
        return Outcome.failed(NAME, Reason.blocked_by_user, detail)
    if code == 401 or code == 404:  # 404 Not Found is what a bad token gets on some paths
        return Outcome.failed(NAME, Reason.auth_failed, detail)
    if code == 400 and "chat not found" in description.lower():
        return Outcome.failed(NAME, Reason.invalid_recipient, detail)
    if isinstance(code, int) and code >= 500:
        return Outcome.failed(NAME, Reason.provider_unavailable, detail, retry=True)
    return Outcome.failed(NAME, Reason.rejected, detail)
