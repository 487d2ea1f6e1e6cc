"""Learning from agents: a model retrained with their corrections ships only if it is not worse.

Agents' corrections (`ticket.reclassification_requested`, kept by the triage service in KV
`triage_corrections`, exported by `guardia triage corrections`) are labeled examples of exactly the
messages the model got wrong. `guardia triage retrain` trains a candidate on the repository's corpus
plus every correction accepted so far plus the new ones, scores the model in force and the candidate on
the independent set (corpus/independent.jsonl: messages no training writer saw), and keeps the new
corrections only if the candidate is not worse there. The triage service trains at start-up from the
corpus plus the accepted corrections (`<data_dir>/triage/corrections.jsonl`), so a restart serves the
accepted model, and its version (a hash of all its training data) is on every decision it makes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from .evaluate import Report, by_text, evaluate_rows
from .model import Labeled, TriageModel
from .policy import Vocabulary
from .rules import Classifier

#: The fields a retrain is judged on (categories and playbook follow from type).
CORE = ("type", "priority", "area")
#: A candidate may lose at most this much accuracy on any one core field, even when the mean improves.
MAX_FIELD_LOSS = 0.01


@dataclass(frozen=True)
class Verdict:
    before: Report
    after: Report
    before_version: str
    after_version: str
    accepted: bool
    why: str


def merge(accepted: Sequence[Labeled], new: Sequence[Labeled]) -> list[Labeled]:
    """Accepted corrections updated by the new ones: one example per ticket, the latest correction wins."""
    by_id = {row.id: row for row in accepted}
    by_id.update({row.id: row for row in new})
    return list(by_id.values())


def judge(before: Report, after: Report) -> tuple[bool, str]:
    """Accept unless the mean core accuracy falls, or one core field falls by more than MAX_FIELD_LOSS."""
    mean_before = sum(before.accuracy(f) for f in CORE) / len(CORE)
    mean_after = sum(after.accuracy(f) for f in CORE) / len(CORE)
    if mean_after < mean_before:
        return False, f"mean accuracy of type, priority and area falls from {mean_before:.1%} to {mean_after:.1%}"
    for f in CORE:
        if after.accuracy(f) < before.accuracy(f) - MAX_FIELD_LOSS:
            return False, f"{f} falls from {before.accuracy(f):.1%} to {after.accuracy(f):.1%}"
    return True, f"mean accuracy of type, priority and area {mean_before:.1%} -> {mean_after:.1%}"


def retrain(vocabulary: Vocabulary, corpus: Sequence[Labeled], accepted: Sequence[Labeled],
            new: Sequence[Labeled], independent: Sequence[Labeled], review_below: float = 0.6) -> Verdict:
    """Score the model in force (corpus + accepted) and the candidate (+ new) on the independent set."""
    if not independent:
        raise ValueError("the independent set is empty: nothing to judge a model on")
    current = TriageModel.train([*corpus, *accepted], vocabulary)
    candidate = TriageModel.train([*corpus, *merge(accepted, new)], vocabulary)
    reports = []
    for model in (current, candidate):
        reports.append(evaluate_rows(by_text(Classifier(vocabulary, review_below, model=model)), independent,
                                     review_below))
    accepted_ok, why = judge(reports[0], reports[1])
    return Verdict(reports[0], reports[1], current.version, candidate.version, accepted_ok, why)


def write_corrections(path: Path, rows: Sequence[Labeled]) -> None:
    """The accepted corrections, in the corpus format, replaced atomically (a crash leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            line = asdict(row)
            line["categories"] = list(row.categories)
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
