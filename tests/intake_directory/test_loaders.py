"""load_csv / load_yaml: the example directory both ways, and errors that name the row or line and field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.intake.directory import CSV_COLUMNS, Directory, DirectoryError, load_csv, load_yaml

from .conftest import EXAMPLE_CSV, EXAMPLE_YAML

HEADER = "customer_id,name,company,emails,phones,tax_ids,whatsapp,telegram,status,country,invoices"


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def yaml_file(tmp_path: Path, text: str, name: str = "customers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_problems(tmp_path: Path, *rows: str, header: str = HEADER) -> list[str]:
    with pytest.raises(DirectoryError) as caught:
        load_csv(csv_file(tmp_path, *rows, header=header))
    return [str(p) for p in caught.value.problems]


def yaml_problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(DirectoryError) as caught:
        load_yaml(yaml_file(tmp_path, text))
    return [str(p) for p in caught.value.problems]


GOOD = "C-1,Laura Gómez,Ferretería El Sol,laura@sol.co,+57 300 123 4567,900.123.456-7,573001234567,,active,CO,"


# --- the example ------------------------------------------------------------------------------------


def test_the_example_directory_is_the_same_in_yaml_and_csv() -> None:
    from_yaml, from_csv = load_yaml(EXAMPLE_YAML), load_csv(EXAMPLE_CSV)
    assert len(from_yaml) == 11
    assert from_yaml.customers == from_csv.customers


def test_the_example_csv_is_read_cell_by_cell() -> None:
    laura = load_csv(EXAMPLE_CSV).get("C-001")
    assert laura is not None
    assert laura.emails == ("laura@ferreteriaelsol.co", "soporte@ferreteriaelsol.co")
    assert laura.phones == ("+573001234567",)
    assert laura.tax_ids == ("900.123.456-7",)
    assert laura.channel_ids == {"whatsapp": ("573001234567",)}
    assert laura.account_manager == "Andrés Pérez"
    assert [(i.number, i.due_date, i.paid) for i in laura.subscription.invoices] == [
        ("FV-1001", date(2026, 10, 15), True),
        ("FV-1102", date(2026, 11, 15), False),
    ]


# --- CSV --------------------------------------------------------------------------------------------


def test_csv_names_the_row_and_field_of_a_bad_phone(tmp_path: Path) -> None:
    rows = [GOOD.replace("C-1", f"C-{n}").replace("573001234567", f"57300123456{n}") for n in range(1, 6)]
    bad = "C-9,Jorge,Andina,,+57 300,,,,active,,"
    assert csv_problems(tmp_path, *rows, bad) == ["customers.csv row 7: phones: '+57 300' is not a valid phone number"]


def test_csv_a_local_phone_is_read_in_the_rows_country(tmp_path: Path) -> None:
    assert load_csv(csv_file(tmp_path, "C-1,Marta,,,310 456 7890,,,,active,CO,")).customers[0].phones == (
        "+573104567890",
    )
    assert csv_problems(tmp_path, "C-1,Marta,,,310 456 7890,,,,active,MX,") == [
        "customers.csv row 2: phones: '310 456 7890' is not a valid phone number (country MX)"
    ]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (",Laura,,,,,,,active,,", "row 2: customer_id: required"),
        ("C-1,,,,,,,,active,,", "row 2: name: required"),
        (
            "C-1,Laura,,,,,,,suspendida,,",
            "row 2: status: Input should be 'active', 'inactive' or 'cancelled' (got 'suspendida')",
        ),
        ("C-1,Laura,,,,,,,,,", "row 2: status: required"),
        ("C-1,Laura,,laura-at-sol,,,,,active,,", "row 2: emails: 'laura-at-sol' is not a valid email address"),
        (
            "C-1,Laura,,,,,,,active,Colombia,",
            "row 2: country: 'Colombia' is not an ISO 3166-1 alpha-2 country code (e.g. 'CO', 'MX')",
        ),
        ("C-1,Laura,,,,--,,,active,,", "row 2: tax_ids: '--' is not a tax id"),
        (
            "C-1,Laura,,,,,,,active,,FV-1:2026-11-01",
            "row 2: invoices: invoice 1 'FV-1:2026-11-01' is not 'number:due_date:paid'",
        ),
        (
            "C-1,Laura,,,,,,,active,,FV-1:2026-11-01:true;FV-2:2026-13-01:false",
            "row 2: invoices: invoice 2 'FV-2:2026-13-01:false': due_date '2026-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            "C-1,Laura,,,,,,,active,,FV-1:2026-11-01:quizás",
            "row 2: invoices: invoice 1 'FV-1:2026-11-01:quizás': paid 'quizás' is not true or false",
        ),
        (
            "C-1,Laura,,,,,,,active,,FV-1:2026-11-01:",
            "row 2: invoices: invoice 1 'FV-1:2026-11-01:': paid '' is not true or false",
        ),
        ("C-1,Laura,,,,,,,active", "row 2: has 9 cells, the header has 11"),
        ("C-1,Laura,,,,,,,active,,,extra", "row 2: has 12 cells, the header has 11"),
    ],
)
def test_csv_problems_name_the_row_and_column(tmp_path: Path, row: str, problem: str) -> None:
    assert csv_problems(tmp_path, row) == [f"customers.csv {problem}"]


def test_csv_subscription_columns_are_named_as_in_the_header(tmp_path: Path) -> None:
    header = "customer_id,name,status,agreement_until,agreement_broken,maintenance_until"
    problems = csv_problems(tmp_path, "C-1,Laura,active,2026-13-01,quizás,mañana", header=header)
    columns = ["agreement_until", "agreement_broken", "maintenance_until"]
    values = ["2026-13-01", "quizás", "mañana"]
    assert len(problems) == 3
    for problem, column, value in zip(problems, columns, values, strict=True):
        # The reason is pydantic's own sentence; the place and the value at fault are ours.
        assert problem.startswith(f"customers.csv row 2: {column}: Input should be a valid ")
        assert problem.endswith(f"(got {value!r})")


def test_csv_booleans_dates_and_optional_columns(tmp_path: Path) -> None:
    header = "customer_id,name,status,agreement_until,agreement_broken,maintenance_until,invoices,area,account_manager"
    path = csv_file(
        tmp_path,
        "C-1,Laura,En progreso,2026-12-15,sí,2027-01-31,FV-1:2026-11-01:no;FV-2:2026-11-02:1,pymes,Andrés",
        "C-2,Jorge,active,,,,,,",
        header=header,
    )
    laura, jorge = load_csv(path).customers
    assert laura.subscription.status == "active"
    assert laura.subscription.agreement_until == date(2026, 12, 15) and laura.subscription.agreement_broken is True
    assert laura.subscription.maintenance_until == date(2027, 1, 31)
    assert [i.paid for i in laura.subscription.invoices] == [False, True]
    assert (laura.area, laura.account_manager) == ("pymes", "Andrés")
    assert jorge.subscription.agreement_broken is False and jorge.subscription.invoices == ()
    assert (jorge.area, jorge.account_manager, jorge.company) == (None, None, None)


def test_csv_a_repeated_customer_id_names_both_rows(tmp_path: Path) -> None:
    assert csv_problems(tmp_path, GOOD, "C-2,Jorge,,,,,,,active,,", GOOD.replace("573001234567", "")) == [
        "customers.csv row 4: customer_id: 'C-1' is already used at row 2"
    ]


def test_csv_every_problem_is_reported_with_its_row(tmp_path: Path) -> None:
    problems = csv_problems(tmp_path, GOOD, "C-2,,,,+57 300,,,,active,,", "", "C-3,Ana,,,,,,,paused,,")
    assert problems == [
        "customers.csv row 3: name: required",
        "customers.csv row 3: phones: '+57 300' is not a valid phone number",
        "customers.csv row 5: status: Input should be 'active', 'inactive' or 'cancelled' (got 'paused')",
    ]


def test_csv_stops_after_a_bounded_number_of_problems(tmp_path: Path) -> None:
    rows = [f"C-{n},,,,,,,,active,," for n in range(200)]
    with pytest.raises(DirectoryError) as caught:
        load_csv(csv_file(tmp_path, *rows))
    assert len(caught.value.problems) == DirectoryError.MAX_PROBLEMS
    assert caught.value.truncated
    assert str(caught.value).endswith(f"(stopped after {DirectoryError.MAX_PROBLEMS} problems)")


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("customer_id,name,status,phone", "row 1: unknown columns ['phone']; the columns are " + ",".join(CSV_COLUMNS)),
        ("customer_id,company,emails", "row 1: missing columns ['name', 'status']"),
        ("customer_id,name,status,emails,emails", "row 1: repeated columns ['emails']"),
    ],
)
def test_csv_header_problems(tmp_path: Path, header: str, problem: str) -> None:
    assert csv_problems(tmp_path, header=header) == [f"customers.csv {problem}"]


def test_csv_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DirectoryError, match=r"customers\.csv: empty file"):
        load_csv(path)


def test_csv_header_only_is_an_empty_directory(tmp_path: Path) -> None:
    assert len(load_csv(csv_file(tmp_path))) == 0


def test_csv_quoted_cells_bom_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    text = HEADER + '\n\n"C-1","Gómez, Laura","Ferretería ""El Sol""",a@sol.co; b@sol.co ;,,,,,active,,\n'
    path.write_text("\ufeff" + text, encoding="utf-8")
    (laura,) = load_csv(path).customers
    assert (laura.name, laura.company, laura.emails) == (
        "Gómez, Laura",
        'Ferretería "El Sol"',
        ("a@sol.co", "b@sol.co"),
    )


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes((HEADER + "\nC-1,G\xf3mez,,,,,,,active,,\n").encode("latin-1"))
    with pytest.raises(DirectoryError, match=r"customers.csv: not UTF-8 text"):
        load_csv(path)


