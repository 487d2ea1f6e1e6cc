"""Real loopback servers that answer like the notification providers' send APIs.

The notify transports talk HTTP (WhatsApp Cloud API, Telegram Bot API, Twilio Messages, a Slack-compatible
staff webhook) and SMTP. Mocking the HTTP client in-process (respx) proves only that the transport calls the
mock the way the mock expects; these fakes are real servers on 127.0.0.1, so the transport's own client,
timeouts, encoding (JSON vs form), auth headers and error parsing are exercised end to end. Every shape they
answer with follows the providers' documentation as collected in /work/shared/notify-facts.md (§1-§5).

Each fake runs inside the test's event loop (uvicorn.Server or an asyncio server as a task), starts in a few
milliseconds on a free port and stops without leaving tasks or sockets behind, so a fresh one per test is cheap.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.policy
import html
import itertools
import json as jsonlib
import logging
import re
import secrets
import socket
import time
import uuid
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, quote

import uvicorn
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = [
    "FakeProvider",
    "FakeSmtp",
    "FakeStaffWebhook",
    "FakeTelegram",
    "FakeTwilio",
    "FakeWhatsApp",
    "ReceivedMail",
    "Recorded",
    "ScriptedResponse",
    "sms_segments",
]

#: (HTTP status, body, headers). A str body is sent as text/plain, bytes as-is, None as an empty body, anything
#: else as JSON.
ScriptedResponse = tuple[int, Any, dict[str, str]]

LOOPBACK = "127.0.0.1"
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass
class Recorded:
    """One request as the fake received it, kept so a test can assert on exactly what went over the wire.

    `json` is set when the Content-Type says JSON and the body parses; `form` when the body is
    application/x-www-form-urlencoded (last value wins for a repeated key). `status` is what the fake answered
    (None if the handler crashed), which is what `FakeProvider.sent()` filters on."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any | None
    form: dict[str, str] | None
    query: dict[str, str] = field(default_factory=dict)
    status: int | None = None


def _render(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A Starlette response for a scripted or built answer (see ScriptedResponse for the body rules)."""
    if isinstance(body, str):
        return PlainTextResponse(body, status_code=status, headers=headers)
    if isinstance(body, bytes):
        return Response(body, status_code=status, headers=headers)
    if body is None:
        return Response(b"", status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


class _LoopbackServer(uvicorn.Server):
    """uvicorn for a per-test fake: no signal handlers and a prompt exit.

    uvicorn installs SIGINT/SIGTERM handlers while serving, which would steal pytest's Ctrl-C (guardia's runner
    disables them for the same reason). Its main loop polls `should_exit` every 0.1 s and its shutdown sleeps
    another 0.1 s unconditionally: a fake stopped after every test would add ~0.2 s each. Here the main loop
    waits on an event and shutdown closes idle keep-alive connections and returns as soon as they are gone."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        self.should_exit = True
        self._exit.set()

    async def main_loop(self) -> None:
        while not await self.on_tick(0):  # counter 0 refreshes the Date header uvicorn sends
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), timeout=1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # closes idle connections now, busy ones after their response
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        # uvicorn offers no event for "last connection gone"; poll its state briefly.
        while (self.server_state.connections or self.server_state.tasks) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        for task in list(self.server_state.tasks):
            task.cancel()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


