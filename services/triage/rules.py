"""Triage decisions: the seeds' hard rules and the statistical model, each decision citing its rule.

Two layers (services/triage/README.md explains them with their measured accuracy):

* `KeywordClassifier` is the first keyword rule set from 001/003/004: phrase lists per label from the
  tenant's vocabulary. It is the benchmark's baseline, and its phrase hits are what the hard rules and
  the model's rule features are made of.
* `Classifier` is what the triage service and `guardia classify` run. The model (model.py) proposes
  type, priority, area and categories with probabilities; the seed rules that are hard decide over it
  when they fire, and explain themselves in `reasons`:
    - 001 §3.2 urgente: cannot access or operate the platform / the point of sale (vocabulary
      `priority.urgente`); the word "URGENTE" is not in that list and the model is not allowed to make a
      ticket urgente on its own unless it is sure (`URGENT_BY_MODEL`);
    - 001 §3.2 alta: cannot issue electronic documents (`priority.electronic_documents` + `blocking`),
      001 §3.4.1 clientes nuevos / puesta en vivo (`priority.alta` on a solicitud);
    - 001 §3.2 baja: pregunta, usabilidad and no-request tickets need no immediate action; test
      environments and suspensions (`priority.baja`, 001 §3.4.1 ambiente de pruebas / bajar base);
    - 001 §3.2 bug: technical output the user cannot understand (vocabulary `types.bug`);
    - not a request: a short courtesy message with no request (vocabulary `not_a_request`), or, at any
      length, what a machine or a mass sender writes and a call that ends with no request (vocabulary
      `automated`: auto-replies, out-of-office, newsletters, marketing, calendar invites), unless it
      carries technical output or a seed impact rule fires;
    - 003 abusive language: denigrating people (vocabulary `abusive`, or the model when it is sure),
      not swearing at an error;
    - 001 §3.4.1 playbook, derived from type and categories.
  The model decides where those rules are silent. Confidence is the model's probability of the final
  labels, raised when the rules agree and lowered when they disagree; under the policy's
  `review_below` the ticket is marked for human review.

Pure: text in, decision out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from shared.schemas import Area, Category, Priority, Reason, TicketType

from .model import NONE, Prediction, TriageModel, trained_model
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

#: The model alone (no urgent phrase matched) makes a ticket urgente only above this probability.
URGENT_BY_MODEL = 0.6
#: The model's "no request" yields to a request phrase of the vocabulary unless it is at least this sure.
NONE_OVER_KEYWORDS = 0.9
#: ... and with no courtesy nor insult in it, unless it is at least this sure (else a human reviews a request).
NONE_UNSAID = 0.9
#: 003: a put-down the abusive list does not name is abusive when the model is at least this sure (the
#: list still decides alone when it matches; cross-validated on train: F1 0.915 for list-or-model vs 0.906 list).
ABUSIVE_BY_MODEL = 0.5
#: Between the model's first two types closer than this, the one the keyword rules name wins.
TIE_MARGIN = 0.1
#: Confidence the hard rules give their own decision when the model proposes nothing better.
RULE_CONFIDENCE = 0.9
#: Longest courtesy message ("muchas gracias, ya quedó todo") taken for no request by the rule alone.
COURTESY_MAX_WORDS = 12
#: A category the model proposes on its own, with no phrase of its list in the text, needs this probability.
CATEGORY_BY_MODEL = 0.5
#: ... and with a phrase of its list in the text, this one.
CATEGORY_WITH_RULE = 0.2


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
    model_changed: bool = False  # the model changed a label the keyword rules alone would have given


@dataclass(frozen=True)
class _Signals:
    """What the vocabulary finds in one normalized message."""

    norm: str
    hits: dict[str, list[str]]  # every vocabulary list's phrases found (`Vocabulary.phrase_lists` names)
    types: dict[TicketType, list[str]]
    courtesy: list[str]
    automated: list[str]
    urgent: list[str]
    edocs: list[str]
    blocking: list[str]
    high: list[str]
    low: list[str]
    partial: list[str]
    areas: dict[Area, list[str]]
    categories: dict[Category, list[str]]
    abusive: list[str]

    @property
    def is_courtesy(self) -> bool:
        """A short greeting, thanks or auto-reply with no request phrase in it."""
        return bool(self.courtesy) and not any(self.types.values()) and len(self.norm.split()) <= COURTESY_MAX_WORDS

    @property
    def is_automated(self) -> bool:
        """An auto-reply, a mailing, an invite or a closing call note, with nothing the seeds act on in it."""
        return (bool(self.automated) and not self.types[TicketType.bug] and not self.urgent
                and not (self.edocs and self.blocking))


class KeywordClassifier:
    """The first rule set: keyword lists only (the baseline the model is measured against)."""

    def __init__(self, vocabulary: Vocabulary, review_below: float = 0.6) -> None:
        self.vocabulary = vocabulary
        self.review_below = review_below

    def signals(self, subject: str, text: str) -> _Signals:
        v = self.vocabulary
        norm, hits = v.read(f"{subject}\n{text}")

        def of(name: str) -> list[str]:
            return hits.get(name, [])

        return _Signals(
            norm=norm,
            hits=hits,
            types={t: of(f"type:{t.value}") for t in _TYPE_ORDER},
            courtesy=of("not_a_request"),
            automated=of("automated"),
            urgent=of("priority:urgente"),
            edocs=of("priority:electronic_documents"),
            blocking=of("priority:blocking"),
            high=of("priority:alta"),
            low=of("priority:baja"),
            partial=of("priority:partial"),
            areas={a: of(f"area:{a.value}") for a in v.areas},
            categories={c: of(f"category:{c.value}") for c in v.categories},
            abusive=of("abusive"),
        )

    def classify(self, subject: str, text: str) -> Decision:
        return self.decide(self.signals(subject, text))

    def decide(self, s: _Signals) -> Decision:
        reasons: list[Reason] = []
        scores = {t: len(h) for t, h in s.types.items()}
        best = max(_TYPE_ORDER, key=lambda t: (scores[t], -_TYPE_ORDER.index(t)))
        ticket_type: TicketType | None = best if scores[best] else None
        confidence = 0.5
        if s.is_automated:
            ticket_type, confidence = None, RULE_CONFIDENCE
            reasons.append(Reason(rule="not a request", detail=", ".join(s.automated)))
        elif ticket_type is not None:
            ranked = sorted(scores.values(), reverse=True)
            margin = ranked[0] - ranked[1]
            confidence = 0.9 if margin >= 2 else 0.75 if margin == 1 else 0.6
            reasons.append(Reason(rule=f"001 §3.2 tipo {ticket_type.value}", detail=", ".join(s.types[best])))
        elif s.is_courtesy:
            reasons.append(Reason(rule="not a request", detail=", ".join(s.courtesy)))
            confidence = 0.8
        elif "?" in s.norm:
            ticket_type = TicketType.pregunta
            reasons.append(Reason(rule="001 §3.2 pregunta: a question with no other signal"))
        else:
            ticket_type = TicketType.problema
            confidence = 0.4
            reasons.append(Reason(rule="fallback: no rule matched, problema for a human to review"))

        categories = tuple(c for c, hits in s.categories.items() if hits) if ticket_type is not None else ()
        priority = _keyword_priority(s, ticket_type, reasons)
        area = Area.otro
        area_hits: list[str] = []
        for a, hits in s.areas.items() if ticket_type is not None else ():  # 003: no request -> otro
            if len(hits) > len(area_hits):
                area, area_hits = a, hits
        if area_hits:
            reasons.append(Reason(rule=f"003 área {area.value}", detail=", ".join(area_hits)))
        if s.abusive:
            reasons.append(Reason(rule="003 lenguaje abusivo", detail=", ".join(s.abusive)))
        playbook = playbook_for(ticket_type, categories)
        if playbook:
            reasons.append(Reason(rule=f"001 §3.4.1 {playbook}"))
        return Decision(ticket_type=ticket_type, priority=priority, area=area, categories=categories,
                        playbook=playbook, abusive=bool(s.abusive), confidence=confidence, reasons=tuple(reasons))


def _keyword_priority(s: _Signals, ticket_type: TicketType | None, reasons: list[Reason]) -> Priority:
    rule = priority_rule(s, ticket_type)
    if rule is not None:
        if rule[1] is not None:
            reasons.append(rule[1])
        return rule[0]
    if ticket_type is TicketType.solicitud:
        reasons.append(Reason(rule="001 §3.2 baja: no requiere acción inmediata"))
        return Priority.baja
    reasons.append(Reason(rule="001 §3.2 media: perturba pero hay alternativa"))
    return Priority.media


def priority_rule(s: _Signals, ticket_type: TicketType | None) -> tuple[Priority, Reason | None] | None:
    """001 §3.2 / §3.4.1: the priority the seeds fix for this message, if any (no reason: 'not a request' says it)."""
    if ticket_type is None:
        return Priority.baja, None
    if s.partial and (s.urgent or (s.edocs and s.blocking)):
        return Priority.media, Reason(rule="001 §3.2 media: solo una parte está detenida, el resto opera",
                                      detail=", ".join(s.partial))
    if s.urgent:
        return Priority.urgente, Reason(rule="001 §3.2 urgente: no puede acceder u operar", detail=", ".join(s.urgent))
    if ticket_type in (TicketType.pregunta, TicketType.usabilidad):
        return Priority.baja, Reason(rule=f"001 §3.2 baja: {ticket_type.value}, no requiere acción inmediata")
    if s.edocs and s.blocking:
        return Priority.alta, Reason(rule="001 §3.2 alta: no puede emitir documentos electrónicos",
                                     detail=", ".join(s.edocs + s.blocking))
    if s.high and ticket_type is TicketType.solicitud:
        return Priority.alta, Reason(rule="001 §3.4.1 clientes nuevos / puesta en vivo: alta", detail=", ".join(s.high))
    if s.low:
        return Priority.baja, Reason(rule="001 §3.2 baja: no requiere acción inmediata", detail=", ".join(s.low))
    return None


def playbook_for(ticket_type: TicketType | None, categories: tuple[Category, ...]) -> str | None:
    """001 §3.4.1: the identified incident types and how each is handled (LABELING.md §5 precedence)."""
    cats = set(categories)
    if ticket_type is TicketType.solicitud:
        if Category.activacion in cats:
            return "clientes_nuevos"
        if Category.modulos in cats:
            return "instalaciones_actualizaciones"
        if Category.ambiente_de_pruebas in cats:
            return "ambiente_de_pruebas"
        if Category.bajar_base in cats:
            return "bajar_base"
        return None
    if Category.documentos_electronicos in cats and ticket_type in (TicketType.bug, TicketType.problema):
        return "emision_documentos_electronicos"
    if ticket_type is TicketType.anomalia:
        return "desconfiguracion"
    if ticket_type is TicketType.bug:
        return "errores_sistema"
    return None


class Classifier:
    """The hard seed rules over the statistical model: what triage runs."""

    def __init__(self, vocabulary: Vocabulary, review_below: float = 0.6, model: TriageModel | None = None) -> None:
        self.vocabulary = vocabulary
        self.review_below = review_below
        self.keywords = KeywordClassifier(vocabulary, review_below)
        self.model = model if model is not None else trained_model(vocabulary)

    @property
    def label(self) -> str:
        """On every decision: the rule set and the model version in force (a retrain changes it)."""
        return f"{CLASSIFIER}+{self.model.label}"

    def classify(self, subject: str, text: str) -> Decision:
        return self.classify_many([(subject, text)])[0]

    def classify_many(self, messages: Sequence[tuple[str, str]]) -> list[Decision]:
        """(subject, text) pairs -> decisions, the model scoring all of them in one batch (a file, a replay)."""
        signals = [self.keywords.signals(subject, text) for subject, text in messages]
        out: list[Decision | None] = []
        pending: list[int] = []
        for i, s in enumerate(signals):
            if s.is_courtesy or s.is_automated:  # the rule decides alone: nothing for the model to add
                out.append(replace(self.keywords.decide(s), classifier=self.label))
            else:
                out.append(None)
                pending.append(i)
        if pending:
            raws = [f"{messages[i][0]}\n{messages[i][1]}" if messages[i][0] else messages[i][1] for i in pending]
            # the rules normalized and matched these texts already: the model's features reuse that
            predictions = self.model.predict(raws, [(signals[i].norm, signals[i].hits) for i in pending])
            for i, pred in zip(pending, predictions, strict=True):
                out[i] = self.combine(signals[i], self.keywords.decide(signals[i]), pred)
        return [d for d in out if d is not None]

    def combine(self, s: _Signals, baseline: Decision, pred: Prediction) -> Decision:
        reasons: list[Reason] = []
        model_type, type_p = Prediction.best(pred.type)

        # -- type --------------------------------------------------------------------------------------------
        ticket_type: TicketType | None
        bug_hits = s.types[TicketType.bug]
        if bug_hits:
            ticket_type = TicketType.bug
            bug_p = pred.type.get("bug", 0.0)
            type_conf = _agree(bug_p) if model_type == "bug" else max(bug_p, 0.6)
            reasons.append(Reason(rule="001 §3.2 tipo bug", detail=f"salida técnica: {', '.join(bug_hits)}"))
        else:
            requests = {k: p for k, p in pred.type.items() if k != NONE}
            if model_type == NONE and (s.urgent or (s.edocs and s.blocking)
                                       or (any(s.types.values()) and type_p < NONE_OVER_KEYWORDS)
                                       or (not s.courtesy and not s.abusive and type_p < NONE_UNSAID)):
                # a seed impact rule or a request phrase: this is a request, whatever the model thinks of its wording;
                # the type the request phrases name, else the model's best request type
                said = baseline.ticket_type
                if said is not None and s.types[said]:
                    model_type, type_p = said.value, requests.get(said.value, 0.0)
                else:
                    model_type, type_p = Prediction.best(requests)
            elif model_type != NONE and baseline.ticket_type is not None and s.types[baseline.ticket_type]:
                # rule agreement breaks a near tie between the model's first two types
                ranked = sorted(pred.type.items(), key=lambda kv: -kv[1])
                second, second_p = ranked[1]
                if second == baseline.ticket_type.value and type_p - second_p < TIE_MARGIN:
                    model_type, type_p = second, second_p
            ticket_type = None if model_type == NONE else TicketType(model_type)
            type_conf = type_p
            if ticket_type is None:
                reasons.append(Reason(rule="not a request", detail=f"modelo {type_p:.2f}"))
            else:
                kw = s.types[ticket_type]
                detail = f"modelo {type_p:.2f}" + (f"; palabras: {', '.join(kw)}" if kw else "")
                reasons.append(Reason(rule=f"001 §3.2 tipo {ticket_type.value}", detail=detail))
            if baseline.ticket_type == ticket_type and any(s.types.values()):
                type_conf = _agree(type_p)

        # -- priority ----------------------------------------------------------------------------------------
        model_priority, priority_p = Prediction.best(pred.priority)
        rule = priority_rule(s, ticket_type)
        if rule is not None:
            priority, reason = rule
            if reason is not None:
                reasons.append(reason)
            p_rule = pred.priority.get(priority.value, 0.0)
            priority_conf = _agree(p_rule) if model_priority == priority.value else max(p_rule, 0.6)
        else:
            priority = Priority(model_priority)
            priority_conf = priority_p
            if priority is Priority.urgente and priority_p < URGENT_BY_MODEL:
                second = max((p for p in PRIORITY_BELOW_URGENT if p.value in pred.priority),
                             key=lambda p: pred.priority[p.value])
                priority, priority_conf = second, pred.priority[second.value]
            reasons.append(Reason(rule=f"001 §3.2 {priority.value}: {_IMPACT[priority]}",
                                  detail=f"modelo {priority_conf:.2f}"))

        # -- area --------------------------------------------------------------------------------------------
        if ticket_type is None:
            area, area_conf = Area.otro, _agree(pred.area.get("otro", 0.0))
            reasons.append(Reason(rule="003 área otro: no es una solicitud"))
        else:
            model_area, area_p = Prediction.best(pred.area)
            area = Area(model_area)
            hits = s.areas.get(area, [])
            area_conf = _agree(area_p) if hits else area_p
            detail = f"modelo {area_p:.2f}" + (f"; palabras: {', '.join(hits)}" if hits else "")
            reasons.append(Reason(rule=f"003 área {area.value}", detail=detail))

        # -- categories, abusive, playbook -------------------------------------------------------------------
        categories: tuple[Category, ...] = ()
        if ticket_type is not None:
            categories = tuple(
                c for c in Category
                if pred.categories.get(c.value, 0.0)
                >= (CATEGORY_WITH_RULE if s.categories.get(c) else CATEGORY_BY_MODEL)
            )
        abusive = bool(s.abusive) or pred.abusive >= ABUSIVE_BY_MODEL
        if s.abusive:
            reasons.append(Reason(rule="003 lenguaje abusivo", detail=", ".join(s.abusive)))
        elif abusive:
            reasons.append(Reason(rule="003 lenguaje abusivo",
                                  detail=f"el modelo reconoce un trato denigrante ({pred.abusive:.2f})"))
        playbook = playbook_for(ticket_type, categories)
        if playbook:
            reasons.append(Reason(rule=f"001 §3.4.1 {playbook}"))

        confidence = round(min(type_conf, priority_conf, area_conf), 3)
        top = sorted(pred.type.items(), key=lambda kv: -kv[1])[:3]
        cats = ", ".join(f"{c} {p:.2f}" for c, p in sorted(pred.categories.items()) if p >= 0.2)
        reasons.append(Reason(
            rule=f"model {self.model.label}",
            detail=(f"type {', '.join(f'{k} {v:.2f}' for k, v in top)}; priority {model_priority} {priority_p:.2f}; "
                    f"area {max(pred.area, key=lambda k: pred.area[k])} {max(pred.area.values()):.2f}"
                    + (f"; categories {cats}" if cats else "") + f"; abusive {pred.abusive:.2f}"),
        ))
        same = (ticket_type, priority, area, categories) == (
            baseline.ticket_type, baseline.priority, baseline.area, baseline.categories)
        return Decision(
            ticket_type=ticket_type, priority=priority, area=area, categories=categories, playbook=playbook,
            abusive=abusive, confidence=confidence, reasons=tuple(reasons),
            classifier=self.label, model_changed=not same,
        )


PRIORITY_BELOW_URGENT = (Priority.alta, Priority.media, Priority.baja)
_IMPACT = {
    Priority.urgente: "no puede acceder u operar",
    Priority.alta: "no puede emitir documentos electrónicos",
    Priority.media: "perturba pero hay alternativa",
    Priority.baja: "no requiere acción inmediata",
}


def _agree(p: float) -> float:
    """Confidence when the rules and the model agree: the model's probability, raised toward 1."""
    return max(p, 1 - (1 - p) * 0.5, RULE_CONFIDENCE if p >= 0.5 else 0.0)
