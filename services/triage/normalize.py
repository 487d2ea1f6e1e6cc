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
from collections.abc import Mapping, Sequence

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


class PhraseIndex:
    """Named phrase lists, all matched in one pass over a text: `match(norm) -> {list name: hits}`.

    The hard rules (rules.py) and the model's rule features (model.py) read the same ~30 lists of the
    same message. Each phrase's regex runs only where the text has its first word (or that word's plural,
    or a word a short stem prefixes), found with one dictionary look-up per word of the text for every
    list at once: matching costs about the same for thirty lists as for one.
    """

    def __init__(self, lists: Mapping[str, Sequence[str]]) -> None:
        self._each: list[tuple[str, str, re.Pattern[str]]] = []  # (list name, phrase, pattern), in list order
        self._by_word: dict[str, list[int]] = {}
        self._stems: dict[str, list[int]] = {}  # short stems ('rechaz') start any word they prefix
        for name, phrases in lists.items():
            for phrase in phrases:
                i = len(self._each)
                self._each.append((name, phrase, phrase_pattern(phrase)))
                norm = normalize(phrase)
                words = norm.split(" ")
                first = words[0]
                if len(norm) <= 6 and len(words) == 1 and norm.endswith(("z", "c")):
                    self._stems.setdefault(first, []).append(i)
                    continue
                forms = (first, f"{first}s", f"{first}es", f"{first[:-1]}ces") if len(words) == 1 else (first,)
                for form in dict.fromkeys(forms):
                    self._by_word.setdefault(form, []).append(i)
        self._stem_lengths = sorted({len(stem) for stem in self._stems})

    def match(self, norm: str) -> dict[str, list[str]]:
        """The lists with a phrase in the normalized text -> their phrases found, each list's in its own
        order (a list with none is absent)."""
        candidates: dict[int, list[int]] = {}  # phrase -> where in the text its first word starts
        by_word, stems, stem_lengths = self._by_word, self._stems, self._stem_lengths
        at = 0
        for w in norm.split(" "):
            for i in by_word.get(w, ()):
                candidates.setdefault(i, []).append(at)
            for k in stem_lengths:
                for i in stems.get(w[:k], ()) if len(w) >= k else ():
                    candidates.setdefault(i, []).append(at)
            at += len(w) + 1
        out: dict[str, list[str]] = {}
        each = self._each
        for i in sorted(candidates):
            name, phrase, pattern = each[i]
            for offset in candidates[i]:
                if pattern.match(norm, offset):
                    hits = out.setdefault(name, [])
                    if phrase not in hits:
                        hits.append(phrase)
                    break
        return out
