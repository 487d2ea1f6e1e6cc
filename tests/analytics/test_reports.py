"""Each metric computed by hand on the week of tests/analytics/scenario.py, compared with the reports' CSV.

Calendar: America/Bogota, Mon-Fri 08:00-18:00, Tue 2026-12-08 is a Colombian holiday (Inmaculada).
Resolutions (opened -> last resuelto), calendar / business:
  A Mon 09:00 -> Mon 15:00          6 h / 6 h
  B Mon 17:00 -> Wed 09:00         40 h / 2 h  (Mon 17-18, holiday, Wed 8-9)
  C Fri 17:00 -> Mon 10:00         65 h / 3 h  (Fri 17-18, weekend, Mon 8-10)
  E Wed 09:00 -> Wed 12:00          3 h / 3 h
  F Wed 10:00 -> Thu 10:00         24 h / 10 h (reopened Thu 09:00; last resuelto counts)
Median over those five: 24 h calendar, 3 h business.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from guardia.analytics.replay import replay_file
from guardia.analytics.reports import build_report
from guardia.analytics.reports.render import cell, read_csv_sections, render, to_csv
from guardia.policy import Policies

from .scenario import WEEK_FIRST, WEEK_LAST, at, week_log


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = week_log(tmp_path_factory.mktemp("week") / "events.jsonl")
    return replay_file(path, None).connection


POLICY = Policies.load()["navegasoft"]


def csv_of(con, kind: str, at_: datetime, first=WEEK_FIRST, last=WEEK_LAST):  # type: ignore[no-untyped-def]
    return read_csv_sections(to_csv(build_report(kind, con, POLICY, "navegasoft", first, last, at_)))


def kv(rows: list[dict[str, str]]) -> dict[str, str]:
    return {r["Indicador"]: r[list(r)[1]] for r in rows}


def test_weekly_kpis_equal_the_hand_computed_week(con) -> None:  # type: ignore[no-untyped-def]
    """opened A B D E F G = 6; resolved once a day per ticket: A C (Mon), B E F (Wed), F (Thu) = 6;
    backlog at the week's end: D; attainment over clocks ending in the week: met A B C E F, breached D
    -> 5/6 = 83.3 %; reopen: F / resolved tickets A B C E F = 20 %; one-touch: B C E of the five (A
    paused, F reopened) = 60 %. Previous week: C opened and still open at its end."""
    sections = csv_of(con, "weekly", at(14, 0))
    kpis = {r["Indicador"]: (r["Esta semana"], r["Semana anterior"]) for r in sections["kpis"]}
    assert kpis["Abiertos"] == ("6", "1")
    assert kpis["Resueltos"] == ("6", "0")
    assert kpis["Pendientes al cierre"] == ("1", "1")
    assert kpis["Cumplimiento ANS (%)"] == ("83.3", "")
    assert kpis["Tasa de reapertura (%)"] == ("20", "")
    assert kpis["Mediana de resolución (h calendario)"] == ("24", "")
    assert kpis["Mediana de resolución (h hábiles)"] == ("3", "")
    assert kpis["Resueltos en un toque (%)"] == ("60", "")


def test_weekly_log_follows_each_ticket_by_event_time(con) -> None:  # type: ignore[no-untyped-def]
    """A's first en_proceso was stored after its resolution but happened at 10:00: its trajectory is
    in event order. E's merge was undone: not shown as merged. D went nivel_1 -> nivel_2."""
    rows = {r["Tique"]: r for r in csv_of(con, "weekly", at(14, 0))["bitacora"]}
    assert rows["NS-000001"]["Trayectoria (etapas)"] == (
        "nuevo → en_proceso → en_proceso_del_solicitante → en_proceso → resuelto")
    assert rows["NS-000004"]["Escalamientos"] == "nivel_1→nivel_2"
    assert rows["NS-000004"]["ANS"] == "incumplido"
    assert rows["NS-000005"]["Etapa actual"] == "Resuelto"
    assert rows["NS-000006"]["Reaperturas"] == "1"
    assert rows["NS-000007"]["ANS"] == "exento"
    assert set(rows) == {f"NS-00000{i}" for i in range(1, 8)}  # C was touched (resolved) this week


def test_sla_attainment_by_type_counts_each_clock_once(con) -> None:  # type: ignore[no-untyped-def]
    """problema: A F met, D breached (re-targeted from pregunta: counted once, by its final type);
    pregunta B; anomalía C; solicitud E (its clock cancelled by the merge and restarted: once)."""
    sections = csv_of(con, "sla", at(14, 0))
    by_type = {r["Tipo"]: (r["Objetivo (001)"], r["Cumplidos"], r["Incumplidos"], r["Cumplimiento (%)"])
               for r in sections["cumplimiento_por_tipo"]}
    assert by_type == {"anomalia": ("72 h", "1", "0", "100"), "pregunta": ("48 h", "1", "0", "100"),
                       "problema": ("24 h", "2", "1", "66.7"), "solicitud": ("3 días hábiles", "1", "0", "100")}
    summary = kv(sections["resumen"])
    assert summary["Relojes cumplidos"] == "5"
    assert summary["Relojes incumplidos"] == "1"
    assert summary["Cumplimiento (%)"] == "83.3"
    assert summary["Tiques exentos"] == "1"