def test_a_directory_error_is_a_value_error_with_a_readable_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^customers.csv row 2: name: required$"):
        load_csv(csv_file(tmp_path, "C-1,,,,,,,,active,,"))


# --- YAML -------------------------------------------------------------------------------------------

YAML_GOOD = """\
- customer_id: C-1
  name: Laura Gómez
  country: CO
  phones: ["300 123 4567"]
  subscription:
    status: active
"""


def test_yaml_names_the_line_and_field_of_a_bad_phone(tmp_path: Path) -> None:
    text = (
        YAML_GOOD
        + """\
- customer_id: C-2
  name: Jorge
  phones:
    - "+57 311 222 3344"
    - "+57 300"
  subscription: {status: active}
"""
    )
    assert yaml_problems(tmp_path, text) == ["customers.yaml line 9: phones: '+57 300' is not a valid phone number"]


def test_yaml_names_the_path_and_line_of_nested_problems(tmp_path: Path) -> None:
    text = """\
- customer_id: C-1
  name: Laura
  subscription:
    status: active
    invoices:
      - {number: FV-1, due_date: 2026-11-01, paid: true}
      - number: FV-2
        due_date: 2026-13-01
        paid: maybe
"""
    due, paid = yaml_problems(tmp_path, text)
    assert due.startswith("customers.yaml line 8: subscription.invoices[1].due_date: Input should be a valid date")
    assert due.endswith("(got '2026-13-01')")
    assert paid.startswith("customers.yaml line 9: subscription.invoices[1].paid: Input should be a valid boolean")
    assert paid.endswith("(got 'maybe')")


