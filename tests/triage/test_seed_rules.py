"""Each seed rule (001 §3.2 priority by impact and types, §3.4.1 playbooks, 003 abusive) fires and says so."""

from __future__ import annotations

import pytest

from services.triage.rules import Classifier, Decision
from shared.schemas import Area, Category, Priority, TicketType


def rules_of(d: Decision) -> list[str]:
    return [r.rule for r in d.reasons]


# -- 001 §3.2 urgente: cannot access or operate the platform / the point of sale -------------------------------


@pytest.mark.parametrize("text", [
    "No podemos entrar al sistema, todos los usuarios están bloqueados desde las 8",
    "El POS no abre en ninguna caja y tenemos fila de clientes",
    "el punto de venta no abre, no podemos vender nada",
])
def test_cannot_operate_is_urgente(classifier: Classifier, text: str) -> None:
    d = classifier.classify("", text)
    assert d.priority is Priority.urgente
    assert any(r.startswith("001 §3.2 urgente") for r in rules_of(d))


def test_pos_cannot_open_is_urgente_and_cites_the_rule(classifier: Classifier) -> None:
    d = classifier.classify("POS", "El POS no abre, estamos parados")
    assert d.priority is Priority.urgente
    assert d.ticket_type is not None


@pytest.mark.parametrize(("subject", "text"), [
    ("URGENTE!!!", "URGENTE"),
    ("", "URGENTE!!! ¿cómo cambio el logo que sale en las facturas?"),
    ("URGENTE", "Por favor urgente, necesito el certificado de retención del año pasado"),
])
def test_writing_urgente_does_not_make_a_ticket_urgent(classifier: Classifier, subject: str, text: str) -> None:
    assert classifier.classify(subject, text).priority is not Priority.urgente


# -- 001 §3.2 alta: cannot issue electronic documents; §3.4.1 new clients -----------------------------------


@pytest.mark.parametrize("text", [
    "No puedo timbrar las facturas, el SAT las rechaza con CFDI40147",
    "La DIAN rechaza todas las notas crédito electrónicas, no podemos emitir ninguna",
    "Hacienda me rebota todos los comprobantes electrónicos desde ayer",
])
def test_cannot_issue_electronic_documents_is_alta(classifier: Classifier, text: str) -> None:
    d = classifier.classify("", text)
    assert d.priority is Priority.alta
    assert any("documentos electr" in r for r in rules_of(d))
    assert Category.documentos_electronicos in d.categories


def test_payroll_stamping_failing_is_alta_nomina(classifier: Classifier) -> None:
    d = classifier.classify("URGENTE nómina",
                            "No puedo timbrar la nómina de la quincena, el PAC rechaza todos los recibos")
    assert d.priority is Priority.alta
    assert d.area is Area.nomina
    assert d.playbook == "emision_documentos_electronicos"


def test_a_question_about_issuing_an_e_document_is_pregunta_baja(classifier: Classifier) -> None:
    d = classifier.classify("", "¿Cómo emito un complemento de pago para una factura PPD que ya nos pagaron?")
    assert d.ticket_type is TicketType.pregunta
    assert d.priority is Priority.baja
    assert d.playbook is None


def test_new_client_activation_is_solicitud_alta_clientes_nuevos(classifier: Classifier) -> None:
    d = classifier.classify("", "Somos cliente nuevo, ya firmamos el contrato del plan Pro. "
                                "¿Cuándo nos activan la base? Necesitamos empezar a facturar el lunes.")
    assert d.ticket_type is TicketType.solicitud
    assert d.priority is Priority.alta
    assert Category.activacion in d.categories
    assert d.playbook == "clientes_nuevos"


# -- 001 §3.2 baja: suspensions, test environments, questions ------------------------------------------------


def test_a_suspension_is_solicitud_baja_bajar_base(classifier: Classifier) -> None:
    d = classifier.classify("", "Solicito la suspensión de nuestra base de datos, vamos a dar de baja el servicio")
    assert d.ticket_type is TicketType.solicitud
    assert d.priority is Priority.baja
    assert Category.bajar_base in d.categories
    assert d.playbook == "bajar_base"


def test_a_test_environment_is_solicitud_baja(classifier: Classifier) -> None:
    d = classifier.classify("", "Necesitamos un ambiente de pruebas para capacitar a los nuevos empleados")
    assert d.ticket_type is TicketType.solicitud
    assert d.priority is Priority.baja
    assert Category.ambiente_de_pruebas in d.categories
    assert d.playbook == "ambiente_de_pruebas"


