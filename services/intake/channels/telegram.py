"""Telegram Bot API webhook updates -> canonical contacts.

Format followed: the Bot API reference (core.telegram.org/bots/api): `Update` (update_id and at most
one of message, edited_message, callback_query, my_chat_member, ...), `Message` (message_id, from,
chat, date, edit_date, text, caption, photo[PhotoSize], document, voice, audio, video, location,
contact, reply_to_message), `PhotoSize` (file_id, file_unique_id, width, height, file_size?),
`Document`/`Voice`/`Audio`/`Video` (file_id, file_unique_id, file_name?, mime_type?, file_size?),
`CallbackQuery` (id, from, message?, chat_instance, data?), and `setWebhook`'s `secret_token`,
sent back in the `X-Telegram-Bot-Api-Secret-Token` header of every request.

Decisions:
- message -> emit; edited_message -> "update" with the original's id f"{chat_id}:{message_id}" and
  received_at = edit_date; callback_query (an inline button pressed) -> a contact whose body is the
  button's data, id = callback_query.id. CallbackQuery carries no date, so received_at is the
  receiving clock (config.now); it is a reply to the bot's message.
- Every other update kind (my_chat_member, channel posts, business messages, polls, reactions, and
  kinds added to the API later) -> ignore: the bot's one URL receives them all.
- Messages from bots, stickers and service messages (members joining, pins, ...) -> ignore.
- The largest PhotoSize (width x height) is the photo's attachment; Telegram does not state a MIME
  type for photos, so none is guessed. Media without a caption get a Spanish placeholder body.
- A contact card the user shares of themself (contact.user_id == from.id) gives the customer's phone.
- The secret token is compared in constant time; no token configured (None or empty) -> no check
  at all, neither the header's presence nor its value.
"""

from __future__ import annotations

from shared.schemas import Attachment, Channel

from ._webhooks import (
    Obj,
    Rejected,
    check_size,
    guarded,
    lines,
    make_contact,
    not_in_future,
    now_utc,
    parse_json_object,
    same_text,
    signature_header,
    unix_time,
    violation,
)
from .base import CanonicalContact, ChannelConfig, Normalization, RawRequest
from .text import to_e164

PROVIDER = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MESSAGE_KINDS = {"message": "emit", "edited_message": "update"}


def normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    return guarded(lambda: _normalize(req, config))


def _normalize(req: RawRequest, config: ChannelConfig) -> Normalization:
    check_size(req.body)
    if config.telegram_secret_token:  # None or empty: not configured, not checked
        provided = signature_header(req, SECRET_HEADER)
        if not same_text(provided, config.telegram_secret_token):
            raise Rejected("invalid_signature", f"the {SECRET_HEADER} header does not match")
    update = parse_json_object(req.body)
    update.integer("update_id")
    for key, outcome in MESSAGE_KINDS.items():
        message = update.opt_child(key)
        if message is not None:
            found = _message(message, config, edited=outcome == "update")
            if isinstance(found, str):
                return Normalization.ignore(found)
            return Normalization("emit" if outcome == "emit" else "update", contacts=(found,))
    query = update.opt_child("callback_query")
    if query is not None:
        found = _callback(query, config)
        if isinstance(found, str):
            return Normalization.ignore(found)
        return Normalization("emit", contacts=(found,))
    kinds = sorted(key for key, value in update.data.items() if key != "update_id" and value is not None)
    if not kinds:
        raise violation("", "an update with no content (only update_id)")
    return Normalization.ignore(f"telegram update {', '.join(kinds)[:120]} is not a customer message")


def _user(user: Obj | None) -> tuple[str | None, int | None, bool]:
    """(display name, user id, is_bot) of a Telegram User."""
    if user is None:
        return None, None, False
    name = " ".join(part for part in (user.opt_text("first_name"), user.opt_text("last_name")) if part)
    ident = user.raw("id")
    return name or user.opt_text("username"), ident if isinstance(ident, int) else None, user.opt_bool("is_bot")


