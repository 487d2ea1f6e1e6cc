"""WhatsApp Business Cloud API (Meta) webhooks -> canonical contacts.

Format followed: Meta's "messages webhook reference" (developers.facebook.com/documentation/
business-messaging/whatsapp/webhooks/reference/messages and its per-type pages: text, image, video,
document, audio, sticker, location, interactive, button, reaction, unsupported) and "Business-scoped
user IDs" (contacts[].user_id, wa_id omitted for users with a username).

    POST {"object": "whatsapp_business_account",
          "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
              "messaging_product": "whatsapp",
              "metadata": {"display_phone_number": ..., "phone_number_id": ...},
              "contacts": [{"profile": {"name": ...}, "wa_id": ..., "user_id": BSUID?}],
              "messages": [{"from": ..., "id": "wamid...", "timestamp": "unix", "type": ...,
                            "context": {"from": ..., "id": ...}?, <type>: {...}}],
              "statuses": [...]}}]}]}

Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`; skipped (neither
presence nor value checked) when `config.whatsapp_app_secret` is None or empty. Subscription check:
GET with hub.mode=subscribe, hub.verify_token, hub.challenge -> the challenge is echoed
(`Normalization.reply`).

Decisions (one URL receives every field and message kind Meta has, so non-contacts are ignored):
- Each message becomes one contact; a webhook with several messages gives several contacts.
- `statuses` (sent/delivered/read/failed of our own messages) go to notify as
  `notification.status_reported` when they carry the notification id guardia sent in
  `biz_opaque_callback_data`, and are ignored otherwise; changes whose field is not
  "messages", `reaction`, `sticker`, `system` and `request_welcome` messages -> ignored. A sticker is
  an emoji-sized picture, not a document nor a request: like a reaction, it opens no ticket.
- Media (image, video, document, audio/voice) -> one attachment {name, mime_type, media id}; the
  caption is the body, or a short Spanish placeholder ("[nota de voz]") when there is none.
- `interactive` (button_reply / list_reply), `button` (template quick reply) -> the tapped title.
- `location` -> "Ubicación compartida" with name, address, lat/long and url in the body.
- `unsupported` and unknown message types -> a contact whose body says so, so that no customer
  message is lost silently (the agent sees that the customer wrote).
- is_reply only when `context.id` is present (a forwarded message has a context without an id).
- The sender is the contacts[] entry whose wa_id is the message's `from` (or the only entry); when a
  user has a username and no wa_id, the BSUID (`user_id`) identifies them instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from shared.schemas import Attachment, Channel

from ._webhooks import (
    Obj,
    Rejected,
    check_hmac,
    check_size,
    guarded,
    lines,
    make_contact,
    not_in_future,
    parse_json_object,
    same_text,
    unix_time,
    violation,
)
from .base import CanonicalContact, ChannelConfig, DeliveryStatus, Normalization, RawRequest
from .text import to_e164

PROVIDER = "whatsapp_cloud"
SIGNATURE_HEADER = "X-Hub-Signature-256"

MEDIA_TYPES = ("image", "video", "document", "audio")
IGNORED_TYPES = {
    "reaction": "a reaction to an earlier message",
    "sticker": "a sticker carries no request",
    "system": "a system notice (e.g. the customer changed number)",
    "request_welcome": "the customer opened the chat without writing",
}
PLACEHOLDER = {"image": "[imagen]", "video": "[video]", "document": "[documento]", "audio": "[audio]"}
# File name extensions for media without a file name (WhatsApp's supported media types); no
# `mimetypes` lookup, which reads the system's mime.types on first use.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "audio/mp4": ".m4a",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


def verify_subscription(query: Mapping[str, str], config: ChannelConfig) -> str | None:
    """Meta's GET handshake: the hub.challenge to echo back, or None if the check fails."""
    if query.get("hub.mode") != "subscribe" or config.whatsapp_verify_token is None:
        return None
    token = query.get("hub.verify_token")
    challenge = query.get("hub.challenge")
    if token is None or challenge is None or not same_text(token, config.whatsapp_verify_token):
        return None
    return challenge


def normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    if req.method.upper() == "GET":
        challenge = verify_subscription(req.query, config)
        if challenge is None:
            return Normalization.reject("invalid_signature", "hub.verify_token does not match (or not subscribe)")
        return Normalization("ignore", reason="webhook subscription verified", reply=challenge)
    return guarded(lambda: _normalize_post(req, config))


def _normalize_post(req: RawRequest, config: ChannelConfig) -> Normalization:
    check_size(req.body)
    if config.whatsapp_app_secret:  # None or empty: not configured, not checked
        check_hmac(req, SIGNATURE_HEADER, config.whatsapp_app_secret, req.body, algorithm="sha256", prefix="sha256=")
    doc = parse_json_object(req.body)
    kind = doc.text("object")
    if kind != "whatsapp_business_account":
        raise Rejected("unknown_event_type", f"object: {kind[:80]!r} is not whatsapp_business_account")

    contacts: list[CanonicalContact] = []
    statuses: list[DeliveryStatus] = []
    skipped: list[str] = []
    for entry in doc.children("entry", required=True):
        for change in entry.children("changes", required=True):
            field = change.text("field")
            if field != "messages":
                skipped.append(f"field {field}")
                continue
            value = change.child("value")
            if value.text("messaging_product") != "whatsapp":
                raise violation(value.at("messaging_product"), "expected 'whatsapp'")
            value.child("metadata").text("phone_number_id")
            people = value.children("contacts")
            for status in value.children("statuses") if value.has("statuses") else []:
                found = _status(status)
                if found is None:
                    skipped.append("a status of a message guardia did not send")
                else:
                    statuses.append(found)
            for message in value.children("messages"):
                contact = _message(message, people, config)
                if isinstance(contact, str):
                    skipped.append(contact)
                else:
                    contacts.append(contact)
    if contacts:
        return Normalization("emit", contacts=tuple(contacts), statuses=tuple(statuses))
    if statuses:
        return Normalization("ignore", reason=f"{len(statuses)} delivery status(es) for notify",
                             statuses=tuple(statuses))
    return Normalization.ignore("; ".join(skipped) or "no messages in the webhook")


def _status(status: Obj) -> DeliveryStatus | None:
    """sent / delivered / read / failed of a message guardia sent; the notification id comes back in
    `biz_opaque_callback_data` (notify-facts.md §1). Anything else is not ours to track."""
    notification_id = status.opt_text("biz_opaque_callback_data") or ""
    kind = status.opt_text("status") or ""
    if not notification_id or kind not in ("sent", "delivered", "read", "failed"):
        return None
    timestamp = status.text("timestamp")
    if not timestamp.isdigit():
        raise violation(status.at("timestamp"), "expected unix seconds")
    code, title = None, ""
    errors = status.children("errors")
    if kind == "failed" and errors:
        raw_code = errors[0].raw("code")
        code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
        title = (errors[0].opt_text("title") or "")[:200]
    return DeliveryStatus(notification_id=notification_id[:512], provider="whatsapp_cloud",
                          provider_id=status.text("id"), status=kind,
                          reported_at=datetime.fromtimestamp(int(timestamp), UTC), error_code=code, error_title=title)


def _message(message: Obj, people: list[Obj], config: ChannelConfig) -> CanonicalContact | str:
    """One inbound message as a contact, or the reason it is skipped."""
    message_id = message.text("id")
    kind = message.text("type")
    received_at = not_in_future(
        unix_time(message.raw("timestamp"), message.at("timestamp")), config, message.at("timestamp")
    )
    if kind in IGNORED_TYPES:
        return f"{kind}: {IGNORED_TYPES[kind]}"

    sender = message.opt_text("from")
    person = _person(people, sender)
    wa_id = (person.opt_text("wa_id") if person else None) or sender
    bsuid = person.opt_text("user_id") if person else None
    if not wa_id and not bsuid:
        raise violation(message.at("from"), "missing (and no contacts[].wa_id nor user_id)")
    profile = person.opt_child("profile") if person else None
    name = profile.opt_text("name") if profile else None
    handle = wa_id or bsuid or ""
    channel_ids = {"whatsapp": wa_id} if wa_id else {}
    if bsuid:
        channel_ids["whatsapp_bsuid"] = bsuid

    body, attachments = _content(message, kind)
    context = message.opt_child("context")
    return make_contact(
        channel=Channel.whatsapp,
        provider=PROVIDER,
        provider_message_id=message_id,
        received_at=received_at,
        path=message.path,
        name=name,
        phone=wa_phone(wa_id) if wa_id else None,
        channel_ids=channel_ids,
        body=body,
        attachments=attachments,
        is_reply=bool(context and context.opt_text("id")),
        thread_key=f"whatsapp:{handle}",
        raw_event=f"messages.{kind}",
    )


