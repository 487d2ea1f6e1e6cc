"""Crisp web hooks (web chat) -> canonical contacts.

Format followed: Crisp's "Web Hooks Reference (V1)" (docs.crisp.chat/references/web-hooks/v1) and
"Web Hooks Quickstart": every hook is a JSON POST

    {"website_id": ..., "event": "message:send", "data": {...RTM event data...}, "timestamp": ms}

with `message:send` data {website_id, session_id, type, content, from: "user", origin, stamped,
timestamp (ms), fingerprint, user: {nickname, user_id}} and `session:set_email` data {website_id,
session_id, email}. Content types (node-crisp-api ConversationMessage): text -> a string; file ->
{name, url, type}; animation -> {url, type}; audio -> {url, type, duration}.

Signature (plugin hooks; website hooks are unsigned and are protected by a key in the URL instead):
headers `X-Crisp-Request-Timestamp` and `X-Crisp-Signature`; the signature is the hex
HMAC-SHA256(secret, "[" + timestamp + ";" + body + "]"), body being the JSON string of the payload
(reference + node-crisp-api `__verifySignature`, which uses `JSON.stringify(body)`). We sign the raw
bytes, and accept a compact re-serialization too, which is what `JSON.stringify` gives. The timestamp
is thus authenticated, and a request whose timestamp is further than `config.replay_window_seconds`
from now is rejected (timestamp_out_of_range). Skipped entirely (headers' presence, signature and
window) when `config.crisp_secret` is None or empty.

Decisions: one URL receives every event the plugin subscribed to, so
- message:send (a visitor's message; `from` is "user") -> emit; text, file, animation and audio
  messages; other message types (picker, field, carousel, note, event) -> ignore.
- session:set_email -> "update": the session's customer now has this email.
- every other documented Crisp RTM event (message:received = an operator's message, session:*,
  people:*, ...) -> ignore; an event name Crisp does not document -> reject unknown_event_type.
- provider_message_id = f"{session_id}:{fingerprint}" (the fingerprint identifies a message within
  its session); the email update uses f"{session_id}:set_email"; thread_key = f"crisp:{session_id}".
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from shared.schemas import Attachment, Channel

from ._webhooks import (
    Obj,
    Rejected,
    check_size,
    decode_utf8,
    guarded,
    make_contact,
    not_in_future,
    now_utc,
    parse_json_object,
    same_text,
    signature_header,
    unix_time,
    valid_email,
    violation,
)
from .base import ChannelConfig, Normalization, RawRequest, hmac_hex

PROVIDER = "crisp"
SIGNATURE_HEADER = "X-Crisp-Signature"
TIMESTAMP_HEADER = "X-Crisp-Request-Timestamp"

#: Crisp's documented RTM events (node-crisp-api DEFAULT_RTM_EVENTS); those not handled are ignored.
KNOWN_EVENTS = frozenset(
    """
    session:update_availability session:update_verify session:request:initiated session:set_email
    session:set_phone session:set_address session:set_subject session:set_avatar session:set_nickname
    session:set_origin session:set_data session:sync:pages session:sync:events session:sync:capabilities
    session:sync:geolocation session:sync:system session:sync:network session:sync:timezone
    session:sync:locales session:sync:rating session:sync:topic session:set_state session:set_block
    session:set_segments session:set_opened session:set_closed session:set_participants
    session:set_mentions session:set_routing session:set_inbox session:removed session:error
    message:updated message:send message:received message:removed message:compose:send
    message:compose:receive message:acknowledge:read:send message:acknowledge:read:received
    message:acknowledge:unread:send message:acknowledge:delivered message:acknowledge:ignored
    message:notify:unread:send message:notify:unread:received spam:message spam:decision
    people:profile:created people:profile:updated people:profile:removed people:bind:session
    people:sync:profile people:import:progress people:import:done campaign:progress campaign:dispatched
    campaign:running browsing:request:initiated browsing:request:rejected call:request:initiated
    call:request:rejected identity:verify:request status:health:changed website:update_visitors_count
    website:update_operators_availability website:users:available bucket:url:upload:generated
    bucket:url:avatar:generated bucket:url:website:generated bucket:url:campaign:generated
    bucket:url:helpdesk:generated bucket:url:status:generated bucket:url:processing:generated
    bucket:url:crawler:generated media:animation:listed email:subscribe email:track:view plugin:channel
    plugin:event plugin:settings:saved
    """.split()  # noqa: SIM905 - a word list is easier to compare with the documented one
)
AUTO_NICKNAME = re.compile(r"visitor\d+", re.IGNORECASE)
PLACEHOLDER = {"file": "[archivo]", "animation": "[animación]", "audio": "[nota de voz]"}


def normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    return guarded(lambda: _normalize(req, config))


def _normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    check_size(req.body)
    if config.crisp_secret:  # None or empty: not configured, not checked
        _verify(req, config, config.crisp_secret)
    doc = parse_json_object(req.body)
    event = doc.text("event")
    if event not in KNOWN_EVENTS:
        raise Rejected("unknown_event_type", f"event: {event[:80]!r} is not a Crisp web hook event")
    if event == "message:send":
        return _message(doc, config)
    if event == "session:set_email":
        return _set_email(doc, config)
    return Normalization.ignore(f"crisp event {event} is not a customer contact")


def _verify(req: RawRequest, config: ChannelConfig, secret: str) -> None:
    signature = signature_header(req, SIGNATURE_HEADER).lower()
    stamp = signature_header(req, TIMESTAMP_HEADER)
    expected = hmac_hex(secret, b"[" + stamp.encode("utf-8", "replace") + b";" + req.body + b"]")
    if not same_text(signature, expected) and not same_text(signature, _compact_signature(req.body, stamp, secret)):
        raise Rejected("invalid_signature", f"the {SIGNATURE_HEADER} header does not match the body")
    if config.replay_window_seconds > 0:
        sent = _request_time(stamp)
        age = abs((now_utc(config) - sent).total_seconds())
        if age > config.replay_window_seconds:
            raise Rejected(
                "timestamp_out_of_range",
                f"{TIMESTAMP_HEADER} is {int(age)} s away from now (window {config.replay_window_seconds} s)",
            )


def _compact_signature(body: bytes, stamp: str, secret: str) -> str:
    """The signature over JSON.stringify(parsed body): compact separators, non-ASCII kept."""
    try:
        compact = json.dumps(json.loads(decode_utf8(body)), separators=(",", ":"), ensure_ascii=False)
    except (Rejected, ValueError, RecursionError):
        return ""
    return hmac_hex(secret, f"[{stamp};{compact}]".encode("utf-8", "surrogatepass"))


def _request_time(stamp: str) -> datetime:
    """Crisp's timestamps are milliseconds (payload `timestamp`); seconds are accepted too."""
    try:
        value = float(stamp)
        return unix_time(stamp, TIMESTAMP_HEADER, millis=value > 1e11)
    except (ValueError, Rejected):
        raise Rejected("invalid_signature", f"{TIMESTAMP_HEADER} is not a unix timestamp") from None


