"""triage's part of the tenant policy: the vocabulary its first rule set matches.

The built-in Spanish vocabulary (vocabulary_es.yaml) is the base; a tenant's `triage.vocabulary`
adds phrases to any list (README: "Adding vocabulary"). The same merged vocabulary feeds the hard rules
(rules.py) and the statistical model's rule features (model.py), so a tenant's phrases act at once as
rules and, on retraining, as model features.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from shared.schemas import Area, Category, TicketType

from .normalize import PhraseIndex, normalize, respell

BASE_VOCABULARY = Path(__file__).with_name("vocabulary_es.yaml")


class Vocabulary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    spelling: dict[str, str] = Field(default_factory=dict, description="word -> canonical word (typos, chat).")
    not_a_request: tuple[str, ...] = Field(default=(), description="Courtesy: no request in a short message.")
    automated: tuple[str, ...] = Field(
        default=(), description="Auto-replies, mass mailings, invites, closing call notes: no request at any length.")
    types: dict[TicketType, tuple[str, ...]] = Field(default_factory=dict)
    priority: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    areas: dict[Area, tuple[str, ...]] = Field(default_factory=dict)
    categories: dict[Category, tuple[str, ...]] = Field(default_factory=dict)
    abusive: tuple[str, ...] = ()

    def phrase_lists(self) -> dict[str, tuple[str, ...]]:
        """Every phrase list by name (`type:bug`, `priority:urgente`, `area:acceso`...): what the hard
        rules read and what the model's rule features count."""
        lists: dict[str, tuple[str, ...]] = {
            "not_a_request": self.not_a_request, "automated": self.automated, "abusive": self.abusive}
        lists.update({f"type:{t.value}": p for t, p in self.types.items()})
        lists.update({f"priority:{k}": p for k, p in self.priority.items()})
        lists.update({f"area:{a.value}": p for a, p in self.areas.items()})
        lists.update({f"category:{c.value}": p for c, p in self.categories.items()})
        return lists

    def normalized(self, text: str) -> str:
        """The text as every list is matched on: normalized, then respelled with `spelling`."""
        return respell(normalize(text), self.spelling)

    def read(self, text: str) -> tuple[str, dict[str, list[str]]]:
        """The normalized text and every list's phrases found in it: what the hard rules and the model's
        rule features are both made of (computed once per message, shared by both)."""
        norm = self.normalized(text)
        return norm, self.index().match(norm)

    def index(self) -> PhraseIndex:
        """The compiled index of `phrase_lists`, built once per process and vocabulary."""
        key = self.model_dump_json()
        found = _INDEXES.get(key)
        if found is None:
            found = _INDEXES[key] = PhraseIndex(self.phrase_lists())
        return found


_INDEXES: dict[str, PhraseIndex] = {}


class TriagePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    review_below: float = Field(default=0.6, ge=0, le=1, description="Confidence under which a human reviews.")
    vocabulary: dict[str, Any] = Field(default_factory=dict, description="Phrases added to the base lists.")

    def merged_vocabulary(self) -> Vocabulary:
        return Vocabulary.model_validate(_merge(_base_vocabulary(), self.vocabulary))


@cache
def _base_vocabulary() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(BASE_VOCABULARY.read_text(encoding="utf-8"))
    return loaded


def _merge(base: Any, extra: Any) -> Any:
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return [*base, *(x for x in extra if x not in base)]
    return extra if extra is not None else base
