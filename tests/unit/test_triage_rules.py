"""Triage's first rule set (001 §3.2 types and priorities) with the built-in Spanish vocabulary."""

from __future__ import annotations

import pytest

from services.triage.normalize import PhraseIndex, normalize
from services.triage.policy import TriagePolicy
from services.triage.rules import Classifier
from shared.schemas import Area, Category, Priority, TicketType

CLASSIFIER = Classifier(TriagePolicy().merged_vocabulary())


def classify(text: str, subject: str = ""):
    return CLASSIFIER.classify(subject, text)


def test_one_pass_finds_every_lists_phrases_in_their_order() -> None:
    index = PhraseIndex({"edocs": ("no puedo timbrar", "factura"), "area": ("factura", "rechaz"), "none": ("logo",)})
    found = index.match(normalize("No puedo timbrar las facturas, el SAT las RECHAZÓ"))
    assert found == {"edocs": ["no puedo timbrar", "factura"], "area": ["factura", "rechaz"]}
    assert index.match(normalize("¿Cómo cambio el logo?")) == {"none": ["logo"]}
    assert index.match(normalize("facturas y mas facturas")) == {"edocs": ["factura"], "area": ["factura"]}
    assert index.match(normalize("otra factura"))["edocs"] == ["factura"]


def test_normalize_folds_case_accents_and_punctuation() -> None:
    assert normalize("¿Cómo TIMBRO la nómina?") == "como timbro la nomina ?"


# -- urgente: cannot access or operate the platform / the point of sale ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "No puedo entrar a la plataforma desde esta mañana",
        "No podemos acceder al sistema, todos los usuarios están bloqueados",
        "No puedo ingresar a Odoo",
        "El POS no abre y tenemos clientes en la fila",
        "No puedo entrar al punto de venta para operar",
        "No podemos vender, el sistema está caído",
    ],
)
def test_cannot_access_or_operate_the_platform_or_the_pos_is_urgente(text: str) -> None:
    d = classify(text)
    assert d.priority is Priority.urgente
    assert any(r.rule.startswith("001 §3.2 urgente") for r in d.reasons)


def test_the_word_urgente_alone_does_not_make_a_ticket_urgent() -> None:
    d = classify("URGENTE", subject="URGENTE!!!")
    assert d.priority is not Priority.urgente


def test_an_urgent_word_in_a_routine_request_does_not_make_it_urgent() -> None:
    d = classify("Por favor, urgente, necesito el certificado de retención")
    assert d.ticket_type is TicketType.solicitud
    assert d.priority is Priority.baja


# -- alta: cannot issue electronic documents ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "No puedo timbrar el CFDI, me sale rechazado",
        "No puedo emitir facturas electrónicas, la DIAN las rechaza",
        "No me deja enviar la nómina electrónica a la DIAN",
        "no puedo generar la factura electrónica",
    ],
)
def test_cannot_issue_electronic_documents_is_alta(text: str) -> None:
    d = classify(text)
    assert d.priority is Priority.alta
    assert any("documentos electr" in r.rule for r in d.reasons)


def test_a_rejected_cfdi_follows_the_electronic_documents_playbook() -> None:
    d = classify("No puedo timbrar el CFDI, me sale rechazado")
    assert Category.documentos_electronicos in d.categories
    assert d.playbook == "emision_documentos_electronicos"
    assert d.area is Area.facturacion


def test_a_question_about_electronic_invoicing_is_not_alta() -> None:
    d = classify("¿Cómo genero una nota de crédito electrónica en la DIAN?")
    assert d.ticket_type is TicketType.pregunta
    assert d.priority is Priority.baja


def test_no_se_puede_transmitir_la_nomina_electronica_is_alta() -> None:
    d = classify("No se puede transmitir la nómina electrónica, la DIAN devuelve error")
    assert d.ticket_type is not TicketType.pregunta
    assert d.priority is Priority.alta


