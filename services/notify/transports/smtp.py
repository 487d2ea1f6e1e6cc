"""E-mail over SMTP (aiosmtplib): a real MIME message, threaded into the customer's own conversation.

- Subject carries the ticket number in brackets (`[NS-000123] ...`): what mail clients, agents and intake
  (for a customer who lost the headers) key on.
- Plain text and HTML parts from the same template; a stable `Message-ID` derived from the notification
  id, so a message sent twice is at least recognisable as the same one.
- `In-Reply-To` / `References` make it a reply to the customer's mail (RFC 5322 §3.6.4).
- `Auto-Submitted` (RFC 3834): `auto-replied` on a direct answer to a customer, `auto-generated` on
  alerts, and `X-Auto-Response-Suppress: All` for Exchange: no out-of-office can start a loop.
Settings come as one URL, `smtp://user:pass@host:port?starttls=true` (`smtps://` for implicit TLS).
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from .base import SEND_TIMEOUT_SECONDS, Outcome, Outgoing, Reason

NAME = "email"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # implicit TLS (smtps, 465)
    start_tls: bool | None  # None: upgrade whenever the server offers STARTTLS
    validate_certs: bool = True

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"GUARDIA_SMTP_URL must look like smtp://user:pass@host:port, not {parts.scheme}://...")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        starttls = query.get("starttls")
        return cls(
            host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps" else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps",
            start_tls=None if starttls is None else starttls in ("1", "true", "yes"),
            validate_certs=query.get("verify", "true") not in ("0", "false", "no"),
        )


def message_id(notification_id: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "guardia.invalid"
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:32]}@{domain}>"


def build(message: Outgoing, sender: str, reply_to: str | None = None) -> EmailMessage:
    mail = EmailMessage()
    subject = message.subject or "Su solicitud de soporte"
    if message.ticket_number and f"[{message.ticket_number}]" not in subject:
        subject = f"[{message.ticket_number}] {subject}"
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = message.to
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message_id(message.notification_id, sender)
    if message.reply_to:
        mail["In-Reply-To"] = message.reply_to
        thread = [r for r in message.references if r != message.reply_to]
        mail["References"] = " ".join([*thread, message.reply_to])
    mail["Auto-Submitted"] = message.auto_submitted
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(message.body)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail


class SmtpTransport:
    name = NAME

    def __init__(self, settings: SmtpSettings, sender: str, cert_bundle: str | None = None) -> None:
        self._settings = settings
        self._sender = sender if "@" in sender else formataddr(("Soporte", sender))
        self._tls_context = ssl.create_default_context(cafile=cert_bundle) if cert_bundle else None

    async def send(self, message: Outgoing) -> Outcome:
        mail = build(message, self._sender)
        s = self._settings
        try:
            await aiosmtplib.send(
                mail, hostname=s.host, port=s.port, username=s.username, password=s.password,
                use_tls=s.use_tls, start_tls=s.start_tls, validate_certs=s.validate_certs,
                tls_context=self._tls_context, timeout=SEND_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            temporary = all(400 <= c < 500 for c in codes)
            return Outcome.failed(NAME, Reason.provider_unavailable if temporary else Reason.invalid_recipient,
                                  f"recipient refused: {codes}", retry=temporary)
        except aiosmtplib.SMTPAuthenticationError as exc:
            return Outcome.failed(NAME, Reason.auth_failed, f"SMTP {exc.code}: authentication failed")
        except aiosmtplib.SMTPResponseException as exc:
            temporary = 400 <= exc.code < 500
            return Outcome.failed(NAME, Reason.provider_unavailable if temporary else Reason.rejected,
                                  f"SMTP {exc.code}: {exc.message[:200]}", retry=temporary)
        except (aiosmtplib.SMTPException, OSError) as exc:  # connect errors, timeouts, TLS failures
            return Outcome.failed(NAME, Reason.provider_unavailable, f"{type(exc).__name__}: {exc}"[:300],
                                  retry=True)
        return Outcome.ok(NAME, str(mail["Message-ID"]))

    async def aclose(self) -> None:
        return None
