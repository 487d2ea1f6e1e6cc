"""Zadarma PBX notifications: POST /webhooks/zadarma (form-encoded) and the GET `zd_echo` check.

Format (zadarma.com/en/support/api "Notifications of calls to PBX", and the official SDK zadarma/user-api-v1,
lib/Webhook/*.php): the POST carries `event` and, per event,

- NOTIFY_START (a call reaches the PBX): call_start, pbx_call_id, caller_id, called_did;
- NOTIFY_INTERNAL (the PBX rings an extension): the same and `internal`;
- NOTIFY_ANSWER (an extension answers): caller_id, destination, call_start, pbx_call_id, internal;
- NOTIFY_END (the call ends): the START fields and internal, duration (s), disposition ('answered', 'busy',
  'cancel', 'no answer', 'failed', 'no money', 'unallocated number', 'no limit', 'no day limit', 'line limit',
  'no money, no limit'), status_code, is_recorded (1/0), call_id_with_rec;
- NOTIFY_RECORD (the recording is ready): call_id_with_rec, pbx_call_id;
- NOTIFY_OUT_START / NOTIFY_OUT_END (calls our agents place) and NOTIFY_IVR are verified and ignored.

`call_start` is "YYYY-MM-DD HH:MM:SS" in the account's local time: it is read in config.zadarma_timezone.

Signature: header `Signature` = base64( hex( HMAC-SHA1(API secret, string) ) ) — the PHP
`base64_encode(hash_hmac('sha1', $string, $secret))` of Zadarma's examples, where hash_hmac returns lowercase hex —
over caller_id + called_did + call_start (START, INTERNAL, END, IVR), caller_id + destination + call_start (ANSWER),
internal + destination + call_start (OUT_START, OUT_END), pbx_call_id + call_id_with_rec (RECORD). Missing ->
missing_signature, wrong -> invalid_signature. With no API secret configured (config.zadarma_secret None or empty)
the Signature header is not looked at (neither its presence nor its value) and the notification is processed: that
lets `guardia normalize` run offline on captured payloads and a tenant start before configuring secrets (the
gateway is meant to log a warning for unverified channels). The fields an event signs are required either way
(schema_violation when absent).

One call is one contact, keyed by pbx_call_id. NOTIFY_START emits it; INTERNAL, ANSWER, an answered END and RECORD
are outcome "update" of the same provider_message_id (duration, disposition, the recording as an attachment whose
reference is call_id_with_rec). A NOTIFY_END that was not answered is a missed call and is emitted (raw_event
NOTIFY_END) even though a NOTIFY_START may have been emitted before: this module is stateless, so intake's
dedup by provider_message_id (pbx_call_id) decides whether it is new (START not subscribed / lost) or the same
contact. No replay window applies: the only time signed is call_start, which is hours old at the end of a long
call; only a call_start more than 24 h ahead is rejected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from shared.schemas import Attachment, Channel, Customer

from . import email as core
from .base import ChannelConfig, Normalization, Outcome, RawRequest, same
from .calls import call_contact, caller_customer, duration_es
from .formdata import Form, FormError, parse_form
from .text import to_e164

PROVIDER = "zadarma"

#: event -> (the fields its signature concatenates, the other fields it must carry)
_EVENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "NOTIFY_START": (("caller_id", "called_did", "call_start"), ("pbx_call_id",)),
    "NOTIFY_INTERNAL": (("caller_id", "called_did", "call_start"), ("pbx_call_id",)),
    "NOTIFY_ANSWER": (("caller_id", "destination", "call_start"), ("pbx_call_id",)),
    "NOTIFY_END": (("caller_id", "called_did", "call_start"), ("pbx_call_id", "disposition")),
    "NOTIFY_RECORD": (("pbx_call_id", "call_id_with_rec"), ()),
    "NOTIFY_OUT_START": (("internal", "destination", "call_start"), ()),
    "NOTIFY_OUT_END": (("internal", "destination", "call_start"), ()),
    "NOTIFY_IVR": (("caller_id", "called_did", "call_start"), ()),
}
_IGNORED = {
    "NOTIFY_OUT_START": "outgoing call placed by an agent",
    "NOTIFY_OUT_END": "outgoing call placed by an agent",
    "NOTIFY_IVR": "voice-menu step of a call already notified by NOTIFY_START",
}
_DISPOSITIONS = {
    "busy": "ocupado",
    "cancel": "colgó antes de ser atendida",
    "no answer": "sin respuesta",
    "failed": "fallida",
    "no money": "sin saldo en la cuenta",
    "unallocated number": "número no asignado",
    "no limit": "límite de la cuenta alcanzado",
    "no day limit": "límite diario alcanzado",
    "line limit": "límite de líneas alcanzado",
    "no money, no limit": "sin saldo ni límite",
}


def signature_of(secret: str, text: str) -> str:
    """Zadarma's notification signature: base64 of the lowercase-hex HMAC-SHA1."""
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def _verify(request: RawRequest, form: Form, signed: tuple[str, ...], secret: str) -> Normalization | None:
    signature = request.header("signature")
    if not signature or not signature.strip():
        return Normalization.reject("missing_signature", "Signature: missing")
    expected = signature_of(secret, "".join(form.text(name) or "" for name in signed))
    if not same(expected, signature.strip()):
        return Normalization.reject("invalid_signature", f"Signature: not the signature of {' + '.join(signed)}")
    return None


