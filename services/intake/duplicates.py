"""001 §3.4.1 'Unicidad del ticket': is a new ticket a duplicate of one of the customer's open tickets? (pure)

Every playbook of 001 §3.4.1 asks the same check: "Confirmar que no haya duplicidad de tickets para el
mismo problema. En caso afirmativo, cancelar los tickets duplicados, manteniendo solo el más antiguo.
[...] si en el ticket más reciente [...] contiene información nueva, añadirlo al más antiguo en la
parte de notas internas."

So a duplicate is: the same customer, the same matter, while the other ticket is open; the OLDEST
matching open ticket is kept. `find_duplicate` answers which one (or None) and why; `merge_note` writes
the internal note with what the newer ticket adds.

Same customer: `customer_key` equal, or a shared identity in `customer_ids` (an email, a phone, a
channel id). The key is the caller's: one person on WhatsApp and on email is one customer only if the
caller resolved both to one key (e.g. from its customer directory). `Customer.key()` prefers the email
and falls back on the phone, so by itself it does not link a WhatsApp contact (phone) to an email one;
`customer_identities` does when the email contact also carried the phone. Tax ids are not identities
here: two people of one company are two customers.

Same matter, scored in [0, 1] against `DuplicatePolicy.threshold`:

- Text similarity of subject + text after removing what does not describe the matter: quoted replies,
  signatures and closings, greetings and courtesy, Spanish function words and help-desk filler
  ("problema", "error", "favor"), numbers, emails and URLs; lines both texts share at their top or
  bottom (the same signature on every email of a customer) are dropped too. Accents and case are
  folded. With scikit-learn (already a dependency of guardia, used by triage; checked with
  `importlib.util.find_spec`) it is the mean of two TF-IDF cosines fitted on the pair: words cut to
  6-letter stems ("rechazada"/"rechazo", plural and gender folded) and character 3-5-grams inside
  words ("fatura"/"factura"). Both are bags, so word order does not count (word bigrams were tried and
  dropped: they penalised "error cfdi, la nómina no timbra" against "nómina no timbra, error cfdi").
  TF-IDF rather than a plain set measure because sublinear term weights and the char n-grams grade
  partial overlaps (typos, inflections) more finely; IDF over a single pair is weak, which is why the
  filler words are removed explicitly rather than learned. Without scikit-learn the fallback compares
  the same content stems as sets (Dice) averaged with character-trigram Jaccard: the same ideas with
  no weighting and its own tuned threshold (tests run both).
- The ticket's number mentioned in the new text ("NS-000123", "ns 123", "caso #123"): score 1.
- A generic follow-up ("¿alguna novedad?", "sigo esperando respuesta") with no matter of its own,
  when the customer has exactly one open ticket: that ticket (score 1).
- The same document numbers (invoice, folio, CFDI UUID, "FE-4587", "factura 4587"): + document_bonus.
  Several numbers are still one problem (playbook No.2 'Manejo de múltiples números').
- Both classified: the same area and the same categories + classification_bonus; another area (but
  'otro') or disjoint categories - classification_penalty. Triage can be wrong, so these only nudge.
- Synonyms customers use for one thing are folded first (ingresar/acceder -> entrar, clave ->
  contraseña, informe -> reporte, stock -> existencias).

Never a duplicate: closed tickets, other customers, tickets newer than the new one (the oldest is
kept, so the newer is the duplicate), and courtesy messages (a thanks or "ya quedó" adds no matter:
triage marks it as no request).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.schemas import (
    Area,
    Category,
    Channel,
    Customer,
    Reason,
    Status,
    TicketMerged,
    TicketOpened,
    TicketType,
)

from .activity import MEDIUM_OF_CHANNEL
from .channels.text import hints

Method = Literal["tfidf", "tokens"]

#: Tuned on tests/intake_dupes/cases.py PAIRS: about the middle of the gap between the highest non-duplicate
#: and the lowest duplicate score (TF-IDF 0.28 | 0.36, tokens 0.38 | 0.42).
DEFAULT_THRESHOLDS: dict[Method, float] = {"tfidf": 0.32, "tokens": 0.40}

SEED_RULE = "001 §3.4.1 Unicidad del ticket"


@lru_cache(maxsize=1)
def sklearn_available() -> bool:
    return importlib.util.find_spec("sklearn") is not None


# -- the models ----------------------------------------------------------------------------------------------------


class OpenTicket(BaseModel):
    """What the duplicate check needs to know of a ticket (the new one or one of the customer's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: UUID
    ticket_number: str
    opened_at: AwareDatetime
    customer_key: str = Field(description="The caller's resolved customer; equal keys are one customer.")
    customer_ids: frozenset[str] = Field(
        default_factory=frozenset, description="Other identities (email:…, phone:…, whatsapp:…); any shared one links."
    )
    channel: Channel
    subject: str = ""
    text: str = ""
    attachments: tuple[str, ...] = Field(default=(), description="Names of the files the contact brought.")
    status: Status = Status.nuevo
    ticket_type: TicketType | None = None
    area: Area | None = None
    categories: tuple[Category, ...] = ()

    @classmethod
    def from_opened(
        cls, payload: TicketOpened, ticket_id: UUID, opened_at: datetime, customer_key: str | None = None
    ) -> OpenTicket:
        """A `ticket.opened` as a candidate; the key defaults to `Customer.key()`."""
        return cls(
            ticket_id=ticket_id, ticket_number=payload.ticket_number, opened_at=opened_at,
            customer_key=customer_key or payload.customer.key(), customer_ids=customer_identities(payload.customer),
            channel=payload.channel, subject=payload.subject, text=payload.text,
        )


def customer_identities(customer: Customer) -> frozenset[str]:
    """Email, phone and channel ids of a customer as identities (never the company's tax id)."""
    out = {f"{channel}:{ident}" for channel, ident in customer.channel_ids.items()}
    if customer.email:
        out.add(f"email:{customer.email.lower()}")
    if customer.phone:
        out.add(f"phone:{customer.phone}")
    return frozenset(out)


class DuplicatePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["auto", "tfidf", "tokens"] = Field(
        default="auto", description="auto: TF-IDF when scikit-learn is installed, else the token-set measure."
    )
    threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="None: the method's tuned default.")
    document_bonus: float = Field(default=0.35, ge=0.0, le=1.0)
    classification_bonus: float = Field(default=0.10, ge=0.0, le=1.0)
    classification_penalty: float = Field(default=0.10, ge=0.0, le=1.0)
    followup_single_open: bool = Field(
        default=True, description="A generic follow-up goes to the customer's only open ticket."
    )

    def resolved_method(self) -> Method:
        if self.method == "auto":
            return "tfidf" if sklearn_available() else "tokens"
        return self.method

    def resolved_threshold(self) -> float:
        return self.threshold if self.threshold is not None else DEFAULT_THRESHOLDS[self.resolved_method()]