class _Served:
    """`async with fake:` starts it and stops it, whatever the test does in between."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()


class FakeProvider(_Served):
    """Base of the HTTP fakes: a Starlette app served by uvicorn on 127.0.0.1 and a free port.

    Every request is recorded in `requests` (also ones to unknown paths, which get 404, so a transport that
    builds a wrong URL is visible). `script()` queues answers that are returned, one per request to one of the
    fake's routes, before the provider behaviour (auth included): a provider answers 429 or 5xx whatever the
    request. Requests to unknown paths do not consume the script, so a scripted answer cannot hide a wrong URL.
    """

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Recorded] = []
        self._script: deque[ScriptedResponse] = deque()
        self._server: _LoopbackServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    # -- what subclasses provide ------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """The provider's routes; build them with `self.route(...)` so they record and honour the script."""
        return []

    def route(self, path: str, handler: Callable[[Request, Recorded], Awaitable[Response]],
              methods: list[str] | None = None) -> Route:
        """A route whose requests are recorded and answered by the script first, then by `handler`."""

        async def endpoint(request: Request) -> Response:
            recorded = await self._record(request)
            if self._script:
                response = _render(*self._script.popleft())
            else:
                response = await handler(request, recorded)
            recorded.status = response.status_code
            return response

        return Route(path, endpoint, methods=methods or ["POST"])

    async def unknown_route(self, request: Request, recorded: Recorded) -> Response:
        """Answer for a path the provider does not have; subclasses answer in the provider's own shape."""
        return PlainTextResponse("Not Found", status_code=404)

    # -- test API ------------------------------------------------------------------------------------------

    def script(self, *responses: ScriptedResponse) -> None:
        """Queue answers (status, body, headers) returned, in order, one per request before the normal
        behaviour. The request is still recorded."""
        self._script.extend(responses)

    def sent(self) -> list[Recorded]:
        """The requests the fake accepted (answered 2xx): what the provider would actually deliver."""
        return [r for r in self.requests if r.status is not None and 200 <= r.status < 300]

    async def start(self) -> None:
        """Serve on a free loopback port; returns once the server accepts connections."""
        if self._task is not None:
            raise RuntimeError(f"{type(self).__name__} already started")

        async def catch_all(request: Request) -> Response:
            recorded = await self._record(request)
            response = await self.unknown_route(request, recorded)
            recorded.status = response.status_code
            return response

        app = Starlette(routes=[*self.routes(), Route("/{rest:path}", catch_all, methods=_ALL_METHODS)])
        # log_config/log_level None: do not reconfigure the process's logging for a test fake.
        config = uvicorn.Config(app, lifespan="off", log_config=None, log_level=None, server_header=False)
        # Bind the socket ourselves: the port is known before serving and cannot be taken in between.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Accepted connections inherit TCP_NODELAY from the listening socket; asyncio sets it only on the
        # sockets it creates itself, so without this every response waits ~40 ms for a delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((LOOPBACK, 0))
        self._sock = sock
        self.url = f"http://{LOOPBACK}:{sock.getsockname()[1]}"
        self._server = _LoopbackServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=f"{type(self).__name__}-serve")
        while not self._server.started:
            if self._task.done():
                await self.stop()
                raise RuntimeError(f"{type(self).__name__} did not start")
            await asyncio.sleep(0.001)

    async def stop(self) -> None:
        """Stop serving, close every connection and wait for uvicorn's task to end (idempotent)."""
        server, task, sock = self._server, self._task, self._sock
        self._server = self._task = self._sock = None
        if server is not None:
            server.request_exit()
        try:
            if task is not None:
                await task
        finally:
            if sock is not None:
                sock.close()

    # -- helpers -------------------------------------------------------------------------------------------

    async def _record(self, request: Request) -> Recorded:
        body = await request.body()
        content_type = request.headers.get("content-type", "").lower()
        parsed_json: Any | None = None
        if "json" in content_type:
            with contextlib.suppress(ValueError):
                parsed_json = jsonlib.loads(body)
        form = _parse_form(body) if content_type.startswith("application/x-www-form-urlencoded") else None
        recorded = Recorded(method=request.method, path=request.url.path, headers=dict(request.headers.items()),
                            body=body, json=parsed_json, form=form, query=dict(request.query_params.items()))
        self.requests.append(recorded)
        return recorded


def _parse_form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


# ------------------------------------------------------------------------------------------------------------
# WhatsApp Business Cloud API (notify-facts §1)
# ------------------------------------------------------------------------------------------------------------

_GRAPH_VERSION = re.compile(r"v\d+(\.\d+)?")
_TEMPLATE_COMPONENTS = {"header", "body", "button"}
_TEMPLATE_PARAMETERS = {"text", "currency", "date_time", "image", "document", "video", "payload"}


