"""One rendered message fitted to each channel: what it renders, how long it may be, what an SMS costs."""

from __future__ import annotations

import html
import re

from services.notify.formatting import SMS_MAX, WHATSAPP_MAX, as_html, for_channel, plain, shorten

ACK = ("Hola Ana,\n\nRecibimos tu solicitud «Factura <rechazada> & duplicada». Tu número de tique es *NS-000123*; "
       "por favor menciónalo.\n\nTipo: Problema 🙏\nDetalles en https://soporte.example.co/t?id=1&x=2.\n\nEquipo")


def test_whatsapp_and_the_staff_webhook_keep_the_bold_they_render() -> None:
    assert "*NS-000123*" in for_channel(ACK, "whatsapp")
    assert "*NS-000123*" in for_channel(ACK, "webhook")
    assert "🙏" in for_channel(ACK, "whatsapp")


def test_channels_that_would_show_asterisks_get_the_words_only() -> None:
    for channel in ("telegram", "email"):
        text = for_channel(ACK, channel)
        assert "tique es NS-000123;" in text and "*" not in text


def test_an_asterisk_that_is_not_markup_stays() -> None:
    assert plain("2 * 3 = 6 y 4*5") == "2 * 3 = 6 y 4*5"
    assert plain("*a* y *b c*") == "a y b c"


def test_an_sms_has_no_emoji_no_markup_and_keeps_its_accents() -> None:
    sms = for_channel(ACK, "sms")
    assert "🙏" not in sms and "*" not in sms
    assert "número de tique es NS-000123" in sms  # Spanish stays Spanish
    assert "\n\n\n" not in sms


def test_long_messages_are_cut_at_a_word_with_an_ellipsis_within_each_limit() -> None:
    long = "palabra " * 1000
    sms, wa = for_channel(long, "sms"), for_channel(long * 2, "whatsapp")
    assert len(sms) <= SMS_MAX and sms.endswith("palabra…")
    assert len(wa) <= WHATSAPP_MAX and wa.endswith("palabra…")
    assert shorten("corto", 10) == "corto"


def test_the_html_part_escapes_the_customers_words_and_says_what_the_text_part_says() -> None:
    page = as_html(ACK)
    assert "<rechazada>" not in page and "&lt;rechazada&gt; &amp; duplicada" in page
    assert "<strong>NS-000123</strong>" in page
    assert '<a href="https://soporte.example.co/t?id=1&amp;x=2">' in page  # the link, without the final dot
    assert page.count("<p>") == 4 and '<html lang="es">' in page
    words = html.unescape(re.sub(r"<[^>]+>", "", page.split("<body", 1)[1].split(">", 1)[1]))
    assert words.split() == for_channel(ACK, "email").split()