def test_sla_paused_share_is_business_time_paused_over_clocked(con) -> None:  # type: ignore[no-untyped-def]
    """Clocked business time, start -> terminal: A 6 h, B 2 h, C 3 h, D Mon 08-18 = 10 h (breached on
    the holiday), E 3 h, F 1 h = 25 h; paused: A 2 h -> 8 %."""
    summary = kv(csv_of(con, "sla", at(14, 0))["resumen"])
    assert summary["Tiempo en pausa (h hábiles)"] == "2"
    assert summary["Tiempo con reloj (h hábiles)"] == "25"
    assert summary["Proporción en pausa (%)"] == "8"


def test_sla_lists_breaches_warnings_and_exemptions(con) -> None:  # type: ignore[no-untyped-def]
    sections = csv_of(con, "sla", at(14, 0))
    [breach] = sections["incumplimientos"]
    assert breach["Tique"] == "NS-000004"
    assert breach["Vencía"] == "2026-12-08 08:00"
    assert breach["Etapa actual"] == "En proceso"
    assert sections["alertas_por_fraccion"] == [{"Fracción (%)": "50", "Alertas": "1"}]
    assert sections["exenciones"] == [{"Motivo": "Cliente no elegible", "Tiques": "1"}]
    assert sections["cancelados"] == []  # E's cancelled cycle was restarted and met


def test_daily_report_of_monday(con) -> None:  # type: ignore[no-untyped-def]
    """Mon 12-07: opened D 08:00, A 09:00, B 17:00; resolved C 10:00, A 15:00; D's 50 % warning at
    20:00; open at the day's end: B and D."""
    sections = csv_of(con, "daily", at(8, 12), WEEK_FIRST, WEEK_FIRST)
    summary = kv(sections["resumen"])
    assert summary == {"Casos abiertos en el día": "3", "Casos resueltos en el día": "2", "Incumplimientos": "0",
                       "Alertas de vencimiento": "1", "Casos abiertos al cierre del día": "2"}
    resolved = {r["Tique"]: (r["Resolución (h calendario)"], r["Resolución (h hábiles)"])
                for r in sections["resueltos"]}
    assert resolved == {"NS-000003": ("65", "3"), "NS-000001": ("6", "6")}
    hours = {r["Hora"]: (r["Abiertos"], r["Resueltos"]) for r in sections["por_hora"] if r["Abiertos"] != "0"
             or r["Resueltos"] != "0"}
    assert hours == {"8": ("1", "0"), "9": ("1", "0"), "10": ("0", "1"), "15": ("0", "1"), "17": ("1", "0")}


def test_handover_orders_by_business_time_left_and_lists_the_ineligible(con) -> None:  # type: ignore[no-untyped-def]
    """Thu 12-10 14:00, shift 07:00-15:00. Open: D only, due Tue 08:00: -54 h calendar, -16 h business
    (the holiday counts 0, Wed 10 h, Thu 08-14 6 h). G (in arrears) opened in this shift."""
    sections = csv_of(con, "handover", at(10, 14), at(10, 0).date(), at(10, 0).date())
    [d] = sections["por_vencer"]
    assert (d["Tique"], d["Restante (h calendario)"], d["Restante (h hábiles)"]) == ("NS-000004", "-54", "-16")
    assert [r["Situación"] for r in sections["incumplidos_y_en_riesgo"]] == ["incumplido"]
    assert sections["escalados"][0]["Nivel actual"] == "nivel_2"
    [g] = sections["no_elegibles"]
    assert g["Tique"] == "NS-000007" and g["Motivo"] == "in_arrears" and g["Enviar a"] == "area_comercial"
    assert len(g["Cliente"]) == 16  # the customer's key, a hash: no name by default


@pytest.mark.parametrize("kind", ["sla", "daily", "weekly", "handover"])
def test_html_is_self_contained_and_its_chart_data_equal_the_csv(con, kind: str) -> None:  # type: ignore[no-untyped-def]
    report = build_report(kind, con, POLICY, "navegasoft", WEEK_FIRST, WEEK_LAST, at(10, 14))
    html = render(report, "html")
    # the markup around the inlined scripts (their bodies are the vendored vega builds)
    markup = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", html, flags=re.S)
    assert not re.search(r"<(script|img|iframe|link|source|embed|object)\b[^>]*\b(src|href|data)\s*=", markup, re.I)
    assert not re.search(r"@import|url\(", markup, re.I)
    assert markup.count("<script") == html.count("<script")
    csv_sections = read_csv_sections(render(report, "csv"))
    specs = dict(re.findall(r'<script type="application/json" id="spec-([\w]+)">(.*?)</script>', html, re.S))
    assert specs.keys() == {s.id for s in report.sections if s.chart}
    for section_id, text in specs.items():
        values = json.loads(text.replace("<\\/", "</"))["data"]["values"]
        section = report.section(section_id)
        assert section.chart is not None
        x_label = dict(section.columns)[section.chart.x]
        expected = [(row[x_label], label, row[label]) for row in csv_sections[section_id]
                    for label in (dict(section.columns)[y] for y in section.chart.y)]
        assert [(v["x"], v["serie"], cell(v["valor"])) for v in values] == expected


def test_markdown_report_is_written(con, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = render(build_report("weekly", con, POLICY, "navegasoft", WEEK_FIRST, WEEK_LAST, at(14, 0)), "md")
    assert "## Indicadores frente a la semana anterior" in text
    assert "| Abiertos | 6 | 1 | 5 |" in text
