"""Mailgun inbound routes: POST /webhooks/mailgun, the fields a route's forward() action posts.

Format (documentation.mailgun.com, "Receiving Messages via HTTP through a forward() action"): a form, urlencoded,
or multipart/form-data when the message has attachments, with `sender` (MAIL FROM), `from` (the From header),
`recipient`, `subject`, `body-plain` (always present; Mailgun makes one from the HTML), `body-html`,
`stripped-text` (without quoted parts and signature, absent when Mailgun could not strip), `message-headers` (a JSON
list of [name, value] pairs, order preserved: Message-Id, In-Reply-To, References, Date, Auto-Submitted ... live
there), `attachment-count` and the files `attachment-1` .. `attachment-N`, `content-id-map` (JSON {"<cid>":
"attachment-N"}), and `timestamp`, `token`, `signature`. A route whose URL ends in "mime" posts `body-mime`, the
raw message, which goes through email.py as it is.

Signature ("Securing Webhooks"): `signature` is the hex HMAC-SHA256 of `timestamp` + `token` (no separator) keyed
with the webhook signing key. With config.mailgun_signing_key set: missing fields -> missing_signature; a wrong one
-> invalid_signature; a timestamp that is not Unix seconds -> schema_violation; older than
config.replay_window_seconds (when > 0) or more than 24 h ahead -> timestamp_out_of_range. With no key configured
(None or empty) none of this is checked — neither the fields' presence nor the signature nor the timestamp, whose
age only means something once it is signed — and the request is processed: that lets `guardia normalize` run
offline on captured payloads and a tenant start before configuring secrets (the gateway is meant to log a warning
for unverified channels). The unsigned timestamp is then not used either: a message without a usable Date gets the
receiving clock as received_at, not the timestamp.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import ValidationError

from shared.schemas import Attachment

from . import email as core
from .base import ChannelConfig, Normalization, RawRequest, hmac_hex, same
from .formdata import Form, FormError, attachment_count, json_field, parse_form

PROVIDER = "mailgun"
RAW_EVENT = "route.forward"


def _verify(form: Form, config: ChannelConfig) -> Normalization | datetime | None:
    """The webhook's timestamp if the signature is good, else the rejection; None when no key is configured."""
    if not config.mailgun_signing_key:
        return None  # not configured: timestamp, token and signature are neither checked nor used
    values = {name: form.text(name) for name in ("timestamp", "token", "signature")}
    missing = [name for name, value in values.items() if not value]
    if missing:
        return Normalization.reject("missing_signature", f"{', '.join(missing)}: required to verify the webhook")
    timestamp, token, signature = (values[name] or "" for name in ("timestamp", "token", "signature"))
    expected = hmac_hex(config.mailgun_signing_key, (timestamp + token).encode("utf-8"), "sha256")
    if not same(expected, signature.strip().lower()):
        return Normalization.reject("invalid_signature", "signature: not the HMAC-SHA256 of timestamp + token")
    if not re.fullmatch(r"\d{1,11}", timestamp.strip()):
        return Normalization.reject("schema_violation", "timestamp: not a Unix time in seconds")
    sent = datetime.fromtimestamp(int(timestamp.strip()), UTC)
    now = core.now_of(config)
    age = (now - sent).total_seconds()
    if config.replay_window_seconds > 0 and age > config.replay_window_seconds:
        return Normalization.reject(
            "timestamp_out_of_range", f"timestamp: {int(age)} s old, replay window {config.replay_window_seconds} s"
        )
    if sent - now > core.FUTURE_LIMIT:
        return Normalization.reject("timestamp_out_of_range", "timestamp: more than 24 h in the future")
    return sent


def _header_pairs(form: Form) -> list[tuple[str, str]]:
    value = json_field(form, "message-headers")
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(item, str) for item in pair) for pair in value
    ):
        raise FormError("schema_violation", "message-headers: expected a JSON list of [name, value] pairs")
    return [(pair[0], pair[1]) for pair in value]


