"""`guardia classify`: the JSON-lines contract and --evaluate, on a local Typer app."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from guardia.commands.classify import OUTPUT_FIELDS, classify_command
from services.triage.model import HELDOUT
from services.triage.rules import Classifier

app = typer.Typer()
app.command("classify")(classify_command)


@app.command("noop")
def _noop() -> None:  # a second command, so "classify" is a subcommand as in guardia/cli.py
    """Nothing."""


runner = CliRunner()
TICKETS = [
    {"id": "t1", "text": "No puedo timbrar el CFDI, el SAT lo rechaza", "channel": "email"},
    {"id": "t2", "text": "muchas gracias", "channel": "whatsapp"},
    {"id": "t3", "text": "son unos inútiles, el POS no abre en ninguna caja", "channel": "phone"},
]


def _stdin() -> str:
    return "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in TICKETS) + "\n"


def test_json_lines_in_json_lines_out(classifier: Classifier) -> None:
    result = runner.invoke(app, ["classify"], input=_stdin())
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in lines] == ["t1", "t2", "t3"]
    for o in lines:
        assert tuple(o) == OUTPUT_FIELDS
        assert isinstance(o["categories"], list) and isinstance(o["reasons"], list)
        assert 0 <= o["confidence"] <= 1
        assert all(set(r) == {"rule", "detail"} for r in o["reasons"])
    t1, t2, t3 = lines
    assert (t1["type"], t1["priority"], t1["area"]) == ("problema", "alta", "facturacion")
    assert t2["type"] is None and t2["priority"] == "baja"
    assert t3["abusive"] is True and t3["priority"] == "urgente"
    # the same code as the service: the command's answer is the Classifier's
    d = classifier.classify("", TICKETS[0]["text"])
    assert t1["confidence"] == round(d.confidence, 3)
    assert t1["reasons"] == [r.model_dump() for r in d.reasons]


def test_files_instead_of_stdin(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(TICKETS[0]) + "\n", encoding="utf-8")
    b.write_text(json.dumps(TICKETS[1]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["classify", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["t1", "t2"]


def test_a_bad_line_stops_with_its_place() -> None:
    result = runner.invoke(app, ["classify"], input='{"id": "x", "text": "hola"}\nnot json\n')
    assert result.exit_code == 2
    assert "<stdin>:2" in result.output


def test_an_unknown_tenant_is_refused() -> None:
    result = runner.invoke(app, ["classify", "--tenant", "nobody"], input=_stdin())
    assert result.exit_code != 0
    assert "nobody" in result.output


def test_evaluate_prints_accuracy_confusion_and_worst_mistakes() -> None:
    result = runner.invoke(app, ["classify", "--evaluate", str(HELDOUT)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "330 tickets" in out
    for label in ("accuracy per field", "type", "priority", "area", "categories (exact match)",
                  "categories (micro-F1)", "abusive", "type confusion matrix", "10 worst mistakes"):
        assert label in out, label
    assert "tfidf-svm/" in out


def test_evaluate_reads_the_seeds_other_label_names_and_accents(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    rows = [
        {"id": "a", "text": "No podemos timbrar ninguna factura, el SAT rechaza todos los CFDI", "type": "Problema",
         "priority": "alto", "area": "Facturación", "categories": ["Documentos electrónicos"]},
        {"id": "b", "text": "muchas gracias ya quedó 👍", "type": "none", "priority": "bajo", "area": "otro",
         "categories": []},
        {"id": "c", "text": "No podemos entrar al sistema, todos los usuarios están bloqueados", "type": "anomalía",
         "priority": "crítico", "area": "acceso", "categories": ""},
    ]
    labeled.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["classify", "--evaluate", str(labeled)])
    assert result.exit_code == 0, result.output
    assert "3 tickets" in result.stdout
    assert re.search(r"priority\s*│\s*100\.0%", result.stdout), result.stdout


def test_evaluate_refuses_an_unknown_label_and_says_where(tmp_path: Path) -> None:
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(json.dumps({"id": "a", "text": "hola", "type": "pregunta", "priority": "altisima",
                                   "area": "otro"}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["classify", "--evaluate", str(labeled)])
    assert result.exit_code == 2
    said = re.sub(r"[\s│╭╮╰╯─]+", "", result.output)  # the error box wraps long lines
    assert "labeled.jsonl:1" in said and "priority'altisima'isnotoneof" in said and "urgente" in said
