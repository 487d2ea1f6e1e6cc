"""Triage throughput on one core: the service's one-at-a-time path and `guardia classify`'s batches,
against the keyword rules alone in the same run.

    .venv/bin/python bench/classify.py [--rounds 3] [--batch 512]

Three measurements over every corpus message (train + heldout), in this single process:
1. keyword rules only (`KeywordClassifier.classify`, one message at a time): the baseline;
2. the triage service's path (`Classifier.classify`, one message at a time, as each ticket arrives):
   classifications per second and the latency of each call, p50 / p99 / max;
3. `guardia classify` on a file (`Classifier.classify_many`, batches of --batch messages): what a
   re-classification of a year of tickets for a what-if runs at.
Also how long the model takes to train at start-up. BLAS is limited to one thread so the model's
matrix products use one core.
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


def one_at_a_time(classify: Callable[[str, str], object], texts: list[str], rounds: int) -> tuple[float, list[float]]:
    """Best-of-rounds classifications per second, and every call's latency in ms (all rounds)."""
    classify("", texts[0])  # warm caches
    rates, latencies = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            t0 = time.perf_counter()
            classify("", text)
            latencies.append((time.perf_counter() - t0) * 1000)
        rates.append(len(texts) / (time.perf_counter() - started))
    return max(rates), latencies


def batched(classifier: Classifier, texts: list[str], rounds: int, size: int) -> float:
    """Best-of-rounds classifications per second through classify_many, `size` messages a call. The
    first round starts cold (no word remembered), as a fresh `guardia classify` process does."""
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for i in range(0, len(texts), size):
            classifier.classify_many([("", t) for t in texts[i:i + size]])
        rates.append(len(texts) / (time.perf_counter() - started))
    return max(rates)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=512)
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
    fresh = Classifier(vocabulary, model=model)
    batch_rate = batched(fresh, texts, args.rounds, args.batch)  # first, while its word cache is cold
    kw_rate, kw_ms = one_at_a_time(keywords.classify, texts, args.rounds)
    one_rate, one_ms = one_at_a_time(Classifier(vocabulary, model=model).classify, texts, args.rounds)
    print(f"model {model.label}: training at start-up {statistics.median(trainings):.2f} s "
          f"(median of 3, {len(rows)} messages); {len(texts)} messages x {args.rounds} rounds")
    print(f"{'path':<46}{'classifications/s':>18}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'ratio':>7}")
    print(f"{'keyword rules only, one at a time (baseline)':<46}{kw_rate:>18,.0f}{pct(kw_ms, .5):>8.2f}"
          f"{pct(kw_ms, .99):>8.2f}{max(kw_ms):>8.2f}{1:>7.2f}")
    print(f"{'rules + model, one at a time (triage service)':<46}{one_rate:>18,.0f}{pct(one_ms, .5):>8.2f}"
          f"{pct(one_ms, .99):>8.2f}{max(one_ms):>8.2f}{one_rate / kw_rate:>7.2f}")
    print(f"{f'rules + model, batches of {args.batch} (guardia classify)':<46}{batch_rate:>18,.0f}"
          f"{'':>8}{'':>8}{'':>8}{batch_rate / kw_rate:>7.2f}")


if __name__ == "__main__":
    main()