def _first(pairs: list[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    for key, value in pairs:
        if key.lower() == wanted:
            return value
    return None


def _attachments(form: Form, html: str) -> tuple[Attachment, ...]:
    count = attachment_count(form, "attachment-count")
    cid_map = json_field(form, "content-id-map")
    if cid_map is not None and not isinstance(cid_map, dict):
        raise FormError("schema_violation", "content-id-map: expected a JSON object")
    referenced = core.referenced_cids(html)
    inline = {
        str(field_name)
        for cid, field_name in (cid_map or {}).items()
        if isinstance(cid, str) and cid.strip("<>").lower() in referenced
    }
    found: list[Attachment] = []
    for index in range(1, count + 1):
        name = f"attachment-{index}"
        item = form.first(name)
        if item is None:
            raise FormError("schema_violation", f"{name}: missing (attachment-count is {count})")
        if name in inline:
            continue
        found.append(
            Attachment(
                name=core.clean_line(item.filename or name)[:255] or name,
                content_type=item.content_type,
                size=len(item.data),
                reference=name,
            )
        )
    stored = json_field(form, "attachments")  # the store() notification's variant: a JSON list with URLs
    if isinstance(stored, list):
        for entry in stored:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                size = entry.get("size")
                found.append(
                    Attachment(
                        name=entry["name"][:255] or "adjunto",
                        content_type=entry.get("content-type") if isinstance(entry.get("content-type"), str) else None,
                        size=size if isinstance(size, int) and size >= 0 else None,
                        reference=entry.get("url") if isinstance(entry.get("url"), str) else None,
                    )
                )
    return tuple(found)


def _parse(form: Form, sent: datetime | None, config: ChannelConfig) -> Normalization:
    mime = form.first("body-mime")
    if mime is not None:
        return core.normalize_raw(mime.data, PROVIDER, config, RAW_EVENT + ".mime")
    pairs = _header_pairs(form)
    headers = core.header_block(pairs)
    from_value = form.text("from") or core.decode_words(_first(pairs, "From") or "")
    sender_name, sender_email = core.sender_of(from_value)
    if sender_email is None:
        return Normalization.reject("schema_violation", "from: no valid sender address")
    subject = core.clean_line(form.text("subject") or core.decode_words(_first(pairs, "Subject") or ""))
    html = form.text("body-html") or ""
    plain = form.text("body-plain")
    stripped = form.text("stripped-text")
    if plain is None and stripped is None and not html:
        return Normalization.reject("schema_violation", "body-plain: missing")
    if stripped and stripped.strip():
        text = stripped
    elif plain and plain.strip():
        text = plain
    else:
        text = core.html_to_text(html)
    date_value = _first(pairs, "Date") or form.text("Date")
    date = core.parse_date(date_value)
    message_id = core.normalize_message_id(_first(pairs, "Message-Id") or form.text("Message-Id"))
    stable = "\n".join([from_value, subject, date_value or "", plain or stripped or html])
    parsed = core.ParsedEmail(
        message_id=message_id,
        in_reply_to=_first(pairs, "In-Reply-To") or form.text("In-Reply-To"),
        references=core.message_ids(_first(pairs, "References") or form.text("References")),
        sender_name=sender_name,
        sender_email=sender_email,
        subject=subject,
        date=date,
        date_problem=None if date else ("missing Date header" if not date_value else "unparseable Date header"),
        text=text.replace("\r\n", "\n"),
        attachments=_attachments(form, html),
        automatic=core.automatic_reason(headers, subject, sender_email, form.text("sender")),
        fallback_id=core.sha256_id(stable.encode("utf-8", "surrogatepass")),
    )
    return core.contact_from(parsed, PROVIDER, config, RAW_EVENT, received_fallback=sent)


def normalize(request: RawRequest, config: ChannelConfig) -> Normalization:
    try:
        form = parse_form(request)
        verdict = _verify(form, config)
        if isinstance(verdict, Normalization):
            return verdict
        return _parse(form, verdict, config)
    except FormError as exc:
        return Normalization.reject(exc.code, exc.message)
    except ValidationError as exc:
        return Normalization.reject("schema_violation", f"contact: {exc.errors()[0].get('msg', 'invalid')}")
