"""A directory of 100,000 customers: loaded from CSV and queried 10,000 times, answers checked one by one.

Benchmark-shaped, but it asserts only correctness: timings depend on the machine. (On a 2-core
development machine the load takes a few seconds, most of it parsing phone numbers, and the 10,000
look-ups a fraction of a second.)
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from services.intake.directory import Directory, eligibility, load_csv
from shared.schemas import Customer

N = 100_000
QUERIES = 10_000
ON = date(2026, 11, 23)
HEADER = "customer_id,name,company,emails,phones,tax_ids,whatsapp,telegram,status,agreement_until,country,invoices"


def cid(i: int) -> str:
    return f"C{i:06d}"


def email(i: int) -> str:
    return f"usuario{i}@empresa{i % 997}.co"


def phone(i: int) -> str:
    return f"+57 3{i % 4} {i:08d}"  # Colombian mobiles 30x..33x, as a person writes them


def e164(i: int) -> str:
    return f"+573{i % 4}{i:08d}"


def nit(i: int) -> str:
    base = f"{800_000_000 + i:09d}"
    return f"{base[:3]}.{base[3:6]}.{base[6:]}-{i % 10}"


def nit_plain(i: int) -> str:
    return f"{800_000_000 + i:09d}{i % 10}"


def whatsapp(i: int) -> str | None:
    return e164(i)[1:] if i % 3 == 0 else None


def telegram(i: int) -> str | None:
    return str(10_000_000 + i) if i % 5 == 0 else None


SHARED = 500  # customers 2k and 2k+1 (k < SHARED) also share an accountant's email: ambiguous by that email


def shared_email(i: int) -> str | None:
    return f"contador{i // 2}@asesores.co" if i < 2 * SHARED else None


def row(i: int) -> str:
    emails = ";".join(e for e in (email(i), shared_email(i)) if e)
    late = (i % 30) + 1  # days past due of its one unpaid invoice: 1..30
    invoice = f"F{i}:{(ON - timedelta(days=late)).isoformat()}:false"
    status = "inactive" if i % 50 == 0 else "active"
    agreement = "2026-12-31" if i % 7 == 0 else ""
    return ",".join(
        [cid(i), f"Cliente {i}", f"Empresa {i} S.A.S.", emails, phone(i), nit(i), whatsapp(i) or "", telegram(i) or "",
         status, agreement, "CO", invoice]
    )  # fmt: skip


def write_directory(path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER + "\n")
        for i in range(N):
            handle.write(row(i) + "\n")


def expected_reason(i: int) -> str:
    if i % 50 == 0:
        return "inactive_subscription"
    if (i % 30) + 1 <= 10:
        return "active"
    return "agreement_in_force" if i % 7 == 0 else "in_arrears"


def test_100k_customers_load_and_10k_contacts_match(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    write_directory(path)
    directory = load_csv(path)
    assert len(directory) == N
    assert directory.get(cid(N - 1)) is not None

    rng = random.Random(20261123)
    kinds = ["whatsapp", "telegram", "email", "phone", "tax_id", "tax_id_plain", "shared", "miss"]
    checked = dict.fromkeys(kinds, 0)
    for q in range(QUERIES):
        kind = kinds[q % len(kinds)]
        i = rng.randrange(N)
        if kind == "whatsapp":
            i -= i % 3
            contact, channel, field = Customer(channel_ids={"whatsapp": whatsapp(i) or ""}), "whatsapp", "channel_id"
        elif kind == "telegram":
            i -= i % 5
            contact, channel, field = Customer(channel_ids={"telegram": telegram(i) or ""}), "telegram", "channel_id"
        elif kind == "email":
            contact, channel, field = Customer(email=email(i).upper()), "email", "email"
        elif kind == "phone":
            contact, channel, field = Customer(phone=e164(i)), "phone", "phone"
        elif kind == "tax_id":
            contact, channel, field = Customer(tax_id=nit(i)), "webform", "tax_id"
        elif kind == "tax_id_plain":
            contact, channel, field = Customer(tax_id=nit_plain(i)), "webform", "tax_id"
        elif kind == "shared":
            i = rng.randrange(2 * SHARED)
            contact = Customer(email=shared_email(i))
            lookup = directory.lookup(contact, "email")
            assert lookup.outcome == "ambiguous"
            assert sorted(m.customer.customer_id for m in lookup.candidates) == [cid(i - i % 2), cid(i - i % 2 + 1)]
            assert directory.match(contact, "email") is None
            checked[kind] += 1
            continue
        else:
            contact = Customer(email=f"nadie{i}@ninguna.co", phone=f"+57350{i:07d}", tax_id=f"X{i}")
            assert directory.match(contact, "email") is None
            checked[kind] += 1
            continue
        found = directory.match(contact, channel)
        assert found is not None, (kind, i)
        assert (found.customer.customer_id, found.field) == (cid(i), field)
        assert eligibility(found.customer.subscription, ON).reason == expected_reason(i)
        checked[kind] += 1
    assert sum(checked.values()) == QUERIES
    assert all(checked.values())


def test_the_generated_identifiers_are_distinct() -> None:
    # The scale test is only meaningful if each generated identifier belongs to one customer.
    sample = range(0, N, 7)
    assert len({e164(i) for i in sample}) == len(sample)
    assert len({nit_plain(i) for i in sample}) == len(sample)
    assert Directory([]).match(Customer(phone=e164(1)), "phone") is None
