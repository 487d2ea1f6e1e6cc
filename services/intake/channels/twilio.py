"""Twilio: POST /webhooks/twilio/voice, /webhooks/twilio/sms and /webhooks/twilio/recording (form-encoded).

Formats (twilio.com/docs): the voice webhook and its status callbacks carry CallSid, AccountSid, From, To,
CallStatus (queued, ringing, in-progress, completed, busy, failed, no-answer, canceled), Direction (inbound,
outbound-api, outbound-dial), CallerName, and on status callbacks CallDuration and Timestamp (RFC 2822). The
incoming-message webhook carries MessageSid (and the older SmsSid), From, To, Body, NumMedia, MediaUrl{N},
MediaContentType{N}, SmsStatus. The recording status callback carries CallSid, RecordingSid, RecordingUrl,
RecordingStatus (in-progress, completed, absent, failed), RecordingDuration, RecordingStartTime.

Signature (twilio.com/docs/usage/webhooks/webhooks-security): `X-Twilio-Signature` = base64(HMAC-SHA1(auth token,
the full URL Twilio called — config.public_base_url + path + query — followed by every POST parameter's name and
value, sorted by name)). Like Twilio's own RequestValidator, the URL is also tried without and with its default
port. Missing -> missing_signature, wrong -> invalid_signature. With no auth token configured
(config.twilio_auth_token None or empty) the header is not looked at (neither its presence nor its value) and the
request is processed: that lets `guardia normalize` run offline on captured payloads and a tenant start before
configuring secrets (the gateway is meant to log a warning for unverified channels). No timestamp is signed, so
there is no replay window; a Timestamp more than 24 h ahead is rejected.

voice: one contact per CallSid; ringing/queued/in-progress emit it, completed updates it with the duration, and
busy/no-answer/canceled/failed update it as a missed call. Calls our agents place (Direction outbound-*) are ignored.
sms: one contact per MessageSid (channel sms, or whatsapp for "whatsapp:" senders), media as attachments.
recording: an update of the call (CallSid) with the recording as an attachment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import ValidationError

from shared.schemas import Attachment, Channel, Customer

from . import email as core
from .base import CanonicalContact, ChannelConfig, DeliveryStatus, Normalization, RawRequest, same
from .calls import call_contact, caller_customer, duration_es
from .formdata import Form, FormError, parse_form, parse_urlencoded
from .text import hints

PROVIDER = "twilio"
_STARTED = {"queued", "ringing", "in-progress"}
_MISSED = {"busy": "ocupado", "no-answer": "sin respuesta", "canceled": "colgó antes de ser atendida",
           "failed": "fallida"}  # fmt: skip


def signature_of(token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature for a URL and its POST parameters."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return variants
    host = parts.hostname or ""
    default = {"https": 443, "http": 80}.get(parts.scheme)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    if port is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{userinfo}{host}")))
    elif default is not None and host:
        variants.append(urlunsplit(parts._replace(netloc=f"{userinfo}{host}:{default}")))
    return variants


def public_url(request: RawRequest, config: ChannelConfig, default_path: str) -> str:
    """The URL Twilio called: config.public_base_url + the request's path + its query string."""
    split = urlsplit(request.url) if request.url else None
    path = split.path if split is not None and split.path else default_path
    query = split.query if split is not None and split.query else urlencode(list(request.query.items()))
    if config.public_base_url:
        base = config.public_base_url.rstrip("/") + path
    elif split is not None and split.scheme:
        base = urlunsplit((split.scheme, split.netloc, split.path, "", ""))
    else:
        base = path
    return f"{base}?{query}" if query else base


def _verify(request: RawRequest, form: Form, config: ChannelConfig, default_path: str) -> Normalization | None:
    if not config.twilio_auth_token:
        return None  # not configured: not checked
    signature = request.header("x-twilio-signature")
    if not signature or not signature.strip():
        return Normalization.reject("missing_signature", "X-Twilio-Signature: missing")
    params = form.pairs() if request.method.upper() != "GET" else []
    for url in _url_variants(public_url(request, config, default_path)):
        if same(signature_of(config.twilio_auth_token, url, params), signature.strip()):
            return None
    return Normalization.reject("invalid_signature", "X-Twilio-Signature: does not match the URL and parameters")


def _form(request: RawRequest) -> Form:
    if request.method.upper() == "GET":  # Twilio may be configured to use GET: the parameters are the query
        return parse_urlencoded(urlencode(list(request.query.items())).encode("ascii"))
    return parse_form(request)