def _message(message: Obj, config: ChannelConfig, *, edited: bool) -> CanonicalContact | str:
    message_id = message.ident("message_id")
    chat_id = message.child("chat").ident("id")
    sent = unix_time(message.raw("date"), message.at("date"))
    if edited and message.has("edit_date"):
        sent = unix_time(message.raw("edit_date"), message.at("edit_date"))
    received_at = not_in_future(sent, config, message.at("edit_date" if edited else "date"))
    name, user_id, is_bot = _user(message.opt_child("from"))
    if is_bot:
        return "a message from a bot"
    if message.has("sticker"):
        return "a sticker carries no request"

    body, attachments, phone = _content(message, user_id)
    if not body and not attachments:
        return "a service message or content that is not a request"
    return make_contact(
        channel=Channel.telegram,
        provider=PROVIDER,
        provider_message_id=f"{chat_id}:{message_id}",
        received_at=received_at,
        path=message.path,
        name=name,
        phone=phone,
        channel_ids={"telegram": chat_id},
        body=body,
        attachments=attachments,
        is_reply=message.has("reply_to_message"),
        thread_key=f"telegram:{chat_id}",
        raw_event="edited_message" if edited else "message",
    )


def _content(message: Obj, user_id: int | None) -> tuple[str, list[Attachment], str | None]:
    text = message.opt_text("text") or message.opt_text("caption") or ""
    attachments: list[Attachment] = []
    placeholder = ""
    photos = message.children("photo")
    if photos:
        largest = max(photos, key=_area)
        attachments.append(_file(largest, f"photo_{largest.opt_text('file_unique_id') or 'telegram'}"))
        placeholder = "[foto]"
    for kind, label in (
        ("document", "documento"),
        ("audio", "audio"),
        ("voice", "nota de voz"),
        ("video", "video"),
        ("video_note", "video"),
    ):
        media = message.opt_child(kind)
        if media is not None:
            file_name = media.opt_text("file_name")
            attachments.append(_file(media, file_name or f"{kind}_{media.opt_text('file_unique_id') or 'telegram'}"))
            placeholder = f"[{label}: {file_name}]" if file_name else f"[{label}]"
            break
    phone = None
    location = message.opt_child("location")
    if location is not None:
        placeholder = lines("Ubicación compartida:", f"{location.raw('latitude')}, {location.raw('longitude')}")
    card = message.opt_child("contact")
    if card is not None:
        number = card.opt_text("phone_number")
        card_name = " ".join(filter(None, (card.opt_text("first_name"), card.opt_text("last_name"))))
        placeholder = lines("[contacto compartido]", card_name, number)
        if user_id is not None and card.raw("user_id") == user_id:
            phone = to_e164(number)
    return text or placeholder, attachments, phone


def _area(photo: Obj) -> int:
    width, height = photo.raw("width"), photo.raw("height")
    if isinstance(width, int) and isinstance(height, int):
        return width * height
    size = photo.raw("file_size")
    return size if isinstance(size, int) else 0


def _file(media: Obj, name: str) -> Attachment:
    size = media.opt_integer("file_size")
    return Attachment(
        name=name,
        content_type=media.opt_text("mime_type"),
        size=size if size is not None and size >= 0 else None,
        reference=media.text("file_id"),
    )


def _callback(query: Obj, config: ChannelConfig) -> CanonicalContact | str:
    query_id = query.text("id")
    name, _, is_bot = _user(query.child("from"))
    data = query.opt_text("data")
    if is_bot or not data:
        return "a callback query without button data (a game) or from a bot"
    origin = query.opt_child("message")
    chat = origin.opt_child("chat") if origin else None
    chat_id = chat.ident("id") if chat else query.child("from").ident("id")
    return make_contact(
        channel=Channel.telegram,
        provider=PROVIDER,
        provider_message_id=query_id,
        received_at=now_utc(config),
        path=query.path,
        name=name,
        channel_ids={"telegram": chat_id},
        body=data,
        is_reply=True,
        thread_key=f"telegram:{chat_id}",
        raw_event="callback_query",
    )
