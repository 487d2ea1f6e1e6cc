"""Spanish text normalization for matching: case, accents, punctuation, spacing, spelling variants.

`normalize` folds case and accents and keeps words, digits and '?'. `respell` then rewrites whole words
with the vocabulary's `spelling` map (chat abbreviations and frequent typos: "xq" -> "porque",
"fatura" -> "factura"), so one phrase in the vocabulary matches every way customers write it.
`phrase_pattern` matches a phrase as whole words, with the plural of its last word ("factura" also
finds "facturas", "resolucion" finds "resoluciones").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import cache

_NON_WORD = re.compile(r"[^a-z0-9?ñ]+")


def normalize(text: str) -> str:
    """'¿Cómo TIMBRO la nómina?' -> 'como timbro la nomina ?' (ñ folds to n as well)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", stripped.replace("?", " ? ")).split())


def respell(norm: str, spelling: Mapping[str, str]) -> str:
    """Replace whole normalized words by their canonical spelling ('q' -> 'que'); other words stay."""
    if not spelling:
        return norm
    return " ".join(spelling.get(word, word) for word in norm.split(" "))


def _plural(word: str) -> str:
    """A regex for a normalized Spanish word and its plural: factura(s), resolucion(es), pais(es)."""
    w = re.escape(word)
    if word.isdigit() or len(word) < 3:
        return w
    if word.endswith("z"):
        return f"{re.escape(word[:-1])}(?:z|ces)"
    if word.endswith(("a", "e", "i", "o", "u")):
        return f"{w}s?"
    if word.endswith("s"):
        return w
    return f"{w}(?:es)?"


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Whole-word match of a normalized phrase and the plural of its last word.

    A short stem that ends like 'rechaz' matches all its forms (rechaza, rechazo, rechazadas).
    """
    norm = normalize(phrase)
    if len(norm) <= 6 and " " not in norm and norm.endswith(("z", "c")):
        return re.compile(rf"\b{re.escape(norm)}\w*")
    if not norm:
        return re.compile(r"(?!x)x")  # an empty phrase matches nothing
    *head, last = norm.split(" ")
    body = "".join(f"{re.escape(w)} " for w in head) + _plural(last)
    return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")


class PhraseList:
    """A list of phrases matched on one text. A phrase's regex only runs when its first word is in the text.

    Build one with `phrase_list`: the hard rules (rules.py) and the model's rule features (model.py)
    match the same lists on the same normalized text, one after the other, so a list shared between
    them and remembering its last answer does the matching once per message instead of twice.
    """

    def __init__(self, phrases: tuple[str, ...] | list[str]) -> None:
        self.phrases = tuple(phrases)
        self._last: tuple[str, list[str]] | None = None  # (norm, hits), replaced as one tuple
        self._each: list[tuple[str, re.Pattern[str]]] = []
        # Which phrases a word can start: a text only tries the regexes of the phrases whose first
        # word (or its plural) it contains, found by one dictionary look-up per word of the text.
        self._by_word: dict[str, list[int]] = {}
        self._stems: list[tuple[int, str]] = []  # short stems ('rechaz') start any word they prefix
        for i, p in enumerate(self.phrases):
            norm = normalize(p)
            words = norm.split(" ")
            first = words[0]
            self._each.append((p, phrase_pattern(p)))
            if len(norm) <= 6 and len(words) == 1 and norm.endswith(("z", "c")):
                self._stems.append((i, first))
                continue
            forms = (first, f"{first}s", f"{first}es", f"{first[:-1]}ces") if len(words) == 1 else (first,)
            for form in dict.fromkeys(forms):
                self._by_word.setdefault(form, []).append(i)

    def hits(self, norm: str) -> list[str]:
        last = self._last
        if last is not None and last[0] == norm:
            return list(last[1])
        found = self._match(norm)
        self._last = (norm, found)
        return list(found)

    def _match(self, norm: str) -> list[str]:
        # where each word of the text starts: a phrase is tried only where its first word is
        starts: dict[str, list[int]] = {}
        at = 0
        for w in norm.split(" "):
            starts.setdefault(w, []).append(at)
            at += len(w) + 1
        candidates: dict[int, list[int]] = {}
        for w, offsets in starts.items():
            for i in self._by_word.get(w, ()):
                candidates.setdefault(i, []).extend(offsets)
        for i, stem in self._stems:
            for w, offsets in starts.items():
                if w.startswith(stem):
                    candidates.setdefault(i, []).extend(offsets)
        out = []
        for i in sorted(candidates):  # in the list's order, as the rules read them
            phrase, pattern = self._each[i]
            if any(pattern.match(norm, offset) for offset in candidates[i]):
                out.append(phrase)
        return out


@cache
def phrase_list(phrases: tuple[str, ...]) -> PhraseList:
    """The one compiled PhraseList for these phrases in this process (see PhraseList)."""
    return PhraseList(phrases)