def _required(form: Form, names: Sequence[str]) -> dict[str, str]:
    values = {name: (form.text(name) or "").strip() for name in names}
    empty = [name for name, value in values.items() if not value]
    if empty:
        raise FormError("schema_violation", f"{', '.join(empty)}: missing")
    return values


def _timestamp(form: Form, name: str, config: ChannelConfig) -> datetime:
    value = form.text(name)
    if value is None or not value.strip():
        return core.now_of(config)
    parsed = core.parse_date(value)
    if parsed is None:
        raise FormError("schema_violation", f"{name}: not an RFC 2822 date")
    if parsed - core.now_of(config) > core.FUTURE_LIMIT:
        raise FormError("timestamp_out_of_range", f"{name}: more than 24 h in the future")
    return parsed


def _bounded(name: str, value: str) -> str:
    if len(value) > core.MAX_ID_CHARS:
        raise FormError("schema_violation", f"{name}: longer than {core.MAX_ID_CHARS} characters")
    return value


def _voice(form: Form, config: ChannelConfig) -> Normalization:
    values = _required(form, ("CallSid", "From", "CallStatus"))
    call_id = _bounded("CallSid", values["CallSid"])
    status = values["CallStatus"].lower()
    direction = (form.text("Direction") or "inbound").strip().lower()
    if direction.startswith("outbound"):
        return Normalization.ignore(f"Direction {direction}: a call our side placed, not a customer contact")
    if status not in _STARTED and status != "completed" and status not in _MISSED:
        raise FormError("schema_violation", f"CallStatus: unknown value {status[:40]!r}")
    received_at = _timestamp(form, "Timestamp", config)
    customer, caller = caller_customer(values["From"], PROVIDER, form.text("CallerName"))
    if status in _STARTED:
        outcome, line = "emit", (form.text("To") or "").strip()[:40]
        summary = f"Llamada entrante de {caller}" + (f" a la línea {line}." if line else ".")
    elif status == "completed":
        seconds = (form.text("CallDuration") or "0").strip() or "0"
        if not seconds.isdigit() or len(seconds) > 9:
            raise FormError("schema_violation", "CallDuration: not a whole number of seconds")
        outcome, summary = "update", f"Llamada entrante de {caller}, contestada, duración {duration_es(int(seconds))}."
    else:
        outcome, summary = "update", f"Llamada perdida de {caller} ({_MISSED[status]})."
    return call_contact(
        "emit" if outcome == "emit" else "update",
        channel=Channel.phone,
        provider=PROVIDER,
        call_id=call_id,
        customer=customer,
        summary=summary,
        received_at=received_at,
        raw_event=f"call.{status}",
        reason="" if form.text("Timestamp") else "no Timestamp: received_at is the receiving clock",
    )


def _sms(form: Form, config: ChannelConfig) -> Normalization:
    sid = (form.text("MessageSid") or form.text("SmsSid") or "").strip()
    if not sid:
        raise FormError("schema_violation", "MessageSid: missing")
    sid = _bounded("MessageSid", sid)
    sender = _required(form, ("From",))["From"]
    status = (form.text("SmsStatus") or form.text("MessageStatus") or "received").strip().lower()
    if status not in ("received", "receiving"):
        return Normalization.ignore(f"SmsStatus {status[:40]}: a status callback of a message we sent")
    count_text = (form.text("NumMedia") or "0").strip() or "0"
    if not count_text.isdigit() or int(count_text) > 100:
        raise FormError("schema_violation", "NumMedia: not a whole number up to 100")
    attachments = []
    for index in range(int(count_text)):
        url = (form.text(f"MediaUrl{index}") or "").strip()
        if not url:
            raise FormError("schema_violation", f"MediaUrl{index}: missing (NumMedia is {count_text})")
        content_type = (form.text(f"MediaContentType{index}") or "").strip().lower() or None
        extension = (mimetypes.guess_extension(content_type) if content_type else None) or ""
        attachments.append(
            Attachment(name=f"media-{index}{extension}", content_type=content_type, reference=url[:2000])
        )
    body = form.text("Body") or ""
    if not body.strip() and not attachments:
        return Normalization.ignore("empty message: no Body and no media")
    channel = Channel.whatsapp if sender.lower().startswith("whatsapp:") else Channel.sms
    customer, _ = caller_customer(sender, PROVIDER)
    contact = CanonicalContact(
        channel=channel,
        provider=PROVIDER,
        provider_message_id=sid,
        customer=customer,
        body_text=body[: core.MAX_BODY_CHARS],
        attachments=tuple(attachments),
        received_at=core.now_of(config),
        hints=hints(body),
        raw_event="message.received",
    )
    return Normalization(
        "emit", contacts=(contact,), reason="the incoming-message webhook carries no time: the receiving clock"
    )


