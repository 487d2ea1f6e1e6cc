"""One rendered message, fitted to each channel: what it renders, how long it may be, what it costs.

Templates are written once, in plain text with WhatsApp's own light markup (`*bold*`), because WhatsApp is
where most customers of the seeds write (000, 001) and it renders exactly that. Every other channel gets the
same words fitted to it:

- WhatsApp: as written; a text body holds at most 4,096 characters (notify-facts.md §1). No HTML.
- Slack-compatible staff webhooks: `*bold*` is Slack's mrkdwn too; as written.
- Telegram: sent without `parse_mode` (a customer's subject with `<` or `.` breaks HTML and MarkdownV2
  parsing, notify-facts.md §2), so the markers are dropped rather than shown; the transport splits at 4,096.
- SMS: no markers, no emoji (one emoji turns a 160-character GSM-7 segment into a 70-character UCS-2 one and
  basic phones show a box), blank lines squeezed, at most 1,600 characters (Twilio's limit, error 21617).
- E-mail: the text part without markers, and an HTML part from the same words (escaped, paragraphs, `*bold*`
  as <strong>, links clickable), so both parts always say the same thing.

Hand-written rather than a Markdown library: the markup is one construct, and a Markdown renderer would
also act on the customer's own text quoted in a message (`_`, `#`, `1.` at a line start).
"""

from __future__ import annotations

import html
import re

WHATSAPP_MAX = 4096
SMS_MAX = 1600

#: `*bold*` as WhatsApp reads it: the asterisks hug the words (no space inside), on one line.
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)]")
#: Emoji and pictographs, their joiners and variation selectors (what forces UCS-2 in an SMS).
_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U00002B00-\U00002BFF\U0001F900-\U0001F9FF"
    "\U0000FE0F\U0000200D\U000020E3\U0001F1E6-\U0001F1FF]+"
)


def plain(text: str) -> str:
    """The words without the markup: for channels that would show the asterisks."""
    return _BOLD.sub(r"\1", text)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a line or word boundary, with an ellipsis that says it was cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = max(cut.rfind("\n"), cut.rfind(" "))
    if boundary > limit // 2:
        cut = cut[:boundary]
    return cut.rstrip() + "…"


def for_sms(text: str) -> str:
    without = _EMOJI.sub("", plain(text))
    lines = [re.sub(r"[ \t]{2,}", " ", line).strip() for line in without.splitlines()]
    squeezed = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return shorten(squeezed, SMS_MAX)


def for_channel(text: str, channel: str) -> str:
    """The body a channel's transport sends."""
    if channel in ("whatsapp", "webhook"):
        return shorten(text, WHATSAPP_MAX)
    if channel == "sms":
        return for_sms(text)
    return plain(text)  # telegram (split by its transport), email's text part, the outbox file


def as_html(text: str, lang: str = "es") -> str:
    """The HTML part of an e-mail: the same words as the text part, escaped, with paragraphs and links."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph, quote=False)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        bold = _BOLD.sub(r"<strong>\1</strong>", linked)
        rendered.append("<p>" + bold.replace("\n", "<br>\n") + "</p>")
    body = "\n".join(rendered)
    style = "font-family: Arial, sans-serif; font-size: 14px; line-height: 1.5"
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"></head>\n'
            f'<body style="{style}">\n{body}\n</body></html>\n')
