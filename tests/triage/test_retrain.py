"""`guardia triage retrain`: agents' corrections ship only when the model is not worse on the independent set."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guardia.cli import app
from services.triage import model as model_module
from services.triage.model import HELDOUT, Labeled, load_corpus, trained_model
from services.triage.policy import TriagePolicy
from services.triage.rules import Classifier


def write(path: Path, rows: list[Labeled]) -> Path:
    path.write_text("".join(json.dumps({**asdict(r), "categories": list(r.categories)}, ensure_ascii=False) + "\n"
                            for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def judged(tmp_path: Path) -> tuple[Path, list[Labeled]]:
    """A small judging set (heldout messages stand in for the independent set here)."""
    rows = [r for r in load_corpus(HELDOUT) if r.type is not None][:60]
    return write(tmp_path / "judge.jsonl", rows), rows


def run(tmp_path: Path, corrections: Path, independent: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["triage", "retrain", "--corrections", str(corrections),
                                      "--independent", str(independent)],
                                env={"GUARDIA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"})
    return result.exit_code, result.output


def test_corrections_that_make_the_model_worse_are_refused_and_change_nothing(
        tmp_path: Path, judged: tuple[Path, list[Labeled]]) -> None:
    path, rows = judged
    # an agent who labels everything the same: wrong on most of the judging set, many times over
    wrong = [replace(r, id=f"bad-{i}-{k}", area="otro", priority="baja", type="usabilidad")
             for k in range(6) for i, r in enumerate(rows)]
    code, out = run(tmp_path, write(tmp_path / "bad.jsonl", wrong), path)
    assert code == 1, out
    assert "refused" in out
    assert not (tmp_path / "data" / "triage" / "corrections.jsonl").exists()


def test_corrections_that_do_not_make_it_worse_are_kept_and_served_after_a_restart(
        tmp_path: Path, judged: tuple[Path, list[Labeled]]) -> None:
    path, rows = judged
    good = [replace(r, id=f"fix-{r.id}") for r in rows[:30]]  # correct labels of messages like the judged ones
    code, out = run(tmp_path, write(tmp_path / "good.jsonl", good), path)
    assert code == 0, out
    assert "accepted" in out
    kept = tmp_path / "data" / "triage" / "corrections.jsonl"
    assert [r.id for r in load_corpus(kept)] == [r.id for r in good]
    # what the service trains at start: the corpus plus the accepted corrections, a new version
    vocabulary = TriagePolicy().merged_vocabulary()
    model_module._TRAINED.clear()
    served = trained_model(vocabulary, extra=kept)
    assert served.version != trained_model(vocabulary).version
    assert served.version in out  # the version the retrain announced is the one served
    assert served.trained_on == len(load_corpus(model_module.TRAIN)) + len(good)
    decision = Classifier(vocabulary, model=served).classify("", rows[0].text)
    assert decision.classifier.endswith(served.version)  # the model version is on every decision