DEFAULT_POLICY = DuplicatePolicy()


class PairScore(BaseModel):
    """How much a new ticket looks like one older ticket, and which signals said so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: UUID
    ticket_number: str
    score: float = Field(ge=0.0, le=1.0)
    text_similarity: float = Field(ge=0.0, le=1.0)
    reasons: tuple[Reason, ...] = ()


class DuplicateVerdict(BaseModel):
    """The new ticket duplicates `duplicate_of` (the oldest matching open ticket of the customer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: UUID
    ticket_number: str
    duplicate_of: UUID
    duplicate_of_number: str
    score: float
    threshold: float
    method: Method
    reasons: tuple[Reason, ...]
    also_matched: tuple[str, ...] = Field(
        default=(), description="Newer open tickets that matched too (themselves duplicates of the kept one)."
    )

    def summary(self) -> str:
        signals = "; ".join(f"{r.rule}: {r.detail}" if r.detail else r.rule for r in self.reasons)
        return (f"{SEED_RULE}: {self.ticket_number} duplica {self.duplicate_of_number} "
                f"(puntaje {self.score:.2f} ≥ {self.threshold:.2f}; {signals})")

    def merged_payload(self) -> TicketMerged:
        """The `ticket.merged` to publish on the new ticket."""
        return TicketMerged(into_ticket_id=self.duplicate_of, into_ticket_number=self.duplicate_of_number,
                            reason=self.summary()[:1000])


# -- text preparation ----------------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents ('Nómina' -> 'nomina'; ñ -> n); punctuation kept."""
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_STOPWORDS_TEXT = """
    a al algo algun alguna algunas alguno algunos ante antes aqui asi aun aunque cada como con contra cual cuales
    cualquier cuando de del desde donde dos el ella ellas ello ellos en entre era eran es esa esas ese eso esos esta
    estaba estaban estamos estan estar este esto estos estoy fue fueron ha habia han has hasta hay he hemos la las le
    les lo los mas me mi mis mismo misma mucho mucha muchas muchos muy nada ni no nos nosotros nuestra nuestras
    nuestro nuestros o os otra otras otro otros para pero poco por porque pues que quien quienes se sea sean ser si
    sido sin sobre solo son su sus tal tambien tan tanto te tenemos tener tengo tiene tienen toda todas todo todos tu
    tus un una uno unos unas usted ustedes va van vamos voy y ya yo e u le puede pueden puedo podemos hace hacer mio mia
    mios mias
    sale salen dice dicen sea favor por cual esto alla aca alli
    hola buenos buenas buen dia dias tardes tarde noches noche saludo saludos cordial cordiales estimado estimada
    estimados estimadas senor senora senores senoras ing ingeniero ingeniera equipo soporte gracias agradezco
    agradecido agradecida agradeceria agradecemos atentamente cordialmente atento atenta atentos atentas quedo
    quedamos feliz excelente amable amables ayuda ayudar ayudan ayuden colaboracion apoyo urgente urgentemente
    necesito necesitamos necesita requiero requerimos quisiera quisieramos queria queriamos solicito solicitamos
    please ok okay listo perfecto vale bien mil muchas disculpa disculpen pena molestia molestar escribo escribimos
    les comento comentarles informo informar nuevamente nuevo nueva otra vez
    problema problemas inconveniente inconvenientes error errores falla fallas sistema plataforma caso casos ticket
    tickets tique tiques solicitud solicitudes reportar reporto consulta cliente empresa
    novedad novedades seguimiento respuesta respuestas estado avance avances sigo seguimos sigue siguen continua
    esperando espera pasa paso pasado sucede ocurre hoy ayer ahora momento todavia revisar revisen revisaron revision
    noticia noticias pendiente pendientes mismo igual semana pasada dijeron quedaron tema asunto adjunto adjunta
    adjuntos envio enviamos anexo respondido responden responder recibido cuando
    """
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_FOLLOWUP = re.compile(
    r"\b(?:alguna novedad|novedad(?:es)?|que (?:ha )?paso con|que hay de|como va|como vamos|estado de(?:l| mi)|"
    r"seguimiento|sigo esperando|seguimos esperando|no me han (?:respondido|contestado)|no (?:he|hemos) recibido "
    r"respuesta|sin respuesta|cuando me (?:responden|dan respuesta|contestan)|alguna (?:respuesta|noticia)|"
    r"noticias de|avances?)\b"
)
_THANKS = re.compile(r"\b(?:gracias|agradezco|agradecid[oa]s?|agradecemos)\b")
_RESOLVED = re.compile(
    r"\b(?:ya (?:funciona|funciono|quedo|pude|puedo|podemos|pudimos|se pudo|salio|sirve|esta|timbro|entre|"
    r"transmitio|envio|aparece|aparecio)|quedo (?:solucionado|resuelto|listo)|solucionad[oa]s?|resuelt[oa]s?|"
    r"todo (?:bien|ok|correcto|claro)|quedo (?:muy )?clar[oa]|muy clar[oa]|entendido|ya entendi|funciono)\b"
)
_HAS_MATTER = re.compile(
    r"\b(?:pero|sigue|siguen|todavia|aun no|no funciona|no puedo|no podemos|no deja|error|rechaz\w*|falla\w*|"
    r"otra vez|nuevamente|de nuevo|tambien|ademas|otro|otra|quisiera|necesito|como (?:hago|puedo)|adjunt\w*|"
    r"anexo|envio|les paso|te paso)\b"
)
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|rv|fw|fwd|tr|reenviar|respuesta)\s*:\s*)+", re.IGNORECASE)
_QUOTE_HEAD = re.compile(
    r"^\s*(?:el .{0,200}escribi[oó]\s*:|on .{0,200}wrote\s*:|-{2,}\s*(?:mensaje original|original message)|"
    r"(?:de|from)\s*:\s*.*@|_{5,})",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^\s*(?:--\s*|enviado desde mi\b.*|sent from my\b.*|obtener outlook\b.*|get outlook\b.*)$",
                        re.IGNORECASE)
