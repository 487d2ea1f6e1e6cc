"""001 §3.4.1 'Unicidad del ticket': the duplicate check (services/intake/duplicates.py)."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.duplicates import (
    DEFAULT_THRESHOLDS,
    DuplicatePolicy,
    OpenTicket,
    compare,
    customer_identities,
    document_numbers,
    find_duplicate,
    is_courtesy,
    is_generic_followup,
    mentions_ticket,
    merge_note,
    sklearn_available,
)
from shared.schemas import Area, Category, Channel, Customer, Status, TicketMerged, TicketOpened

from .cases import FE, HELDOUT, PAIRS, Pair, ticket

METHODS = [
    pytest.param("tfidf", marks=pytest.mark.skipif(not sklearn_available(), reason="scikit-learn not installed")),
    "tokens",
]


def evaluate(pairs: list[Pair], policy: DuplicatePolicy) -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    wrong: list[str] = []
    for pair in pairs:
        got = find_duplicate(pair.new, [pair.old], policy) is not None
        tp += got and pair.duplicate
        fp += got and not pair.duplicate
        fn += pair.duplicate and not got
        if got != pair.duplicate:
            score = compare(pair.new, pair.old, policy).score
            wrong.append(f"{pair.name} (expected {pair.duplicate}, score {score:.2f})")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, wrong


# -- the labeled pairs ---------------------------------------------------------------------------------------------


def test_the_labeled_set_is_big_enough_and_balanced() -> None:
    assert len(PAIRS) >= 40
    positives = sum(p.duplicate for p in PAIRS)
    assert positives >= 15 and len(PAIRS) - positives >= 15
    assert len({p.name for p in PAIRS + HELDOUT}) == len(PAIRS) + len(HELDOUT)


@pytest.mark.parametrize("method", METHODS)
def test_labeled_pairs_precision_and_recall(method: str) -> None:
    """The thresholds in DEFAULT_THRESHOLDS were tuned on these pairs (middle of the gap between classes)."""
    precision, recall, wrong = evaluate(PAIRS, DuplicatePolicy(method=method))
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, wrong)


@pytest.mark.parametrize("method", METHODS)
def test_heldout_pairs_precision_and_recall(method: str) -> None:
    """Written after the thresholds were first fixed. Its one blind run (word 1-2-grams, TF-IDF threshold 0.27):
    P 0.91, R 1.0 on both methods. Since then the miss ('gracias ..., todo quedó muy claro') widened the
    courtesy phrases and word bigrams were dropped (threshold 0.32), so the set is no longer blind."""
    precision, recall, wrong = evaluate(HELDOUT, DuplicatePolicy(method=method))
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, wrong)


def test_auto_uses_tfidf_when_scikit_learn_is_there_and_each_method_has_its_threshold() -> None:
    policy = DuplicatePolicy()
    assert policy.resolved_method() == ("tfidf" if sklearn_available() else "tokens")
    assert policy.resolved_threshold() == DEFAULT_THRESHOLDS[policy.resolved_method()]
    assert DuplicatePolicy(method="tokens", threshold=0.5).resolved_threshold() == 0.5


def test_without_scikit_learn_auto_falls_back_on_the_token_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    import services.intake.duplicates as duplicates

    monkeypatch.setattr(duplicates, "sklearn_available", lambda: False)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # any import of it now fails
    monkeypatch.setitem(sys.modules, "sklearn.feature_extraction.text", None)
    policy = DuplicatePolicy()
    assert policy.resolved_method() == "tokens" and policy.resolved_threshold() == DEFAULT_THRESHOLDS["tokens"]
    precision, recall, wrong = evaluate(PAIRS, policy)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, wrong)


# -- oldest wins, and what never matches ---------------------------------------------------------------------------

REJECTED = "La DIAN rechaza todas las facturas electrónicas desde ayer"


def test_the_oldest_matching_open_ticket_wins_whatever_the_order_given() -> None:
    first = ticket(10, "laura", "email", REJECTED, minutes=0)
    second = ticket(11, "laura", "whatsapp", "la dian rechaza las facturas electronicas", minutes=30)
    third = ticket(12, "laura", "telegram", "La DIAN rechaza todas las facturas electrónicas desde ayer!!", minutes=60)
    other = ticket(13, "laura", "email", "¿Cómo creo un usuario para el contador?", minutes=10)
    new = ticket(20, "laura", "whatsapp", "siguen rechazadas las facturas electronicas por la dian", minutes=120)
    tickets = [first, second, third, other]
    for seed in range(5):
        random.Random(seed).shuffle(tickets)
        verdict = find_duplicate(new, tickets)
        assert verdict is not None
        assert verdict.duplicate_of == first.ticket_id and verdict.duplicate_of_number == "NS-000010"
        assert verdict.also_matched == ("NS-000011", "NS-000012")


def test_the_oldest_wins_even_when_a_newer_ticket_looks_more_alike() -> None:
    oldest = ticket(10, "laura", "email", "Las facturas electrónicas salen rechazadas por la DIAN", minutes=0)
    newer = ticket(11, "laura", "email", REJECTED, minutes=30)
    new = ticket(20, "laura", "whatsapp", REJECTED, minutes=60)
    assert compare(new, newer).score > compare(new, oldest).score
    verdict = find_duplicate(new, [newer, oldest])
    assert verdict is not None and verdict.duplicate_of_number == "NS-000010"


def test_equal_opening_times_fall_back_on_the_ticket_number() -> None:
    a = ticket(10, "laura", "email", REJECTED, minutes=0)
    b = ticket(11, "laura", "email", REJECTED, minutes=0)
    new = ticket(20, "laura", "email", REJECTED, minutes=5)
    verdict = find_duplicate(new, [b, a])
    assert verdict is not None and verdict.duplicate_of_number == "NS-000010"


@pytest.mark.parametrize("status", [Status.resuelto, Status.cancelado])
def test_closed_tickets_never_match_even_when_named(status: Status) -> None:
    closed = ticket(10, "laura", "email", REJECTED, status=status)
    new = ticket(20, "laura", "whatsapp", f"{REJECTED}, sigue igual que en el caso NS-000010", minutes=60)
    assert find_duplicate(new, [closed]) is None


@pytest.mark.parametrize("status", [Status.nuevo, Status.en_proceso, Status.en_proceso_del_solicitante])
def test_every_open_stage_can_be_matched(status: Status) -> None:
    old = ticket(10, "laura", "email", REJECTED, status=status)
    assert find_duplicate(ticket(20, "laura", "whatsapp", REJECTED, minutes=60), [old]) is not None


def test_a_closed_new_ticket_is_nobodys_duplicate() -> None:
    old = ticket(10, "laura", "email", REJECTED)
    assert find_duplicate(ticket(20, "laura", "email", REJECTED, minutes=5, status=Status.cancelado), [old]) is None


def test_other_customers_never_match_even_with_the_same_text_and_their_ticket_number() -> None:
    theirs = ticket(10, "laura", "email", REJECTED)
    mine = ticket(20, "andres", "email", f"{REJECTED}. Lo mismo que NS-000010.", minutes=60)
    assert find_duplicate(mine, [theirs]) is None


def test_two_people_of_one_company_are_two_customers() -> None:
    """The tax id names the company, so it is no identity for the duplicate check."""
    laura = Customer(email="laura@ferreteriaelsol.co", tax_id="900123456")
    carlos = Customer(email="carlos@ferreteriaelsol.co", tax_id="900123456")
    assert not customer_identities(laura) & customer_identities(carlos)


def test_a_newer_ticket_is_never_what_an_older_one_duplicates() -> None:
    newer = ticket(30, "laura", "email", REJECTED, minutes=600)
    older = ticket(20, "laura", "whatsapp", REJECTED, minutes=60)
    assert find_duplicate(older, [newer]) is None


def test_the_new_ticket_itself_in_the_list_is_ignored() -> None:
    new = ticket(20, "laura", "email", REJECTED)
    assert find_duplicate(new, [new]) is None


def test_anonymous_contacts_never_link() -> None:
    a = ticket(10, "anonymous", "phone", "El punto de venta no abre")
    b = ticket(11, "anonymous", "phone", "El punto de venta no abre", minutes=5)
    assert find_duplicate(b, [a]) is None


def test_one_customer_across_channels_by_key_or_by_a_shared_identity() -> None:
    email = ticket(10, "laura", "email", REJECTED)
    by_key = ticket(20, "laura", "whatsapp", REJECTED, minutes=30)
    assert find_duplicate(by_key, [email]) is not None
    email_with_phone = ticket(11, "laura-mail", "email", REJECTED, customer_ids=frozenset({"phone:+573001234567"}))
    whatsapp = ticket(21, "laura-wa", "whatsapp", REJECTED, minutes=30,
                      customer_ids=frozenset({"phone:+573001234567"}))
    assert find_duplicate(whatsapp, [email_with_phone]) is not None


def test_from_opened_keys_the_customer_and_keeps_its_identities() -> None:
    payload = TicketOpened(
        ticket_number="NS-000001", channel=Channel.whatsapp, contact_id="c1", text=REJECTED,
        customer=Customer(phone="+573001234567", channel_ids={"whatsapp": "573001234567"}),
    )
    t = OpenTicket.from_opened(payload, uuid4(), datetime(2026, 11, 23, 9, tzinfo=UTC))
    assert t.customer_key == "phone:+573001234567"
    assert t.customer_ids == {"phone:+573001234567", "whatsapp:573001234567"}
    assert OpenTicket.from_opened(payload, uuid4(), t.opened_at, customer_key="crm:42").customer_key == "crm:42"


# -- the signals, and what the verdict tells the agent -------------------------------------------------------------


def test_a_generic_follow_up_goes_to_the_only_open_ticket_but_not_when_there_are_several() -> None:
    only = ticket(10, "marta", "email", "Solicitamos la instalación del módulo de inventarios")
    followup = ticket(20, "marta", "whatsapp", "Buenas tardes, ¿alguna novedad? sigo esperando", minutes=600)
    verdict = find_duplicate(followup, [only])
    assert verdict is not None and verdict.reasons[0].rule == "seguimiento"
    assert find_duplicate(followup, [only], DuplicatePolicy(followup_single_open=False)) is None
    second = ticket(11, "marta", "email", "La DIAN rechaza las facturas", minutes=10)
    assert find_duplicate(followup, [only, second]) is None


@pytest.mark.parametrize(
    ("text", "generic"),
    [
        ("¿Alguna novedad con mi caso?", True),
        ("Sigo esperando respuesta", True),
        ("buenas, que paso con lo mio? no me han respondido", True),
        ("¿Alguna novedad con la cotización de nómina?", False),
        ("La DIAN rechaza las facturas", False),
        ("Gracias", False),
    ],
)
def test_generic_follow_ups(text: str, generic: bool) -> None:
    assert is_generic_followup("", text) is generic


def test_the_verdict_says_why_and_becomes_the_merged_event() -> None:
    old = ticket(123, "laura", "email", "La factura FE-4587 fue rechazada por la DIAN", area=Area.facturacion,
                 categories=FE)
    new = ticket(130, "laura", "whatsapp", "¿Alguna novedad con mi caso NS-000123? la FE-4587 sigue rechazada",
                 minutes=60, area=Area.facturacion, categories=FE)
    verdict = find_duplicate(new, [old])
    assert verdict is not None
    rules = [r.rule for r in verdict.reasons]
    assert rules[0] == "menciona_ticket" and {"texto_similar", "mismos_documentos", "misma_clasificacion"} <= set(rules)
    assert verdict.score == 1.0 and verdict.ticket_id == new.ticket_id
    assert "NS-000130 duplica NS-000123" in verdict.summary() and "4587" in verdict.summary()
    merged = verdict.merged_payload()
    assert isinstance(merged, TicketMerged)
    assert merged.into_ticket_id == old.ticket_id and merged.into_ticket_number == "NS-000123"
    assert merged.reason.startswith("001 §3.4.1 Unicidad del ticket")


def test_shared_document_numbers_lift_a_weak_text_match_over_the_threshold() -> None:
    old = ticket(10, "sofia", "email", "La factura 4590 salió con el IVA mal calculado")
    new = ticket(20, "sofia", "whatsapp", "me ayudan a corregir la factura No. 4590?", minutes=30)
    without = compare(new, old.model_copy(update={"text": "La factura salió con el IVA mal calculado"}))
    with_docs = compare(new, old)
    assert with_docs.score > without.score
    assert ("mismos_documentos", "4590") in {(r.rule, r.detail) for r in with_docs.reasons}


def test_classification_nudges_both_ways() -> None:
    old = ticket(10, "jorge", "email", "Necesito comprar más folios", area=Area.facturacion,
                 categories=(Category.folios,))
    same = ticket(20, "jorge", "email", "necesito recargar folios", minutes=5, area=Area.facturacion,
                  categories=(Category.folios,))
    other = same.model_copy(update={"categories": FE})
    unclassified = same.model_copy(update={"area": None, "categories": ()})
    assert compare(same, old).score > compare(unclassified, old).score >= compare(other, old).score
    assert "categorias_distintas" in {r.rule for r in compare(other, old).reasons}


def test_greetings_signatures_quotes_accents_case_and_order_do_not_change_the_matter() -> None:
    plain = ticket(10, "laura", "email", "la nomina electronica no se transmite a la dian")
    dressed = ticket(20, "laura", "email",
                     "Buenos días estimados,\n\nA LA DIAN no se transmite la NÓMINA ELECTRÓNICA.\n\nQuedo atenta,\n"
                     "Laura Gómez\nFerretería El Sol\nCel. 300 123 4567\n\n"
                     "El lun, 23 nov 2026, Soporte <soporte@navegasoft.com> escribió:\n> ¿Algo más en que ayudar?",
                     minutes=60)
    assert compare(dressed, plain).text_similarity > 0.8


def test_a_shared_signature_makes_no_two_matters_alike() -> None:
    signature = "\n\nCordialmente,\nLaura Gómez Restrepo\nJefe de contabilidad\nFerretería El Sol S.A.S.\nBogotá"
    payroll = ticket(10, "laura", "email", "Necesitamos instalar el módulo de nómina" + signature)
    stock = ticket(20, "laura", "email", "El conteo de la bodega 2 no cuadra" + signature, minutes=60)
    assert compare(stock, payroll).score < DuplicatePolicy().resolved_threshold()
    assert find_duplicate(stock, [payroll]) is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("¿Alguna novedad con mi caso NS-000123?", True),
        ("lo de ns 123 sigue igual", True),
        ("el caso #123", True),
        ("Ticket No. 000123", True),
        ("qué pasó con el tique 123?", True),
        ("NS-0001234", False),
        ("la factura 123 está mal", False),
        ("son 1230 facturas", False),
    ],
)
def test_ticket_number_mentions(text: str, found: bool) -> None:
    assert (mentions_ticket(text, "NS-000123") is not None) is found


def test_document_numbers_are_documents_not_tax_ids_dates_phones_or_ticket_numbers() -> None:
    text = ("Factura No. 4590 y FE-004587 (CFDI 6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B). NIT 900123456-7, "
            "RFC GOML800101AB1, del 2026-11-23, caso NS-000123, cel 3001234567, CFDI 4.0")
    assert document_numbers(text, "NS") == {"4590", "4587", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"}


@pytest.mark.parametrize(
    ("text", "courtesy"),
    [
        ("Gracias!!", True),
        ("Muchas gracias, ya pude timbrar la nómina", True),
        ("Mil gracias, quedó solucionado", True),
        ("ok", True),
        ("Buenos días", True),
        ("", True),
        ("Gracias, pero sigue sin funcionar", False),
        ("Gracias. Adjunto el XML que pidieron", False),
        ("Gracias, ya funciona. También quería preguntar cómo cambio el logo", False),
        ("¿Alguna novedad?", False),
        ("La DIAN rechaza las facturas", False),
    ],
)
def test_courtesy_messages(text: str, courtesy: bool) -> None:
    assert is_courtesy(text) is courtesy


def test_a_thanks_with_an_attachment_is_still_compared() -> None:
    old = ticket(10, "laura", "email", "Facturas rechazadas por la DIAN", "Facturas rechazadas")
    new = ticket(20, "laura", "email", "Gracias", "RE: Facturas rechazadas", minutes=60, attachments=("rechazo.xml",))
    assert find_duplicate(new, [old]) is not None


# -- the internal note ---------------------------------------------------------------------------------------------


def test_merge_note_keeps_only_what_the_newer_ticket_adds() -> None:
    into = ticket(123, "laura", "email", "La DIAN rechaza la factura FE-4587 por el NIT del adquiriente.",
                  "Factura rechazada")
    new = ticket(130, "laura", "whatsapp",
                 "Hola buenas. La DIAN rechaza la factura FE-4587 por el NIT del adquiriente. "
                 "También rechazó la FE-4590 y ahora el punto de venta no imprime el QR.",
                 minutes=95, attachments=("FE-4590.xml", "captura.png"))
    verdict = find_duplicate(new, [into])
    assert verdict is not None
    note = merge_note(new, into, verdict)
    assert "Ticket duplicado NS-000130 cancelado y unido a NS-000123 (001 §3.4.1 Unicidad del ticket)." in note
    assert "Recibido por WhatsApp el 2026-11-23 a las 10:35 (UTC-05:00)." in note
    assert "- También rechazó la FE-4590 y ahora el punto de venta no imprime el QR." in note
    assert "por el NIT del adquiriente" not in note.split("Información nueva:")[1]
    assert "Documentos que el ticket original no mencionaba: 4590." in note
    assert "Adjuntos: FE-4590.xml, captura.png." in note
    assert "Por qué: puntaje" in note


def test_merge_note_says_when_nothing_is_new() -> None:
    into = ticket(123, "laura", "email", REJECTED)
    new = ticket(130, "laura", "telegram", REJECTED.upper(), minutes=10)
    note = merge_note(new, into)
    assert "Información nueva: ninguna en el texto (repite lo ya reportado)." in note
    assert "Recibido por Telegram" in note and "Por qué" not in note and "Adjuntos" not in note


# -- properties ----------------------------------------------------------------------------------------------------

_WORDS = ["factura", "DIAN", "rechaza", "NS-000001", "nómina", "gracias", "¿alguna novedad?", "FE-4587", "hola",
          "CFDI", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b", "NIT 900123456-7", "--", "> citado", "\n", "caso #1", "ok"]
_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(_WORDS), max_size=30).map(" ".join),
)
_tickets = st.builds(
    OpenTicket,
    ticket_id=st.uuids(),
    ticket_number=st.one_of(st.integers(0, 999_999).map(lambda n: f"NS-{n:06d}"), st.text(max_size=12)),
    opened_at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                           timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
    customer_key=st.sampled_from(["cliente:a", "cliente:b", "anonymous", "anonymous:x"]),
    customer_ids=st.frozensets(st.sampled_from(["phone:+573001234567", "email:a@b.co"]), max_size=2),
    channel=st.sampled_from(list(Channel)),
    subject=_text,
    text=_text,
    attachments=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    status=st.sampled_from(list(Status)),
    area=st.one_of(st.none(), st.sampled_from(list(Area))),
    categories=st.lists(st.sampled_from(list(Category)), max_size=2, unique=True).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(new=_tickets, others=st.lists(_tickets, max_size=4), method=st.sampled_from(["auto", "tokens"]))
def test_never_raises_and_a_verdict_is_always_an_older_open_ticket_of_the_customer(
    new: OpenTicket, others: list[OpenTicket], method: str
) -> None:
    policy = DuplicatePolicy(method=method)
    verdict = find_duplicate(new, others, policy)
    for other in others:
        assert 0.0 <= compare(new, other, policy).score <= 1.0
    if verdict is None:
        return
    kept = next(t for t in others if t.ticket_id == verdict.duplicate_of)
    assert not kept.status.is_closed and not new.status.is_closed
    assert kept.customer_key == new.customer_key or kept.customer_ids & new.customer_ids
    assert (kept.opened_at, kept.ticket_number) < (new.opened_at, new.ticket_number)
    assert isinstance(merge_note(new, kept, verdict), str)
    assert isinstance(verdict.duplicate_of, UUID)