class FakeWhatsApp(FakeProvider):
    """`POST /{version}/{phone_number_id}/messages` (the version segment may be left out) as Meta answers it.

    Token → 190/401, phone number id → 100, body → 100 with `error_data.details`, unapproved template → 132001.
    A 200 is only "accepted": recipients in `undeliverable` (131026) and free-form text to recipients in
    `window_closed` (131047, 24 h window) are accepted with 200 as Meta does, and the `failed` status Meta would
    post later by webhook is appended to `failed_statuses`."""

    api_version = "v24.0"

    def __init__(self, token: str, phone_number_id: str) -> None:
        super().__init__()
        self.token = token
        self.phone_number_id = phone_number_id
        self.undeliverable: set[str] = set()
        self.window_closed: set[str] = set()
        self.approved_templates: set[tuple[str, str]] = set()
        self.failed_statuses: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        """What GUARDIA_WHATSAPP_API_BASE_URL would be: the fake's URL plus a Graph API version."""
        return f"{self.url}/{self.api_version}"

    def routes(self) -> list[Route]:
        return [self.route("/{version}/{phone_number_id}/messages", self._messages),
                self.route("/{phone_number_id}/messages", self._messages)]

    async def unknown_route(self, request: Request, recorded: Recorded) -> Response:
        return JSONResponse(self._graph_error(2500, f"Unknown path components: {request.url.path}"), status_code=400)

    @staticmethod
    def error(code: int, message: str, details: str | None = None) -> dict[str, Any]:
        """A Cloud API error body, e.g. `error(130429, "(#130429) Rate limit hit")`, to script with
        `script((400, FakeWhatsApp.error(...), {}))`. Meta keys handling on `code` and `error_data.details`."""
        return {"error": {"message": message, "type": "OAuthException", "code": code,
                          "error_data": {"messaging_product": "whatsapp", "details": details or message},
                          "fbtrace_id": _fbtrace_id()}}

    @staticmethod
    def _graph_error(code: int, message: str, type_: str = "OAuthException", **extra: Any) -> dict[str, Any]:
        return {"error": {"message": message, "type": type_, "code": code, **extra, "fbtrace_id": _fbtrace_id()}}

    def _invalid(self, details: str) -> Response:
        return JSONResponse(self.error(100, "(#100) Invalid parameter", details), status_code=400)

    async def _messages(self, request: Request, recorded: Recorded) -> Response:
        version = request.path_params.get("version")
        if version is not None and not _GRAPH_VERSION.fullmatch(version):
            return await self.unknown_route(request, recorded)
        auth = request.headers.get("authorization", "")
        scheme, _, credential = auth.partition(" ")
        token = credential.strip() if scheme.lower() == "bearer" else request.query_params.get("access_token", "")
        if not token or not secrets.compare_digest(token, self.token):
            return JSONResponse(self._graph_error(190, "Error validating access token"), status_code=401)
        phone_number_id = request.path_params["phone_number_id"]
        if phone_number_id != self.phone_number_id:
            unsupported = (f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be "
                       "loaded due to missing permissions, or does not support this operation. Please read the "
                       "Graph API documentation at https://developers.facebook.com/docs/graph-api")
            return JSONResponse(self._graph_error(100, unsupported, "GraphMethodException", error_subcode=33),
                                status_code=400)
        payload = recorded.json
        if not isinstance(payload, dict):
            return self._invalid("Request body must be a JSON object (Content-Type: application/json)")
        if payload.get("messaging_product") != "whatsapp":
            return self._invalid("The parameter messaging_product is required and must be 'whatsapp'")
        if payload.get("recipient_type", "individual") != "individual":
            return self._invalid("recipient_type must be 'individual'")
        to = payload.get("to")
        if not isinstance(to, str) or not to.strip():
            return self._invalid("The parameter to is required")
        opaque = payload.get("biz_opaque_callback_data")
        if opaque is not None and (not isinstance(opaque, str) or len(opaque.encode()) > 512):
            return self._invalid("biz_opaque_callback_data must be a string of at most 512 bytes")
        context = payload.get("context")
        if context is not None and not (isinstance(context, dict) and isinstance(context.get("message_id"), str)):
            return self._invalid("context.message_id must be a string")
        kind = payload.get("type", "text")  # Meta: type is optional and defaults to text
        if kind == "text":
            problem = _check_text(payload.get("text"))
        elif kind == "template":
            problem = _check_template(payload.get("template"))
        else:
            problem = f"Unsupported message type {kind!r} (this fake handles text and template)"
        if problem:
            return self._invalid(problem)
        if kind == "template":
            template = payload["template"]
            name, language = template["name"], template["language"]["code"]
            if self.approved_templates and (name, language) not in self.approved_templates:
                return JSONResponse(self.error(132001, "(#132001) Template name does not exist in the translation",
                                               f"template name ({name}) does not exist in {language}"),
                                    status_code=404)
        wa_id = re.sub(r"\D", "", to)
        wamid = f"wamid.HBgM{uuid.uuid4().hex.upper()}"
        if to in self.undeliverable or wa_id in self.undeliverable:
            self.failed_statuses.append(_failed_status(wamid, wa_id, 131026, "Message undeliverable",
                                                       "Message Undeliverable.", opaque))
        elif kind == "text" and (to in self.window_closed or wa_id in self.window_closed):
            self.failed_statuses.append(_failed_status(
                wamid, wa_id, 131047, "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied "
                "to this number.", opaque))
        accepted: dict[str, Any] = {"id": wamid}
        if kind == "template":
            accepted["message_status"] = "accepted"
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": wa_id}],
                             "messages": [accepted]})


