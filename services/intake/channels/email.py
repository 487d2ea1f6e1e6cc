"""Email: the shared core (RFC 5322 / MIME with the standard library) and POST /webhooks/email (message/rfc822).

`parse_message(raw)` reads a whole message with `email.parser.BytesParser(policy=policy.default)`: the body is the
first text/plain alternative (HTML converted to text when there is none), attachments are the parts marked
`Content-Disposition: attachment` or carrying a file name (RFC 2231 names included) except inline images the HTML
references by `cid:`. Mailgun and SendGrid reuse `automatic_reason`, `strip_reply`, `html_to_text`,
`normalize_message_id`, `thread_of` and `contact_from` so every email provider applies the same rules:

- auto-replies (RFC 3834 `Auto-Submitted` other than `no`, `X-Autoreply`, `X-Autorespond`, `Precedence:
  auto_reply|bulk|junk`, subjects such as "Respuesta automática" or "Out of Office") and bounces (RFC 3464
  `multipart/report; report-type=delivery-status`, any other multipart/report, MAILER-DAEMON senders, a null
  envelope sender) are ignored with the reason;
- the body keeps only what the customer wrote: quoted lines, Gmail/Apple "El ... escribió:" / "On ... wrote:"
  attributions, Outlook "De:/Enviado:/Para:/Asunto:" blocks, "-----Original Message-----" separators and the
  RFC 3676 `-- ` signature (and everything after them) are cut;
- threading: provider_message_id is the Message-ID (`sha256:<hex>` of the raw bytes when there is none),
  is_reply when In-Reply-To or References is present, thread_key = "email:" + the root Message-ID (first of
  References, else In-Reply-To, else the message's own id). Message-IDs keep their angle brackets.
- received_at is the Date header in UTC. When it is missing or unparseable, the injected clock (config.now) or the
  wall clock is used and the Normalization's `reason` says so (hints stay what the customer wrote).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from pydantic import ValidationError

from shared.schemas import Attachment, Channel, Customer

from .base import CanonicalContact, ChannelConfig, Normalization, RawRequest
from .text import hints

PROVIDER = "rfc822"
MAX_MESSAGE_BYTES = 30 * 1024 * 1024  # SendGrid's and Mailgun's own limits are 25-30 MB
MAX_BODY_CHARS = 100_000  # ContactReceived.body_text
MAX_SUBJECT_CHARS = 998  # RFC 5322 line limit, ContactReceived.subject
MAX_ID_CHARS = 400  # ContactReceived.provider_message_id
FUTURE_LIMIT = timedelta(hours=24)
_MAX_DEPTH = 30


# -- small helpers ------------------------------------------------------------------------------------------------


def now_of(config: ChannelConfig) -> datetime:
    now = config.now or datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def sha256_id(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def clean_line(value: str) -> str:
    """One-line header text: folding and control characters become single spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded (for header values that arrive raw, e.g. in Mailgun's message-headers)."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # a malformed encoded word is kept as written
        return value


def normalize_message_id(value: str | None) -> str | None:
    """`<id@host>`: one Message-ID, angle brackets kept (added when a provider strips them)."""
    if value is None:
        return None
    value = clean_line(value)
    found = re.search(r"<[^<>\s]+>", value)
    if found:
        return found.group(0)
    token = value.split()[0] if value.split() else ""
    token = token.strip("<>")
    return f"<{token}>" if token else None


def message_ids(value: str | None) -> tuple[str, ...]:
    """Every Message-ID in a References / In-Reply-To value, in order."""
    if not value:
        return ()
    value = clean_line(value)
    found = re.findall(r"<[^<>\s]+>", value)
    if found:
        return tuple(found)
    return tuple(f"<{token.strip('<>')}>" for token in value.split() if token.strip("<>"))


def bounded_id(value: str) -> str:
    return value if len(value) <= MAX_ID_CHARS else sha256_id(value.encode("utf-8", "surrogatepass"))


def thread_of(message_id: str, in_reply_to: str | None, references: Sequence[str]) -> tuple[bool, str]:
    """(is_reply, thread_key) from the threading headers (RFC 5322 §3.6.4)."""
    replied = message_ids(in_reply_to)
    is_reply = bool(replied or references)
    root = references[0] if references else (replied[0] if replied else message_id)
    return is_reply, "email:" + bounded_id(root)


def parse_date(value: str | None) -> datetime | None:
    """An RFC 5322 date in UTC (a date without zone, or `-0000`, is taken as UTC); None if unparseable."""
    if not value or not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(clean_line(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# -- HTML to text -------------------------------------------------------------------------------------------------

_SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "object", "iframe"}
_BLOCK = {
    "p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "table", "thead", "tbody",
    "tfoot", "tr", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "form", "fieldset",
    "address", "center", "figure", "figcaption", "hr",
}  # fmt: skip


_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl", "hr", "form", "fieldset"}


class _HtmlText(HTMLParser):
    """Text of an HTML body: blocks become lines, <blockquote> lines get '> ' so quotes strip like plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.line_depth = 0
        self.depth = 0
        self.skip = 0
        self.pre = 0

    def _newline(self) -> None:
        text = "".join(self.current)
        self.current = []
        text = text.replace("\u00a0", " ").rstrip() if self.pre else re.sub(r"[ \t\r\n\f\u00a0]+", " ", text).strip()
        prefix = "> " * self.line_depth
        self.lines.append(prefix + text if text else prefix.rstrip())
        self.line_depth = self.depth

    def _break(self) -> None:
        if "".join(self.current).strip():
            self._newline()
        self.line_depth = self.depth

    def _paragraph(self) -> None:
        self._break()
        if self.lines and self.lines[-1].strip(" >"):
            self.lines.append(("> " * self.depth).rstrip())

    def _text(self, data: str) -> None:
        if not "".join(self.current).strip():
            self.line_depth = self.depth
        if self.pre and "\n" in data:
            chunks = data.split("\n")
            for chunk in chunks[:-1]:
                self.current.append(chunk)
                self._newline()
            self.current.append(chunks[-1])
        else:
            self.current.append(data)

    def _block(self, tag: str) -> None:
        if tag in _PARAGRAPH:
            self._paragraph()
        else:
            self._break()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
            return
        if tag == "body":
            self.skip = 0  # an unclosed <head> or <title> must not hide the body
            return
        if self.skip:
            return
        if tag == "br":
            self._newline()
        elif tag == "li":
            self._break()
            self._text("- ")
        elif tag in ("td", "th"):
            self.current.append(" ")
        elif tag == "blockquote":
            self._paragraph()
            self.depth += 1
            self.line_depth = self.depth
        elif tag == "pre":
            self._break()
            self.pre += 1
        elif tag in _BLOCK:
            self._block(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip or tag in _SKIP:
            return
        if tag == "br":
            self._newline()
        elif tag in _BLOCK:
            self._block(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "blockquote":
            self._break()
            self.depth = max(0, self.depth - 1)
            self._paragraph()
        elif tag == "pre":
            self._newline()
            self.pre = max(0, self.pre - 1)
        elif tag in _BLOCK or tag == "li":
            self._block(tag)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._text(data)

    def result(self) -> str:
        self._break()
        return _tidy("\n".join(self.lines))


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (stdlib html.parser: no dependency, never executes or fetches anything)."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this only guards pathological input
        return _tidy(re.sub(r"<[^>]*>", " ", html))
    return parser.result()


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    return "\n".join(out).strip()


# -- what the customer wrote ----------------------------------------------------------------------------------------

_ATTRIBUTION_START = re.compile(r"^\s*(el|on|le|em|am)\s", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r"^\s*(el|on|le|em|am)\s.*(escribi[oó]|wrote|a\s+[ée]crit|escreveu|schrieb)\s*:\s*$", re.IGNORECASE
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(original message|mensaje original|message d'origine|mensagem original|"
    r"urspr[üu]ngliche nachricht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_HEADER_FROM = re.compile(r"^\s*[*>]*\s*\*?(de|from)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\s*\*?(enviado|enviado el|sent|fecha|date|para|to|asunto|subject|cc|cco)\s*:", re.IGNORECASE
)
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^\s*(enviado desde mi|sent from my|enviado desde outlook|obtener outlook para|get outlook for|"
    r"enviado desde (correo|mail) para windows)\b",
    re.IGNORECASE,
)


def _outlook_block(lines: Sequence[str], index: int) -> bool:
    if not _HEADER_FROM.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 7] if line.strip()]
    return sum(1 for line in following[:5] if _HEADER_OTHER.match(line)) >= 2


def _attribution(lines: Sequence[str], index: int) -> bool:
    line = lines[index]
    if _ATTRIBUTION.match(line):
        return True
    if not _ATTRIBUTION_START.match(line):
        return False
    joined = line
    for extra in lines[index + 1 : index + 3]:  # Gmail wraps long attributions over two or three lines
        joined = f"{joined} {extra.strip()}"
        if _ATTRIBUTION.match(joined) and ("@" in joined or re.search(r"\d", joined)):
            return True
    return False


def strip_reply(text: str) -> str:
    """Only what the customer wrote: no quoted reply, no forwarded-original block, no signature.

    When nothing is left (a bare forward, a reply that is only a quote), the whole text is kept rather than lose
    the message.
    """
    full = _tidy(text)
    lines = full.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if (
            _SIGNATURE.match(line)
            or _ORIGINAL.match(line)
            or _attribution(lines, index)
            or _outlook_block(lines, index)
            or (_UNDERSCORES.match(line) and index + 1 < len(lines) and _outlook_block(lines, index + 1))
        ):
            break
        if line.lstrip().startswith(">") or _MOBILE.match(line):
            continue
        kept.append(line)
    result = _tidy("\n".join(kept))
    return result if result else full


# -- auto-replies and bounces ---------------------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(respuesta automatica|fuera de (la )?oficina|out of (the )?office|automatic reply|auto[- ]?reply|"
    r"autoreply|auto[- ]?response|reponse automatique|resposta automatica|abwesenheitsnotiz)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliverable:|undelivered mail|delivery status notification|mail delivery failed|"
    r"no se puede entregar:|returned mail:)",
    re.IGNORECASE,
)
_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def automatic_reason(
    headers: Message, subject: str, sender: str | None, envelope_sender: str | None = None
) -> str | None:
    """Why this message is machine-made (an auto-reply or a bounce), or None for a person's message."""
    content_type = clean_line(header_text(headers, "content-type") or "")
    if content_type.split(";", 1)[0].strip().lower() == "multipart/report":
        found = re.search(r"report-type\s*=\s*\"?([^\";\s]+)", content_type, re.IGNORECASE)
        report_type = found.group(1).lower() if found else "unknown"
        kind = "bounce" if report_type == "delivery-status" else "report"
        return f"{kind}: multipart/report; report-type={report_type} (RFC 3464/6522)"
    auto_submitted = header_text(headers, "auto-submitted")
    if auto_submitted is not None:
        value = clean_line(auto_submitted).split(";", 1)[0].strip().lower()
        if value and value != "no":
            return f"auto-reply: Auto-Submitted: {value} (RFC 3834)"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if header_text(headers, name) is not None:
            return f"auto-reply: {name} header"
    precedence = clean_line(header_text(headers, "precedence") or "").lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return f"auto-reply: Precedence: {precedence}"
    for address in (sender, envelope_sender):
        local = (address or "").strip().strip("<>").rsplit("@", 1)[0].strip().lower()
        if local in _DAEMONS:
            return f"bounce: sender {address}"
    if envelope_sender is not None and envelope_sender.strip() in ("", "<>"):
        return "bounce: null envelope sender (<>)"
    folded = _fold(re.sub(r"^\s*((re|rv|fw|fwd|aw)\s*:\s*)+", "", subject, flags=re.IGNORECASE))
    if _AUTO_SUBJECT.match(folded):
        return f"auto-reply: subject {subject[:80]!r}"
    if _BOUNCE_SUBJECT.match(folded):
        return f"bounce: subject {subject[:80]!r}"
    return None


def parse_headers(block: str) -> Message:
    """A raw header block (SendGrid's `headers` field) as a header-only Message."""
    return HeaderParser(policy=policy.default).parsestr(block.replace("\r\n", "\n").split("\n\n", 1)[0] + "\n\n")


def header_block(pairs: Iterable[tuple[str, str]]) -> Message:
    """A header-only Message from (name, value) pairs, for `automatic_reason` on providers that post headers."""
    lines = []
    for name, value in pairs:
        clean_name = re.sub(r"[^!-9;-~]", "", name)  # RFC 5322 ftext
        if clean_name:
            lines.append(f"{clean_name}: {clean_line(value)}")
    return HeaderParser(policy=policy.default).parsestr("\n".join(lines) + "\n\n")


# -- the parsed message -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEmail:
    """What guardia needs of one email, whichever way it arrived."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    sender_name: str | None
    sender_email: str | None
    subject: str
    date: datetime | None
    date_problem: str | None
    text: str
    attachments: tuple[Attachment, ...] = ()
    automatic: str | None = None
    fallback_id: str = ""
    notes: tuple[str, ...] = ()


def header_text(message: Message, name: str) -> str | None:
    """A header's decoded value; the raw value when the policy's parser gives up on a malformed header."""
    try:
        value = message.get(name)
        if value is None:
            return None
        text = str(value)
        if "\ufffd" not in text:
            return text
    except Exception:
        pass
    for key, raw in message.raw_items():
        if key.lower() == name.lower():
            return decode_words(_eight_bit(str(raw)))
    return None


def _eight_bit(raw: str) -> str:
    """A raw header with undeclared 8-bit bytes (RFC 6532 UTF-8, or a legacy client's Latin-1 / Windows-1252)."""
    try:
        data = raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return raw
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sender_of(value: str | None) -> tuple[str | None, str | None]:
    """(display name, lower-cased address) of a From value (RFC 2047 names decoded)."""
    if not value:
        return None, None
    try:
        pairs = getaddresses([clean_line(value)])
    except Exception:
        return None, None
    for name, address in pairs:
        if address and "@" in address:
            display = clean_line(decode_words(name)) or None
            return display, address.strip().lower()
    return None, None


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content.replace("\r\n", "\n")
    except Exception:
        pass
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, errors="replace").replace("\r\n", "\n")
        except LookupError:  # an unknown charset: UTF-8 if it is, else the usual Windows-1252
            try:
                return payload.decode("utf-8").replace("\r\n", "\n")
            except UnicodeDecodeError:
                return payload.decode("cp1252", errors="replace").replace("\r\n", "\n")
    raw = part.get_payload()
    return raw.replace("\r\n", "\n") if isinstance(raw, str) else ""


def _leaves(part: Message, depth: int = 0) -> Iterator[Message]:
    """Leaf parts; message/rfc822 stays a leaf (an attached email is an attachment, not more body)."""
    if depth > _MAX_DEPTH:
        return
    if part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    yield from _leaves(sub, depth + 1)
        return
    yield part


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    name = clean_line(decode_words(name)).replace("/", "_").replace("\\", "_")
    return name[:255] or None


def _content_id(part: Message) -> str | None:
    value = header_text(part, "content-id")
    if not value:
        return None
    return clean_line(value).strip("<>") or None


def _body_parts(message: Message) -> tuple[Message | None, Message | None]:
    """(text/plain, text/html) body parts, as `EmailMessage.get_body` chooses them."""
    plain: Message | None = None
    html: Message | None = None
    if isinstance(message, EmailMessage):
        try:
            plain = message.get_body(preferencelist=("plain",))
        except Exception:
            plain = None
        try:
            html = message.get_body(preferencelist=("html",))
        except Exception:
            html = None
    if plain is None and html is None and message.get_content_maintype() == "text":
        subtype = message.get_content_subtype()
        if subtype == "html":
            html = message
        elif _disposition(message) != "attachment":
            plain = message
    return plain, html


_REPORT_PARTS = {"message/delivery-status", "text/rfc822-headers", "message/disposition-notification"}


def referenced_cids(html: str) -> set[str]:
    """Content-IDs the HTML shows inline (`cid:`): those parts are pictures in the body, not attachments."""
    return {m.lower() for m in re.findall(r"cid:([^\"'\s>)]+)", html, flags=re.IGNORECASE)}


def _attachments(message: Message, body_parts: Sequence[Message], html: str) -> tuple[Attachment, ...]:
    referenced = referenced_cids(html)
    found: list[Attachment] = []
    for index, part in enumerate(_leaves(message), start=1):
        if any(part is body for body in body_parts):
            continue
        content_type = part.get_content_type()
        disposition = _disposition(part)
        name = _filename(part)
        cid = _content_id(part)
        if disposition != "attachment":
            if cid and cid.lower() in referenced:
                continue  # an inline image the HTML shows, not a file the customer sent
            if content_type in ("text/plain", "text/html") and not name:
                continue  # another body alternative
            if content_type in _REPORT_PARTS:
                continue
            if not name and part.get_content_maintype() not in ("image", "audio", "video", "application", "message"):
                continue
        if not name:
            extension = mimetypes.guess_extension(content_type) or ".bin"
            if content_type == "message/rfc822":
                extension = ".eml"
            name = f"adjunto-{index}{extension}"
        found.append(Attachment(name=name, content_type=content_type, size=_size(part)))
    return tuple(found)


def _size(part: Message) -> int | None:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return None
    if isinstance(payload, bytes):
        return len(payload)
    try:
        return len(part.as_bytes())
    except Exception:
        return None


def parse_message(raw: bytes) -> ParsedEmail:
    """Parse one RFC 5322 message (never raises: the email package records defects instead)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    subject = clean_line(header_text(message, "subject") or "")
    sender_name, sender_email = sender_of(header_text(message, "from"))
    date_value = header_text(message, "date")
    date = parse_date(date_value)
    problem = None if date else ("missing Date header" if not date_value else f"unparseable Date {date_value[:60]!r}")
    plain_part, html_part = _body_parts(message)
    html = _part_text(html_part) if html_part is not None else ""
    text = _part_text(plain_part) if plain_part is not None else ""
    if not text.strip() and html.strip():
        text = html_to_text(html)
    body_parts = [part for part in (plain_part, html_part) if part is not None]
    return ParsedEmail(
        message_id=normalize_message_id(header_text(message, "message-id")),
        in_reply_to=header_text(message, "in-reply-to"),
        references=message_ids(header_text(message, "references")),
        sender_name=sender_name,
        sender_email=sender_email,
        subject=subject,
        date=date,
        date_problem=problem,
        text=text,
        attachments=_attachments(message, body_parts, html),
        automatic=automatic_reason(message, subject, sender_email, header_text(message, "return-path")),
        fallback_id=sha256_id(raw),
    )


# -- the canonical contact ------------------------------------------------------------------------------------------


def _customer(name: str | None, address: str | None) -> Customer | None:
    if not address:
        return None
    name = name[:200] if name else None
    try:
        return Customer(name=name, email=address)
    except ValidationError:
        return None


def contact_from(
    parsed: ParsedEmail, provider: str, config: ChannelConfig, raw_event: str, received_fallback: datetime | None = None
) -> Normalization:
    """The Normalization of one parsed email (ignore machine mail, reject what cannot be a contact, else emit)."""
    if parsed.automatic:
        return Normalization.ignore(parsed.automatic)
    customer = _customer(parsed.sender_name, parsed.sender_email)
    if customer is None:
        return Normalization.reject("schema_violation", "From: no valid sender address")
    now = now_of(config)
    notes = list(parsed.notes)
    received_at = parsed.date
    if received_at is None:
        received_at = received_fallback or now
        source = "the provider's timestamp" if received_fallback else "the receiving clock"
        notes.append(f"received_at from {source}: {parsed.date_problem or 'no Date'}")
    if received_at - now > FUTURE_LIMIT:
        return Normalization.reject(
            "timestamp_out_of_range", f"Date: {received_at.isoformat()} is more than 24 h in the future"
        )
    message_id = bounded_id(parsed.message_id) if parsed.message_id else parsed.fallback_id
    if not parsed.message_id:
        notes.append("no Message-ID: provider_message_id is a sha256 of the message")
    is_reply, thread_key = thread_of(message_id, parsed.in_reply_to, parsed.references)
    body = strip_reply(parsed.text)[:MAX_BODY_CHARS]
    subject = parsed.subject[:MAX_SUBJECT_CHARS]
    contact = CanonicalContact(
        channel=Channel.email,
        provider=provider,
        provider_message_id=message_id,
        customer=customer,
        subject=subject,
        body_text=body,
        attachments=parsed.attachments,
        received_at=received_at,
        is_reply=is_reply,
        thread_key=thread_key,
        hints=hints(f"{subject}\n{body}"),
        raw_event=raw_event,
    )
    return Normalization("emit", contacts=(contact,), reason="; ".join(notes))


def normalize_raw(raw: bytes, provider: str, config: ChannelConfig, raw_event: str) -> Normalization:
    """A whole MIME message (POST /webhooks/email, SendGrid raw mode, Mailgun body-mime)."""
    if not raw.strip():
        return Normalization.reject("schema_violation", "body: empty message")
    if len(raw) > MAX_MESSAGE_BYTES:
        return Normalization.reject("payload_too_large", f"body: {len(raw)} bytes, more than {MAX_MESSAGE_BYTES}")
    try:
        parsed = parse_message(raw)
    except Exception as exc:  # the parser is lenient; this guards the unknown
        return Normalization.reject("schema_violation", f"body: not an RFC 5322 message ({type(exc).__name__})")
    if parsed.sender_email is None and parsed.message_id is None and not parsed.subject:
        return Normalization.reject("schema_violation", "body: no email headers (From, Message-ID, Subject) found")
    try:
        return contact_from(parsed, provider, config, raw_event)
    except ValidationError as exc:
        return Normalization.reject("schema_violation", f"contact: {exc.errors()[0].get('msg', 'invalid')}")


def normalize(request: RawRequest, config: ChannelConfig) -> Normalization:
    """POST /webhooks/email with `Content-Type: message/rfc822`: the body is the message."""
    content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type and content_type != "message/rfc822":
        return Normalization.reject("schema_violation", f"Content-Type: expected message/rfc822, got {content_type!r}")
    return normalize_raw(request.body, PROVIDER, config, "message/rfc822")