def test_a_bug_only_in_the_test_environment_is_baja(classifier: Classifier) -> None:
    d = classifier.classify("", 'en la base de prueba me sale "Error 500" al abrir ventas, en la real anda todo')
    assert d.ticket_type is TicketType.bug
    assert d.priority is Priority.baja


# -- 001 §3.2 types -------------------------------------------------------------------------------------------


def test_a_question_about_error_500_is_a_bug(classifier: Classifier) -> None:
    d = classifier.classify("", "pregunta: ¿por qué me sale error 500?")
    assert d.ticket_type is TicketType.bug
    assert d.playbook == "errores_sistema"
    assert rules_of(d)[0] == "001 §3.2 tipo bug"


def test_technical_output_is_a_bug(classifier: Classifier) -> None:
    d = classifier.classify("", 'al validar sale "Odoo Server Error - TypeError: unsupported operand"')
    assert d.ticket_type is TicketType.bug


def test_a_setting_that_is_not_taken_is_anomalia_desconfiguracion(classifier: Classifier) -> None:
    d = classifier.classify("", "Configuré la cuenta de IVA en el diario pero no toma la configuración, "
                                "sigue usando la cuenta anterior")
    assert d.ticket_type is TicketType.anomalia
    assert d.playbook == "desconfiguracion"


@pytest.mark.parametrize("text", [
    "muchas gracias ya quedó 👍", "ok gracias", "Respuesta automática: estoy fuera de la oficina",
])
def test_thanks_and_auto_replies_are_no_request(classifier: Classifier, text: str) -> None:
    d = classifier.classify("", text)
    assert d.ticket_type is None
    assert d.priority is Priority.baja
    assert d.area is Area.otro
    assert d.categories == ()
    assert rules_of(d)[0] == "not a request"


@pytest.mark.parametrize("text", [
    "Asunto: Fuera de la oficina\n\nEstaré fuera de la oficina hasta el lunes 14 sin acceso a correo. Para temas de "
    "facturación y cobranza escriba a cobranza@ferreteria.example o llame al 55 5555 0101.\n\nAtte. Lic. Ana Ruiz",
    "Invitación: Revisión de inventario @ jue 5 dic 10:00 - 11:00 (CST)\nUnirse con Google Meet: meet.example/abc\n"
    "¿Asistirás? Sí - Quizás - No",
    "Cliente llama para confirmar que recibió la cotización por correo; no tiene otra solicitud.",
    "Boletín contable de diciembre: en esta edición, cierre fiscal, nómina de aguinaldos y facturación global. "
    "Para dejar de recibir estos correos haga clic aquí.",
])
def test_auto_replies_mailings_invites_and_closing_calls_are_no_request_at_any_length(
    classifier: Classifier, text: str
) -> None:
    d = classifier.classify("", text)
    assert (d.ticket_type, d.priority, d.area, d.categories) == (None, Priority.baja, Area.otro, ())
    assert rules_of(d)[0] == "not a request"


def test_an_auto_reply_quoting_technical_output_is_still_triaged(classifier: Classifier) -> None:
    d = classifier.classify("", "Respuesta automática del ERP: al timbrar sale Internal Server Error 500 "
                                "(Traceback: KeyError 'uuid') y no se timbra ninguna factura")
    assert d.ticket_type is TicketType.bug


def test_a_suggestion_is_usabilidad_baja_with_improvement(classifier: Classifier) -> None:
    d = classifier.classify("", "Sería bueno que el botón de timbrar estuviera junto a Confirmar, "
                                "los cajeros se confunden")
    assert d.ticket_type is TicketType.usabilidad
    assert d.priority is Priority.baja


# -- 003 abusive ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "son unos inútiles, la factura sigue rechazada",
    "bola de vagos, denme de baja ya",
    "ustedes son una basura",
])
def test_insults_are_abusive(classifier: Classifier, text: str) -> None:
    d = classifier.classify("", text)
    assert d.abusive
    assert any(r.startswith("003 lenguaje abusivo") for r in rules_of(d))


@pytest.mark.parametrize("text", [
    "¡¡¡LLEVAMOS 3 HORAS SIN VENDER!!! nadie contesta",
    "esto es una falta de respeto, llevo dos días esperando respuesta",
    "che boludo no me anda el login jaja, me ayudás?",
])
def test_frustration_without_insults_is_not_abusive(classifier: Classifier, text: str) -> None:
    assert not classifier.classify("", text).abusive


