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

from .normalize import PhraseList, normalize, phrase_list, respell
from .policy import Vocabulary

MODEL_NAME = "tfidf-svm"
CORPUS = Path(__file__).with_name("corpus")
TRAIN = CORPUS / "train.jsonl"
HELDOUT = CORPUS / "heldout.jsonl"
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
                abusive=bool(o.get("abusive", False)),
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


@dataclass
class _RuleLists:
    """The vocabulary's phrase lists, compiled once, as model features."""

    keys: list[str]
    lists: list[PhraseList]

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> _RuleLists:
        lists: dict[str, Sequence[str]] = {"not_a_request": vocabulary.not_a_request,
                                           "automated": vocabulary.automated,
                                           "abusive": vocabulary.abusive}
        for t, phrases in vocabulary.types.items():
            lists[f"type:{t.value}"] = phrases
        for p, phrases in vocabulary.priority.items():
            lists[f"priority:{p}"] = phrases
        for a, phrases in vocabulary.areas.items():
            lists[f"area:{a.value}"] = phrases
        for c, phrases in vocabulary.categories.items():
            lists[f"category:{c.value}"] = phrases
        keys = sorted(lists)
        return cls(keys, [phrase_list(tuple(lists[k])) for k in keys])

    def counts(self, norm: str) -> list[float]:
        return [min(len(phrases.hits(norm)), 3) / 3 for phrases in self.lists]


def _shape(raw: str, norm: str) -> list[float]:
    words = len(norm.split())
    out = [1.0 if pattern.search(raw) else 0.0 for _, pattern in _SIGNALS]
    out += [float(words <= 3), float(words <= 8), float(words <= 20), float(words > 60)]
    return out


class Featurizer:
    """Text -> sparse feature rows. `fit` learns the TF-IDF vocabularies from the training texts only."""

    def __init__(self, vocabulary: Vocabulary, hp: HyperParameters) -> None:
        self.vocabulary = vocabulary
        self.hp = hp
        self._lists = _RuleLists.of(vocabulary)
        self._word = TfidfVectorizer(analyzer="word", ngram_range=hp.word_ngrams, sublinear_tf=True,
                                     token_pattern=r"(?u)\b\w+\b|\?", dtype=np.float64)
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=hp.char_ngrams, sublinear_tf=True,
                                     min_df=hp.char_min_df, dtype=np.float64)

    def norm(self, text: str) -> str:
        return respell(normalize(text), self.vocabulary.spelling)

    def _dense(self, raws: Sequence[str], norms: Sequence[str]) -> sp.csr_matrix:
        rules = np.array([self._lists.counts(n) for n in norms], dtype=np.float64) * self.hp.rule_weight
        shape = np.array([_shape(r, n) for r, n in zip(raws, norms, strict=True)], dtype=np.float64)
        return sp.csr_matrix(np.hstack([rules, shape * self.hp.signal_weight]))

    def fit_transform(self, raws: Sequence[str]) -> sp.csr_matrix:
        norms = [self.norm(r) for r in raws]
        return sp.hstack([self._word.fit_transform(norms), self._char.fit_transform(norms),
                          self._dense(raws, norms)], format="csr")

    def transform(self, raws: Sequence[str]) -> sp.csr_matrix:
        norms = [self.norm(r) for r in raws]
        return sp.hstack([_tfidf(self._word, norms), _tfidf(self._char, norms),
                          self._dense(raws, norms)], format="csr")


def _tfidf(vectorizer: TfidfVectorizer, docs: Sequence[str]) -> sp.csr_matrix:
    """`vectorizer.transform(docs)` for a fitted TfidfVectorizer (sublinear tf, idf, l2 norm), computed
    directly from its analyzer, vocabulary and idf. Same numbers (tests/triage check it); why not call
    sklearn: for the one message the service classifies at a time, sklearn's per-call input validation
    cost more than the work itself (about a third of a classification, in a profile of the pipeline)."""
    analyze = vectorizer.build_analyzer()
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    idf: np.ndarray[Any, np.dtype[np.float64]] = vectorizer.idf_
    indptr, indices, values = [0], [], []
    for doc in docs:
        counts: dict[int, int] = {}
        for token in analyze(doc):
            j = vocabulary.get(token)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        js = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        tf = np.fromiter((counts[j] for j in js), dtype=np.float64, count=len(js))
        row = (np.log(tf) + 1.0) * idf[js]
        norm = float(np.sqrt(row @ row))
        indices.append(js)
        values.append(row / norm if norm > 0 else row)
        indptr.append(indptr[-1] + len(js))
    return sp.csr_matrix(
        (np.concatenate(values) if values else np.zeros(0), np.concatenate(indices) if indices else np.zeros(0, int),
         np.array(indptr)), shape=(len(docs), len(vocabulary)))


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
        decision = np.asarray(x @ self.weights.T) + self.bias
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

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        x = self.featurizer.transform(texts)
        probs = {name: (scorer.classes, scorer.proba(x)) for name, scorer in self.fields.items()}
        flags = {name: scorer.proba(x)[:, scorer.classes.index("yes")] for name, scorer in self.binary.items()}
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
    h.update(f"{MODEL_NAME} sklearn {sklearn.__version__}".encode())
    return h.hexdigest()[:12]


_TRAINED: dict[str, TriageModel] = {}
_LOCK = threading.Lock()


def trained_model(vocabulary: Vocabulary, corpus: Path = TRAIN, hp: HyperParameters | None = None,
                  cache_dir: Path | None = None) -> TriageModel:
    """The model for this vocabulary, trained from `corpus` once per process.

    With `cache_dir`, a model trained once is kept on disk and loaded by the next process that needs
    the same one (same corpus bytes, vocabulary, hyper-parameters and scikit-learn): a triage replica
    that replaces a dead one then serves in about two seconds instead of retraining for four or more.
    The cache lives in the service's own data folder, which only guardia writes (pickles run code)."""
    hp = hp or HyperParameters()
    digest = hashlib.sha256(corpus.read_bytes()).hexdigest()
    key = hashlib.sha256(
        f"{digest}|{hp}|{vocabulary.model_dump_json()}|{MODEL_NAME}|{sklearn.__version__}".encode()
    ).hexdigest()[:24]
    with _LOCK:
        model = _TRAINED.get(key)
        if model is None and cache_dir is not None:
            model = _load(cache_dir / f"{key}.pkl")
        if model is None:
            model = TriageModel.train(load_corpus(corpus), vocabulary, hp)
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
