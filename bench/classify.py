"""Triage throughput on one core: classifications per second, rules + model vs the keyword rules alone.

    .venv/bin/python bench/classify.py [--rounds 3]

Classifies every corpus message (train + heldout, 656) one at a time through `Classifier.classify`, the
call the triage service makes per ticket, in this single process; the baseline in the same run is
`KeywordClassifier.classify` (the first keyword rule set). Also reports how long the model takes to
train at start-up. BLAS is limited to one thread so that the model's matrix products use one core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.triage.model import HELDOUT, TRAIN, TriageModel, load_corpus  # noqa: E402
from services.triage.policy import TriagePolicy  # noqa: E402
from services.triage.rules import Classifier, KeywordClassifier  # noqa: E402


def rate(classify: Callable[[str, str], object], texts: list[str], rounds: int) -> float:
    """Best-of-rounds classifications per second."""
    classify("", texts[0])  # warm caches (compiled phrase lists)
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            classify("", text)
        rates.append(len(texts) / (time.perf_counter() - started))
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    vocabulary = TriagePolicy().merged_vocabulary()
    rows = load_corpus(TRAIN)
    trainings = []
    for _ in range(3):
        started = time.perf_counter()
        model = TriageModel.train(rows, vocabulary)
        trainings.append(time.perf_counter() - started)
    texts = [r.text for r in rows + load_corpus(HELDOUT)]
    keywords = KeywordClassifier(vocabulary)
    hybrid = Classifier(vocabulary, model=model)
    kw_rate = rate(keywords.classify, texts, args.rounds)
    hybrid_rate = rate(hybrid.classify, texts, args.rounds)
    print(f"model {model.label}: training at start-up {statistics.median(trainings):.2f} s "
          f"(median of 3, {len(rows)} messages)")
    print(f"{'classifier':<34}{'classifications/s':>20}{'ms each':>10}")
    print(f"{'keyword rules only (baseline)':<34}{kw_rate:>20,.0f}{1000 / kw_rate:>10.2f}")
    print(f"{'rules + model (triage service)':<34}{hybrid_rate:>20,.0f}{1000 / hybrid_rate:>10.2f}")
    print(f"ratio rules+model / keywords: {hybrid_rate / kw_rate:.3f}  ({len(texts)} messages x {args.rounds} rounds)")


if __name__ == "__main__":
    main()