# -- explanation and review -----------------------------------------------------------------------------------


def test_reasons_name_the_model_its_version_and_scores(classifier: Classifier) -> None:
    d = classifier.classify("", "el reporte de inventario me muestra existencias negativas en la bodega 2")
    model = [r for r in d.reasons if r.rule.startswith("model ")]
    assert model and model[0].rule == f"model {classifier.model.label}"
    assert "type " in model[0].detail and "priority " in model[0].detail
    assert 0.0 <= d.confidence <= 1.0


def test_low_confidence_is_below_the_review_threshold(classifier: Classifier) -> None:
    d = classifier.classify("", "El reporte salió en blanco")
    assert d.ticket_type is not None  # a report of something wrong is a request, never "no request"
    assert d.confidence < classifier.review_below


def test_a_tenant_phrase_acts_as_a_hard_rule_at_once() -> None:
    from services.triage.policy import TriagePolicy

    vocabulary = TriagePolicy(vocabulary={"priority": {"urgente": ["no podemos despachar"]}}).merged_vocabulary()
    d = Classifier(vocabulary).classify("", "No podemos despachar los pedidos, el sistema no funciona")
    assert d.priority is Priority.urgente


# -- 003 areas: acceso is getting in and keeping a place to work from enabled ---------------------------------


@pytest.mark.parametrize("text", [
    "buenas, ya pagamos la factura vencida del mes pasado, nos pueden reactivar la base? nadie puede entrar",
    "la app del celular no sincroniza los pedidos de los vendedores desde el lunes",
    "abrimos una sucursal nueva la semana que viene, necesitamos que activen una terminal nueva para esa tienda",
    "a la contadora le sale usuario bloqueado, los demás entramos normal",
    "el POS de la caja 1 se queda en 'iniciando sesión' y no pasa de ahí",
])
def test_getting_in_or_enabling_a_place_to_work_is_acceso(classifier: Classifier, text: str) -> None:
    assert classifier.classify("", text).area is Area.acceso


@pytest.mark.parametrize(("text", "area"), [
    ("la impresora no imprime las facturas del punto de venta, sale la hoja en blanco", Area.otro),
    ("cómo descargo los XML de las facturas de proveedores para la DIOT?", Area.contabilidad),
])
def test_a_word_is_not_an_area(classifier: Classifier, text: str, area: Area) -> None:
    assert classifier.classify("", text).area is area


# -- 001 §3.2 impact: part of the work stopped is media, whatever the words ----------------------------------


@pytest.mark.parametrize("text", [
    "de 40 facturas que timbramos hoy, 2 salieron rechazadas por el código postal, las demás bien",
    "el punto de venta de la sucursal centro no abre en esa caja, las otras dos sí funcionan",
    "el reporte de ventas me suma mal el IVA, lo estoy calculando a mano en excel mientras tanto",
])
def test_part_of_the_work_hit_with_the_rest_going_on_is_media(classifier: Classifier, text: str) -> None:
    d = classifier.classify("", text)
    assert d.priority is Priority.media
    assert d.ticket_type is not None


def test_the_whole_point_of_sale_stopped_is_still_urgente(classifier: Classifier) -> None:
    assert classifier.classify("", "el punto de venta no abre en ninguna caja, no podemos vender").priority \
        is Priority.urgente


# -- 003 abusive: denigrating people, not swearing at an error -----------------------------------------------


@pytest.mark.parametrize("text", [
    "me tiene hasta la madre este error, otra vez no deja timbrar la nómina",
    "pinche sistema, otra vez se trabó el cierre de caja",
    "qué porquería, se volvió a caer el timbrado justo hoy que es quincena",
])
def test_swearing_at_an_error_is_not_abusive(classifier: Classifier, text: str) -> None:
    d = classifier.classify("", text)
    assert not d.abusive
    assert d.ticket_type is not None  # the request in it is still handled


@pytest.mark.parametrize("text", [
    "usted claramente no sabe hacer su trabajo, es la tercera vez que le explico lo mismo",
    "¿en serio les pagan por esto? pongan a alguien que sí sepa, el inventario sigue sin cuadrar",
])
def test_a_polite_sounding_put_down_of_a_person_is_abusive(classifier: Classifier, text: str) -> None:
    d = classifier.classify("", text)
    assert d.abusive
    assert any(r.rule == "003 lenguaje abusivo" for r in d.reasons)
