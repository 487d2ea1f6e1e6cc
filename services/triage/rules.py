"""The first triage rule set: keywords from the seeds, decisions that cite their rule.

Pure: text in, decision out. The statistical model and its corpus come with the triage issue; this
rule set is what it is measured against and what explains the obvious cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.schemas import Area, Category, Priority, Reason, TicketType

from .normalize import normalize, phrase_pattern
from .policy import Vocabulary

CLASSIFIER = "keywords-001/1"

#: When two types match equally, the more specific one wins (001 §3.2 definitions).
_TYPE_ORDER = (
    TicketType.bug,
    TicketType.anomalia,
    TicketType.solicitud,
    TicketType.usabilidad,
    TicketType.problema,
    TicketType.pregunta,
)


@dataclass(frozen=True)
class Decision:
    ticket_type: TicketType | None
    priority: Priority
    area: Area
    categories: tuple[Category, ...]
    playbook: str | None
    abusive: bool
    confidence: float
    reasons: tuple[Reason, ...]
    classifier: str = CLASSIFIER


@dataclass
class _Matcher:
    """Compiled phrase lists, built once per tenant vocabulary."""

    vocabulary: Vocabulary
    _cache: dict[str, list[tuple[str, re.Pattern[str]]]] = field(default_factory=dict)

    def hits(self, key: str, phrases: tuple[str, ...], text: str) -> list[str]:
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = [(p, phrase_pattern(p)) for p in phrases]
            self._cache[key] = compiled
        return [p for p, pattern in compiled if pattern.search(text)]


class Classifier:
    def __init__(self, vocabulary: Vocabulary, review_below: float = 0.6) -> None:
        self.vocabulary = vocabulary
        self.review_below = review_below
        self._m = _Matcher(vocabulary)

    def classify(self, subject: str, text: str) -> Decision:
        norm = normalize(f"{subject}\n{text}")
        v = self.vocabulary
        reasons: list[Reason] = []

        type_hits = {t: self._m.hits(f"type:{t}", v.types.get(t, ()), norm) for t in _TYPE_ORDER}
        scores = {t: len(h) for t, h in type_hits.items()}
        best = max(_TYPE_ORDER, key=lambda t: (scores[t], -_TYPE_ORDER.index(t)))
        ticket_type: TicketType | None = best if scores[best] else None
        confidence = 0.5
        if ticket_type is not None:
            ranked = sorted(scores.values(), reverse=True)
            margin = ranked[0] - ranked[1]
            confidence = 0.9 if margin >= 2 else 0.75 if margin == 1 else 0.6
            reasons.append(Reason(rule=f"001 §3.2 tipo {ticket_type.value}", detail=", ".join(type_hits[best])))
        else:
            courtesy = self._m.hits("not_a_request", v.not_a_request, norm)
            if courtesy and len(norm.split()) <= 12:
                reasons.append(Reason(rule="not a request", detail=", ".join(courtesy)))
                confidence = 0.8
            elif "?" in norm:
                ticket_type = TicketType.pregunta
                reasons.append(Reason(rule="001 §3.2 pregunta: a question with no other signal"))
            else:
                ticket_type = TicketType.problema
                confidence = 0.4
                reasons.append(Reason(rule="fallback: no rule matched, problema for a human to review"))

        categories = tuple(
            c for c, phrases in v.categories.items() if self._m.hits(f"cat:{c}", phrases, norm)
        )
        priority = self._priority(norm, ticket_type, reasons)
        area = self._area(norm, reasons)
        abusive_hits = self._m.hits("abusive", v.abusive, norm)
        if abusive_hits:
            reasons.append(Reason(rule="003 lenguaje abusivo", detail=", ".join(abusive_hits)))
        playbook = _playbook(ticket_type, categories)
        if playbook:
            reasons.append(Reason(rule=f"001 §3.4.1 {playbook}"))
        return Decision(
            ticket_type=ticket_type,
            priority=priority,
            area=area,
            categories=categories,
            playbook=playbook,
            abusive=bool(abusive_hits),
            confidence=confidence,
            reasons=tuple(reasons),
        )

    def _priority(self, norm: str, ticket_type: TicketType | None, reasons: list[Reason]) -> Priority:
        p = self.vocabulary.priority
        if ticket_type is None:
            return Priority.baja
        urgent = self._m.hits("p:urgente", p.get("urgente", ()), norm)
        if urgent:
            reasons.append(Reason(rule="001 §3.2 urgente: no puede acceder u operar", detail=", ".join(urgent)))
            return Priority.urgente
        edocs = self._m.hits("p:edocs", p.get("electronic_documents", ()), norm)
        blocking = self._m.hits("p:blocking", p.get("blocking", ()), norm)
        if edocs and blocking and ticket_type is not TicketType.pregunta:
            reasons.append(Reason(rule="001 §3.2 alta: no puede emitir documentos electrónicos",
                                  detail=", ".join(edocs + blocking)))
            return Priority.alta
        high = self._m.hits("p:alta", p.get("alta", ()), norm)
        if high and ticket_type is TicketType.solicitud:
            reasons.append(Reason(rule="001 §3.4.1 clientes nuevos / puesta en vivo: alta", detail=", ".join(high)))
            return Priority.alta
        low = self._m.hits("p:baja", p.get("baja", ()), norm)
        if low or ticket_type in (TicketType.pregunta, TicketType.usabilidad, TicketType.solicitud):
            reasons.append(Reason(rule="001 §3.2 baja: no requiere acción inmediata"))
            return Priority.baja
        reasons.append(Reason(rule="001 §3.2 media: perturba pero hay alternativa"))
        return Priority.media

    def _area(self, norm: str, reasons: list[Reason]) -> Area:
        best, best_hits = Area.otro, list[str]()
        for area, phrases in self.vocabulary.areas.items():
            hits = self._m.hits(f"area:{area}", phrases, norm)
            if len(hits) > len(best_hits):
                best, best_hits = area, hits
        if best_hits:
            reasons.append(Reason(rule=f"003 área {best.value}", detail=", ".join(best_hits)))
        return best


def _playbook(ticket_type: TicketType | None, categories: tuple[Category, ...]) -> str | None:
    """001 §3.4.1: the identified incident types and how each is handled."""
    cats = set(categories)
    if Category.bajar_base in cats:
        return "bajar_base"
    if Category.ambiente_de_pruebas in cats:
        return "ambiente_de_pruebas"
    if Category.activacion in cats and ticket_type is TicketType.solicitud:
        return "clientes_nuevos"
    if Category.modulos in cats and ticket_type is TicketType.solicitud:
        return "instalaciones_actualizaciones"
    if Category.documentos_electronicos in cats and ticket_type in (TicketType.bug, TicketType.problema):
        return "emision_documentos_electronicos"
    if ticket_type is TicketType.anomalia:
        return "desconfiguracion"
    if ticket_type is TicketType.bug:
        return "errores_sistema"
    return None