def _fbtrace_id() -> str:
    return secrets.token_urlsafe(8)


def _check_text(text: Any) -> str | None:
    if not isinstance(text, dict):
        return "The parameter text is required for type text"
    body = text.get("body")
    if not isinstance(body, str) or not body:
        return "The parameter text['body'] is required"
    if len(body) > 4096:
        return f"Param text['body'] must be at most 4096 characters long (got {len(body)})"
    if "preview_url" in text and not isinstance(text["preview_url"], bool):
        return "Param text['preview_url'] must be a boolean"
    return None


def _check_template(template: Any) -> str | None:
    if not isinstance(template, dict):
        return "The parameter template is required for type template"
    if not isinstance(template.get("name"), str) or not template["name"]:
        return "The parameter template['name'] is required"
    language = template.get("language")
    if not isinstance(language, dict) or not isinstance(language.get("code"), str) or not language["code"]:
        return "The parameter template['language']['code'] is required"
    components = template.get("components", [])
    if not isinstance(components, list):
        return "Param template['components'] must be a list"
    for index, component in enumerate(components):
        if not isinstance(component, dict) or component.get("type") not in _TEMPLATE_COMPONENTS:
            return f"Param template['components'][{index}]['type'] must be one of header, body, button"
        if component["type"] == "button" and ("sub_type" not in component or "index" not in component):
            return f"Param template['components'][{index}] of type button needs sub_type and index"
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list) or not all(
                isinstance(p, dict) and p.get("type") in _TEMPLATE_PARAMETERS for p in parameters):
            return f"Param template['components'][{index}]['parameters'] has an invalid parameter"
    return None


def _failed_status(wamid: str, recipient: str, code: int, title: str, details: str,
                   opaque: str | None) -> dict[str, Any]:
    """The `statuses[]` entry Meta posts by webhook when an accepted message fails later."""
    status: dict[str, Any] = {
        "id": wamid, "status": "failed", "timestamp": str(int(time.time())), "recipient_id": recipient,
        "errors": [{"code": code, "title": title, "message": title, "error_data": {"details": details}}]}
    if opaque is not None:
        status["biz_opaque_callback_data"] = opaque
    return status


# ------------------------------------------------------------------------------------------------------------
# Telegram Bot API (notify-facts §2)
# ------------------------------------------------------------------------------------------------------------

_HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji",
              "code", "pre", "blockquote"}
_HTML_TAG_START = re.compile(r"<(/?)([^\s<>/]*)")
_MARKDOWN_V2_RESERVED = set(".!-#+={}")  # never markup, so always an error when not escaped