def _when(data: Obj, doc: Obj, config: ChannelConfig) -> datetime:
    holder = data if data.has("timestamp") else doc
    if not holder.has("timestamp"):
        return now_utc(config)
    return not_in_future(
        unix_time(holder.raw("timestamp"), holder.at("timestamp"), millis=True), config, holder.at("timestamp")
    )


def _message(doc: Obj, config: ChannelConfig) -> Normalization:
    data = doc.child("data")
    session_id = data.text("session_id")
    sender = data.text("from")
    if sender != "user":
        return Normalization.ignore(f"message:send from {sender[:40]!r}, not from the visitor")
    kind = data.text("type")
    received_at = _when(data, doc, config)
    fingerprint = data.ident("fingerprint")
    attachments: list[Attachment] = []
    if kind == "text":
        body = data.opt_text("content") or ""
    elif kind in PLACEHOLDER:
        content = data.child("content")
        url = content.text("url")
        name = content.opt_text("name") or url.rstrip("/").rsplit("/", 1)[-1][:200] or kind
        attachments.append(Attachment(name=name, content_type=content.opt_text("type"), reference=url))
        body = f"[archivo: {name}]" if kind == "file" else PLACEHOLDER[kind]
    else:
        return Normalization.ignore(f"crisp message type {kind[:40]!r} is not a visitor's text or file")
    user = data.opt_child("user")
    contact = make_contact(
        channel=Channel.webchat,
        provider=PROVIDER,
        provider_message_id=f"{session_id}:{fingerprint}",
        received_at=received_at,
        path=data.path,
        name=_real_name(user.opt_text("nickname") if user else None),
        channel_ids={"crisp": session_id},
        body=body,
        attachments=attachments,
        thread_key=f"crisp:{session_id}",
        raw_event="message:send",
    )
    return Normalization("emit", contacts=(contact,))


def _real_name(nickname: str | None) -> str | None:
    """Crisp names anonymous visitors "visitor123456": that is not the customer's name."""
    if nickname is None or AUTO_NICKNAME.fullmatch(nickname.strip()):
        return None
    return nickname


def _set_email(doc: Obj, config: ChannelConfig) -> Normalization:
    data = doc.child("data")
    session_id = data.text("session_id")
    raw = data.text("email")
    address = valid_email(raw)
    if address is None:
        raise violation(data.at("email"), f"not an email address: {raw[:80]!r}")
    contact = make_contact(
        channel=Channel.webchat,
        provider=PROVIDER,
        provider_message_id=f"{session_id}:set_email",
        received_at=_when(data, doc, config),
        path=data.path,
        email=address,
        channel_ids={"crisp": session_id},
        thread_key=f"crisp:{session_id}",
        raw_event="session:set_email",
    )
    return Normalization("update", contacts=(contact,))
