"""The statistical half of triage: linear models over TF-IDF and rule features, trained from the corpus.

What it is. One scikit-learn model per field, trained from `corpus/train.jsonl` (never from
`heldout.jsonl`, which only `guardia classify --evaluate` reads):

* features: TF-IDF of word 1-2-grams and of character 2-5-grams (within words) of the normalized text
  (lower case, no accents, the vocabulary's spelling map applied), so typos and plurals share most of
  their n-grams; plus one feature per vocabulary list (how many of its phrases match: the same lists the
  hard rules use) and a few shape signals (technical error output, a fiscal validation code, quoted
  system text, a question mark, the message length);
* `type` (the six types and "none" for no request), `priority` and `area`: LinearSVC calibrated into
  probabilities with CalibratedClassifierCV (sigmoid, 3 folds);
* `categories`: one calibrated LinearSVC per category (multi-label, binary relevance);
* `abusive`: a calibrated LinearSVC too, but the decision stays with the rule (the vocabulary's
  abusive list): the model's probability is only reported, because on cross-validation over the
  training split the list is more precise (see services/triage/README.md).

How it ships. The model is *trained at start-up* from the corpus kept in the repository, not loaded
from a checked-in artifact: training takes about 2 s on one core (1,285 messages) and the result is
memoized per process and vocabulary, so the triage service, `guardia classify` and the tests each
train once. There is no pickle to drift from the installed scikit-learn, the model always matches the
corpus and the vocabulary in the same commit, and a tenant's added phrases take part in the model's
features as soon as the service restarts (its model is retrained with them).

Determinism. Training has no randomness left: the corpus order is fixed, CalibratedClassifierCV uses
unshuffled stratified folds and LinearSVC gets a fixed random_state. `TriageModel.version` is a hash
of the training data, the hyper-parameters, the vocabulary and the scikit-learn version, so two
processes with the same version hold the same model (tests/triage checks both).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from .normalize import normalize
from .policy import Vocabulary

MODEL_NAME = "tfidf-svm"
#: Bumped whenever the features a text becomes change in code: part of the version and of the disk cache key.
FEATURES = 2
CORPUS = Path(__file__).with_name("corpus")
TRAIN = CORPUS / "train.jsonl"
HELDOUT = CORPUS / "heldout.jsonl"
INDEPENDENT = CORPUS / "independent.jsonl"  #: written by annotators who never saw train nor the classifier
NONE = "none"  #: the type label of a message that is no request at all

TYPES = ("problema", "pregunta", "anomalia", "bug", "solicitud", "usabilidad", NONE)
PRIORITIES = ("urgente", "alta", "media", "baja")
AREAS = ("facturacion", "contabilidad", "nomina", "inventario", "acceso", "comercial", "otro")
CATEGORIES = ("oportunidad_de_mejora", "garantia", "folios", "activar_base", "cotizacion",
              "documentos_electronicos", "modulos", "ambiente_de_pruebas", "bajar_base", "activacion")


@dataclass(frozen=True)
class HyperParameters:
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    char_min_df: int = 2
    rule_weight: float = 0.5
    signal_weight: float = 0.3
    c_type: float = 1.0
    c_priority: float = 1.0
    c_area: float = 1.0
    c_binary: float = 1.0
    calibration_folds: int = 3


@dataclass(frozen=True)
class Labeled:
    """One corpus line: the message and its labels (type None = no request)."""

    id: str
    text: str
    channel: str
    type: str | None
    priority: str
    area: str
    categories: tuple[str, ...]
    abusive: bool
    country: str = ""


#: The other names the issue and the seeds give labels (impact as shown to customers: crítico, alto...).
_SYNONYMS: dict[str, dict[str, str | None]] = {
    "type": {NONE: None, "null": None, "ninguno": None, "no_request": None, "bugs": "bug"},
    "priority": {"critico": "urgente", "critica": "urgente", "alto": "alta", "medio": "media", "bajo": "baja"},
}
_ALLOWED: dict[str, tuple[str, ...]] = {"type": TYPES, "priority": PRIORITIES, "area": AREAS, "categories": CATEGORIES}


def canonical_label(field_name: str, value: object) -> str | None:
    """'Anomalía' -> 'anomalia', 'crítico' -> 'urgente', 'oportunidad de mejora' -> 'oportunidad_de_mejora'.

    Labeled files come from people and other tools: case, accents and the seeds' alternative names
    are folded; anything else is an error that names the field and the allowed values.
    """
    if value is None or (field_name == "type" and str(value).strip() == ""):
        return None
    label = normalize(str(value)).replace(" ", "_")
    synonyms = _SYNONYMS.get(field_name, {})
    if label in synonyms:
        return synonyms[label]
    if label not in _ALLOWED[field_name]:
        raise ValueError(f"{field_name} {value!r} is not one of {', '.join(_ALLOWED[field_name])}")
    return label


def load_corpus(path: Path) -> list[Labeled]:
    rows: list[Labeled] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
            cats = o.get("categories") or ()
            if isinstance(cats, str):
                cats = [c for c in cats.split(",") if c.strip()]
            rows.append(Labeled(
                id=str(o["id"]), text=str(o["text"]), channel=str(o.get("channel", "")),
                type=canonical_label("type", o["type"]), priority=str(canonical_label("priority", o["priority"])),
                area=str(canonical_label("area", o["area"])),
                categories=tuple(str(canonical_label("categories", c)) for c in cats),
                abusive=bool(o.get("abusive", False)), country=str(o.get("country") or ""),
            ))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{number}: not a labeled ticket ({exc})") from exc
    return rows


# -- features --------------------------------------------------------------------------------------------------

#: Shape signals that words alone miss. Matched on the raw text (case and quotes matter).
_SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("technical_output", re.compile(
        r"\b[45]\d\d\b(?!\s*(?:pesos|unidades|piezas|facturas|productos|empleados))|traceback|exception|"
        r"server error|\b[A-Z][a-zA-Z]+(?:Error|Exception)\b|\bERR_[A-Z_]+|nginx|sqlstate|psycopg|"
        r"undefined|null|stack|\bTypeError|\bKeyError|\bat line\b|\.js\b|\.py\b|gateway|timeout|"
        r"unexpected|forbidden|not found", re.IGNORECASE)),
    ("fiscal_code", re.compile(r"\bCFDI\d{3,}|\b(?:FA[A-Z]\d{2,}|RUT\d+|DSA\d+)\b|\bc[oó]digo\s*\d{3,}|"
                               r"\brechazo\s*\d{3,}|\berror\s*(?:10|-)\d{3,}", re.IGNORECASE)),
    ("quoted", re.compile(r"[\"“”«»]")),
    ("question", re.compile(r"\?")),
    ("no_question", re.compile(r"^[^?]*$")),
)


def _shape(raw: str, norm: str) -> list[float]:
    words = len(norm.split())
    out = [1.0 if pattern.search(raw) else 0.0 for _, pattern in _SIGNALS]
    out += [float(words <= 3), float(words <= 8), float(words <= 20), float(words > 60)]
    return out


#: One message as the rules already read it: its normalized text and every vocabulary list's hits.
Prepared = tuple[str, Mapping[str, Sequence[str]]]


class Featurizer:
    """Text -> sparse feature rows. `fit` learns the TF-IDF vocabularies from the training texts only."""

    def __init__(self, vocabulary: Vocabulary, hp: HyperParameters) -> None:
        self.vocabulary = vocabulary
        self.hp = hp
        self._list_names = sorted(vocabulary.phrase_lists())
        self._word = TfidfVectorizer(analyzer="word", ngram_range=hp.word_ngrams, sublinear_tf=True,
                                     token_pattern=r"(?u)\b\w+\b|\?", dtype=np.float64)
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=hp.char_ngrams, sublinear_tf=True,
                                     min_df=hp.char_min_df, dtype=np.float64)
        self._fast: tuple[FastTfidf, FastTfidf] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fast"] = None  # rebuilt on first use; its word cache is not worth pickling
        return state

    def prepare(self, raws: Sequence[str]) -> list[Prepared]:
        return [self.vocabulary.read(raw) for raw in raws]

    def _dense(self, raws: Sequence[str], prepared: Sequence[Prepared]) -> sp.csr_matrix:
        names = self._list_names
        rules = np.array([[min(len(hits.get(k, ())), 3) / 3 for k in names] for _, hits in prepared],
                         dtype=np.float64).reshape(len(prepared), len(names)) * self.hp.rule_weight
        shape = np.array([_shape(r, n) for r, (n, _) in zip(raws, prepared, strict=True)],
                         dtype=np.float64).reshape(len(prepared), -1)
        return sp.csr_matrix(np.hstack([rules, shape * self.hp.signal_weight]))

    def fit_transform(self, raws: Sequence[str]) -> sp.csr_matrix:
        prepared = self.prepare(raws)
        norms = [n for n, _ in prepared]
        return sp.hstack([self._word.fit_transform(norms), self._char.fit_transform(norms),
                          self._dense(raws, prepared)], format="csr")

    def transform(self, raws: Sequence[str], prepared: Sequence[Prepared] | None = None) -> sp.csr_matrix:
        """`prepared`: what the rules already computed for these texts (saves matching them again)."""
        prepared = list(prepared) if prepared is not None else self.prepare(raws)
        if self._fast is None:
            self._fast = (FastTfidf(self._word), FastTfidf(self._char))
        norms = [n for n, _ in prepared]
        word, char = self._fast
        return sp.hstack([word.transform(norms), char.transform(norms), self._dense(raws, prepared)], format="csr")


class FastTfidf:
    """`vectorizer.transform(docs)` of a fitted TfidfVectorizer (sublinear tf, idf, l2 norm), computed
    from its analyzer, vocabulary and idf, with the same numbers (tests/triage check it).

    Why not sklearn's own transform: for the one message the service classifies at a time, its per-call
    input validation cost more than the work itself; and for `char_wb` n-grams, which never cross a word,
    each distinct word's n-gram columns are computed once and remembered, so a batch of thousands of
    messages (a year re-classified for a what-if) pays the n-gram analysis once per vocabulary word
    instead of once per occurrence.
    """

    MAX_CACHED_WORDS = 200_000

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf: np.ndarray[Any, np.dtype[np.float64]] = vectorizer.idf_
        self.analyze = vectorizer.build_analyzer()
        self.per_word = vectorizer.analyzer == "char_wb"
        self._words: dict[str, list[int]] = {}

    def _columns(self, doc: str) -> list[int]:
        if not self.per_word:
            vocabulary = self.vocabulary
            return [j for j in (vocabulary.get(t) for t in self.analyze(doc)) if j is not None]
        cols: list[int] = []
        cache = self._words
        for word in doc.split():
            found = cache.get(word)
            if found is None:
                vocabulary = self.vocabulary
                found = [j for j in (vocabulary.get(t) for t in self.analyze(word)) if j is not None]
                if len(cache) >= self.MAX_CACHED_WORDS:
                    cache.clear()
                cache[word] = found
            cols.extend(found)
        return cols

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        width = len(self.vocabulary)
        flat: list[int] = []  # row * width + column, one entry per occurrence
        for row, doc in enumerate(docs):
            base = row * width
            flat.extend([base + j for j in self._columns(doc)])
        # count occurrences per (row, column) at once; unique keys come back sorted by row, then column
        keys, counts = np.unique(np.array(flat, dtype=np.int64), return_counts=True)
        rows, cols = np.divmod(keys, width)
        bounds = np.searchsorted(rows, np.arange(len(docs) + 1))
        values = (np.log(counts.astype(np.float64)) + 1.0) * self.idf[cols]
        lengths = np.diff(bounds)
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(docs)))  # l2 of every row
        norms[norms == 0] = 1.0
        values = values / np.repeat(norms, lengths)
        return sp.csr_matrix((values, cols, bounds), shape=(len(docs), len(self.vocabulary)))


# -- the model -------------------------------------------------------------------------------------------------


@dataclass
class LinearScorer:
    """A LinearSVC whose decision values are mapped to probabilities by a logistic layer (Platt scaling).

    The logistic layer is fitted on out-of-fold decision values (stratified, unshuffled folds), so it
    learns how far the SVM's scores can be trusted on messages it did not train on. Only the public
    `coef_` / `intercept_` of the fitted estimators are kept, and prediction is two matrix products:
    no per-call input validation, which keeps one classification well under a millisecond per field.
    """

    classes: list[str]
    weights: np.ndarray[Any, np.dtype[np.float64]]
    bias: np.ndarray[Any, np.dtype[np.float64]]
    cal_weights: np.ndarray[Any, np.dtype[np.float64]]
    cal_bias: np.ndarray[Any, np.dtype[np.float64]]

    @classmethod
    def fit(cls, x: sp.csr_matrix, y: Sequence[str], c: float, folds: int) -> LinearScorer:
        labels = np.array(y)

        def svm() -> LinearSVC:
            return LinearSVC(C=c, random_state=0, max_iter=5000)

        out_of_fold = cross_val_predict(svm(), x, labels, cv=StratifiedKFold(folds), method="decision_function")
        scores = out_of_fold.reshape(len(labels), -1)
        calibration = LogisticRegression(C=1.0, max_iter=1000).fit(scores, labels)
        final = svm().fit(x, labels)
        if list(final.classes_) != list(calibration.classes_):  # pragma: no cover - same labels, same order
            raise RuntimeError("calibration and SVM disagree on the classes")
        return cls([str(k) for k in final.classes_], np.asarray(final.coef_, dtype=np.float64),
                   np.asarray(final.intercept_, dtype=np.float64),
                   np.asarray(calibration.coef_, dtype=np.float64),
                   np.asarray(calibration.intercept_, dtype=np.float64))

    def proba(self, x: sp.csr_matrix) -> np.ndarray[Any, np.dtype[np.float64]]:
        return self.calibrated(np.asarray(x @ self.weights.T) + self.bias)

    def calibrated(self, decision: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Probabilities from the SVM's decision values (one row per message)."""
        z = decision @ self.cal_weights.T + self.cal_bias
        if z.shape[1] == 1:  # two classes: the logistic layer gives P(classes[1])
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: np.ndarray[Any, np.dtype[np.float64]] = e / e.sum(axis=1, keepdims=True)
        return out