def test_yaml_unknown_and_missing_fields(tmp_path: Path) -> None:
    text = """\
- customer_id: C-1
  name: Laura
  phone: "+573001234567"
"""
    assert yaml_problems(tmp_path, text) == [
        "customers.yaml line 1: subscription: required",
        "customers.yaml line 3: phone: unknown field",
    ]


def test_yaml_channel_ids_problem(tmp_path: Path) -> None:
    text = YAML_GOOD + '  channel_ids: {"whats app": ["1"]}\n'
    assert yaml_problems(tmp_path, text) == [
        "customers.yaml line 7: channel_ids: 'whats app' is not a channel name (e.g. 'whatsapp', 'telegram')"
    ]


def test_yaml_a_repeated_customer_id(tmp_path: Path) -> None:
    assert yaml_problems(tmp_path, YAML_GOOD + YAML_GOOD) == [
        "customers.yaml line 7: customer_id: 'C-1' is already used at line 1"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("customers: []\n", "customers.yaml line 1: expected a list of customers"),
        ("- just a name\n", "customers.yaml line 1: expected a customer (a mapping of fields)"),
        ("- customer_id: C-1\n  name: [unclosed\n", "customers.yaml line 3: not valid YAML:"),
        ("- {a: 1}\n---\n- {b: 2}\n", "customers.yaml line 2: not valid YAML:"),
    ],
)
def test_yaml_file_shape_problems(tmp_path: Path, text: str, problem: str) -> None:
    (found,) = yaml_problems(tmp_path, text)
    assert found.startswith(problem)


def test_yaml_empty_file_is_an_empty_directory(tmp_path: Path) -> None:
    assert len(load_yaml(yaml_file(tmp_path, "# nobody yet\n"))) == 0
    assert len(load_yaml(yaml_file(tmp_path, "[]\n"))) == 0


def test_yaml_numbers_are_identifiers_not_integers(tmp_path: Path) -> None:
    text = """\
- customer_id: 0042
  name: Laura
  phones: [+573001234567, 573104567890]
  tax_ids: [0123456789, 9001234567]
  channel_ids: {whatsapp: [573001234567], telegram: [0777]}
  subscription:
    status: active
    invoices: [{number: 1001, due_date: 2026-11-01, paid: no}]
"""
    (laura,) = load_yaml(yaml_file(tmp_path, text)).customers
    assert laura.customer_id == "0042"
    assert laura.phones == ("+573001234567", "+573104567890")
    assert laura.tax_ids == ("0123456789", "9001234567")
    assert laura.channel_ids == {"whatsapp": ("573001234567",), "telegram": ("0777",)}
    assert laura.subscription.invoices[0].number == "1001"
    assert laura.subscription.invoices[0].due_date == date(2026, 11, 1)
    assert laura.subscription.invoices[0].paid is False


def test_loaders_take_str_paths(tmp_path: Path) -> None:
    assert isinstance(load_yaml(str(yaml_file(tmp_path, YAML_GOOD))), Directory)
    assert isinstance(load_csv(str(csv_file(tmp_path, GOOD))), Directory)
