"""Writes the Mailgun, SendGrid, Zadarma and Twilio corpora: request bodies, header sidecars, expected.json.

Run from the repository root: `python tests/intake/corpus/generate.py`. The signatures are computed here with
the standard library, independently of the code under test, from each provider's documented scheme and the test
secrets below (also listed in each folder's README.md). The email corpus is hand-written `.eml` files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote_plus

HERE = Path(__file__).parent
NOW = 1795446000  # 2026-11-23T15:00:00Z, the tests' clock

MAILGUN_SIGNING_KEY = "key-test-mailgun-3f9a1c"
SENDGRID_TOKEN = "sg-test-token-7b2e"
ZADARMA_SECRET = "zd-test-secret-51c0"
TWILIO_AUTH_TOKEN = "tw-test-token-12345"
PUBLIC_BASE_URL = "https://soporte.navegasoft.com"
TOKEN = "9f6c2b7e1d0a4c3b8e5f7a6d2c1b0e9f8a7d6c5b4a3e2f1d0c"  # 50 characters, like Mailgun's

Fields = list[tuple[str, str]]
Files = Sequence[tuple[str, str, str, bytes]]  # field name, filename, content type, data


def urlencoded(fields: Fields) -> bytes:
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields).encode("ascii")


def multipart(fields: Sequence[tuple[str, bytes]], files: Files = (), boundary: str = "xYzZY") -> tuple[bytes, str]:
    out = b""
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
    for name, filename, content_type, data in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


class Folder:
    def __init__(self, name: str) -> None:
        self.path = HERE / name
        self.path.mkdir(exist_ok=True)
        self.expected: dict[str, dict[str, object]] = {}

    def add(self, filename: str, body: bytes, headers: dict[str, str], expected: dict[str, object]) -> None:
        (self.path / filename).write_bytes(body)
        sidecar = self.path / f"{filename}.headers.json"
        sidecar.write_text(json.dumps(headers, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.expected[filename] = expected

    def save(self) -> None:
        text = json.dumps(self.expected, ensure_ascii=False, indent=2) + "\n"
        (self.path / "expected.json").write_text(text, encoding="utf-8")


def emit(
    contains: Sequence[str], excludes: Sequence[str] = (), attachments: Sequence[str] = (), **extra: object
) -> dict[str, object]:
    return {"outcome": "emit", "count": 1, "body_text_contains": list(contains),
            "body_text_excludes": list(excludes), "attachments": list(attachments), **extra}  # fmt: skip


def update(contains: Sequence[str], attachments: Sequence[str] = (), **extra: object) -> dict[str, object]:
    return {"outcome": "update", "count": 1, "body_text_contains": list(contains),
            "attachments": list(attachments), **extra}  # fmt: skip


def ignore(reason: str, **extra: object) -> dict[str, object]:
    return {"outcome": "ignore", "count": 0, "reason_contains": reason, **extra}


def reject(code: str) -> dict[str, object]:
    return {"outcome": "reject", "reason_code": code, "count": 0}


# -- Mailgun ---------------------------------------------------------------------------------------------------------


def mailgun_signed(fields: Fields, timestamp: int = NOW - 60, key: str = MAILGUN_SIGNING_KEY) -> Fields:
    signature = hmac.new(key.encode(), f"{timestamp}{TOKEN}".encode(), hashlib.sha256).hexdigest()
    return [*fields, ("timestamp", str(timestamp)), ("token", TOKEN), ("signature", signature)]


def mailgun_headers(message_id: str, subject: str, sender: str, *extra: tuple[str, str]) -> str:
    pairs = [
        ["Received", "from mail-yw1-f171.google.com (mail-yw1-f171.google.com [209.85.128.171]) by mxa.mailgun.org"],
        ["Date", "Mon, 23 Nov 2026 09:40:00 -0500"],
        ["From", sender],
        ["To", "soporte@navegasoft.com"],
        ["Message-Id", message_id],
        ["Subject", subject],
        ["Mime-Version", "1.0"],
        ["Content-Type", 'multipart/alternative; boundary="000000000000mg"'],
        *[list(pair) for pair in extra],
    ]
    return json.dumps(pairs, ensure_ascii=False)


def build_mailgun() -> None:
    folder = Folder("mailgun")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    laura = "Laura Gómez <laura.gomez@ferreteriaelsol.co>"
    base = [("recipient", "soporte@navegasoft.com"), ("sender", "laura.gomez@ferreteriaelsol.co"), ("from", laura)]

    fields = mailgun_signed([
        *base,
        ("subject", "La DIAN rechaza la factura FE-2231"),
        ("body-plain", "Hola, la DIAN rechaza la factura FE-2231 con NIT 900.123.456-7.\r\n\r\n--\r\nLaura Gómez\r\n"),
        ("stripped-text", "Hola, la DIAN rechaza la factura FE-2231 con NIT 900.123.456-7."),
        ("stripped-signature", "Laura Gómez"),
        ("body-html", "<div>Hola, la DIAN rechaza la factura FE-2231 con NIT 900.123.456-7.</div>"),
        ("message-headers",
         mailgun_headers("<CAmg-plain-1@mail.gmail.com>", "La DIAN rechaza la factura FE-2231", laura)),
    ])  # fmt: skip
    folder.add("plain.form", urlencoded(fields), form, emit(
        ["la DIAN rechaza la factura FE-2231"], ["Laura Gómez"],
        provider_message_id="<CAmg-plain-1@mail.gmail.com>", customer_email="laura.gomez@ferreteriaelsol.co",
        customer_name="Laura Gómez", received_at="2026-11-23T14:40:00+00:00", raw_event="route.forward",
        hints={"nit": ["900.123.456-7"]}))  # fmt: skip

    quoted = (
        "Sigue fallando, adjunto pantallazo mañana.\r\n\r\n"
        "El lun, 23 nov 2026 a las 10:00, Soporte NavegaSoft <soporte@navegasoft.com>\r\nescribió:\r\n\r\n"
        "> ¿Puede indicarnos el número de la factura?\r\n"
    )
    fields = mailgun_signed([
        *base,
        ("subject", "Re: [NS-000077] Factura rechazada"),
        ("body-plain", quoted),
        ("message-headers", mailgun_headers(
            "<CAmg-reply-2@mail.gmail.com>", "Re: [NS-000077] Factura rechazada", laura,
            ("In-Reply-To", "<ack-NS-000077@navegasoft.com>"),
            ("References", "<CAmg-root-0@mail.gmail.com> <ack-NS-000077@navegasoft.com>"))),
    ])  # fmt: skip
    folder.add("reply_without_stripped_text.form", urlencoded(fields), form, emit(
        ["Sigue fallando"], ["escribió", "número de la factura"], is_reply=True,
        thread_key="email:<CAmg-root-0@mail.gmail.com>", hints={"ticket_number": ["NS-000077"]}))  # fmt: skip

    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    body, content_type = multipart(
        [(k, v.encode()) for k, v in mailgun_signed([
            *base,
            ("subject", "Soporte de pago"),
            ("body-plain", "Adjunto el soporte de pago de la factura FE-90.\n"),
            ("body-html", '<p>Adjunto el soporte de pago de la factura FE-90.</p><img src="cid:ii_logo01">'),
            ("attachment-count", "2"),
            ("content-id-map", json.dumps({"<ii_logo01>": "attachment-2"})),
            ("message-headers", mailgun_headers("<CAmg-att-3@mail.gmail.com>", "Soporte de pago", laura)),
        ])],
        [("attachment-1", "soporte pago FE-90.pdf", "application/pdf", pdf),
         ("attachment-2", "logo.png", "image/png", png)],
    )  # fmt: skip
    folder.add("attachments.multipart", body, {"Content-Type": content_type}, emit(
        ["soporte de pago"], attachments=["soporte pago FE-90.pdf"],
        attachment_sizes=[len(pdf)], attachment_references=["attachment-1"]))  # fmt: skip

    fields = mailgun_signed([
        *base,
        ("subject", "Error en nómina"),
        ("body-plain", ""),
        ("body-html",
         "<html><body><p>El cálculo de <b>horas extra</b> está duplicado.</p><script>x()</script></body></html>"),
        ("message-headers", mailgun_headers("<html-4@ferreteriaelsol.co>", "Error en nómina", laura)),
    ])  # fmt: skip
    folder.add("html_only.form", urlencoded(fields), form,
               emit(["cálculo de horas extra está duplicado"], ["<b>", "x()"]))

    fields = mailgun_signed([
        *base,
        ("subject", "Re: [NS-000077] Factura rechazada"),
        ("body-plain", "Estoy fuera de la oficina hasta el 30 de noviembre."),
        ("message-headers", mailgun_headers("<auto-5@ferreteriaelsol.co>", "Re: [NS-000077] Factura rechazada",
                                            laura, ("Auto-Submitted", "auto-replied"))),
    ])  # fmt: skip
    folder.add("auto_reply.form", urlencoded(fields), form, ignore("Auto-Submitted: auto-replied"))

    fields = mailgun_signed([
        ("recipient", "soporte@navegasoft.com"), ("sender", ""),
        ("from", "Mail Delivery System <MAILER-DAEMON@mxa.mailgun.org>"),
        ("subject", "Delivery Status Notification (Failure)"),
        ("body-plain", "Address not found."),
        ("message-headers", json.dumps([["Content-Type", "multipart/report; report-type=delivery-status; boundary=x"],
                                        ["Message-Id", "<bounce-6@mxa.mailgun.org>"]])),
    ])  # fmt: skip
    folder.add("bounce.form", urlencoded(fields), form, ignore("report-type=delivery-status"))

    fields = mailgun_signed([
        *base,
        ("subject", "Sin identificador"),
        ("body-plain", "No puedo descargar el certificado de retención."),
    ])  # fmt: skip
    folder.add("no_message_headers.form", urlencoded(fields), form, emit(
        ["certificado de retención"], provider_message_id_prefix="sha256:",
        received_at="2026-11-23T14:59:00+00:00", reason_contains="provider's timestamp"))  # fmt: skip

    fields = mailgun_signed([
        *base,
        ("subject", "'; DROP TABLE contacts; --"),
        ("body-plain", "<script>document.location='https://evil.example'</script>\n1' OR '1'='1"),
        ("stripped-text", "<script>document.location='https://evil.example'</script>\n1' OR '1'='1"),
        ("message-headers", mailgun_headers("<hostile-7@ferreteriaelsol.co>", "'; DROP TABLE contacts; --", laura)),
    ])  # fmt: skip
    folder.add("hostile.form", urlencoded(fields), form, emit(
        ["<script>document.location='https://evil.example'</script>", "1' OR '1'='1"],
        subject="'; DROP TABLE contacts; --"))  # fmt: skip

    mime = (HERE / "email" / "rfc2231_filename.eml").read_bytes()
    body, content_type = multipart(
        [(k, v.encode()) for k, v in mailgun_signed([*base])] + [("body-mime", mime)]
    )
    folder.add("body_mime.multipart", body, {"Content-Type": content_type}, emit(
        ["descuento duplicado"], attachments=["nómina noviembre 2026.pdf"], raw_event="route.forward.mime",
        provider_message_id="<rfc2231-8@constructoraeje.co>"))  # fmt: skip

    plain = [*base, ("subject", "x"), ("body-plain", "Hola")]
    folder.add("bad_missing_signature.form", urlencoded([*plain, ("timestamp", str(NOW)), ("token", TOKEN)]), form,
               reject("missing_signature"))
    wrong = mailgun_signed(plain, key="another-key")
    folder.add("bad_wrong_signature.form", urlencoded(wrong), form, reject("invalid_signature"))
    folder.add("bad_old_timestamp.form", urlencoded(mailgun_signed(plain, NOW - 3600)), form,
               reject("timestamp_out_of_range"))
    folder.add("bad_future_timestamp.form", urlencoded(mailgun_signed(plain, NOW + 2 * 86400)), form,
               reject("timestamp_out_of_range"))
    truncated = urlencoded(mailgun_signed([*plain, ("message-headers", '[["From",')]))
    folder.add("bad_message_headers_json.form", truncated, form, reject("malformed_json"))
    folder.add("bad_message_headers_shape.form",
               urlencoded(mailgun_signed([*plain, ("message-headers", '{"From": "x"}')])), form,
               reject("schema_violation"))
    folder.add("bad_no_from.form", urlencoded(mailgun_signed([("subject", "x"), ("body-plain", "Hola")])), form,
               reject("schema_violation"))
    folder.add("bad_json_body.json", b'{"from": "laura@ferreteriaelsol.co"}', {"Content-Type": "application/json"},
               reject("schema_violation"))
    folder.add("bad_invalid_utf8.form", urlencoded(mailgun_signed(plain)) + b"&body-plain=%FF%FE", form,
               reject("invalid_encoding"))
    body, content_type = multipart(
        [(k, v.encode()) for k, v in mailgun_signed([*plain, ("attachment-count", "2")])],
        [("attachment-1", "a.pdf", "application/pdf", pdf)],
    )
    folder.add("bad_attachment_missing.multipart", body, {"Content-Type": content_type}, reject("schema_violation"))
    folder.save()


# -- SendGrid --------------------------------------------------------------------------------------------------------

AUTH = {"Authorization": f"Bearer {SENDGRID_TOKEN}"}


def sendgrid_headers(message_id: str, subject: str, sender: str, *extra: str) -> str:
    lines = [
        "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Mon, 23 Nov 2026 14:30:00 +0000 (UTC)",
        f"From: {sender}",
        "To: soporte@parse.navegasoft.com",
        f"Subject: {subject}",
        "Date: Mon, 23 Nov 2026 09:30:00 -0500",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def sendgrid_common(sender_address: str) -> list[tuple[str, bytes]]:
    return [
        ("dkim", b"{@gmail.com : pass}"),
        ("to", b"soporte@parse.navegasoft.com"),
        ("envelope", json.dumps({"to": ["soporte@parse.navegasoft.com"], "from": sender_address}).encode()),
        ("sender_ip", b"209.85.128.171"),
        ("spam_score", b"0.1"),
        ("SPF", b"pass"),
    ]


def build_sendgrid() -> None:
    folder = Folder("sendgrid")
    carlos = "Carlos Pérez <carlos.perez@distribuidoraandina.com.co>"
    utf8 = json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "UTF-8", "html": "UTF-8"}).encode()

    def parsed(message_id: str, subject: str, text: bytes | None, html: bytes | None = None,
               charsets: bytes = utf8, extra_headers: tuple[str, ...] = (), files: Files = (),
               more: Sequence[tuple[str, bytes]] = (), sender: str = carlos) -> tuple[bytes, str]:
        fields = [("headers", sendgrid_headers(message_id, subject, sender, *extra_headers).encode()),
                  *sendgrid_common(sender.split("<")[-1].rstrip(">")),
                  ("from", sender.encode()), ("subject", subject.encode()), ("charsets", charsets)]  # fmt: skip
        if text is not None:
            fields.append(("text", text))
        if html is not None:
            fields.append(("html", html))
        return multipart(fields + list(more), files)

    body, ct = parsed("<sg-plain-1@distribuidoraandina.com.co>", "No sincroniza el inventario",
                      b"El inventario de la bodega 2 no sincroniza con el POS desde el viernes.\n",
                      b"<p>HTML alternativo</p>")  # fmt: skip
    folder.add("parsed_plain.multipart", body, {"Content-Type": ct, **AUTH}, emit(
        ["bodega 2 no sincroniza"], ["HTML alternativo"], provider_message_id="<sg-plain-1@distribuidoraandina.com.co>",
        customer_email="carlos.perez@distribuidoraandina.com.co", customer_name="Carlos Pérez",
        received_at="2026-11-23T14:30:00+00:00", raw_event="inbound_parse"))  # fmt: skip

    latin = json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "iso-8859-1"}).encode()
    body, ct = parsed("<sg-latin-2@distribuidoraandina.com.co>", "Retención en la fuente",
                      "La retención en la fuente sale con tarifa errónea.\n".encode("latin-1"), charsets=latin)
    folder.add("parsed_latin1_text.multipart", body, {"Content-Type": ct, **AUTH},
               emit(["La retención en la fuente sale con tarifa errónea."]))

    pdf = b"%PDF-1.4\n%sendgrid\n%%EOF\n"
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 30
    info = {"attachment1": {"filename": "extracto octubre.pdf", "name": "extracto octubre.pdf",
                            "type": "application/pdf"},
            "attachment2": {"filename": "image001.png", "name": "image001.png", "type": "image/png",
                            "content-id": "image001.png@01DB3D2A"}}  # fmt: skip
    body, ct = parsed("<sg-att-3@distribuidoraandina.com.co>", "Extracto bancario", b"Adjunto el extracto.\n",
                      b'<p>Adjunto el extracto.</p><img src="cid:image001.png@01DB3D2A">',
                      files=[("attachment1", "extracto octubre.pdf", "application/pdf", pdf),
                             ("attachment2", "image001.png", "image/png", png)],
                      more=[("attachments", b"2"), ("attachment-info", json.dumps(info).encode()),
                            ("content-ids", json.dumps({"image001.png@01DB3D2A": "attachment2"}).encode())],
                      )  # fmt: skip
    folder.add("parsed_attachments.multipart", body, {"Content-Type": ct, **AUTH}, emit(
        ["Adjunto el extracto."], attachments=["extracto octubre.pdf"], attachment_references=["attachment1"],
        attachment_sizes=[len(pdf)]))  # fmt: skip

    reply = (
        "El reporte sigue saliendo en blanco.\n\n"
        "________________________________\n"
        "De: Soporte NavegaSoft <soporte@navegasoft.com>\n"
        "Enviado: viernes, 20 de noviembre de 2026 17:00\n"
        "Para: Carlos Pérez\n"
        "Asunto: Reporte en blanco\n\n"
        "Carlos, ya aplicamos el ajuste.\n"
    )
    body, ct = parsed("<sg-reply-4@distribuidoraandina.com.co>", "RE: Reporte en blanco", reply.encode(),
                      extra_headers=("In-Reply-To: <blank-4@navegasoft.com>",
                                     "References: <blank-root-4@navegasoft.com> <blank-4@navegasoft.com>"))  # fmt: skip
    folder.add("parsed_reply_outlook.multipart", body, {"Content-Type": ct, **AUTH}, emit(
        ["sigue saliendo en blanco"], ["ya aplicamos el ajuste", "Enviado:"], is_reply=True,
        thread_key="email:<blank-root-4@navegasoft.com>"))  # fmt: skip

    body, ct = parsed("<sg-auto-5@distribuidoraandina.com.co>", "Automatic reply: Reporte en blanco",
                      b"I am out of the office.", extra_headers=("Auto-Submitted: auto-replied",))
    folder.add("parsed_autoreply.multipart", body, {"Content-Type": ct, **AUTH}, ignore("Auto-Submitted"))

    body, ct = parsed("<sg-html-6@distribuidoraandina.com.co>", "Sin texto plano", None,
                      b"<div>Solo HTML: el <i>cierre</i> de caja no imprime.</div>")
    folder.add("parsed_html_only.multipart", body, {"Content-Type": ct, **AUTH},
               emit(["Solo HTML: el cierre de caja no imprime."], ["<i>"]))

    raw = (HERE / "email" / "inline_cid_and_attachment.eml").read_bytes()
    raw_fields = [*sendgrid_common("emora@logisticamora.co"), ("from", b"Esteban Mora <emora@logisticamora.co>"),
                  ("subject", b"Factura con error de IVA"), ("charsets", utf8), ("email", raw)]  # fmt: skip
    body, ct = multipart(raw_fields)
    folder.add("raw_mode.multipart", body, {"Content-Type": ct, **AUTH}, emit(
        ["IVA al 16%"], attachments=["FE-877.pdf"], raw_event="inbound_parse.raw",
        provider_message_id="<cid-att-12@logisticamora.co>"))  # fmt: skip

    bounce = (HERE / "email" / "bounce_report.eml").read_bytes()
    body, ct = multipart([*sendgrid_common(""), ("email", bounce)])
    folder.add("raw_bounce.multipart", body, {"Content-Type": ct, **AUTH}, ignore("delivery-status"))

    good, good_ct = parsed("<sg-bad@x.co>", "x", b"Hola")
    folder.add("bad_no_authorization.multipart", good, {"Content-Type": good_ct}, reject("missing_signature"))
    folder.add("bad_wrong_token.multipart", good, {"Content-Type": good_ct, "Authorization": "Bearer nope"},
               reject("invalid_signature"))
    folder.add("bad_basic_auth.multipart", good, {"Content-Type": good_ct, "Authorization": "Basic dXNlcjpwYXNz"},
               reject("invalid_signature"))
    body, ct = parsed("<sg-bad-cs@x.co>", "x", b"Hola", charsets=b"{not json")
    folder.add("bad_charsets_json.multipart", body, {"Content-Type": ct, **AUTH}, reject("malformed_json"))
    body, ct = multipart([("from", carlos.encode()), ("text", b"Hola"), ("subject", b"x")])
    folder.add("bad_no_headers.multipart", body, {"Content-Type": ct, **AUTH}, reject("schema_violation"))
    folder.add("bad_no_boundary.multipart", good, {"Content-Type": "multipart/form-data", **AUTH},
               reject("schema_violation"))
    body, ct = parsed("<sg-bad-enc@x.co>", "x", b"caf\xe9 sin declarar")
    folder.add("bad_text_not_utf8.multipart", body, {"Content-Type": ct, **AUTH}, reject("invalid_encoding"))
    folder.save()


# -- Zadarma ---------------------------------------------------------------------------------------------------------


def zadarma_signature(text: str, secret: str = ZADARMA_SECRET) -> str:
    # PHP: base64_encode(hash_hmac('sha1', $text, $secret)); hash_hmac returns lowercase hex by default.
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest().encode()).decode()


def build_zadarma() -> None:
    folder = Folder("zadarma")
    form = "application/x-www-form-urlencoded"
    caller, did, start, call = "573001234567", "576015550100", "2026-11-23 09:58:10", "1763909890.2817"

    def signed(fields: Fields, *names: str, secret: str = ZADARMA_SECRET) -> dict[str, str]:
        values = dict(fields)
        return {"Content-Type": form, "Signature": zadarma_signature("".join(values[n] for n in names), secret)}

    start_fields = [("event", "NOTIFY_START"), ("call_start", start), ("pbx_call_id", call),
                    ("caller_id", caller), ("called_did", did)]  # fmt: skip
    start_signed = signed(start_fields, "caller_id", "called_did", "call_start")
    folder.add("notify_start.form", urlencoded(start_fields), start_signed,
               emit(["Llamada entrante de +573001234567 a la línea +576015550100."], provider_message_id=call,
                    customer_phone="+573001234567", received_at="2026-11-23T14:58:10+00:00", channel="phone",
                    raw_event="NOTIFY_START"))  # fmt: skip

    fields = [("event", "NOTIFY_INTERNAL"), ("call_start", start), ("pbx_call_id", call), ("caller_id", caller),
              ("called_did", did), ("internal", "101")]  # fmt: skip
    folder.add("notify_internal.form", urlencoded(fields), signed(fields, "caller_id", "called_did", "call_start"),
               update(["extensión 101"], provider_message_id=call))

    fields = [("event", "NOTIFY_ANSWER"), ("caller_id", caller), ("destination", "101"), ("call_start", start),
              ("pbx_call_id", call), ("internal", "101")]  # fmt: skip
    folder.add("notify_answer.form", urlencoded(fields), signed(fields, "caller_id", "destination", "call_start"),
               update(["contestada en la extensión 101"], provider_message_id=call))

    fields = [("event", "NOTIFY_END"), ("call_start", start), ("pbx_call_id", call), ("caller_id", caller),
              ("called_did", did), ("internal", "101"), ("duration", "192"), ("disposition", "answered"),
              ("status_code", "16"), ("is_recorded", "1"), ("call_id_with_rec", "1763909890.2817-rec")]  # fmt: skip
    folder.add("notify_end_answered.form", urlencoded(fields), signed(fields, "caller_id", "called_did", "call_start"),
               update(["Llamada entrante de +573001234567, contestada, duración 3 min 12 s"],
                      attachments=["grabacion-1763909890.2817-rec"],
                      attachment_references=["1763909890.2817-rec"], provider_message_id=call,
                      raw_event="NOTIFY_END"))  # fmt: skip

    missed = "1763911000.3001"
    fields = [("event", "NOTIFY_END"), ("call_start", "2026-11-23 09:15:00"), ("pbx_call_id", missed),
              ("caller_id", "+525512345678"), ("called_did", did), ("duration", "0"),
              ("disposition", "no answer"), ("status_code", "19"), ("is_recorded", "0"),
              ("call_id_with_rec", "")]  # fmt: skip
    folder.add("notify_end_missed.form", urlencoded(fields), signed(fields, "caller_id", "called_did", "call_start"),
               emit(["Llamada perdida de +525512345678 (sin respuesta)"], provider_message_id=missed,
                    customer_phone="+525512345678", received_at="2026-11-23T14:15:00+00:00",
                    raw_event="NOTIFY_END"))  # fmt: skip

    fields = [("event", "NOTIFY_END"), ("call_start", "2026-11-23 08:05:00"), ("pbx_call_id", "1763900000.11"),
              ("caller_id", "50622223333"), ("called_did", did), ("duration", "0"), ("disposition", "busy"),
              ("status_code", "17"), ("is_recorded", "0")]  # fmt: skip
    folder.add("notify_end_busy.form", urlencoded(fields), signed(fields, "caller_id", "called_did", "call_start"),
               emit(["Llamada perdida de +50622223333 (ocupado)"], customer_phone="+50622223333"))

    fields = [("event", "NOTIFY_RECORD"), ("call_id_with_rec", "1763909890.2817-rec"), ("pbx_call_id", call)]
    folder.add("notify_record.form", urlencoded(fields), signed(fields, "pbx_call_id", "call_id_with_rec"),
               update(["Grabación"], attachments=["grabacion-1763909890.2817-rec"], provider_message_id=call,
                      received_at="2026-11-23T15:00:00+00:00"))  # fmt: skip

    fields = [("event", "NOTIFY_OUT_START"), ("call_start", start), ("pbx_call_id", "out-1"), ("internal", "101"),
              ("destination", caller)]  # fmt: skip
    folder.add("notify_out_start.form", urlencoded(fields), signed(fields, "internal", "destination", "call_start"),
               ignore("outgoing call"))

    fields = [("event", "NOTIFY_START"), ("call_start", start), ("pbx_call_id", "1763909999.5"),
              ("caller_id", ""), ("called_did", did)]  # fmt: skip
    folder.add("hidden_caller.form", urlencoded(fields), signed(fields, "caller_id", "called_did", "call_start"),
               emit(["Llamada entrante de número oculto"]))

    folder.add("zd_echo.get", b"", {}, ignore("zd_echo", reply="a1b2c3d4e5",
               request={"method": "GET", "query": {"zd_echo": "a1b2c3d4e5"}}))  # fmt: skip
    folder.add("bad_zd_echo_missing.get", b"", {}, {**reject("schema_violation"), "request": {"method": "GET"}})

    folder.add("bad_missing_signature.form", urlencoded(start_fields), {"Content-Type": form},
               reject("missing_signature"))
    folder.add("bad_wrong_signature.form", urlencoded(start_fields),
               signed(start_fields, "caller_id", "called_did", "call_start", secret="other"),
               reject("invalid_signature"))
    raw_digest = base64.b64encode(
        hmac.new(ZADARMA_SECRET.encode(), f"{caller}{did}{start}".encode(), hashlib.sha1).digest()).decode()
    folder.add("bad_signature_raw_digest.form", urlencoded(start_fields),
               {"Content-Type": form, "Signature": raw_digest}, reject("invalid_signature"))  # fmt: skip
    tampered = [*start_fields[:3], ("caller_id", "573009999999"), start_fields[4]]
    folder.add("bad_tampered_caller.form", urlencoded(tampered),
               signed(start_fields, "caller_id", "called_did", "call_start"), reject("invalid_signature"))
    fields = [("event", "NOTIFY_TRANSFER"), ("pbx_call_id", call)]
    folder.add("bad_unknown_event.form", urlencoded(fields), {"Content-Type": form, "Signature": "eA=="},
               reject("unknown_event_type"))
    fields = [f for f in start_fields if f[0] != "pbx_call_id"]
    folder.add("bad_missing_pbx_call_id.form", urlencoded(fields),
               signed(fields, "caller_id", "called_did", "call_start"), reject("schema_violation"))
    fields = [*start_fields[:1], ("call_start", "23/11/2026 09:58"), *start_fields[2:]]
    folder.add("bad_call_start_format.form", urlencoded(fields),
               signed(fields, "caller_id", "called_did", "call_start"), reject("schema_violation"))
    fields = [*start_fields[:1], ("call_start", "2026-11-26 09:00:00"), *start_fields[2:]]
    folder.add("bad_future_call_start.form", urlencoded(fields),
               signed(fields, "caller_id", "called_did", "call_start"), reject("timestamp_out_of_range"))
    folder.add("bad_json_body.json", b'{"event": "NOTIFY_START"}', {"Content-Type": "application/json"},
               reject("schema_violation"))
    folder.save()


# -- Twilio ----------------------------------------------------------------------------------------------------------


def twilio_signature(url: str, fields: Fields, token: str = TWILIO_AUTH_TOKEN) -> str:
    data = url + "".join(k + v for k, v in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def build_twilio() -> None:
    folder = Folder("twilio")
    form = "application/x-www-form-urlencoded"
    account = "AC00000000000000000000000000000001"
    sid = "CA5f7b1c2e8a1d4e0012c3b4a5d6e7f801"

    def add(name: str, endpoint: str, fields: Fields, expected: dict[str, object], *, signed_url: str | None = None,
            query: str = "", token: str = TWILIO_AUTH_TOKEN, body: bytes | None = None) -> None:
        path = f"/webhooks/twilio/{endpoint}"
        url = signed_url or f"{PUBLIC_BASE_URL}{path}" + (f"?{query}" if query else "")
        internal = f"http://127.0.0.1:8080{path}" + (f"?{query}" if query else "")
        headers = {"Content-Type": form, "X-Twilio-Signature": twilio_signature(url, fields, token)}
        folder.add(name, body if body is not None else urlencoded(fields), headers,
                   {**expected, "request": {"endpoint": endpoint, "url": internal}})  # fmt: skip

    call = [("AccountSid", account), ("ApiVersion", "2010-04-01"), ("CallSid", sid), ("From", "+573001234567"),
            ("To", "+576015550100"), ("Direction", "inbound"), ("Caller", "+573001234567"),
            ("FromCountry", "CO"), ("ToCountry", "CO")]  # fmt: skip
    add("voice_ringing.form", "voice", [*call, ("CallStatus", "ringing")], emit(
        ["Llamada entrante de +573001234567 a la línea +576015550100"], provider_message_id=sid,
        customer_phone="+573001234567", channel="phone", raw_event="call.ringing"))  # fmt: skip
    add("voice_completed.form", "voice",
        [*call, ("CallStatus", "completed"), ("CallDuration", "75"), ("Timestamp", "Mon, 23 Nov 2026 14:50:00 +0000"),
         ("CallbackSource", "call-progress-events"), ("SequenceNumber", "3")],
        update(["contestada, duración 1 min 15 s"], provider_message_id=sid,
               received_at="2026-11-23T14:50:00+00:00"))  # fmt: skip
    add("voice_no_answer.form", "voice", [*call, ("CallStatus", "no-answer"), ("CallDuration", "0")],
        update(["Llamada perdida de +573001234567 (sin respuesta)"], raw_event="call.no-answer"))
    add("voice_busy.form", "voice", [*call, ("CallStatus", "busy")], update(["(ocupado)"]))
    add("voice_outbound.form", "voice",
        [*[f for f in call if f[0] != "Direction"], ("Direction", "outbound-dial"), ("CallStatus", "ringing")],
        ignore("outbound-dial"))
    add("voice_signed_with_port.form", "voice", [*call, ("CallStatus", "in-progress")], emit(["Llamada entrante"]),
        signed_url="https://soporte.navegasoft.com:443/webhooks/twilio/voice")
    add("voice_query_string.form", "voice", [*call, ("CallStatus", "ringing")], emit(["Llamada entrante"]),
        query="tenant=navegasoft&lang=es")

    msg = "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0"
    sms = [("ToCountry", "CO"), ("SmsMessageSid", msg), ("NumMedia", "0"), ("SmsSid", msg), ("SmsStatus", "received"),
           ("To", "+576015550100"), ("NumSegments", "1"), ("MessageSid", msg), ("AccountSid", account),
           ("From", "+573104445566"), ("ApiVersion", "2010-04-01")]  # fmt: skip
    add("sms_text.form", "sms", [*sms, ("Body", "Buenas, la factura FE-45 del NIT 900.555.666-2 no llegó al cliente")],
        emit(["factura FE-45"], provider_message_id=msg, channel="sms", customer_phone="+573104445566",
             hints={"nit": ["900.555.666-2"]}, received_at="2026-11-23T15:00:00+00:00"))  # fmt: skip
    mms = [(k, "2" if k == "NumMedia" else v) for k, v in sms]
    add("sms_mms.form", "sms",
        [*mms, ("Body", "Fotos del error"),
         ("MediaContentType0", "image/jpeg"),
         ("MediaUrl0", f"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages/{msg}/Media/ME01"),
         ("MediaContentType1", "application/pdf"),
         ("MediaUrl1", f"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages/{msg}/Media/ME02")],
        emit(["Fotos del error"], attachments=["media-0.jpg", "media-1.pdf"]))  # fmt: skip
    wa = [(k, f"whatsapp:{v}" if k in ("From", "To") else v) for k, v in sms]
    add("sms_whatsapp.form", "sms", [*wa, ("Body", "Hola por WhatsApp")],
        emit(["Hola por WhatsApp"], channel="whatsapp", customer_phone="+573104445566"))
    status = [(k, "delivered" if k == "SmsStatus" else v) for k, v in sms] + [("MessageStatus", "delivered")]
    add("sms_status_callback.form", "sms", status, ignore("delivered"))
    add("sms_hostile.form", "sms", [*sms, ("Body", "<b>hola</b>'); DELETE FROM tickets; --")],
        emit(["<b>hola</b>'); DELETE FROM tickets; --"]))
    add("sms_empty.form", "sms", [*sms, ("Body", "")], ignore("empty message"))

    rec = [("AccountSid", account), ("CallSid", sid), ("RecordingSid", "RE9c2d4e0b1f3a4e5b6c7d8e9f0a1b2c3d"),
           ("RecordingUrl", f"https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/RE9c2d4e0b1f3a4e5b6c7d8e9f0a1b2c3d"),
           ("RecordingStatus", "completed"), ("RecordingDuration", "72"), ("RecordingChannels", "1"),
           ("RecordingStartTime", "Mon, 23 Nov 2026 14:48:48 +0000"), ("RecordingSource", "DialVerb")]  # fmt: skip
    add("recording_completed.form", "recording", rec, update(
        ["Grabación de la llamada disponible, duración 1 min 12 s"],
        attachments=["grabacion-RE9c2d4e0b1f3a4e5b6c7d8e9f0a1b2c3d"], provider_message_id=sid,
        received_at="2026-11-23T14:48:48+00:00"))  # fmt: skip
    add("recording_absent.form", "recording", [(k, "absent" if k == "RecordingStatus" else v) for k, v in rec],
        ignore("absent"))

    voice = [*call, ("CallStatus", "ringing")]
    folder.add("bad_voice_missing_signature.form", urlencoded(voice), {"Content-Type": form},
               {**reject("missing_signature"),
                "request": {"endpoint": "voice", "url": "http://127.0.0.1:8080/webhooks/twilio/voice"}})  # fmt: skip
    add("bad_voice_signed_http.form", "voice", voice, reject("invalid_signature"),
        signed_url="http://soporte.navegasoft.com/webhooks/twilio/voice")
    add("bad_voice_other_token.form", "voice", voice, reject("invalid_signature"), token="another-token")
    add("bad_sms_tampered_body.form", "sms", [*sms, ("Body", "hola")], reject("invalid_signature"),
        body=urlencoded([*sms, ("Body", "hola, cambiado")]))
    add("bad_voice_missing_callsid.form", "voice", [f for f in voice if f[0] != "CallSid"], reject("schema_violation"))
    add("bad_voice_unknown_status.form", "voice", [*call, ("CallStatus", "exploded")], reject("schema_violation"))
    add("bad_voice_future_timestamp.form", "voice",
        [*call, ("CallStatus", "completed"), ("Timestamp", "Fri, 27 Nov 2026 10:00:00 +0000")],
        reject("timestamp_out_of_range"))
    add("bad_sms_media_missing.form", "sms", [*mms, ("Body", "x"), ("MediaUrl0", "https://api.twilio.com/m/1")],
        reject("schema_violation"))
    add("bad_sms_invalid_utf8.form", "sms", sms, reject("invalid_encoding"), body=urlencoded(sms) + b"&Body=%C3%28")
    folder.save()


if __name__ == "__main__":
    build_mailgun()
    build_sendgrid()
    build_zadarma()
    build_twilio()