@dataclass(frozen=True)
class Prediction:
    """Probabilities per label, for one message."""

    type: Mapping[str, float]
    priority: Mapping[str, float]
    area: Mapping[str, float]
    categories: Mapping[str, float]
    abusive: float

    @staticmethod
    def best(scores: Mapping[str, float]) -> tuple[str, float]:
        label = max(scores, key=lambda k: (scores[k], k))
        return label, scores[label]


@dataclass
class TriageModel:
    name: str
    version: str
    hp: HyperParameters
    featurizer: Featurizer
    fields: dict[str, LinearScorer] = field(default_factory=dict)
    binary: dict[str, LinearScorer] = field(default_factory=dict)
    trained_on: int = 0

    @property
    def label(self) -> str:
        """What goes into reasons and `classifier`: name/version."""
        return f"{self.name}/{self.version}"

    @classmethod
    def train(cls, rows: Sequence[Labeled], vocabulary: Vocabulary,
              hp: HyperParameters | None = None) -> TriageModel:
        hp = hp or HyperParameters()
        featurizer = Featurizer(vocabulary, hp)
        x = featurizer.fit_transform([r.text for r in rows])
        targets: dict[str, tuple[list[str], float]] = {
            "type": ([r.type or NONE for r in rows], hp.c_type),
            "priority": ([r.priority for r in rows], hp.c_priority),
            "area": ([r.area for r in rows], hp.c_area),
        }
        model = cls(MODEL_NAME, model_version(rows, vocabulary, hp), hp, featurizer, trained_on=len(rows))
        for name, (labels, c) in targets.items():
            model.fields[name] = LinearScorer.fit(x, labels, c, hp.calibration_folds)
        binaries = {f"category:{c}": [c in r.categories for r in rows] for c in CATEGORIES}
        binaries["abusive"] = [r.abusive for r in rows]
        for name, flags in binaries.items():
            positives = sum(flags)
            folds = min(hp.calibration_folds, positives, len(flags) - positives)
            if folds >= 2:
                model.binary[name] = LinearScorer.fit(x, ["yes" if f else "no" for f in flags], hp.c_binary, folds)
        return model

    def _stacked(self) -> tuple[np.ndarray[Any, np.dtype[np.float64]], list[tuple[str, LinearScorer, slice]]]:
        """Every scorer's weights side by side: one sparse product scores all fields of a batch."""
        found = self.__dict__.get("_stack")
        if found is None:
            parts, at = [], 0
            scorers = [*self.fields.items(), *self.binary.items()]
            for name, scorer in scorers:
                k = scorer.weights.shape[0]
                parts.append((name, scorer, slice(at, at + k)))
                at += k
            weights = np.ascontiguousarray(np.vstack([s.weights for _, s in scorers]).T)
            found = self.__dict__["_stack"] = (weights, parts)
        return found

    def predict(self, texts: Sequence[str], prepared: Sequence[Prepared] | None = None) -> list[Prediction]:
        """Probabilities for a batch of texts; `prepared` is what the rules already found in them."""
        x = self.featurizer.transform(texts, prepared)
        weights, parts = self._stacked()
        decision = np.asarray(x @ weights)
        probs: dict[str, tuple[list[str], np.ndarray[Any, np.dtype[np.float64]]]] = {}
        flags: dict[str, np.ndarray[Any, np.dtype[np.float64]]] = {}
        for name, scorer, columns in parts:
            p = scorer.calibrated(decision[:, columns] + scorer.bias)
            if name in self.fields:
                probs[name] = (scorer.classes, p)
            else:
                flags[name] = p[:, scorer.classes.index("yes")]
        out: list[Prediction] = []
        for i in range(len(texts)):
            per = {name: {str(c): float(p) for c, p in zip(classes, matrix[i], strict=True)}
                   for name, (classes, matrix) in probs.items()}
            out.append(Prediction(
                type=per["type"], priority=per["priority"], area=per["area"],
                categories={c: float(flags[f"category:{c}"][i]) for c in CATEGORIES if f"category:{c}" in flags},
                abusive=float(flags["abusive"][i]) if "abusive" in flags else 0.0,
            ))
        return out