def _echo(request: RawRequest) -> Normalization:
    echo = request.query.get("zd_echo")
    if echo is None:
        return Normalization.reject("schema_violation", "zd_echo: missing (a GET is only Zadarma's URL check)")
    if not re.fullmatch(r"[\x21-\x7e]{1,256}", echo):
        return Normalization.reject("schema_violation", "zd_echo: expected up to 256 printable ASCII characters")
    return Normalization("ignore", reason="zd_echo: Zadarma's URL check", reply=echo)


def _local_time(value: str, config: ChannelConfig) -> tuple[datetime | None, str]:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None, ""
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC), ""
    try:
        zone = ZoneInfo(config.zadarma_timezone)
        note = ""
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
        note = f"unknown zadarma_timezone {config.zadarma_timezone!r}: call_start read as UTC"
    return parsed.replace(tzinfo=zone).astimezone(UTC), note


def _recording(form: Form) -> tuple[Attachment, ...]:
    rec = (form.text("call_id_with_rec") or "").strip()
    if not rec or (form.has("is_recorded") and (form.text("is_recorded") or "").strip() != "1"):
        return ()
    return (Attachment(name=f"grabacion-{rec[:200]}", reference=rec[:400]),)


def _contact(event: str, form: Form, config: ChannelConfig) -> Normalization:
    call_id = (form.text("pbx_call_id") or "").strip()
    if not call_id:
        return Normalization.reject("schema_violation", "pbx_call_id: empty")
    if len(call_id) > core.MAX_ID_CHARS:
        return Normalization.reject("schema_violation", "pbx_call_id: longer than 400 characters")
    now = core.now_of(config)
    if event == "NOTIFY_RECORD":
        return call_contact(
            "update",
            channel=Channel.phone,
            provider=PROVIDER,
            call_id=call_id,
            customer=Customer(),
            summary="Grabación de la llamada disponible.",
            received_at=now,
            raw_event=event,
            attachments=_recording(form),
            reason="NOTIFY_RECORD carries no time: received_at is the receiving clock",
        )
    start_text = form.text("call_start") or ""
    received_at, note = _local_time(start_text, config)
    if received_at is None:
        return Normalization.reject("schema_violation", "call_start: expected 'YYYY-MM-DD HH:MM:SS'")
    if received_at - now > core.FUTURE_LIMIT:
        return Normalization.reject("timestamp_out_of_range", "call_start: more than 24 h in the future")
    customer, caller = caller_customer(form.text("caller_id"), PROVIDER)

    def make(outcome: Outcome, summary: str, attachments: tuple[Attachment, ...] = ()) -> Normalization:
        return call_contact(
            outcome,
            channel=Channel.phone,
            provider=PROVIDER,
            call_id=call_id,
            customer=customer,
            summary=summary,
            received_at=received_at,
            raw_event=event,
            attachments=attachments,
            reason=note,
        )

    if event == "NOTIFY_START":
        did = (form.text("called_did") or "").strip()
        line = to_e164(did) or did[:40]
        summary = f"Llamada entrante de {caller}" + (f" a la línea {line}." if line else ".")
        return make("emit", summary)
    if event == "NOTIFY_INTERNAL":
        extension = (form.text("internal") or "").strip()[:20]
        summary = f"Llamada entrante de {caller}: timbrando en la extensión {extension or 'sin número'}."
        return make("update", summary)
    if event == "NOTIFY_ANSWER":
        who = (form.text("internal") or form.text("destination") or "").strip()[:40]
        summary = f"Llamada entrante de {caller}, contestada" + (f" en la extensión {who}." if who else ".")
        return make("update", summary)
    # NOTIFY_END
    disposition = (form.text("disposition") or "").strip().lower()
    duration_text = (form.text("duration") or "0").strip() or "0"
    if not duration_text.isdigit() or len(duration_text) > 9:
        return Normalization.reject("schema_violation", "duration: not a whole number of seconds")
    attachments = _recording(form)
    if disposition == "answered":
        summary = f"Llamada entrante de {caller}, contestada, duración {duration_es(int(duration_text))}."
        return make("update", summary, attachments)
    state = _DISPOSITIONS.get(disposition, disposition[:60] or "sin estado")
    summary = f"Llamada perdida de {caller} ({state})."
    return make("emit", summary, attachments)


def normalize(request: RawRequest, config: ChannelConfig) -> Normalization:
    if request.method.upper() == "GET":
        return _echo(request)
    try:
        form = parse_form(request)
        event = (form.text("event") or "").strip()
        if not event:
            return Normalization.reject("schema_violation", "event: missing")
        if event not in _EVENTS:
            return Normalization.reject("unknown_event_type", f"event: {event[:60]!r} is not a PBX call notification")
        signed, required = _EVENTS[event]
        absent = [name for name in (*signed, *required) if not form.has(name)]
        if absent:
            return Normalization.reject("schema_violation", f"{', '.join(absent)}: missing for {event}")
        if config.zadarma_secret:  # not configured: not checked
            refused = _verify(request, form, signed, config.zadarma_secret)
            if refused is not None:
                return refused
        if event in _IGNORED:
            return Normalization.ignore(f"{event}: {_IGNORED[event]}")
        return _contact(event, form, config)
    except FormError as exc:
        return Normalization.reject(exc.code, exc.message)
    except ValidationError as exc:
        return Normalization.reject("schema_violation", f"contact: {exc.errors()[0].get('msg', 'invalid')}")
