"""The domain's closed vocabularies, with the Spanish names the seeds use.

001 §3.2 defines types, priorities (= impact for customers) and stages; 003 the areas; 001 the
categories and the seven playbooks of §3.4.1.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

#: A tenant is one support organisation; its id is a NATS subject token.
TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class Channel(StrEnum):
    whatsapp = "whatsapp"
    telegram = "telegram"
    email = "email"
    phone = "phone"
    sms = "sms"
    webchat = "webchat"
    webform = "webform"


class TicketType(StrEnum):
    """001 §3.1/§3.2: the six ticket types."""

    problema = "problema"
    pregunta = "pregunta"
    anomalia = "anomalia"
    bug = "bug"
    solicitud = "solicitud"
    usabilidad = "usabilidad"


class Priority(StrEnum):
    """001 §3.2: stars; customers see them as impact (crítico, alto, medio, bajo)."""

    urgente = "urgente"
    alta = "alta"
    media = "media"
    baja = "baja"

    @property
    def impact(self) -> str:
        return {"urgente": "crítico", "alta": "alto", "media": "medio", "baja": "bajo"}[self.value]


class Area(StrEnum):
    facturacion = "facturacion"
    contabilidad = "contabilidad"
    nomina = "nomina"
    inventario = "inventario"
    acceso = "acceso"
    comercial = "comercial"
    otro = "otro"


class Category(StrEnum):
    oportunidad_de_mejora = "oportunidad_de_mejora"
    garantia = "garantia"
    folios = "folios"
    activar_base = "activar_base"
    cotizacion = "cotizacion"
    documentos_electronicos = "documentos_electronicos"
    modulos = "modulos"
    ambiente_de_pruebas = "ambiente_de_pruebas"
    bajar_base = "bajar_base"
    activacion = "activacion"


class Status(StrEnum):
    """001 §3.2 'Etapas de los tiques'."""

    nuevo = "nuevo"
    en_proceso = "en_proceso"
    en_proceso_del_solicitante = "en_proceso_del_solicitante"
    resuelto = "resuelto"
    cancelado = "cancelado"

    @property
    def is_closed(self) -> bool:
        return self in (Status.resuelto, Status.cancelado)