# -- baja and media -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "playbook"),
    [
        ("Solicito la suspensión de la base por falta de pago", Category.bajar_base, "bajar_base"),
        ("Por favor suspender la base de datos de la empresa", Category.bajar_base, "bajar_base"),
        ("Necesitamos un ambiente de pruebas para capacitar al equipo", Category.ambiente_de_pruebas,
         "ambiente_de_pruebas"),
    ],
)
def test_a_suspension_or_test_environment_request_is_baja(text: str, category: Category, playbook: str) -> None:
    d = classify(text)
    assert d.ticket_type is TicketType.solicitud
    assert d.priority is Priority.baja
    assert category in d.categories
    assert d.playbook == playbook


def test_a_problem_with_a_workaround_is_media() -> None:
    d = classify("El reporte de ventas no carga, por ahora lo exportamos a mano")
    assert d.ticket_type is TicketType.problema
    assert d.priority is Priority.media


def test_a_new_customer_activation_is_alta() -> None:
    d = classify("Somos nuevos, necesitamos la activación de la cuenta para la puesta en vivo")
    assert d.ticket_type is TicketType.solicitud
    assert d.priority is Priority.alta
    assert d.playbook == "clientes_nuevos"


# -- types ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["muchas gracias", "Muchas gracias!", "ok gracias", "Buenos días"])
def test_courtesy_messages_are_no_request(text: str) -> None:
    d = classify(text)
    assert d.ticket_type is None
    assert d.priority is Priority.baja
    assert [r.rule for r in d.reasons] == ["not a request"]


def test_thanks_inside_a_real_request_is_still_a_request() -> None:
    d = classify("Muchas gracias, pero sigo sin poder entrar: no puedo ingresar a la plataforma")
    # a request (the corpus labels cannot-enter without an error code as anomalía, LABELING.md)
    assert d.ticket_type in (TicketType.problema, TicketType.anomalia)
    assert d.priority is Priority.urgente


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sale una ventana emergente con código, Traceback ValueError", TicketType.bug),
        ("No me deja ingresar al módulo de inventario aunque tengo permiso", TicketType.anomalia),
        ("¿Cómo genero el reporte de ventas?", TicketType.pregunta),
        ("Sería bueno que el botón de imprimir fuera más visible, es confuso", TicketType.usabilidad),
        ("Requiero una cotización para el módulo de nómina", TicketType.solicitud),
        ("El IVA está haciendo mal los cálculos", TicketType.problema),
    ],
)
def test_each_type_of_001_is_recognised(text: str, expected: TicketType) -> None:
    assert classify(text).ticket_type is expected


def test_a_question_with_no_other_signal_is_a_pregunta() -> None:
    d = classify("¿El reporte incluye las devoluciones?")
    assert d.ticket_type is TicketType.pregunta


def test_an_unmatched_message_falls_back_to_problema_with_low_confidence() -> None:
    d = classify("El reporte salió en blanco")
    assert d.ticket_type is TicketType.problema
    assert d.confidence < CLASSIFIER.review_below


def test_an_improvement_idea_counts_as_oportunidad_de_mejora() -> None:
    d = classify("Podrían agregar una nueva funcionalidad que permita exportar a Excel")
    assert Category.oportunidad_de_mejora in d.categories


def test_abusive_language_is_flagged() -> None:
    assert classify("Son unos inútiles, no funciona nada").abusive
    assert not classify("No funciona nada").abusive


def test_a_tenant_phrase_extends_the_base_vocabulary() -> None:
    policy = TriagePolicy(vocabulary={"priority": {"urgente": ["no podemos despachar"]}})
    vocabulary = policy.merged_vocabulary()
    assert "no podemos despachar" in vocabulary.priority["urgente"]
    assert "no puedo entrar" in vocabulary.priority["urgente"]  # the base list is kept
    d = Classifier(vocabulary).classify("", "No podemos despachar los pedidos, no funciona")
    assert d.priority is Priority.urgente
    assert classify("No podemos despachar los pedidos, no funciona").priority is not Priority.urgente


def test_every_decision_cites_the_rule_that_typed_it() -> None:
    d = classify("No puedo timbrar el CFDI, me sale rechazado")
    assert d.reasons[0].rule == "001 §3.2 tipo problema"
    assert d.classifier == f"keywords-001/1+{CLASSIFIER.model.label}"  # the model version on every decision
    assert d.classifier.startswith("keywords-001/1+tfidf-svm/")
    assert classify("muchas gracias").classifier == d.classifier  # a rule-only decision too
