"""Intake's HTTP gateway (ASGI, Starlette): the door channels and agents knock on.

| method | path                          | what                                                |
| ------ | ----------------------------- | --------------------------------------------------- |
| POST   | /v1/contacts                  | a generic JSON contact -> 202 with the ticket id    |
| POST   | /v1/tickets/{id}/status       | an agent moves a ticket between the 001 stages      |
| POST   | /v1/tickets/{id}/classification | an agent corrects type/priority/area/categories   |
| POST   | /v1/tickets/{id}/merge/undo   | an agent undoes a duplicate merge (with a reason)   |
| POST   | /v1/tickets/{id}/replies      | an agent answers the customer (notify delivers it)  |
| GET    | /v1/tickets/{id}              | the ticket's number, tenant and stage               |
| GET    | /healthz                      | liveness: the process answers (guardia/health.py)   |
| GET    | /readyz                       | ready: NATS, streams and intake's consumers, or 503 |
| POST   | /webhooks/<provider>          | WhatsApp, Telegram, e-mail (raw, Mailgun, SendGrid),|
|        |                               | Zadarma, Twilio, Crisp, Tawk.to, web form (webhooks.py) |

Every rejection answers 4xx with a reason code and the fields at fault, and keeps the raw bytes
and headers in the dead letters (design.md invariant 3). Status, classification and reply commands take an
optional `at` (when it happened: offline agents, imports), bounded by commands.py.

Every /v1 request needs a bearer token whose role the route allows (auth.py: one table, one
middleware; a new /v1 route needs `agent` until listed there); the acting person of an event is the
token's name. With GUARDIA_ENV=production a webhook whose channel has no secret answers 503
`channel_not_configured` instead of taking unsigned payloads.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import nats
import structlog
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from guardia import metrics
from guardia.health import health_routes
from guardia.policy import Policies
from guardia.settings import Settings
from guardia.tokens import TokenStore
from shared.schemas import ReclassificationRequested, Status, make_event

from . import commands, webhooks
from .auth import BearerAuth, Refusal, Verifier, principal_of, redacted
from .channels.base import RawRequest
from .rules import ContactIn
from .state import Busy, IntakeState

log = structlog.get_logger("guardia.gateway")

#: multipart e-mails and forms carry attachments; JSON webhooks are held to 1 MiB by their normalizers
WEBHOOK_MAX_BYTES = 25 * 1024 * 1024


class Rejection(Exception):
    def __init__(self, status: int, code: str, message: str, problems: list[dict[str, str]] | None = None,
                 raw: bytes = b"") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.problems, self.raw = status, code, message, problems or [], raw


def problems_of(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
        for e in exc.errors(include_url=False)
    ]


def command_rejection(exc: commands.InvalidCommand) -> Rejection:
    return Rejection(422, exc.code, f"invalid {exc.field}: {exc}", [{"field": exc.field, "problem": str(exc)}])


def create_gateway(state: IntakeState, policies: Policies, settings: Settings) -> Starlette:
    runtime = state.rt

    async def reject(request: Request, raw: bytes, rej: Rejection, tenant: str) -> JSONResponse:
        reason = rej.message
        if rej.problems:
            reason += ": " + "; ".join(f"{p['field']}: {p['problem']}" for p in rej.problems)
        headers = dict(request.headers)
        if request.url.path.startswith("/v1/"):  # the API token stays out of the dead letters
            headers = redacted(headers)
        try:
            await runtime.dead_letter(
                tenant=tenant, source=f"gateway {request.method} {request.url.path}", reason_code=rej.code,
                reason=reason, raw=raw, headers=headers,
            )
        except Exception as exc:  # the caller still gets its answer; the log keeps the failure
            log.error("dead_letter_failed", error=str(exc), code=rej.code)
        body: dict[str, Any] = {"error": rej.code, "message": rej.message}
        if rej.problems:
            body["problems"] = rej.problems
        return JSONResponse(body, status_code=rej.status)

    async def read_body(request: Request, limit: int | None = None) -> bytes:
        """The raw bytes, up to the limit (a larger body keeps its first bytes for the dead letters)."""
        limit = limit or settings.max_body_bytes
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                raise Rejection(413, "payload_too_large", f"body is over {limit} bytes", raw=raw[: limit + 1])
        return raw

    def parse_json(request: Request, raw: bytes) -> Any:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise Rejection(415, "unsupported_media_type", f"expected application/json, got {ctype or 'none'}")
        try:
            return json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise Rejection(400, "invalid_encoding", f"body is not UTF-8: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise Rejection(400, "malformed_json", f"body is not JSON: {exc}") from exc

    async def post_contact(request: Request) -> JSONResponse:
        raw, tenant = b"", settings.default_tenant
        try:
            raw = await read_body(request)
            doc = parse_json(request, raw)
            if not isinstance(doc, dict):
                raise Rejection(422, "schema_violation", "body must be a JSON object")
            try:
                contact = ContactIn.model_validate(doc)
            except ValidationError as exc:
                raise Rejection(422, "schema_violation", "invalid contact", problems_of(exc)) from exc
            tenant = contact.tenant or settings.default_tenant
            if tenant not in policies:
                raise Rejection(422, "unknown_tenant", f"no policy for tenant {tenant!r}",
                                [{"field": "tenant", "problem": f"known tenants: {', '.join(policies.tenants())}"}])
            try:
                accepted = await state.accept_contact(contact, tenant, policies[tenant].intake.ticket_prefix)
            except ValueError as exc:
                raise Rejection(422, "timestamp_out_of_range", str(exc),
                                [{"field": "received_at", "problem": str(exc)}]) from exc
        except Rejection as rej:
            return await reject(request, rej.raw or raw, rej, tenant if tenant in policies else settings.default_tenant)
        answer = {"ticket_id": str(accepted.ticket_id), "ticket_number": accepted.ticket_number,
                  "contact_id": accepted.contact_id, "outcome": accepted.outcome}
        if accepted.merged_into is not None:
            answer["merged_into"] = str(accepted.merged_into)
        return JSONResponse(answer, status_code=202)

    async def get_ticket(request: Request) -> JSONResponse:
        try:
            ticket_id = UUID(request.path_params["ticket_id"])
        except ValueError:
            return JSONResponse({"error": "schema_violation", "message": "ticket id is not a UUID"}, 422)
        record = await state.ticket(ticket_id)
        if record is None:
            return JSONResponse({"error": "not_found", "message": f"ticket {ticket_id} not found"}, 404)
        return JSONResponse(record)

    async def post_status(request: Request) -> JSONResponse:
        raw = b""
        try:
            raw = await read_body(request)
            doc = parse_json(request, raw)
            try:
                ticket_id = UUID(request.path_params["ticket_id"])
                status = Status(str(doc.get("status")) if isinstance(doc, dict) else "")
            except ValueError as exc:
                allowed = ", ".join(s.value for s in Status)
                raise Rejection(422, "schema_violation", "invalid status change",
                                [{"field": "status", "problem": f"must be one of {allowed}"}]) from exc
            try:
                ev = await state.change_status(
                    ticket_id, status, by=principal_of(request).name, reason=str(doc.get("reason") or ""),
                    command_id=doc.get("command_id"), at=commands.parse_at(doc.get("at")),
                )
            except LookupError as exc:
                return JSONResponse({"error": "not_found", "message": str(exc)}, 404)
            except commands.InvalidCommand as exc:
                raise command_rejection(exc) from exc
        except Rejection as rej:
            return await reject(request, rej.raw or raw, rej, settings.default_tenant)
        return JSONResponse({"event_id": str(ev.event_id), "status": status.value}, status_code=202)

    config = webhooks.channel_config(settings)
    closed: set[str] = set()
    if open_channels := webhooks.unverified(config):
        if settings.env == "production":  # fail closed: unsigned payloads are not taken in production
            closed = set(open_channels)
            log.error("webhooks_not_configured", channels=open_channels, answer="503 channel_not_configured",
                      hint="set their GUARDIA_*_SECRET/TOKEN to open these endpoints")
        else:
            log.warning("webhooks_not_verified", channels=open_channels,
                        hint="set their GUARDIA_*_SECRET/TOKEN before exposing these endpoints")

    def webhook_route(hook: webhooks.Webhook) -> Route:
        async def receive(request: Request) -> Response:
            raw = b""
            tenant = settings.default_tenant
            try:
                raw = await read_body(request, WEBHOOK_MAX_BYTES)
                if hook.channel in closed:
                    raise Rejection(503, "channel_not_configured",
                                    f"channel {hook.channel!r} has no secret set and GUARDIA_ENV is production")
                query = f"?{request.url.query}" if request.url.query else ""
                public = config.public_base_url
                url = f"{public}{request.url.path}{query}" if public else str(request.url)
                raw_request = RawRequest(body=raw, headers=dict(request.headers), url=url, method=request.method,
                                         query=dict(request.query_params))
                if request.method == "GET":
                    result = webhooks.run_get(hook, raw_request, config)
                else:
                    result = hook.normalize(raw_request, config)
                if result.outcome == "reject":
                    code = result.reason_code or "schema_violation"
                    raise Rejection(webhooks.STATUS.get(code, 422), code, result.reason)
            except Rejection as rej:
                return await reject(request, rej.raw or raw, rej, tenant)
            if result.reply is not None:
                return PlainTextResponse(result.reply)
            prefix = policies[tenant].intake.ticket_prefix
            reported = await state.report_statuses(result.statuses) if result.statuses else 0
            answers = []
            for contact in result.contacts:
                if result.outcome == "update":
                    accepted = await state.update_contact(contact, tenant, prefix)
                else:
                    accepted = await state.accept_contact(contact, tenant, prefix)
                answers.append({"ticket_id": str(accepted.ticket_id), "ticket_number": accepted.ticket_number,
                                "contact_id": accepted.contact_id, "outcome": accepted.outcome})
            return JSONResponse({"outcome": result.outcome, "reason": result.reason, "contacts": answers,
                                 "statuses": reported})

        async def counted(request: Request) -> Response:
            """`receive`, counted per provider and status (an exception is what its handler answers)."""
            status = 500
            try:
                response = await receive(request)
                status = response.status_code
                return response
            except (Busy, OSError, nats.errors.Error):
                status = 503
                raise
            finally:
                metrics.webhook_answered(hook.channel, status)

        return Route(hook.path, counted, methods=list(hook.methods))

    async def post_classification(request: Request) -> JSONResponse:
        """An agent corrects type, priority, area or categories, with a reason (triage answers)."""
        raw = b""
        try:
            raw = await read_body(request)
            doc = parse_json(request, raw)
            told = doc.pop("at", None) if isinstance(doc, dict) else None  # when, not what: not in the event
            try:
                ticket_id = UUID(request.path_params["ticket_id"])
                fix = ReclassificationRequested.model_validate(
                    {**doc, "by": principal_of(request).name} if isinstance(doc, dict) else doc)
            except ValidationError as exc:
                raise Rejection(422, "schema_violation", "invalid reclassification", problems_of(exc)) from exc
            except ValueError as exc:
                raise Rejection(422, "schema_violation", "ticket id is not a UUID") from exc
            try:
                record, when = await state.stamp_change(ticket_id, commands.parse_at(told))
            except LookupError:
                return JSONResponse({"error": "not_found", "message": f"ticket {ticket_id} not found"}, 404)
            except commands.InvalidCommand as exc:
                raise command_rejection(exc) from exc
            ev = make_event(fix, tenant=record["tenant"], occurred_at=when, producer="intake",
                            ticket_id=ticket_id)
            await state.rt.publish([ev])
        except Rejection as rej:
            return await reject(request, rej.raw or raw, rej, settings.default_tenant)
        return JSONResponse({"event_id": str(ev.event_id)}, status_code=202)

    async def post_reply(request: Request) -> JSONResponse:
        """An agent answers the customer (first reply time, one-touch); notify delivers it on the
        customer's channel. `command_id` makes a retried POST the same reply; `at` back-dates it."""
        raw, tenant = b"", settings.default_tenant
        try:
            raw = await read_body(request)
            doc = parse_json(request, raw)
            try:
                ticket_id = UUID(request.path_params["ticket_id"])
            except ValueError as exc:
                raise Rejection(422, "schema_violation", "ticket id is not a UUID") from exc
            try:
                text, command_id = commands.parse_reply(doc)
                at = commands.parse_at(doc.get("at"))
            except commands.InvalidCommand as exc:
                raise command_rejection(exc) from exc
            record = await state.ticket(ticket_id)
            if record is None:
                raise Rejection(404, "unknown_ticket", f"ticket {ticket_id} not found")
            tenant = record["tenant"]
            try:
                ev = await state.add_reply(ticket_id, text, principal_of(request).name, command_id, at)
            except commands.InvalidCommand as exc:
                raise command_rejection(exc) from exc
            except ValueError as exc:
                raise Rejection(409, "reply_not_deliverable", str(exc)) from exc
        except Rejection as rej:
            return await reject(request, rej.raw or raw, rej, tenant)
        return JSONResponse({"event_id": str(ev.event_id), "ticket_id": str(ticket_id),
                             "occurred_at": ev.occurred_at.isoformat()}, status_code=202)

    async def post_undo_merge(request: Request) -> JSONResponse:
        """001 §3.4.1 merges can be wrong: an agent undoes one, with a reason."""
        raw = b""
        try:
            raw = await read_body(request)
            doc = parse_json(request, raw)
            if not isinstance(doc, dict) or not str(doc.get("reason") or "").strip():
                raise Rejection(422, "schema_violation", "undoing a merge needs a reason",
                                [{"field": "reason", "problem": "Field required"}])
            try:
                ticket_id = UUID(request.path_params["ticket_id"])
            except ValueError as exc:
                raise Rejection(422, "schema_violation", "ticket id is not a UUID") from exc
            try:
                published = await state.undo_merge(ticket_id, principal_of(request).name, str(doc["reason"]))
            except LookupError as exc:
                return JSONResponse({"error": "not_found", "message": str(exc)}, 404)
            except ValueError as exc:
                return JSONResponse({"error": "conflict", "message": str(exc)}, 409)
        except Rejection as rej:
            return await reject(request, rej.raw or raw, rej, settings.default_tenant)
        return JSONResponse({"event_ids": [str(e.event_id) for e in published]}, status_code=202)

    async def refuse(request: Request, refusal: Refusal) -> Response:
        """A /v1 request without a valid token or role: answered and dead-lettered like any rejected input."""
        raw = b""
        try:
            raw = await read_body(request)
        except Rejection as too_large:
            raw = too_large.raw
        return await reject(request, raw, Rejection(refusal.status, refusal.code, refusal.message),
                            settings.default_tenant)

    async def open_tokens() -> TokenStore:
        return await TokenStore.open(runtime.js, settings.nats_replicas)

    bootstrap = settings.bootstrap_token.get_secret_value() if settings.bootstrap_token else None
    verifier = Verifier(open_tokens, bootstrap, settings.token_cache_seconds)

    async def unavailable(request: Request, exc: Exception) -> Response:
        """Not now, not never: the request was not accepted and nothing is half-done; retry it
        (providers do, with the same message id, and find the same ticket)."""
        log.warning("request_not_accepted_yet", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
        return JSONResponse({"error": "temporarily_unavailable", "message": str(exc)}, status_code=503,
                            headers={"Retry-After": "1"})

    return Starlette(
        exception_handlers={Busy: unavailable, OSError: unavailable, nats.errors.Error: unavailable},
        middleware=[Middleware(BearerAuth, verifier=verifier, refuse=refuse)],
        routes=[
            *(webhook_route(hook) for hook in webhooks.available()),
            Route("/v1/contacts", post_contact, methods=["POST"]),
            Route("/v1/tickets/{ticket_id}/status", post_status, methods=["POST"]),
            Route("/v1/tickets/{ticket_id}/classification", post_classification, methods=["POST"]),
            Route("/v1/tickets/{ticket_id}/merge/undo", post_undo_merge, methods=["POST"]),
            Route("/v1/tickets/{ticket_id}/replies", post_reply, methods=["POST"]),
            Route("/v1/tickets/{ticket_id}", get_ticket, methods=["GET"]),
            *health_routes([runtime]),
        ]
    )
