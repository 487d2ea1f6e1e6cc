"""The statistical model: deterministic training, and accuracy that must not regress.

Two sets are only read here, by `guardia classify --evaluate` and by `guardia triage retrain`, never by
training: the held-out split (written by the corpus's own annotators; floors = the accuracies measured
on 2026-12-02 minus 3 points) and the independent set (written by an annotator who never saw the
training data nor the classifier, labeled again blind by a second one; floor = the 90 % per field that
issue 13 asks of messages the model was never tuned on).
"""

from __future__ import annotations

from pathlib import Path

from numpy import vstack as np_stack

from services.triage import model as model_module
from services.triage.evaluate import agreement, evaluate_rows
from services.triage.model import HELDOUT, INDEPENDENT, TRAIN, FastTfidf, TriageModel, load_corpus, trained_model
from services.triage.policy import TriagePolicy
from services.triage.rules import Classifier

MEASURED = {"type": 0.933, "priority": 0.955, "area": 0.930}
FLOOR = {field: value - 0.03 for field, value in MEASURED.items()}
INDEPENDENT_FLOOR = {"type": 0.90, "priority": 0.90, "area": 0.90}


def test_heldout_accuracy_does_not_regress(classifier: Classifier) -> None:
    report = evaluate_rows(lambda text: classifier.classify("", text), load_corpus(HELDOUT), classifier.review_below)
    assert report.n == 330
    measured = {field: report.accuracy(field) for field in FLOOR}
    assert all(measured[f] >= FLOOR[f] for f in FLOOR), (measured, FLOOR)
    assert report.accuracy("abusive") >= 0.95
    assert report.categories_micro_f1 >= 0.75


def test_the_heldout_split_is_not_in_training() -> None:
    train = {r.id for r in load_corpus(TRAIN)}
    heldout = {r.id for r in load_corpus(HELDOUT)}
    assert len(train) == 1705
    assert not train & heldout


def test_messages_never_tuned_on_are_classified_at_least_90_percent_right(classifier: Classifier) -> None:
    report = evaluate_rows(lambda text: classifier.classify("", text), load_corpus(INDEPENDENT),
                           classifier.review_below)
    assert report.n == 260
    measured = {field: report.accuracy(field) for field in INDEPENDENT_FLOOR}
    assert all(measured[f] >= INDEPENDENT_FLOOR[f] for f in INDEPENDENT_FLOOR), measured
    assert report.abusive_tp / max(1, report.abusive_tp + report.abusive_fn) >= 0.8  # recall of put-downs


def _shingles(text: str) -> set[str]:
    t = " ".join(text.lower().split())
    return {t[i:i + 5] for i in range(max(1, len(t) - 4))}


def test_the_independent_set_shares_no_message_with_training() -> None:
    train = load_corpus(TRAIN)
    independent = load_corpus(INDEPENDENT)
    assert not {r.id for r in train} & {r.id for r in independent}
    train_sets = [_shingles(r.text) for r in train]
    # one-liners ("ok", "buenos días 🌞") are the same everywhere; anything longer was written apart (the
    # closest, 0.79, is one generic question two writers phrased alike: "¿puedo entrar desde dos computadoras...")
    longer = [a for r in independent if len(r.text.split()) > 5 and (a := _shingles(r.text))]
    closest = max(len(a & b) / len(a | b) for a in longer for b in train_sets)
    assert closest < 0.8, closest


def test_the_independent_set_was_labeled_twice_blind() -> None:
    first = load_corpus(INDEPENDENT)
    second = load_corpus(INDEPENDENT.with_name("independent_second.jsonl"))
    assert [r.id for r in first] == [r.id for r in second]
    agreed = agreement(first, second)
    assert all(same / n >= 0.85 for same, n in agreed.values()), agreed  # what README reports as the ceiling


def test_training_is_deterministic(classifier: Classifier) -> None:
    vocabulary = TriagePolicy().merged_vocabulary()
    again = TriageModel.train(load_corpus(TRAIN), vocabulary)
    first = classifier.model
    assert again.version == first.version
    assert again.label.startswith("tfidf-svm/")
    texts = [r.text for r in load_corpus(HELDOUT)[:40]]
    for a, b in zip(first.predict(texts), again.predict(texts), strict=True):
        assert a == b


def test_the_version_changes_with_the_training_data() -> None:
    vocabulary = TriagePolicy().merged_vocabulary()
    rows = load_corpus(TRAIN)
    from services.triage.model import HyperParameters, model_version

    hp = HyperParameters()
    assert model_version(rows, vocabulary, hp) != model_version(rows[:-1], vocabulary, hp)
    assert model_version(rows, vocabulary, hp) != model_version(rows, vocabulary, HyperParameters(c_type=2.0))


def test_the_fast_tfidf_gives_sklearns_numbers(classifier: Classifier) -> None:
    featurizer = classifier.model.featurizer
    norms = [featurizer.vocabulary.normalized(r.text) for r in load_corpus(HELDOUT)] + ["", "?", "xyzzy qwv"]
    norms.insert(3, "")  # an empty row inside a batch too
    for vectorizer in (featurizer._word, featurizer._char):
        fast = FastTfidf(vectorizer)
        theirs = vectorizer.transform(norms).toarray()
        for _ in range(2):  # the second pass reads the per-word cache
            ours = fast.transform(norms).toarray()
            assert ours.shape == theirs.shape
            assert abs(ours - theirs).max() < 1e-12
        one_by_one = [fast.transform([n]).toarray()[0] for n in norms[:20]]
        assert abs(np_stack(one_by_one) - theirs[:20]).max() < 1e-12


def test_a_batch_is_classified_as_each_message_alone(classifier: Classifier) -> None:
    texts = [r.text for r in load_corpus(HELDOUT)[:120]]
    assert classifier.classify_many([("", t) for t in texts]) == [classifier.classify("", t) for t in texts]


def test_a_model_cached_on_disk_is_the_model_trained(tmp_path: Path) -> None:
    vocabulary = TriagePolicy().merged_vocabulary()
    first = trained_model(vocabulary, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.pkl"))) == 1
    model_module._TRAINED.clear()  # a new process: nothing in memory
    again = trained_model(vocabulary, cache_dir=tmp_path)
    assert again is not first and again.version == first.version
    texts = [r.text for r in load_corpus(HELDOUT)[:50]]
    assert again.predict(texts) == first.predict(texts)
    (next(tmp_path.glob("*.pkl"))).write_bytes(b"torn")  # a torn file is retrained, not trusted
    model_module._TRAINED.clear()
    assert trained_model(vocabulary, cache_dir=tmp_path).version == first.version