def _recording(form: Form, config: ChannelConfig) -> Normalization:
    values = _required(form, ("CallSid", "RecordingSid", "RecordingUrl"))
    status = (form.text("RecordingStatus") or "completed").strip().lower()
    if status != "completed":
        return Normalization.ignore(f"RecordingStatus {status[:40]}: no recording file to attach")
    seconds = (form.text("RecordingDuration") or "").strip()
    if seconds and (not seconds.isdigit() or len(seconds) > 9):
        raise FormError("schema_violation", "RecordingDuration: not a whole number of seconds")
    summary = "Grabación de la llamada disponible" + (f", duración {duration_es(int(seconds))}." if seconds else ".")
    recording_sid = re.sub(r"[^A-Za-z0-9_-]", "", values["RecordingSid"])[:64] or "grabacion"
    return call_contact(
        "update",
        channel=Channel.phone,
        provider=PROVIDER,
        call_id=_bounded("CallSid", values["CallSid"]),
        customer=Customer(),
        summary=summary,
        received_at=_timestamp(form, "RecordingStartTime", config),
        raw_event="recording.completed",
        attachments=(Attachment(name=f"grabacion-{recording_sid}", reference=values["RecordingUrl"][:2000]),),
    )


def _run(
    request: RawRequest, config: ChannelConfig, path: str, handler: Callable[[Form, ChannelConfig], Normalization]
) -> Normalization:
    try:
        form = _form(request)
        refused = _verify(request, form, config, path)
        if refused is not None:
            return refused
        return handler(form, config)
    except FormError as exc:
        return Normalization.reject(exc.code, exc.message)
    except ValidationError as exc:
        return Normalization.reject("schema_violation", f"contact: {exc.errors()[0].get('msg', 'invalid')}")


#: Twilio message statuses that say something about delivery (queued/sending/sent say nothing new).
_STATUSES = {"delivered": "delivered", "read": "read", "undelivered": "failed", "failed": "failed"}


def _status(form: Form, config: ChannelConfig) -> Normalization:
    """A message status callback of an SMS notify sent: the StatusCallback URL carries the notification
    id (`?n=`), which is how it is tied back; `ErrorCode` says why an undelivered one failed."""
    values = _required(form, ("MessageSid", "MessageStatus"))
    notification_id = (form.text("n") or "").strip()
    status = _STATUSES.get(values["MessageStatus"].lower())
    if not notification_id or status is None:
        return Normalization.ignore(f"message status {values['MessageStatus'][:40]!r}: nothing for notify")
    code = (form.text("ErrorCode") or "").strip()
    report = DeliveryStatus(notification_id=_bounded("n", notification_id), provider="twilio",
                            provider_id=_bounded("MessageSid", values["MessageSid"]), status=status,
                            reported_at=core.now_of(config), error_code=int(code) if code.isdigit() else None)
    return Normalization("ignore", reason="1 delivery status for notify", statuses=(report,))


def normalize_status(request: RawRequest, config: ChannelConfig) -> Normalization:
    """`?n=` is in the query (part of the signed URL), the rest in the form: read both."""
    try:
        form = _form(request)
        refused = _verify(request, form, config, "/webhooks/twilio/status")
        if refused is not None:
            return refused
        query = list(request.query.items()) or parse_qsl(urlsplit(request.url).query if request.url else "")
        merged = parse_urlencoded(urlencode([*form.pairs(), *query]).encode("ascii"))
        return _status(merged, config)
    except FormError as exc:
        return Normalization.reject(exc.code, exc.message)


def normalize_voice(request: RawRequest, config: ChannelConfig) -> Normalization:
    return _run(request, config, "/webhooks/twilio/voice", _voice)


def normalize_sms(request: RawRequest, config: ChannelConfig) -> Normalization:
    return _run(request, config, "/webhooks/twilio/sms", _sms)


def normalize_recording(request: RawRequest, config: ChannelConfig) -> Normalization:
    return _run(request, config, "/webhooks/twilio/recording", _recording)