def wa_phone(wa_id: str) -> str | None:
    """E.164 of a wa_id. Mexican mobiles keep WhatsApp's legacy "1" after +52 (521 + 10 digits), which
    the national numbering plan dropped in 2019, so phonenumbers rejects it: retry without it."""
    phone = to_e164(wa_id)
    if phone is None and wa_id.startswith("521") and len(wa_id) == 13 and wa_id.isdigit():
        phone = to_e164("52" + wa_id[3:])
    return phone


def _person(people: list[Obj], sender: str | None) -> Obj | None:
    for person in people:
        if sender is not None and person.opt_text("wa_id") == sender:
            return person
    return people[0] if len(people) == 1 else None


def _content(message: Obj, kind: str) -> tuple[str, list[Attachment]]:
    if kind == "text":
        return message.child("text").opt_text("body") or "", []
    if kind in MEDIA_TYPES:
        media = message.child(kind)
        media_id = media.opt_text("id") or media.opt_text("url")
        mime = media.opt_text("mime_type")
        filename = media.opt_text("filename") if kind == "document" else None
        voice = kind == "audio" and media.opt_bool("voice")
        name = filename or f"{'nota_de_voz' if voice else kind}{_extension(mime)}"
        attachment = Attachment(name=name, content_type=mime, reference=media_id)
        placeholder = "[nota de voz]" if voice else PLACEHOLDER[kind]
        if filename:
            placeholder = f"[documento: {filename}]"
        return media.opt_text("caption") or placeholder, [attachment]
    if kind == "interactive":
        interactive = message.child("interactive")
        reply_kind = interactive.text("type")
        if reply_kind in ("button_reply", "list_reply"):
            reply = interactive.child(reply_kind)
            return lines(reply.opt_text("title") or reply.opt_text("id"), reply.opt_text("description")), []
        if reply_kind == "nfm_reply":  # a WhatsApp Flow answered: its body and the JSON the flow returned
            reply = interactive.child("nfm_reply")
            return lines(reply.opt_text("body"), reply.opt_text("response_json")), []
        return f"[respuesta interactiva: {reply_kind}]", []
    if kind == "button":
        button = message.child("button")
        return button.opt_text("text") or button.opt_text("payload") or "", []
    if kind == "location":
        place = message.child("location")
        lat, lng = place.raw("latitude"), place.raw("longitude")
        coordinates = f"{lat}, {lng}" if _number(lat) and _number(lng) else None
        return lines(
            "Ubicación compartida:",
            place.opt_text("name"),
            place.opt_text("address"),
            coordinates,
            place.opt_text("url"),
        ), []
    if kind == "contacts":
        shared = []
        for card in message.children("contacts"):
            card_name = card.opt_child("name")
            phones = [p.opt_text("phone") or "" for p in card.children("phones")]
            shared.append(
                " ".join(filter(None, [card_name.opt_text("formatted_name") if card_name else None, *phones]))
            )
        return lines("[contacto compartido]", *shared), []
    if kind == "unsupported":
        unsupported = message.opt_child("unsupported")
        what = (unsupported.opt_text("type") if unsupported else None) or "desconocido"
        errors = message.children("errors")
        title = errors[0].opt_text("title") if errors else None
        return f"[mensaje que la API de WhatsApp no entrega ({what}){': ' + title if title else ''}]", []
    return f"[mensaje de WhatsApp de tipo {kind[:40]}]", []


def _extension(mime: str | None) -> str:
    if not mime:
        return ""
    return EXTENSIONS.get(mime.split(";")[0].strip().lower(), "")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