class FakeTelegram(FakeProvider):
    """`POST /bot{token}/sendMessage` (JSON, form-urlencoded or query parameters; GET too) as the Bot API answers.

    Errors are `{"ok": false, "error_code": N, "description": ...}`: wrong token 401, missing chat or text 400,
    text over 4096 characters 400, `parse_mode` HTML/MarkdownV2/Markdown text that does not parse 400 "can't parse
    entities", chats in `blocked` 403, chats outside `known_chats` (when set) 400 "chat not found"."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.blocked: set[str] = set()
        self.known_chats: set[str] | None = None
        self._message_ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """What GUARDIA_TELEGRAM_API_BASE_URL would be (the client appends /bot<token>/sendMessage)."""
        return self.url

    def routes(self) -> list[Route]:
        return [self.route("/bot{token}/sendMessage", self._send_message, methods=["GET", "POST"]),
                self.route("/bot{token}/{method}", self._other_method, methods=["GET", "POST"])]

    async def unknown_route(self, request: Request, recorded: Recorded) -> Response:
        return _telegram_error(404, "Not Found")

    @staticmethod
    def too_many(retry_after: int) -> ScriptedResponse:
        """The documented flood-control answer, ready for `script()`; the wait is in the body only."""
        return (429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                      "parameters": {"retry_after": retry_after}}, {})

    def _authorized(self, request: Request) -> bool:
        return secrets.compare_digest(request.path_params["token"], self.token)

    async def _other_method(self, request: Request, recorded: Recorded) -> Response:
        if not self._authorized(request):
            return _telegram_error(401, "Unauthorized")
        return _telegram_error(404, "Not Found")

    async def _send_message(self, request: Request, recorded: Recorded) -> Response:
        if not self._authorized(request):
            return _telegram_error(401, "Unauthorized")
        params: dict[str, Any] = dict(recorded.query)
        if isinstance(recorded.json, dict):
            params.update(recorded.json)
        elif recorded.form is not None:
            params.update(recorded.form)
        elif recorded.body and "json" in recorded.headers.get("content-type", ""):
            return _telegram_error(400, "Bad Request: can't parse JSON object")
        chat_id = "" if params.get("chat_id") is None else str(params["chat_id"]).strip()
        if not chat_id:
            return _telegram_error(400, "Bad Request: chat_id is empty")
        raw_text = params.get("text")
        if not isinstance(raw_text, str) or not raw_text.strip():
            return _telegram_error(400, "Bad Request: message text is empty")
        parse_mode = params.get("parse_mode") or ""
        if not isinstance(parse_mode, str):
            return _telegram_error(400, "Bad Request: unsupported parse_mode")
        parsed = _parse_entities(raw_text, parse_mode)
        if isinstance(parsed, _ParseError):
            return _telegram_error(400, f"Bad Request: {parsed.description}")
        text = parsed.strip()
        if not text:
            return _telegram_error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _telegram_error(400, "Bad Request: message is too long")
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            try:
                reply = jsonlib.loads(reply)
            except ValueError:
                reply = None
            if not isinstance(reply, dict):
                return _telegram_error(400, "Bad Request: can't parse reply parameters JSON object")
        if reply is not None and not (isinstance(reply, dict) and isinstance(reply.get("message_id"), int)):
            return _telegram_error(400, "Bad Request: can't parse reply parameters JSON object")
        if self.known_chats is not None and chat_id not in self.known_chats:
            return _telegram_error(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            return _telegram_error(403, "Forbidden: bot was blocked by the user")
        return JSONResponse({"ok": True, "result": {
            "message_id": next(self._message_ids),
            "from": {"id": _bot_id(self.token), "is_bot": True, "first_name": "guardia", "username": "guardia_bot"},
            "chat": _telegram_chat(chat_id), "date": int(time.time()), "text": text}})


def _telegram_error(code: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=code)


def _bot_id(token: str) -> int:
    head = token.partition(":")[0]
    return int(head) if head.isdigit() else 1


def _telegram_chat(chat_id: str) -> dict[str, Any]:
    if chat_id.startswith("@"):
        return {"id": -1000000000000 - (sum(chat_id.encode()) % 10**9), "type": "channel",
                "username": chat_id[1:]}
    numeric = int(chat_id) if re.fullmatch(r"-?\d+", chat_id) else chat_id
    if isinstance(numeric, int) and numeric < 0:
        return {"id": numeric, "type": "supergroup" if str(numeric).startswith("-100") else "group"}
    return {"id": numeric, "type": "private"}


@dataclass
class _ParseError:
    description: str


def _parse_entities(text: str, parse_mode: str) -> str | _ParseError:
    """The text Telegram keeps after entity parsing, or the "can't parse entities" error it answers."""
    mode = parse_mode.lower()
    if mode == "":
        return text
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    return _ParseError("unsupported parse_mode")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_html(text: str) -> str | _ParseError:
    plain: list[str] = []
    open_tags: list[str] = []
    index = 0
    while (start := text.find("<", index)) != -1:
        plain.append(text[index:start])
        head = _HTML_TAG_START.match(text, start)
        assert head is not None  # the pattern matches any "<"
        closing, name = bool(head.group(1)), head.group(2).lower()
        offset = _byte_offset(text, start)
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            return _ParseError(f"can't parse entities: Unsupported {kind} tag \"{name}\" at byte offset {offset}")
        end = text.find(">", head.end())
        if end == -1:
            return _ParseError(f"can't parse entities: Can't find end of the tag at byte offset {offset}")
        if closing:
            if not open_tags or open_tags[-1] != name:
                expected = f"</{open_tags[-1]}>" if open_tags else "no end tag"
                return _ParseError(f"can't parse entities: Unmatched end tag at byte offset {offset}, expected "
                                   f"\"{expected}\", found \"</{name}>\"")
            open_tags.pop()
        else:
            open_tags.append(name)
        index = end + 1
    plain.append(text[index:])
    if open_tags:
        return _ParseError(f"can't parse entities: Can't find end tag corresponding to start tag \"{open_tags[-1]}\"")
    return html.unescape("".join(plain))


def _parse_markdown_v2(text: str) -> str | _ParseError:
    plain: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            plain.append(next(chars, ""))
            continue
        if char in _MARKDOWN_V2_RESERVED:
            return _ParseError(f"can't parse entities: Character '{char}' is reserved and must be escaped with the "
                               f"preceding '\\'")
        plain.append(char)
    return "".join(plain)


def _parse_markdown(text: str) -> str | _ParseError:
    for marker in "*_`":
        positions = [m.start() for m in re.finditer(re.escape(marker), text)]
        if len(positions) % 2:
            return _ParseError(f"can't parse entities: Can't find end of the entity starting at byte offset "
                               f"{_byte_offset(text, positions[-1])}")
    return re.sub(r"[*_`]", "", text)


# ------------------------------------------------------------------------------------------------------------
# Twilio Programmable Messaging (notify-facts §3)
# ------------------------------------------------------------------------------------------------------------

_E164 = re.compile(r"\+[1-9]\d{7,14}")
_GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
            "¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


def sms_segments(body: str) -> int:
    """Segments Twilio bills for `body`: GSM-7 (160, 153 when concatenated) unless a character needs UCS-2
    (70, 67), e.g. Spanish "í"/"ú" (notify-facts §3)."""
    if all(c in _GSM7 or c in _GSM7_EXTENDED for c in body):
        units = sum(2 if c in _GSM7_EXTENDED else 1 for c in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)


class FakeTwilio(FakeProvider):
    """`POST /2010-04-01/Accounts/{sid}/Messages.json` as Twilio answers it.

    HTTP Basic `account_sid:auth_token` (20003/401), form-urlencoded only (a JSON body reads as no parameters,
    hence 21604, which is what Twilio answers), To E.164 (21211), From this account's number (21603 missing,
    21606 other) or a MessagingServiceSid, Body required (21602) and ≤1600 characters (21617), recipients in
    `unsubscribed` 21610. Success is 201 with a Message resource in status `queued` (`accepted` with a
    Messaging Service); delivery would come later by StatusCallback."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.unsubscribed: set[str] = set()
        self.messages: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        """What GUARDIA_TWILIO_API_BASE_URL would be (the client appends /2010-04-01/Accounts/{sid}/Messages.json)."""
        return self.url

    def routes(self) -> list[Route]:
        return [self.route("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)]

    async def unknown_route(self, request: Request, recorded: Recorded) -> Response:
        return self._error(20404, f"The requested resource {request.url.path} was not found", 404)

    @staticmethod
    def error(code: int, message: str, status: int = 400) -> dict[str, Any]:
        """A Twilio REST error body: `{"code", "message", "more_info", "status"}`."""
        return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}

    @staticmethod
    def too_many() -> ScriptedResponse:
        """The documented 429 / 20429 (never processed, safe to retry; no Retry-After), ready for `script()`."""
        return (429, FakeTwilio.error(20429, "Too Many Requests", 429), {})

    def _error(self, code: int, message: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(self.error(code, message, status), status_code=status, headers=headers)

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(password, self.auth_token)

    async def _create_message(self, request: Request, recorded: Recorded) -> Response:
        if not self._authorized(request):
            return self._error(20003, "Authenticate", 401, {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        sid = request.path_params["sid"]
        if sid != self.account_sid:
            return self._error(20404, f"The requested resource {request.url.path} was not found", 404)
        form = recorded.form or {}  # Twilio reads only form parameters; a JSON body has none
        to = form.get("To", "")
        if not to:
            return self._error(21604, "A 'To' phone number is required.")
        if not _E164.fullmatch(to):
            return self._error(21211, f"Invalid 'To' Phone Number: {to}")
        service = form.get("MessagingServiceSid", "")
        sender = form.get("From", "")
        if not service:
            if not sender:
                return self._error(21603, "A 'From' phone number is required.")
            if sender != self.from_number:
                return self._error(21606, f"The From phone number {sender} is not a valid, SMS-capable inbound "
                                          "phone number or short code for your account.")
        body = form.get("Body", "")
        if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
            return self._error(21602, "Message body is required.")
        if len(body) > 1600:
            return self._error(21617, "The concatenated message body exceeds the 1600 character limit.")
        if to in self.unsubscribed:
            return self._error(21610, "Attempt to send to unsubscribed recipient")
        message_sid = "SM" + uuid.uuid4().hex
        now = format_datetime(datetime.now(UTC))
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}.json"
        message = {
            "sid": message_sid, "account_sid": self.account_sid, "api_version": "2010-04-01", "to": to,
            "from": None if service and not sender else sender, "messaging_service_sid": service or None,
            "body": body, "status": "accepted" if service else "queued", "num_segments": str(sms_segments(body)),
            "num_media": "1" if form.get("MediaUrl") else "0", "direction": "outbound-api", "price": None,
            "price_unit": "USD", "error_code": None, "error_message": None, "date_created": now,
            "date_updated": now, "date_sent": None, "uri": uri,
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"}}
        self.messages.append(message)
        return JSONResponse(message, status_code=201)


# ------------------------------------------------------------------------------------------------------------
# Slack-compatible staff webhook (notify-facts §5)
# ------------------------------------------------------------------------------------------------------------


class FakeStaffWebhook(FakeProvider):
    """`POST /hooks/{anything}` as a Slack incoming webhook answers: plain-text `ok`, `no_text`, `invalid_payload`.

    Slack also takes a form field `payload=<json>`, so that is accepted too. Slack's 429 carries `Retry-After`:
    script it, e.g. `script((429, "rate_limited", {"Retry-After": "3"}))`."""

    hook_path = "/hooks/T0000000/B0000000/guardia-test"

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    @property
    def hook_url(self) -> str:
        """What GUARDIA_STAFF_WEBHOOK_URL would be."""
        return self.url + self.hook_path

    def routes(self) -> list[Route]:
        return [self.route("/hooks/{anything:path}", self._post)]

    async def unknown_route(self, request: Request, recorded: Recorded) -> Response:
        return PlainTextResponse("no_service", status_code=404)

    async def _post(self, request: Request, recorded: Recorded) -> Response:
        payload: Any = None
        raw = recorded.form["payload"] if recorded.form is not None and "payload" in recorded.form else recorded.body
        try:
            payload = jsonlib.loads(raw)
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(payload, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            return PlainTextResponse("no_text", status_code=400)
        self.texts.append(text)
        return PlainTextResponse("ok")


# ------------------------------------------------------------------------------------------------------------
# SMTP (notify-facts §4)
# ------------------------------------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    """One DATA transaction: the envelope, the raw bytes, the parsed message and who was authenticated."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    message: EmailMessage
    login: str | None = None
    answer: str = "250 OK"


_AIOSMTPD_NOISE = ("Session.login_data is deprecated", "auth_required == True but auth_require_tls == False")


def _not_aiosmtpd_noise(record: logging.LogRecord) -> bool:
    """aiosmtpd logs these two warnings on every AUTH session of a TLS-less test server (the first from its own
    code, not ours); they would bury the real log lines pytest shows for a failing test."""
    return not record.getMessage().startswith(_AIOSMTPD_NOISE)


logging.getLogger("mail.log").addFilter(_not_aiosmtpd_noise)


class _SmtpHandler:
    """aiosmtpd handler hooks; keeps no state of its own, everything lives on the FakeSmtp."""

    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() in {r.lower() for r in self.fake.rejected}:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        answer = self.fake._data_script.popleft() if self.fake._data_script else "250 OK"
        message = message_from_bytes(content, policy=email.policy.default)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        mail = ReceivedMail(mail_from=envelope.mail_from or "", rcpt_tos=list(envelope.rcpt_tos), content=content,
                            message=message, login=login, answer=answer)
        self.fake.attempts.append(mail)
        if answer.startswith("2"):
            self.fake.messages.append(mail)
        return answer


class FakeSmtp(_Served):
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, inside the test's event loop.

    With `username`/`password`, AUTH (PLAIN or LOGIN) is required before MAIL, over plain TCP
    (`auth_require_tls=False`: tests run without TLS). Recipients in `rejected` get `550 5.1.1` at RCPT;
    `script_data("451 4.3.0 try later")` answers the next DATA with that code before accepting again.
    `messages` holds accepted mail, `attempts` every DATA whatever the answer."""

    def __init__(self, username: str | None = None, password: str | None = None,
                 hostname: str = "smtp.guardia.test") -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.username = username
        self.password = password
        self.hostname = hostname
        self.host = LOOPBACK
        self.port = 0
        self.messages: list[ReceivedMail] = []
        self.attempts: list[ReceivedMail] = []
        self.rejected: set[str] = set()
        self._data_script: deque[str] = deque()
        self._server: asyncio.Server | None = None
        self._protocols: list[SMTP] = []

    @property
    def url(self) -> str:
        """What GUARDIA_SMTP_URL would be."""
        auth = ""
        if self.username is not None and self.password is not None:
            auth = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@"
        return f"smtp://{auth}{self.host}:{self.port}"

    def script_data(self, *codes: str) -> None:
        """Answer the next DATA commands with these replies (e.g. "451 4.3.0 try later"), one each, in order."""
        self._data_script.extend(codes)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        login = getattr(auth_data, "login", b"")
        password = getattr(auth_data, "password", b"")
        user = login.decode() if isinstance(login, bytes) else str(login)
        secret = password.decode() if isinstance(password, bytes) else str(password)
        if (self.username is not None and self.password is not None and secrets.compare_digest(user, self.username)
                and secrets.compare_digest(secret, self.password)):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    def _protocol(self) -> SMTP:
        auth = self.username is not None
        with warnings.catch_warnings():
            # aiosmtpd warns that AUTH without TLS is insecure; that is the point of a loopback test server.
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            protocol = SMTP(_SmtpHandler(self), hostname=self.hostname, loop=asyncio.get_running_loop(),
                            authenticator=self._authenticate if auth else None, auth_required=auth,
                            auth_require_tls=False)
        self._protocols.append(protocol)
        return protocol

    async def start(self) -> None:
        """Listen on a free loopback port (`port` is set when this returns)."""
        if self._server is not None:
            raise RuntimeError("FakeSmtp already started")
        self._server = await asyncio.get_running_loop().create_server(self._protocol, host=self.host, port=0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening, drop open sessions and wait for their handler tasks to end (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        protocols, self._protocols = self._protocols, []
        for protocol in protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        await server.wait_closed()
        # aiosmtpd runs each session in a task it cancels on connection_lost; let them finish here.
        tasks = [t for p in protocols if (t := getattr(p, "_handler_coroutine", None)) is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