_CLOSINGS = (
    "saludos", "un saludo", "atentamente", "cordialmente", "quedo atento", "quedo atenta", "quedamos atentos",
    "quedo pendiente", "quedamos pendientes", "gracias", "muchas gracias", "mil gracias", "slds", "bendiciones",
    "feliz dia", "feliz tarde",
)
_GREETINGS = ("hola", "buenos", "buenas", "buen dia", "cordial saludo", "estimado", "estimada", "estimados",
              "estimadas", "senores", "senor", "senora", "saludos")
_NOISE = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")
_WORD = re.compile(r"[a-z0-9ñ]+")
STEM = 6


def _strip_frame(text: str) -> list[str]:
    """Lines that describe the matter: no quoted reply, signature, closing block or greeting-only line."""
    out: list[str] = []
    for line in (text or "").splitlines():
        if _QUOTE_HEAD.match(line) or _SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        words = _WORD.findall(fold(line))
        if not words:
            continue
        joined = " ".join(words)
        if out and len(words) <= 5 and joined.startswith(_CLOSINGS):
            break  # the closing and the signature under it
        if len(words) <= 4 and joined.startswith(_GREETINGS) and all(w in _STOPWORDS for w in words):
            continue
        out.append(line)
    return out


def _drop_shared_frame(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """Drop lines both texts share at the top or bottom (one customer's signature), keeping some body."""
    norm_a = [" ".join(_WORD.findall(fold(x))) for x in a]
    norm_b = [" ".join(_WORD.findall(fold(x))) for x in b]
    top = 0
    while top < min(len(a), len(b)) - 1 and norm_a[top] == norm_b[top]:
        top += 1
    bottom = 0
    while bottom < min(len(a), len(b)) - top - 1 and norm_a[-1 - bottom] == norm_b[-1 - bottom]:
        bottom += 1
    return a[top: len(a) - bottom], b[top: len(b) - bottom]


def _stem(word: str) -> str:
    return word[:STEM]


#: Help-desk synonyms customers use for one thing, folded to one word before comparing (as triage's
#: `spelling` map does for abbreviations): entering the system, passwords, reports, stock.
_SYNONYMS = {
    "ingresar": "entrar", "ingreso": "entrar", "ingresa": "entrar", "acceder": "entrar", "accedo": "entrar",
    "acceso": "entrar", "loguear": "entrar", "loguearme": "entrar", "logear": "entrar", "login": "entrar",
    "entro": "entrar", "clave": "contrasena", "claves": "contrasena", "password": "contrasena",
    "contrasenas": "contrasena", "informe": "reporte", "informes": "reportes", "stock": "existencias",
    "fatura": "factura", "faturas": "facturas", "cdfi": "cfdi", "pos": "punto venta",
}


def content_words(text: str) -> list[str]:
    """Folded words that carry the matter: no stop words, numbers or one-letter words; synonyms folded."""
    folded = _NOISE.sub(" ", fold(text))
    out: list[str] = []
    for w in _WORD.findall(folded):
        if len(w) <= 1 or w in _STOPWORDS or any(ch.isdigit() for ch in w):
            continue
        out.extend(_SYNONYMS.get(w, w).split())
    return out


def _matter(ticket: OpenTicket) -> tuple[str, list[str]]:
    subject = _REPLY_PREFIX.sub("", ticket.subject or "").strip()
    return subject, _strip_frame(ticket.text)


def is_courtesy(text: str) -> bool:
    """A thanks, a confirmation that it works, or no words at all: no new matter to compare.

    Anything that still reports a problem, asks for more, or brings a file ('adjunto') is not courtesy.
    """
    folded = " ".join(_WORD.findall(fold(_NOISE.sub(" ", text or ""))))
    if not folded:
        return True
    if _HAS_MATTER.search(folded):
        return False
    rest = [w for w in folded.split() if w not in _STOPWORDS]
    if _THANKS.search(folded) and (_RESOLVED.search(folded) or len(rest) <= 2):
        return True
    return not rest and not _FOLLOWUP.search(folded)


def is_generic_followup(subject: str, text: str) -> bool:
    """'¿Alguna novedad con mi caso?' with nothing of its own matter."""
    folded = " ".join(_WORD.findall(fold(f"{subject}\n{text}")))
    if not _FOLLOWUP.search(folded):
        return False
    return not content_words(_FOLLOWUP.sub(" ", folded))


# -- strong signals ------------------------------------------------------------------------------------------------

_DOC_WORDS = (
    r"(?:facturas?|fact|fe|fv|fc|nc|nd|folios?|cfdis?|documentos?|comprobantes?|consecutivos?|notas? (?:de )?credito|"
    r"notas? (?:de )?debito|notas? credito|recibos?|remision(?:es)?|pedidos?|ordenes? de compra|orden|cufe|cude|uuid|"
    r"serie|tiquetes?|boletas?|pagos?|cotizacion(?:es)?|polizas?)"
)
_DOC_AFTER = re.compile(
    rf"\b{_DOC_WORDS}(?:\s+electronicas?)?\s*(?:(?:no|nro|num|numero|n)\s*\.?\s*|[#°º:]\s*)?"
    r"([a-z]{0,6}[- ]?\d[\d-]{2,24})\b"
)
_CODE = re.compile(r"(?<![\w-])([a-z]{1,6}-?\d{3,20}[a-z0-9]*)(?![\w-])")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_TAX_HINTS = ("rfc", "nit", "cedula_juridica", "cuit")


def document_numbers(text: str, ticket_prefix: str = "") -> frozenset[str]:
    """Invoice/folio/CFDI numbers a text mentions, canonical: a UUID, else the digits without leading zeros.

    Not documents: tax ids (they name the customer, not the matter), dates, phones without a document
    word, and the tenant's ticket numbers (`ticket_prefix`, e.g. 'NS').
    """
    folded = fold(text)
    found: set[str] = set(_UUID.findall(folded))
    without_uuid = _UUID.sub(" ", folded)
    tax = {re.sub(r"\D", "", v) for k in _TAX_HINTS for v in hints(text).get(k, [])}
    prefix = fold(ticket_prefix)
    candidates = [m.group(1) for m in _DOC_AFTER.finditer(without_uuid)]
    candidates += [m.group(1) for m in _CODE.finditer(without_uuid)]
    for raw in candidates:
        letters = re.match(r"[a-z]*", raw.replace(" ", "").replace("-", ""))
        if prefix and letters and letters.group(0) == prefix:
            continue
        if _looks_like_date(raw):
            continue
        digits = re.sub(r"\D", "", raw).lstrip("0")
        if len(digits) < 3 or digits in tax or any(len(t) > 6 and digits == t[:-1] for t in tax):
            continue  # a tax id, or a NIT without its check digit
        found.add(digits)
    return frozenset(found)


def _looks_like_date(raw: str) -> bool:
    return bool(re.fullmatch(r"(?:19|20)\d{2}(?:-\d{1,2}){0,2}|\d{1,2}-\d{1,2}-(?:19|20)?\d{2}", raw.strip()))


def mentions_ticket(text: str, ticket_number: str) -> str | None:
    """The way `text` names `ticket_number` ('NS-000123', 'ns 123', 'caso #123', 'ticket 000123'), or None."""
    m = re.fullmatch(r"([A-Za-z]+)-0*(\d+)", ticket_number.strip())
    if not m:
        return None
    prefix, num = m.group(1).lower(), m.group(2)
    folded = fold(text)
    pattern = re.compile(
        rf"(?<![a-z0-9])(?:{re.escape(prefix)}\s*[-_ ]?\s*#?|(?:caso|ticket|tique|tiquete|solicitud|reporte|radicado)"
        rf"\s*(?:(?:no|nro|num|numero|n)\s*\.?\s*|[#°º:]\s*)?)0*{num}(?![0-9])"
    )
    found = pattern.search(folded)
    return found.group(0).strip() if found else None


# -- text similarity -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Similarity:
    value: float
    detail: str


def _tfidf(a_words: list[str], b_words: list[str]) -> _Similarity:
    from sklearn.feature_extraction.text import TfidfVectorizer

    a_stems, b_stems = " ".join(map(_stem, a_words)), " ".join(map(_stem, b_words))
    word = TfidfVectorizer(analyzer="word", ngram_range=(1, 1), sublinear_tf=True, token_pattern=r"\S+")
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    w = _cosine(word, [a_stems, b_stems])
    c = _cosine(char, [" ".join(a_words), " ".join(b_words)])
    value = (w + c) / 2
    return _Similarity(value, f"TF-IDF coseno {value:.2f} (palabras {w:.2f}, caracteres {c:.2f})")


def _cosine(vectorizer: object, docs: list[str]) -> float:
    matrix = vectorizer.fit_transform(docs)  # type: ignore[attr-defined]  # rows are L2-normalised
    return float(min(1.0, max(0.0, (matrix[0] @ matrix[1].T).toarray()[0, 0])))


def _tokens(a_words: list[str], b_words: list[str]) -> _Similarity:
    a, b = {_stem(w) for w in a_words}, {_stem(w) for w in b_words}
    dice = 2 * len(a & b) / (len(a) + len(b))
    ga, gb = _trigrams(a_words), _trigrams(b_words)
    jac = len(ga & gb) / len(ga | gb) if ga | gb else 0.0
    value = (dice + jac) / 2
    return _Similarity(value, f"conjuntos {value:.2f} (raíces {dice:.2f}, trigramas {jac:.2f})")


def _trigrams(words: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for w in words:
        padded = f" {w} "
        out.update(padded[i: i + 3] for i in range(len(padded) - 2))
    return out


def text_similarity(new: OpenTicket, old: OpenTicket, method: Method) -> tuple[float, str]:
    """Similarity of the two tickets' matter in [0, 1] and how it was measured."""
    new_subject, new_lines = _matter(new)
    old_subject, old_lines = _matter(old)
    new_lines, old_lines = _drop_shared_frame(new_lines, old_lines)
    a = content_words(f"{new_subject}\n" + "\n".join(new_lines))
    b = content_words(f"{old_subject}\n" + "\n".join(old_lines))
    if not a or not b:
        return 0.0, "sin texto comparable"
    if a == b:
        return 1.0, "mismo texto"
    sim = _tfidf(a, b) if method == "tfidf" else _tokens(a, b)
    return sim.value, sim.detail


# -- the decision --------------------------------------------------------------------------------------------------


def same_customer(a: OpenTicket, b: OpenTicket) -> bool:
    if a.customer_key == b.customer_key and a.customer_key != "anonymous" and not a.customer_key.startswith(
        "anonymous:"
    ):
        return True
    return bool(a.customer_ids & b.customer_ids)


def _older(a: OpenTicket, b: OpenTicket) -> bool:
    return (a.opened_at, a.ticket_number) < (b.opened_at, b.ticket_number)


def _prefix(ticket_number: str) -> str:
    head, sep, _ = ticket_number.partition("-")
    return head if sep else ""


def compare(new: OpenTicket, old: OpenTicket, policy: DuplicatePolicy = DEFAULT_POLICY) -> PairScore:
    """Score `new` against `old` for 'the same matter' (customer, state and age are find_duplicate's)."""
    method = policy.resolved_method()
    reasons: list[Reason] = []
    new_full = f"{new.subject}\n{new.text}"
    mention = mentions_ticket(new_full, old.ticket_number)
    sim, how = text_similarity(new, old, method)
    score = sim
    if sim > 0:
        reasons.append(Reason(rule="texto_similar", detail=how))
    if mention:
        score = 1.0
        reasons.insert(0, Reason(rule="menciona_ticket", detail=f"el texto nombra {old.ticket_number} («{mention}»)"))
    prefix = _prefix(new.ticket_number) or _prefix(old.ticket_number)
    shared = document_numbers(new_full, prefix) & document_numbers(f"{old.subject}\n{old.text}", prefix)
    if shared:
        score += policy.document_bonus
        reasons.append(Reason(rule="mismos_documentos", detail=", ".join(sorted(shared))))
    classification = _classification(new, old, policy)
    if classification is not None:
        score += classification[0]
        reasons.append(classification[1])
    return PairScore(ticket_id=old.ticket_id, ticket_number=old.ticket_number, score=min(1.0, max(0.0, score)),
                     text_similarity=min(1.0, max(0.0, sim)), reasons=tuple(reasons))


def _classification(new: OpenTicket, old: OpenTicket, policy: DuplicatePolicy) -> tuple[float, Reason] | None:
    """Both classified: the same area and categories add; another area or disjoint categories subtract."""
    if new.area is None or old.area is None:
        return None
    if new.area != old.area:
        if Area.otro in (new.area, old.area):
            return None
        return -policy.classification_penalty, Reason(rule="areas_distintas",
                                                      detail=f"{new.area.value} ≠ {old.area.value}")
    new_cats, old_cats = set(new.categories), set(old.categories)
    if new_cats and new_cats == old_cats:
        cats = ", ".join(sorted(c.value for c in new_cats))
        return policy.classification_bonus, Reason(rule="misma_clasificacion", detail=f"{new.area.value} / {cats}")
    if new_cats and old_cats and not new_cats & old_cats:
        detail = f"{', '.join(sorted(c.value for c in new_cats))} ≠ {', '.join(sorted(c.value for c in old_cats))}"
        return -policy.classification_penalty, Reason(rule="categorias_distintas", detail=detail)
    return None


def candidates(new: OpenTicket, open_tickets: Sequence[OpenTicket]) -> list[OpenTicket]:
    """The customer's open tickets older than `new`, oldest first."""
    out = [t for t in open_tickets
           if t.ticket_id != new.ticket_id and not t.status.is_closed and same_customer(new, t) and _older(t, new)]
    return sorted(out, key=lambda t: (t.opened_at, t.ticket_number))


def find_duplicate(
    new: OpenTicket, open_tickets: Sequence[OpenTicket], policy: DuplicatePolicy = DEFAULT_POLICY
) -> DuplicateVerdict | None:
    """The OLDEST open ticket of the same customer about the same matter as `new`, or None."""
    if new.status.is_closed:
        return None
    pool = candidates(new, open_tickets)
    if not pool or (not new.attachments and is_courtesy(f"{new.subject}\n{new.text}")):
        return None
    threshold = policy.resolved_threshold()
    matched: list[PairScore] = []
    for old in pool:  # oldest first
        pair = compare(new, old, policy)
        if pair.score >= threshold:
            matched.append(pair)
    if not matched and policy.followup_single_open and len(pool) == 1 and is_generic_followup(new.subject, new.text):
        only = pool[0]
        matched.append(PairScore(
            ticket_id=only.ticket_id, ticket_number=only.ticket_number, score=1.0, text_similarity=0.0,
            reasons=(Reason(rule="seguimiento", detail=f"pregunta por su caso y su único ticket abierto es "
                                                       f"{only.ticket_number}"),),
        ))
    if not matched:
        return None
    kept = matched[0]
    return DuplicateVerdict(
        ticket_id=new.ticket_id, ticket_number=new.ticket_number, duplicate_of=kept.ticket_id,
        duplicate_of_number=kept.ticket_number, score=kept.score, threshold=threshold,
        method=policy.resolved_method(), reasons=kept.reasons,
        also_matched=tuple(p.ticket_number for p in matched[1:]),
    )


# -- the internal note ---------------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+|(?<=\S)\s*[¿¡]")
NEW_IF_COVERED_BELOW = 0.75


def new_information(new: OpenTicket, into: OpenTicket) -> list[str]:
    """The sentences of `new` whose content words `into` does not already have (at 6-letter stems)."""
    known = {_stem(w) for w in content_words(f"{into.subject}\n{into.text}")}
    subject, lines = _matter(new)
    out: list[str] = []
    seen: set[tuple[str, ...]] = set()
    pieces = [subject] if subject and fold(subject).strip() != fold(_REPLY_PREFIX.sub("", into.subject)).strip() else []
    for line in lines:
        pieces.extend(_SENTENCE.split(line))
    for piece in pieces:
        sentence = " ".join(piece.split()).strip(" ,;:-")
        words = content_words(sentence)
        if not words:
            continue
        stems = tuple(sorted({_stem(w) for w in words}))
        if stems in seen:
            continue
        seen.add(stems)
        covered = sum(1 for s in stems if s in known) / len(stems)
        if covered < NEW_IF_COVERED_BELOW:
            out.append(sentence)
    return out


def _when(at: datetime) -> str:
    """'2026-11-23 a las 10:30 (UTC-05:00)': the instant as the ticket recorded it."""
    offset = at.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{at:%Y-%m-%d} a las {at:%H:%M} ({zone})"


def merge_note(new: OpenTicket, into: OpenTicket, verdict: DuplicateVerdict | None = None) -> str:
    """The internal note for the kept (oldest) ticket: what the cancelled duplicate adds (001 §3.4.1)."""
    medium = MEDIUM_OF_CHANNEL[new.channel].value
    lines = [
        f"Ticket duplicado {new.ticket_number} cancelado y unido a {into.ticket_number} ({SEED_RULE}).",
        f"Recibido por {medium} el {_when(new.opened_at)}.",
    ]
    if verdict is not None:
        signals = "; ".join(f"{r.rule}: {r.detail}" if r.detail else r.rule for r in verdict.reasons)
        lines.append(f"Por qué: puntaje {verdict.score:.2f} (umbral {verdict.threshold:.2f}); {signals}.")
    fresh = new_information(new, into)
    if fresh:
        lines.append("Información nueva:")
        lines.extend(f"- {s}" for s in fresh)
    else:
        lines.append("Información nueva: ninguna en el texto (repite lo ya reportado).")
    prefix = _prefix(into.ticket_number)
    docs = sorted(document_numbers(f"{new.subject}\n{new.text}", prefix)
                  - document_numbers(f"{into.subject}\n{into.text}", prefix))
    if docs:
        lines.append(f"Documentos que el ticket original no mencionaba: {', '.join(docs)}.")
    fresh_files = [a for a in new.attachments if a not in into.attachments]
    if fresh_files:
        lines.append(f"Adjuntos: {', '.join(fresh_files)}.")
    return "\n".join(lines)