def model_version(rows: Iterable[Labeled], vocabulary: Vocabulary, hp: HyperParameters) -> str:
    """A hash of everything the model is a function of: data, hyper-parameters, vocabulary, library."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(asdict(r), ensure_ascii=False, sort_keys=True).encode())
    h.update(repr(sorted(asdict(hp).items())).encode())
    h.update(vocabulary.model_dump_json().encode())
    h.update(f"{MODEL_NAME} features {FEATURES} sklearn {sklearn.__version__}".encode())
    return h.hexdigest()[:12]


_TRAINED: dict[str, TriageModel] = {}
_LOCK = threading.Lock()


def trained_model(vocabulary: Vocabulary, corpus: Path = TRAIN, hp: HyperParameters | None = None,
                  cache_dir: Path | None = None, extra: Path | None = None) -> TriageModel:
    """The model for this vocabulary, trained from `corpus` (plus `extra`, the agents' accepted
    corrections, when that file exists) once per process.

    With `cache_dir`, a model trained once is kept on disk and loaded by the next process that needs
    the same one (same corpus bytes, vocabulary, hyper-parameters and scikit-learn): a triage replica
    that replaces a dead one then serves in about two seconds instead of retraining for four or more.
    The cache lives in the service's own data folder, which only guardia writes (pickles run code)."""
    hp = hp or HyperParameters()
    sources = [corpus, *([extra] if extra is not None and extra.exists() else [])]
    digest = hashlib.sha256(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in sources)).hexdigest()
    key = hashlib.sha256(
        f"{digest}|{hp}|{vocabulary.model_dump_json()}|{MODEL_NAME}|{FEATURES}|{sklearn.__version__}".encode()
    ).hexdigest()[:24]
    with _LOCK:
        model = _TRAINED.get(key)
        if model is None and cache_dir is not None:
            model = _load(cache_dir / f"{key}.pkl")
        if model is None:
            model = TriageModel.train([row for p in sources for row in load_corpus(p)], vocabulary, hp)
        if cache_dir is not None and not (cache_dir / f"{key}.pkl").exists():
            _store(cache_dir / f"{key}.pkl", model)
        _TRAINED[key] = model
        return model


def _load(path: Path) -> TriageModel | None:
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None  # missing, torn or from another build: train again
    return model if isinstance(model, TriageModel) else None


def _store(path: Path, model: TriageModel) -> None:
    """Written to a temporary file and renamed: a crash never leaves half a model behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        return  # a read-only data folder only costs the next start its training
