"""Spanish messages from Jinja2 templates (the words customers read are the seeds' words)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateSyntaxError, meta

TEMPLATES = Path(__file__).with_name("templates")

TYPE_LABELS = {
    "problema": "Problema", "pregunta": "Pregunta", "anomalia": "Anomalía", "bug": "Bug",
    "solicitud": "Solicitud", "usabilidad": "Usabilidad",
}
PRIORITY_LABELS = {"urgente": "Urgente", "alta": "Alta", "media": "Media", "baja": "Baja"}
STAGE_LABELS = {  # 001 §3.2 "Etapas de los tiques", as the customer reads them
    "nuevo": "Nuevo", "en_proceso": "En proceso", "en_proceso_del_solicitante": "En espera de tu respuesta",
    "resuelto": "Resuelto", "cancelado": "Cancelado",
}
IMPACT = {"urgente": "crítico", "alta": "alto", "media": "medio", "baja": "bajo"}
REASON_LABELS = {
    "sla_breached": "se venció el tiempo de atención (SLA)",
    "bug_to_development": "los bugs se escalan al equipo de desarrollo",
    "urgent": "prioridad urgente",
}


#: Values every message gets (NotifyRules._common), so a tenant's template may use any of them even where
#: the built-in one does not.
COMMON_VALUES = frozenset({
    "ticket_number", "customer_name", "customer_company", "subject", "ticket_type_label", "priority_label",
    "impact", "deadline", "timezone_label", "company", "signature", "official_channels",
})


@cache
def environment(overrides: Path | None = None) -> Environment:
    """The built-in templates, behind a tenant's own folder when it has one (a file there wins by name)."""
    loaders = [FileSystemLoader(overrides)] if overrides is not None else []
    return Environment(
        loader=ChoiceLoader([*loaders, FileSystemLoader(TEMPLATES)]), undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # plain text; the e-mail HTML part is escaped as a whole (formatting.as_html)
    )


def render(template: str, overrides: Path | None = None, **values: Any) -> str:
    return environment(overrides).get_template(template).render(**values).strip() + "\n"


def _variables(env: Environment, path: Path) -> set[str]:
    return set(meta.find_undeclared_variables(env.parse(path.read_text(encoding="utf-8"))))


def override_problems(folder: Path) -> list[str]:
    """What is wrong with a tenant's template folder, checked when the policy loads rather than when a
    customer's message is due: a name no built-in template has (a typo would never be used), a syntax
    error, or a value the message never receives (StrictUndefined would fail the send)."""
    env = Environment(undefined=StrictUndefined)
    problems = []
    for path in sorted(folder.iterdir()):
        builtin = TEMPLATES / path.name
        if not builtin.is_file():
            known = ", ".join(sorted(p.name for p in TEMPLATES.glob("*.j2")))
            problems.append(f"{path}: no built-in template has this name (known: {known})")
            continue
        try:
            used = _variables(env, path)
        except TemplateSyntaxError as exc:
            problems.append(f"{path}:{exc.lineno}: template syntax error: {exc.message}")
            continue
        unknown = used - _variables(env, builtin) - COMMON_VALUES
        if unknown:
            problems.append(f"{path}: uses {', '.join(sorted(unknown))}, which this message does not receive")
    return problems


def local_time(at: datetime | str | None, timezone: str) -> str | None:
    """'24/11/2026 10:00' in the tenant's zone, as customers in Latin America write dates."""
    if at is None:
        return None
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")


def timezone_label(timezone: str) -> str:
    return timezone.rsplit("/", 1)[-1].replace("_", " ")
