"""A report as CSV, Markdown or one self-contained HTML file.

CSV: every section as a block, `# <section id>: <title>` then the header (Spanish labels) and the rows;
`read_csv_sections` reads it back. HTML: Jinja2, the same rows as tables, and each chart as a Vega-Lite
spec (built with Altair) whose data are the section's rows, embedded as JSON and drawn by the vega,
vega-lite and vega-embed builds vendored in `guardia/analytics/static/` and inlined: the file loads
nothing from outside.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from guardia.analytics.reports.common import Chart, Report, Section

VENDORED = ("vega-6.4.0.min.js", "vega-lite-6.5.0.min.js", "vega-embed-7.3.0.min.js")


def cell(value: Any) -> str:
    """One printed value, the same in every format."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sí" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    return str(value)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"# {report.kind}: {report.title}", report.tenant, report.period])
    for section in report.sections:
        writer.writerow([])
        writer.writerow([f"# {section.id}: {section.title}"])
        writer.writerow([label for _, label in section.columns])
        for row in section.rows:
            writer.writerow([cell(row.get(key)) for key, _ in section.columns])
    return out.getvalue()


def read_csv_sections(text: str) -> dict[str, list[dict[str, str]]]:
    """CSV report -> {section id: rows as {label: printed value}} (for tests and spreadsheets' users)."""
    sections: dict[str, list[dict[str, str]]] = {}
    current: str | None = None
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or not any(row):
            continue
        if row[0].startswith("# "):
            current = row[0][2:].split(":", 1)[0] if len(row) == 1 else None
            header = None
            if current is not None:
                sections[current] = []
            continue
        if current is None:
            continue
        if header is None:
            header = row
            continue
        sections[current].append(dict(zip(header, row, strict=True)))
    return sections


def to_markdown(report: Report) -> str:
    lines = [f"# {report.title}", "", f"**{report.tenant}** · {report.period} · {report.generated_for}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        if section.note:
            lines += [section.note, ""]
        if not section.rows:
            lines += ["_(ninguno)_", ""]
            continue
        lines.append("| " + " | ".join(label for _, label in section.columns) + " |")
        lines.append("|" + "---|" * len(section.columns))
        for row in section.rows:
            lines.append("| " + " | ".join(cell(row.get(k)).replace("|", "\\|") for k, _ in section.columns) + " |")
        lines.append("")
    return "\n".join(lines)


def chart_spec(section: Section, chart: Chart) -> dict[str, Any]:
    """Vega-Lite (Altair) spec; its data are the section's rows as printed in the CSV, one per measure."""
    import altair as alt

    labels = dict(section.columns)
    values = [{"x": cell(row.get(chart.x)), "serie": labels[y], "valor": row.get(y)}
              for row in section.rows for y in chart.y]
    base = alt.Chart(alt.Data(values=values), title=chart.title)  # type: ignore[no-untyped-call]
    mark = base.mark_line(point=True) if chart.mark == "line" else base.mark_bar()
    x = alt.X("x:O" if chart.x_type == "ordinal" else "x:T", title=labels[chart.x], sort=None)
    encoded = mark.encode(x=x, y=alt.Y("valor:Q", title=""), color=alt.Color("serie:N", title=""),
                          tooltip=["x:N", "serie:N", "valor:Q"])
    if chart.mark == "bar" and len(chart.y) > 1:
        encoded = encoded.encode(xOffset="serie:N")
    with alt.data_transformers.enable("default"), alt.data_transformers.disable_max_rows():
        spec: dict[str, Any] = encoded.properties(width="container", height=220).to_dict(validate=False)
    spec.pop("$schema", None)
    spec["data"] = {"values": values}
    spec.pop("datasets", None)
    return spec


@cache
def _vendored_js() -> str:
    folder = resources.files("guardia.analytics") / "static"
    return "\n".join(folder.joinpath(name).read_text(encoding="utf-8") for name in VENDORED)


def _script_json(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")


TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8"><title>{{ report.title }} · {{ report.tenant }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem}
th{background:#f3f3f3;text-align:left}td.n{text-align:right}.chart{width:100%;max-width:900px}
.note{color:#555;font-size:.9rem}
</style></head><body>
<h1>{{ report.title }}</h1>
<p><strong>{{ report.tenant }}</strong> · {{ report.period }} · {{ report.generated_for }}</p>
{% for s in report.sections %}
<section id="{{ s.id }}"><h2>{{ s.title }}</h2>
{% if s.note %}<p class="note">{{ s.note }}</p>{% endif %}
{% if s.chart %}<div class="chart" id="chart-{{ s.id }}"></div>
<script type="application/json" id="spec-{{ s.id }}">{{ specs[s.id] | safe }}</script>{% endif %}
{% if s.rows %}<table><thead><tr>{% for k, label in s.columns %}<th>{{ label }}</th>{% endfor %}</tr></thead><tbody>
{% for row in s.rows %}<tr>{% for k, label in s.columns -%}
<td{% if row[k] is number %} class="n"{% endif %}>{{ cell(row.get(k)) }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% else %}<p><em>(ninguno)</em></p>{% endif %}
</section>
{% endfor %}
<script>{{ js | safe }}</script>
<script>
document.querySelectorAll('script[id^="spec-"]').forEach(function (el) {
  vegaEmbed('#chart-' + el.id.slice(5), JSON.parse(el.textContent), {actions: false, renderer: 'svg'});
});
</script>
</body></html>
""")


def to_html(report: Report) -> str:
    specs = {s.id: _script_json(chart_spec(s, s.chart)) for s in report.sections if s.chart}
    return TEMPLATE.render(report=report, specs=specs, js=_vendored_js(), cell=cell)


def render(report: Report, fmt: str) -> str:
    if fmt == "csv":
        return to_csv(report)
    if fmt == "md":
        return to_markdown(report)
    if fmt == "html":
        return to_html(report)
    raise ValueError(f"unknown format {fmt!r}: html, md or csv")
