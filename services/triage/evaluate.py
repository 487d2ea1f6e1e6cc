"""Measure a classifier on labeled tickets: accuracy per field, type confusion matrix, worst mistakes.

`evaluate_rows` scores any classifier on a labeled file (what `guardia classify --evaluate` prints).
`cross_validate` trains the model on k-1 folds of the *training* split and scores the held-back fold,
so vocabulary and hyper-parameters are tuned without ever looking at `heldout.jsonl`:

    python -m services.triage.evaluate            # 5-fold cross-validation on corpus/train.jsonl
    python -m services.triage.evaluate --keywords # the same folds, keyword rules only
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sklearn.model_selection import StratifiedKFold

from .model import NONE, TRAIN, TYPES, HyperParameters, Labeled, TriageModel, load_corpus
from .policy import TriagePolicy, Vocabulary
from .rules import Classifier, Decision, KeywordClassifier

FIELDS = ("type", "priority", "area", "playbook", "categories", "abusive")
CORE = ("type", "priority", "area")


def labels_of(d: Decision) -> dict[str, object]:
    return {
        "type": d.ticket_type.value if d.ticket_type else None,
        "priority": d.priority.value,
        "area": d.area.value,
        "playbook": d.playbook,
        "categories": tuple(sorted(c.value for c in d.categories)),
        "abusive": d.abusive,
    }


def expected_of(r: Labeled, playbook: str | None = None) -> dict[str, object]:
    return {"type": r.type, "priority": r.priority, "area": r.area, "playbook": playbook,
            "categories": tuple(sorted(r.categories)), "abusive": r.abusive}


@dataclass(frozen=True)
class Mistake:
    id: str
    text: str
    wrong: dict[str, tuple[object, object]]  #: field -> (expected, got)
    confidence: float

    @property
    def severity(self) -> tuple[int, float]:
        core = sum(1 for f in ("type", "priority", "area") if f in self.wrong)
        return core, self.confidence


@dataclass
class Report:
    n: int = 0
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    tp: int = 0
    fp: int = 0
    fn: int = 0
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)
    review: int = 0
    review_correct: int = 0
    accepted_correct: int = 0
    abusive_tp: int = 0
    abusive_fp: int = 0
    abusive_fn: int = 0
    seconds: float = 0.0
    #: ("channel", "whatsapp") / ("country", "MX") -> [messages, type, priority, area correct]
    groups: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, row: Labeled, playbook: str | None, decision: Decision, review_below: float) -> None:
        got = labels_of(decision)
        want = expected_of(row, playbook)
        self.n += 1
        wrong: dict[str, tuple[object, object]] = {}
        for f in FIELDS:
            if got[f] == want[f]:
                self.correct[f] += 1
            else:
                wrong[f] = (want[f], got[f])
        for group in (("channel", row.channel or "?"), ("country", row.country or "?")):
            tally = self.groups.setdefault(group, [0, 0, 0, 0])
            tally[0] += 1
            for k, f in enumerate(CORE, start=1):
                tally[k] += f not in wrong
        g, w = set(decision.categories), set(row.categories)
        gv = {c.value for c in g}
        self.tp += len(gv & w)
        self.fp += len(gv - w)
        self.fn += len(w - gv)
        key = (row.type or NONE, decision.ticket_type.value if decision.ticket_type else NONE)
        self.confusion[key] = self.confusion.get(key, 0) + 1
        if decision.abusive and row.abusive:
            self.abusive_tp += 1
        elif decision.abusive:
            self.abusive_fp += 1
        elif row.abusive:
            self.abusive_fn += 1
        core_ok = not {"type", "priority", "area"} & wrong.keys()
        if decision.confidence < review_below:
            self.review += 1
            self.review_correct += core_ok
        else:
            self.accepted_correct += core_ok
        if wrong:
            self.mistakes.append(Mistake(row.id, row.text, wrong, decision.confidence))

    def accuracy(self, f: str) -> float:
        return self.correct[f] / self.n if self.n else 0.0

    @property
    def categories_micro_f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 1.0

    def worst(self, k: int = 10) -> list[Mistake]:
        return sorted(self.mistakes, key=lambda m: (m.severity, m.id), reverse=True)[:k]

    def summary(self) -> dict[str, float]:
        out = {f: round(self.accuracy(f), 4) for f in FIELDS}
        out["categories_micro_f1"] = round(self.categories_micro_f1, 4)
        out["needs_review"] = round(self.review / self.n, 4) if self.n else 0.0
        accepted = self.n - self.review
        out["core_accuracy_when_not_reviewed"] = round(self.accepted_correct / accepted, 4) if accepted else 0.0
        return out


def agreement(first: Sequence[Labeled], second: Sequence[Labeled]) -> dict[str, tuple[int, int]]:
    """Per field, (agreeing, compared) over the messages both annotators labeled (matched by id): the
    ceiling a classifier can be expected to reach on that set."""
    theirs = {r.id: r for r in second}
    both = [(r, theirs[r.id]) for r in first if r.id in theirs]
    out: dict[str, tuple[int, int]] = {}
    for f in ("type", "priority", "area", "categories", "abusive"):
        same = sum(expected_of(a)[f] == expected_of(b)[f] for a, b in both)
        out[f] = (same, len(both))
    return out


def corpus_playbook(row: Labeled) -> str | None:
    """LABELING.md §5: the playbook is a function of type and categories (the corpus agrees)."""
    from shared.schemas import Category, TicketType

    from .rules import playbook_for

    return playbook_for(TicketType(row.type) if row.type else None, tuple(Category(c) for c in row.categories))


def evaluate_rows(classify: Callable[[str], Decision], rows: Sequence[Labeled], review_below: float = 0.6,
             playbooks: dict[str, str | None] | None = None) -> Report:
    report = Report()
    started = time.perf_counter()
    for row in rows:
        playbook = playbooks[row.id] if playbooks is not None and row.id in playbooks else corpus_playbook(row)
        report.add(row, playbook, classify(row.text), review_below)
    report.seconds = time.perf_counter() - started
    return report


def cross_validate(rows: Sequence[Labeled], vocabulary: Vocabulary, folds: int = 5,
                   hp: HyperParameters | None = None, keywords_only: bool = False,
                   review_below: float = 0.6) -> Report:
    """Out-of-fold scores on `rows` (the training split): each fold is scored by a model that never saw it."""
    report = Report()
    started = time.perf_counter()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    labels = [r.type or NONE for r in rows]
    for train_index, test_index in splitter.split(list(range(len(rows))), labels):
        classify: Callable[[str], Decision]
        if keywords_only:
            classify = by_text(KeywordClassifier(vocabulary))
        else:
            model = TriageModel.train([rows[i] for i in train_index], vocabulary, hp)
            c = Classifier(vocabulary, review_below, model=model)
            classify = by_text(c)
        for i in test_index:
            report.add(rows[i], corpus_playbook(rows[i]), classify(rows[i].text), review_below)
    report.seconds = time.perf_counter() - started
    return report


def by_text(classifier: Classifier | KeywordClassifier) -> Callable[[str], Decision]:
    """A classifier as `evaluate_rows` calls it: a labeled message's text in, its decision out."""
    return lambda text: classifier.classify("", text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Cross-validate triage on the training split.")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--keywords", action="store_true", help="keyword rules only (the baseline)")
    parser.add_argument("--mistakes", type=int, default=0, help="print this many worst out-of-fold mistakes")
    parser.add_argument("--agreement", nargs=2, metavar=("FIRST", "SECOND"),
                        help="per-field agreement of two annotators' labels of the same messages, and stop")
    args = parser.parse_args(argv)
    if args.agreement:
        from pathlib import Path

        first, second = (load_corpus(Path(p)) for p in args.agreement)
        for f, (same, n) in agreement(first, second).items():
            print(f"{f:<11} {same / n if n else 0:6.1%}  ({same}/{n})")
        return
    report = cross_validate(load_corpus(TRAIN), TriagePolicy().merged_vocabulary(), args.folds,
                            keywords_only=args.keywords)
    print(report.summary(), f"{report.seconds:.1f} s")
    labels = list(TYPES)
    print("type confusion (rows = expected):", " ".join(f"{x[:5]:>5}" for x in labels))
    for want in labels:
        print(f"{want:>10}", " ".join(f"{report.confusion.get((want, got), 0):5d}" for got in labels))
    for m in report.worst(args.mistakes) if args.mistakes else []:
        print(m.id, m.confidence, m.wrong, repr(m.text[:200]))


if __name__ == "__main__":
    main()
