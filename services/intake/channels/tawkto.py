"""tawk.to webhooks (web chat and its tickets) -> canonical contacts.

Format followed: tawk.to's developer documentation, "Webhooks" (developer.tawk.to/webhooks): events
chat:start, chat:end, chat:transcript_created and ticket:create, each a JSON POST:

    chat:start  {event, chatId, time (ISO-8601), message: {text, type, sender: {type}},
                 visitor: {name, email, city, country}, property: {id, name}}
    chat:end    {event, chatId, time, visitor, property}
    chat:transcript_created {event, time, property, chat: {id, visitor, messages: [{sender: {t, n},
                 type, msg, time, attchs}]}}
    ticket:create {event, time, property, requester: {name, email, type},
                 ticket: {id, humanId, subject, message}}

Signature: `X-Tawk-Signature` = hex HMAC-SHA1(webhook secret, raw body); skipped (neither
presence nor value checked) when `config.tawkto_secret` is None or empty. Retries keep the same
`X-Hook-Event-Id`; our ids are the chat and ticket ids, so a retry is the same contact.

Decisions:
- chat:start -> emit the visitor's first message (a chat an agent started -> ignore: no request).
  id = chatId, thread_key = f"tawkto:{chatId}". The pre-chat form arrives as the first message
  ("Name : ...\\r\\nPhone : ...\\r\\nEmail : ..." in tawk.to's example); its phone / email lines fill
  the customer when the visitor object has none (phone read in the visitor's country).
- chat:end -> "update" of the chat's contact (same id = chatId): the visitor's final name / email.
  The documented chat:end payload carries no transcript; the transcript comes with
  chat:transcript_created, which is also an "update" of that contact, its body the transcript.
- ticket:create -> emit, subject and message of the ticket, id f"ticket:{ticket.id}". Channel
  *webform*: tawk.to tickets are opened from the widget's offline/ticket form on the website (001
  §2.3: "Tiques: a través de nuestro sitio web"); the payload does not say the ticket came by email,
  and both channels are official, so SLA handling is the same either way.
- tawk.to posts only these kinds; any other event -> reject unknown_event_type.
"""

from __future__ import annotations

import re

from shared.schemas import Channel

from ._webhooks import (
    Obj,
    Rejected,
    check_hmac,
    check_size,
    guarded,
    iso_time,
    lines,
    make_contact,
    not_in_future,
    parse_json_object,
    valid_email,
)
from .base import CanonicalContact, ChannelConfig, Normalization, RawRequest
from .text import to_e164

PROVIDER = "tawkto"
SIGNATURE_HEADER = "X-Tawk-Signature"
PRECHAT_PHONE = re.compile(r"^\s*(?:phone|tel[eé]fono|celular|m[oó]vil|whatsapp)\s*:\s*(.+?)\s*$", re.I | re.M)
PRECHAT_EMAIL = re.compile(r"^\s*(?:e-?mail|correo(?: electr[oó]nico)?)\s*:\s*(.+?)\s*$", re.I | re.M)
AUTO_NAME = re.compile(r"V\d{10,}")  # tawk.to's name for a visitor who gave none, e.g. V1582225683446316
SENDERS = {"v": "Visitante", "a": "Agente", "s": "Sistema"}


def normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    return guarded(lambda: _normalize(req, config))


def _normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    check_size(req.body)
    if config.tawkto_secret:  # None or empty: not configured, not checked
        check_hmac(req, SIGNATURE_HEADER, config.tawkto_secret, req.body, algorithm="sha1")
    doc = parse_json_object(req.body)
    event = doc.text("event")
    if event == "chat:start":
        return _chat_start(doc, config)
    if event == "chat:end":
        return Normalization(
            "update", contacts=(_chat(doc, doc.text("chatId"), doc.opt_child("visitor"), "", config, event),)
        )
    if event == "chat:transcript_created":
        chat = doc.child("chat")
        return Normalization(
            "update",
            contacts=(_chat(doc, chat.ident("id"), chat.opt_child("visitor"), _transcript(chat), config, event),),
        )
    if event == "ticket:create":
        return _ticket(doc, config)
    raise Rejected("unknown_event_type", f"event: {event[:80]!r} is not a tawk.to webhook event")


def _chat_start(doc: Obj, config: ChannelConfig) -> Normalization:
    chat_id = doc.text("chatId")
    message = doc.child("message")
    sender = message.child("sender").text("type")
    if sender != "visitor":
        return Normalization.ignore(f"chat {chat_id[:60]} was started by the {sender[:20]}, not the visitor")
    text = message.opt_text("text") or ""
    contact = _chat(doc, chat_id, doc.opt_child("visitor"), text, config, "chat:start")
    return Normalization("emit", contacts=(contact,))


def _chat(
    doc: Obj, chat_id: str, visitor: Obj | None, body: str, config: ChannelConfig, event: str
) -> CanonicalContact:
    received_at = not_in_future(iso_time(doc.text("time"), doc.at("time")), config, doc.at("time"))
    country = visitor.opt_text("country") if visitor else None
    email = valid_email(visitor.opt_text("email") if visitor else None)
    phone = None
    if event == "chat:start":
        found_phone, found_email = PRECHAT_PHONE.search(body), PRECHAT_EMAIL.search(body)
        region = country.upper() if country and len(country) == 2 and country.isalpha() else None
        phone = to_e164(found_phone.group(1), region) if found_phone else None
        email = email or valid_email(found_email.group(1) if found_email else None)
    return make_contact(
        channel=Channel.webchat,
        provider=PROVIDER,
        provider_message_id=chat_id,
        received_at=received_at,
        path=visitor.path if visitor else doc.path,
        name=_real_name(visitor.opt_text("name") if visitor else None),
        email=email,
        phone=phone,
        channel_ids={"tawkto": chat_id},
        body=body,
        thread_key=f"tawkto:{chat_id}",
        raw_event=event,
    )


def _real_name(name: str | None) -> str | None:
    if name is None or AUTO_NAME.fullmatch(name.strip()):
        return None
    return name


def _transcript(chat: Obj) -> str:
    said = []
    for message in chat.children("messages"):
        sender = message.opt_child("sender")
        kind = (sender.opt_text("t") if sender else None) or ""
        who = SENDERS.get(kind, "Participante")
        agent = sender.opt_text("n") if sender and kind == "a" else None
        text = message.opt_text("msg") or ""
        attached = message.raw("attchs")
        files = len(attached) if isinstance(attached, list) else 0
        said.append(
            f"[{message.opt_text('time') or ''}] {who}{' ' + agent if agent else ''}: {text}"
            + (f" [{files} adjunto(s)]" if files else "")
        )
    return lines(*said)


def _ticket(doc: Obj, config: ChannelConfig) -> Normalization:
    ticket = doc.child("ticket")
    ticket_id = ticket.ident("id")
    received_at = not_in_future(iso_time(doc.text("time"), doc.at("time")), config, doc.at("time"))
    requester = doc.opt_child("requester")
    human = ticket.raw("humanId")
    contact = make_contact(
        channel=Channel.webform,
        provider=PROVIDER,
        provider_message_id=f"ticket:{ticket_id}",
        received_at=received_at,
        path=ticket.path,
        name=requester.opt_text("name") if requester else None,
        email=valid_email(requester.opt_text("email") if requester else None),
        channel_ids={"tawkto_ticket": str(human) if type(human) is int else ticket_id},
        subject=ticket.opt_text("subject") or "",
        body=ticket.opt_text("message") or "",
        thread_key=f"tawkto:ticket:{ticket_id}",
        raw_event="ticket:create",
    )
    return Normalization("emit", contacts=(contact,))
