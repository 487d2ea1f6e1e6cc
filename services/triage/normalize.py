"""Spanish text normalization for matching: case, accents, punctuation, spacing."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9?ñ]+")


def normalize(text: str) -> str:
    """'¿Cómo TIMBRO la nómina?' -> 'como timbro la nomina ?' (ñ folds to n as well)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", stripped.replace("?", " ? ")).split())


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Whole-word match of a normalized phrase; a trailing stem like 'rechaz' matches its forms."""
    norm = normalize(phrase)
    if len(norm) <= 6 and " " not in norm and norm.endswith(("z", "c")):
        return re.compile(rf"\b{re.escape(norm)}\w*")
    return re.compile(rf"\b{re.escape(norm)}\b")
