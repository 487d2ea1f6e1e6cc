"""Spanish messages from Jinja2 templates (the words customers read are the seeds' words)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).with_name("templates")

TYPE_LABELS = {
    "problema": "Problema", "pregunta": "Pregunta", "anomalia": "Anomalía", "bug": "Bug",
    "solicitud": "Solicitud", "usabilidad": "Usabilidad",
}
PRIORITY_LABELS = {"urgente": "Urgente", "alta": "Alta", "media": "Media", "baja": "Baja"}
IMPACT = {"urgente": "crítico", "alta": "alto", "media": "medio", "baja": "bajo"}
REASON_LABELS = {
    "sla_breached": "se venció el tiempo de atención (SLA)",
    "bug_to_development": "los bugs se escalan al equipo de desarrollo",
    "urgent": "prioridad urgente",
}


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=False,
        autoescape=False,  # plain-text messages; HTML e-mail would use a separate, escaped template set
    )


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values).strip() + "\n"


def local_time(at: datetime | str | None, timezone: str) -> str | None:
    """'24/11/2026 10:00' in the tenant's zone, as customers in Latin America write dates."""
    if at is None:
        return None
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")


def timezone_label(timezone: str) -> str:
    return timezone.rsplit("/", 1)[-1].replace("_", " ")
