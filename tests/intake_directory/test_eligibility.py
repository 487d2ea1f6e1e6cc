"""eligibility(): 001 §3.1 (active, arrears past 10 days, agreements) and 004 (maintenance agreement)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.intake.directory import ARREARS_GRACE_DAYS, Directory, Subscription, eligibility

from .conftest import ON


def sub(**fields: Any) -> Subscription:
    doc: dict[str, Any] = {"status": "active"}
    doc.update(fields)
    return Subscription.model_validate(doc)


def unpaid(days_late: int, number: str = "FV-1") -> dict[str, Any]:
    return {"number": number, "due_date": ON - timedelta(days=days_late), "paid": False}


def test_an_active_subscription_with_nothing_overdue_is_eligible() -> None:
    result = eligibility(sub(), ON)
    assert (result.eligible, result.reason, result.route_to, result.overdue) == (True, "active", None, ())
    assert result.message == "Suscripción activa y sin facturas en mora: se puede dar soporte."


@pytest.mark.parametrize("status", ["inactive", "cancelled"])
def test_a_subscription_that_is_not_active_goes_to_the_commercial_area(status: str) -> None:
    result = eligibility(sub(status=status), ON)
    assert (result.eligible, result.reason, result.route_to) == (False, "inactive_subscription", "area_comercial")
    assert "no está activa" in result.message and "área comercial" in result.message


def test_an_invoice_exactly_10_days_past_due_is_not_yet_arrears() -> None:
    assert ARREARS_GRACE_DAYS == 10
    result = eligibility(sub(invoices=[unpaid(10)]), ON)
    assert (result.eligible, result.reason, result.overdue) == (True, "active", ())


def test_an_invoice_11_days_past_due_is_arrears_with_its_number_and_days() -> None:
    result = eligibility(sub(invoices=[unpaid(11, "FV-2040")]), ON)
    assert (result.eligible, result.reason, result.route_to) == (False, "in_arrears", "area_comercial")
    assert [(i.number, i.due_date, i.days_overdue) for i in result.overdue] == [("FV-2040", date(2026, 11, 12), 11)]
    assert result.message == (
        "Cliente en mora: facturas vencidas hace más de 10 días: FV-2040 (11 días). "
        "No se da soporte; derivar al área comercial."
    )


def test_paid_and_recent_invoices_do_not_count_and_overdue_ones_are_listed_oldest_first() -> None:
    invoices = [
        unpaid(15, "FV-3"),
        {"number": "FV-0", "due_date": ON - timedelta(days=90), "paid": True},
        unpaid(40, "FV-1"),
        unpaid(5, "FV-4"),
        unpaid(-20, "FV-5"),  # not due yet
    ]
    result = eligibility(sub(invoices=invoices), ON)
    assert [(i.number, i.days_overdue) for i in result.overdue] == [("FV-1", 40), ("FV-3", 15)]
    assert "FV-1 (40 días), FV-3 (15 días)" in result.message


def test_an_agreement_in_force_suspends_the_arrears() -> None:
    result = eligibility(sub(invoices=[unpaid(30)], agreement_until=date(2026, 12, 15)), ON)
    assert (result.eligible, result.reason, result.route_to) == (True, "agreement_in_force", None)
    assert [i.days_overdue for i in result.overdue] == [30]
    assert result.agreement_until == date(2026, 12, 15)
    assert "acuerdo de pago vigente hasta el 15 de diciembre de 2026" in result.message


def test_an_agreement_is_in_force_through_its_last_day() -> None:
    assert eligibility(sub(invoices=[unpaid(30)], agreement_until=ON), ON).reason == "agreement_in_force"
    expired = eligibility(sub(invoices=[unpaid(30)], agreement_until=ON - timedelta(days=1)), ON)
    assert (expired.eligible, expired.reason, expired.route_to) == (False, "in_arrears", "area_comercial")
    assert "El acuerdo de pago venció el 22 de noviembre de 2026." in expired.message


def test_a_broken_agreement_does_not_suspend_the_arrears() -> None:
    result = eligibility(sub(invoices=[unpaid(30)], agreement_until=date(2026, 12, 31), agreement_broken=True), ON)
    assert (result.eligible, result.reason, result.route_to) == (False, "in_arrears", "area_comercial")
    assert "El acuerdo de pago hasta el 31 de diciembre de 2026 fue incumplido." in result.message


def test_an_agreement_without_arrears_is_simply_active() -> None:
    assert eligibility(sub(agreement_until=date(2026, 12, 31)), ON).reason == "active"


def test_004_an_expired_maintenance_agreement_goes_to_the_projects_manager() -> None:
    result = eligibility(sub(maintenance_until=date(2026, 10, 31)), ON)
    assert (result.eligible, result.reason, result.route_to) == (
        False,
        "no_maintenance_agreement",
        "gerente_de_proyectos",
    )
    assert result.maintenance_until == date(2026, 10, 31)
    assert "venció el 31 de octubre de 2026" in result.message and "gerente de proyectos" in result.message


def test_004_a_maintenance_agreement_is_current_through_its_last_day() -> None:
    assert eligibility(sub(maintenance_until=ON), ON).reason == "active"
    assert eligibility(sub(maintenance_until=ON - timedelta(days=1)), ON).reason == "no_maintenance_agreement"
    assert eligibility(sub(maintenance_until=None), ON).reason == "active"


def test_the_first_rule_that_applies_decides() -> None:
    everything_wrong = sub(status="inactive", invoices=[unpaid(30)], maintenance_until=date(2026, 1, 1))
    assert eligibility(everything_wrong, ON).reason == "inactive_subscription"
    # The overdue invoices are still given to the agent.
    assert len(eligibility(everything_wrong, ON).overdue) == 1
    no_maintenance_and_late = sub(invoices=[unpaid(30)], maintenance_until=date(2026, 1, 1))
    assert eligibility(no_maintenance_and_late, ON).reason == "no_maintenance_agreement"
    agreement_but_no_maintenance = sub(
        invoices=[unpaid(30)], agreement_until=date(2026, 12, 31), maintenance_until=date(2026, 1, 1)
    )
    assert eligibility(agreement_but_no_maintenance, ON).route_to == "gerente_de_proyectos"


def test_the_day_decides_the_boundary() -> None:
    s = sub(invoices=[{"number": "FV-9", "due_date": date(2026, 11, 1), "paid": False}])
    assert eligibility(s, date(2026, 11, 11)).eligible is True  # 10 days
    assert eligibility(s, date(2026, 11, 12)).eligible is False  # 11 days


EXPECTED = {
    "C-001": ("active", True, None),
    "C-002": ("in_arrears", False, "area_comercial"),
    "C-003": ("active", True, None),
    "C-004": ("agreement_in_force", True, None),
    "C-005": ("in_arrears", False, "area_comercial"),
    "C-006": ("in_arrears", False, "area_comercial"),
    "C-007": ("inactive_subscription", False, "area_comercial"),
    "C-008": ("inactive_subscription", False, "area_comercial"),
    "C-009": ("active", True, None),
    "C-010": ("active", True, None),
    "C-011": ("active", True, None),
}


def test_the_example_directory_covers_each_case(directory: Directory) -> None:
    seen = {c.customer_id: eligibility(c.subscription, ON) for c in directory}
    assert {cid: (e.reason, e.eligible, e.route_to) for cid, e in seen.items()} == EXPECTED
    assert [i.days_overdue for i in seen["C-002"].overdue] == [11]
    assert seen["C-003"].overdue == ()  # exactly 10 days: not listed
