"""The customer directory: who a contact is, and whether they may be given support.

Pure: no NATS and no I/O, except `load_csv` and `load_yaml`, which read the one file they are given.

001 §3.1 (Proceso de Recepción de Solicitudes): before any support the analyst confirms who the
customer is and checks the subscription. It must be active (stage 'En progreso') and not in arrears
("en mora"): an invoice more than 10 days past its due date. An agreement ("Acuerdo") valid until a
date suspends the arrears while it is in force; a broken one (its date shown in red) does not.
Tickets of customers in arrears or without an active service are not processed (001 §3.2,
'Cancelado'); the commercial area deals with them (001 §3.4.1 No.6).
004 (Estado de clientes): a customer without a current assistance and maintenance agreement gets no
assistance of any kind; the case goes to the projects manager to put it in order commercially.

`Directory.match` identifies a contact (`shared.schemas.Customer`) by, in this order of strength: a
channel id (exact), email (case-insensitive), phone (E.164) and tax id (upper case, without dots,
spaces or dashes). A contact that points at two different directory customers, by the same field or
by different ones, is ambiguous: `match` gives None and `lookup` says why, so that the analyst asks
the customer who they are (001 §3.1) instead of the pipeline guessing.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from shared.schemas import Customer

from .channels.text import to_e164

try:  # libyaml when present: the same behaviour, several times faster on big directories
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml is part of the usual PyYAML wheels
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

__all__ = [
    "ARREARS_GRACE_DAYS",
    "CSV_COLUMNS",
    "MATCH_ORDER",
    "Directory",
    "DirectoryCustomer",
    "DirectoryError",
    "Eligibility",
    "EligibilityReason",
    "Invoice",
    "Lookup",
    "Match",
    "MatchField",
    "OverdueInvoice",
    "Problem",
    "Route",
    "Subscription",
    "eligibility",
    "load_csv",
    "load_yaml",
    "normalize_email",
    "normalize_tax_id",
    "overdue_invoices",
]

_T = TypeVar("_T")

#: 001 §3.1: an unpaid invoice is in arrears when it is MORE than this many days past its due date.
ARREARS_GRACE_DAYS = 10

MatchField = Literal["channel_id", "email", "phone", "tax_id"]
#: The order of strength of the identifiers: a match is reported by the strongest field that hit.
MATCH_ORDER: tuple[MatchField, ...] = ("channel_id", "email", "phone", "tax_id")

EligibilityReason = Literal[
    "active", "inactive_subscription", "in_arrears", "agreement_in_force", "no_maintenance_agreement"
]
Route = Literal["area_comercial", "gerente_de_proyectos"]

# ---------------------------------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------------------------------

_TAX_ID_SEPARATORS = re.compile(r"[.\s\-‐‑‒–—]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def normalize_tax_id(raw: str) -> str:
    """The matching form of a tax id (RFC, NIT, cédula jurídica, CUIT): upper case, no dots, spaces or
    dashes. '900.123.456-7' and '9001234567' are the same NIT; 'goml850101ab1' is 'GOML850101AB1'.

    The check digit of a NIT is kept: '900123456' (without it) is a different key.
    """
    return _TAX_ID_SEPARATORS.sub("", raw).upper()


def normalize_email(raw: str) -> str:
    """The matching form of an email: trimmed and lower case (local parts are case-insensitive in
    practice, and the contacts' `EmailStr` already lowers the domain)."""
    return raw.strip().lower()


@contextlib.contextmanager
def _bulk() -> Iterator[None]:
    """Builds 100k customers without the cycle collector: it would otherwise rescan the growing heap
    again and again and double the load time. Nothing built here is cyclic; the previous state is
    restored on the way out (process-wide, for the few seconds of a load)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _unique(values: Iterable[_T]) -> tuple[_T, ...]:
    """The values without repeats, in their first order."""
    return tuple(dict.fromkeys(values))


# ---------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------

_STATUS_ALIASES = {
    # 001 §3.1: active subscriptions are the ones in the stage 'En progreso'.
    "en progreso": "active",
    "activa": "active",
    "activo": "active",
    "inactiva": "inactive",
    "inactivo": "inactive",
    "cancelada": "cancelled",
    "cancelado": "cancelled",
    "canceled": "cancelled",
}


class Invoice(BaseModel):
    """One invoice of the subscription (001 §3.1, the 'Facturas' button)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    number: str = Field(min_length=1, max_length=100)
    due_date: date
    paid: bool


class Subscription(BaseModel):
    """What the customer has contracted and how they stand on payments."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    status: Literal["active", "inactive", "cancelled"] = Field(
        description="001 §3.1: 'active' is the Odoo stage 'En progreso' (accepted as an alias)."
    )
    invoices: tuple[Invoice, ...] = ()
    agreement_until: date | None = Field(
        default=None, description="001 §3.1: the payment agreement ('Acuerdo') is valid up to and including this date."
    )
    agreement_broken: bool = Field(default=False, description="001 §3.1: the agreement's date shows in red.")
    maintenance_until: date | None = Field(
        default=None, description="004: the assistance and maintenance agreement is current up to this date."
    )

    @field_validator("status", mode="before")
    @classmethod
    def _status_alias(cls, value: object) -> object:
        if isinstance(value, str):
            cleaned = value.strip().lower()
            return _STATUS_ALIASES.get(cleaned, cleaned)
        return value


class DirectoryCustomer(BaseModel):
    """One customer of the tenant's directory.

    Phones are stored in E.164 (a number without its country code is read in `country`); tax ids are
    stored as written and matched in their normalized form (`normalize_tax_id`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    customer_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, the default region of phones.")
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    tax_ids: tuple[str, ...] = ()
    channel_ids: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Per channel, e.g. {'whatsapp': ['573001234567'], 'telegram': ['123']}."
    )
    subscription: Subscription
    area: str | None = None
    account_manager: str | None = None

    @field_validator("emails", "phones", "tax_ids", mode="before")
    @classmethod
    def _one_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("channel_ids", mode="before")
    @classmethod
    def _one_id_is_a_list(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("company", "area", "account_manager", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("country", mode="after")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if not value:
            return None
        code = value.upper()
        if not _COUNTRY.match(code):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'CO', 'MX')")
        return code

    @field_validator("emails", mode="after")
    @classmethod
    def _emails(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = [v.strip() for v in values]
        for value in cleaned:
            if not _EMAIL.match(value):
                raise ValueError(f"{value!r} is not a valid email address")
        return _unique(cleaned)

    @field_validator("phones", mode="after")
    @classmethod
    def _phones(cls, values: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        region = info.data.get("country")
        normalized = []
        for value in values:
            e164 = to_e164(value, region)
            if e164 is None:
                where = f" (country {region})" if region else ""
                raise ValueError(f"{value!r} is not a valid phone number{where}")
            normalized.append(e164)
        return _unique(normalized)

    @field_validator("tax_ids", mode="after")
    @classmethod
    def _tax_ids(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = [v.strip() for v in values]
        for value in cleaned:
            if not normalize_tax_id(value):
                raise ValueError(f"{value!r} is not a tax id")
        return _unique(cleaned)

    @field_validator("channel_ids", mode="after")
    @classmethod
    def _channel_ids(cls, values: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        cleaned: dict[str, tuple[str, ...]] = {}
        for channel, ids in values.items():
            name = channel.strip().lower()
            if not _CHANNEL_NAME.match(name):
                raise ValueError(f"{channel!r} is not a channel name (e.g. 'whatsapp', 'telegram')")
            stripped = [i.strip() for i in ids]
            if any(not i for i in stripped):
                raise ValueError(f"{channel}: an empty id")
            merged = _unique([*cleaned.get(name, ()), *stripped])
            if merged:
                cleaned[name] = merged
        return cleaned

    def normalized_tax_ids(self) -> tuple[str, ...]:
        return _unique(normalize_tax_id(t) for t in self.tax_ids)


# ---------------------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """A directory customer the contact points at.

    `field` is the strongest identifier that hit (channel_id > email > phone > tax_id), `value` the
    contact's value for it in matching form and `channel` its channel when `field` is channel_id.
    `fields` lists every identifier of the contact that led to this customer, strongest first.
    """

    customer: DirectoryCustomer
    field: MatchField
    value: str
    channel: str | None
    fields: tuple[MatchField, ...]


@dataclass(frozen=True, slots=True)
class Lookup:
    """The whole answer for one contact: matched (one customer), no_match, or ambiguous (several)."""

    outcome: Literal["matched", "no_match", "ambiguous"]
    candidates: tuple[Match, ...]
    reason: str

    @property
    def match(self) -> Match | None:
        return self.candidates[0] if self.outcome == "matched" else None


_FIELD_ES: dict[MatchField, str] = {
    "channel_id": "id de canal",
    "email": "correo",
    "phone": "teléfono",
    "tax_id": "identificación tributaria",
}


def _contact_keys(customer: Customer, channel: str) -> Iterator[tuple[MatchField, str, str | None]]:
    """The contact's identifiers in matching form, strongest first; never raises on odd values.

    Channel ids: the one of the channel the contact arrived on first, then the others.
    """
    arrival = channel.strip().lower() if isinstance(channel, str) else ""
    ids = customer.channel_ids if isinstance(customer.channel_ids, Mapping) else {}
    pairs = []
    for name, ident in ids.items():
        if isinstance(name, str) and isinstance(ident, str) and ident.strip():
            pairs.append((name.strip().lower(), ident.strip()))
    pairs.sort(key=lambda pair: pair[0] != arrival)
    for name, ident in pairs:
        yield "channel_id", f"{name}\x1f{ident}", name
    email = customer.email
    if isinstance(email, str) and email.strip():
        yield "email", normalize_email(email), None
    phone = customer.phone
    if isinstance(phone, str) and phone.strip():
        yield "phone", to_e164(phone) or phone.strip(), None
    tax_id = customer.tax_id
    if isinstance(tax_id, str):
        normalized = normalize_tax_id(tax_id)
        if normalized:
            yield "tax_id", normalized, None


class Directory:
    """The tenant's customers, indexed once by every identifier: O(1) look-ups per contact."""

    def __init__(self, customers: Iterable[DirectoryCustomer]) -> None:
        self._by_id: dict[str, DirectoryCustomer] = {}
        self._index: dict[MatchField, dict[str, list[str]]] = {f: {} for f in MATCH_ORDER}
        with _bulk():
            self._build(customers)

    def _build(self, customers: Iterable[DirectoryCustomer]) -> None:
        for customer in customers:
            cid = customer.customer_id
            if cid in self._by_id:
                raise ValueError(f"customer_id {cid!r} appears twice in the directory")
            self._by_id[cid] = customer
            for name, ids in customer.channel_ids.items():
                for ident in ids:
                    self._add("channel_id", f"{name}\x1f{ident}", cid)
            for email in customer.emails:
                self._add("email", normalize_email(email), cid)
            for phone in customer.phones:
                self._add("phone", phone, cid)
            for tax_id in customer.tax_ids:
                self._add("tax_id", normalize_tax_id(tax_id), cid)

    def _add(self, field: MatchField, key: str, cid: str) -> None:
        owners = self._index[field].setdefault(key, [])
        if cid not in owners:
            owners.append(cid)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[DirectoryCustomer]:
        return iter(self._by_id.values())

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._by_id

    def get(self, customer_id: str) -> DirectoryCustomer | None:
        return self._by_id.get(customer_id)

    @property
    def customers(self) -> tuple[DirectoryCustomer, ...]:
        return tuple(self._by_id.values())

    def match_all(self, customer: Customer, channel: str) -> tuple[Match, ...]:
        """Every directory customer the contact points at, by any identifier; strongest first."""
        hits: dict[str, list[tuple[MatchField, str, str | None]]] = {}
        for field, key, via in _contact_keys(customer, channel):
            for cid in self._index[field].get(key, ()):
                value = key.split("\x1f", 1)[1] if field == "channel_id" else key
                hits.setdefault(cid, []).append((field, value, via))
        matches = []
        for cid, found in hits.items():
            field, value, via = found[0]
            fields = _unique(f for f, _, _ in found)
            matches.append(Match(self._by_id[cid], field, value, via, fields))
        matches.sort(key=lambda m: (MATCH_ORDER.index(m.field), m.customer.customer_id))
        return tuple(matches)

    def lookup(self, customer: Customer, channel: str) -> Lookup:
        """`match_all` with its verdict and a Spanish sentence for the agent."""
        candidates = self.match_all(customer, channel)
        if not candidates:
            return Lookup(
                "no_match", (), "Ningún cliente del directorio coincide con el contacto: confirmar su identidad."
            )
        if len(candidates) == 1:
            only = candidates[0]
            return Lookup(
                "matched",
                candidates,
                f"Cliente {only.customer.customer_id} ({only.customer.name}) identificado por {_FIELD_ES[only.field]}.",
            )
        listed = ", ".join(f"{m.customer.customer_id} por {_FIELD_ES[m.field]}" for m in candidates)
        return Lookup(
            "ambiguous",
            candidates,
            f"El contacto coincide con {len(candidates)} clientes distintos ({listed}): "
            "confirmar con el cliente quién es antes de atenderlo.",
        )

    def match(self, customer: Customer, channel: str) -> Match | None:
        """The one directory customer the contact is, or None when none or several match (see `lookup`)."""
        return self.lookup(customer, channel).match


# ---------------------------------------------------------------------------------------------------
# Eligibility
# ---------------------------------------------------------------------------------------------------


class OverdueInvoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: str
    due_date: date
    days_overdue: int


class Eligibility(BaseModel):
    """Whether the customer may be given support on a date, why, and where the case goes if not."""

    model_config = ConfigDict(frozen=True)

    eligible: bool
    reason: EligibilityReason
    route_to: Route | None = None
    overdue: tuple[OverdueInvoice, ...] = Field(
        default=(), description="Unpaid invoices more than 10 days past due, oldest first."
    )
    agreement_until: date | None = None
    maintenance_until: date | None = None
    message: str = Field(description="A Spanish sentence for the agent.")


_MONTHS = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio",
    "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
)  # fmt: skip
_STATUS_ES = {"active": "activa", "inactive": "inactiva", "cancelled": "cancelada"}


def _fecha(day: date) -> str:
    return f"{day.day} de {_MONTHS[day.month - 1]} de {day.year}"


def overdue_invoices(sub: Subscription, on: date) -> tuple[OverdueInvoice, ...]:
    """001 §3.1: unpaid invoices whose due date is MORE than 10 days before `on` (10 days is not yet)."""
    late = [
        OverdueInvoice(number=inv.number, due_date=inv.due_date, days_overdue=(on - inv.due_date).days)
        for inv in sub.invoices
        if not inv.paid and (on - inv.due_date).days > ARREARS_GRACE_DAYS
    ]
    return tuple(sorted(late, key=lambda inv: (inv.due_date, inv.number)))


def eligibility(sub: Subscription, on: date) -> Eligibility:
    """May the customer be given support on `on` (a date in the tenant's time zone)?

    The first rule that applies decides: the subscription is not active (001, to the commercial
    area); the maintenance agreement has expired (004, to the projects manager; current up to and
    including `maintenance_until`); an invoice is more than 10 days overdue (001, to the commercial
    area) unless an unbroken agreement is valid on `on` (up to and including `agreement_until`).
    """
    overdue = overdue_invoices(sub, on)
    common: dict[str, Any] = {
        "overdue": overdue,
        "agreement_until": sub.agreement_until,
        "maintenance_until": sub.maintenance_until,
    }
    if sub.status != "active":
        return Eligibility(
            eligible=False,
            reason="inactive_subscription",
            route_to="area_comercial",
            message=f"La suscripción no está activa (estado: {_STATUS_ES[sub.status]}): no se da soporte. "
            "Derivar al área comercial.",
            **common,
        )
    if sub.maintenance_until is not None and sub.maintenance_until < on:
        return Eligibility(
            eligible=False,
            reason="no_maintenance_agreement",
            route_to="gerente_de_proyectos",
            message=f"El acuerdo de asistencia y mantenimiento venció el {_fecha(sub.maintenance_until)}: "
            "no se da asistencia de ningún tipo. Derivar al gerente de proyectos para regularizar la situación.",
            **common,
        )
    if not overdue:
        return Eligibility(
            eligible=True,
            reason="active",
            message="Suscripción activa y sin facturas en mora: se puede dar soporte.",
            **common,
        )
    listed = ", ".join(f"{inv.number} ({inv.days_overdue} días)" for inv in overdue)
    late = f"facturas vencidas hace más de {ARREARS_GRACE_DAYS} días: {listed}"
    until = sub.agreement_until
    if until is not None and on <= until and not sub.agreement_broken:
        return Eligibility(
            eligible=True,
            reason="agreement_in_force",
            message=f"Cliente en mora con acuerdo de pago vigente hasta el {_fecha(until)}: se puede dar soporte. "
            f"Tiene {late}.",
            **common,
        )
    agreement = ""
    if until is not None and sub.agreement_broken:
        agreement = f" El acuerdo de pago hasta el {_fecha(until)} fue incumplido."
    elif sub.agreement_broken:
        agreement = " El acuerdo de pago fue incumplido."
    elif until is not None:
        agreement = f" El acuerdo de pago venció el {_fecha(until)}."
    return Eligibility(
        eligible=False,
        reason="in_arrears",
        route_to="area_comercial",
        message=f"Cliente en mora: {late}.{agreement} No se da soporte; derivar al área comercial.",
        **common,
    )


# ---------------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a directory file: where ('row 7', 'line 12'), which field, and what."""

    source: str
    location: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source} {self.location}" if self.location else self.source
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class DirectoryError(ValueError):
    """A directory file that cannot be loaded. `problems` holds every problem found (up to a limit)."""

    MAX_PROBLEMS = 50

    def __init__(self, problems: Sequence[Problem], truncated: bool = False) -> None:
        self.problems = tuple(problems)
        self.truncated = truncated
        lines = [str(p) for p in self.problems]
        if truncated:
            lines.append(f"(stopped after {len(self.problems)} problems)")
        super().__init__("\n".join(lines))


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[Problem] = []

    def add(self, location: str | None, field: str | None, message: str) -> None:
        self.found.append(Problem(self.source, location, field, message))
        if len(self.found) >= DirectoryError.MAX_PROBLEMS:
            raise DirectoryError(self.found, truncated=True)

    def raise_if_any(self) -> None:
        if self.found:
            raise DirectoryError(self.found)


def _error_text(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    if kind == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    value = error.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float | bool | date) else ""
    return f"{error.get('msg', 'invalid')}{shown}"


CSV_COLUMNS = (
    "customer_id", "name", "company", "emails", "phones", "tax_ids", "whatsapp", "telegram", "status",
    "agreement_until", "agreement_broken", "maintenance_until", "country", "invoices", "area", "account_manager",
)  # fmt: skip
_CSV_REQUIRED = ("customer_id", "name", "status")
_CSV_LISTS = ("emails", "phones", "tax_ids")
_CSV_CHANNELS = ("whatsapp", "telegram")
_CSV_SUBSCRIPTION = ("status", "agreement_until", "agreement_broken", "maintenance_until")
_TRUE = {"true", "t", "1", "yes", "y", "si", "sí", "s", "x"}
_FALSE = {"false", "f", "0", "no", "n", ""}


def _cells(value: str) -> list[str]:
    """A multi-valued cell: values separated by ';', blanks dropped."""
    return [part.strip() for part in value.split(";") if part.strip()]


def _csv_bool(value: str) -> bool | str:
    cleaned = value.strip().lower()
    if cleaned in _TRUE:
        return True
    if cleaned in _FALSE:
        return False
    return value  # pydantic names what is wrong with it


class _CellError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def _csv_invoices(cell: str) -> list[dict[str, Any]]:
    invoices = []
    for position, item in enumerate(_cells(cell), start=1):
        parts = item.rsplit(":", 2)
        if len(parts) != 3 or not parts[0].strip():
            raise _CellError("invoices", f"invoice {position} {item!r} is not 'number:due_date:paid'")
        number, due, paid = (p.strip() for p in parts)
        try:
            due_date = date.fromisoformat(due)
        except ValueError:
            raise _CellError(
                "invoices", f"invoice {position} {item!r}: due_date {due!r} is not a date (YYYY-MM-DD)"
            ) from None
        flag = _csv_bool(paid)
        if not isinstance(flag, bool) or not paid:
            raise _CellError("invoices", f"invoice {position} {item!r}: paid {paid!r} is not true or false")
        invoices.append({"number": number, "due_date": due_date, "paid": flag})
    return invoices


def _csv_record(row: Mapping[str, str]) -> dict[str, Any]:
    """One CSV row as the model's fields (empty cells are absent values)."""
    record: dict[str, Any] = {}
    for column in ("customer_id", "name", "company", "country", "area", "account_manager"):
        if row.get(column, "").strip():
            record[column] = row[column]
    for column in _CSV_LISTS:
        record[column] = _cells(row.get(column, ""))
    record["channel_ids"] = {c: _cells(row.get(c, "")) for c in _CSV_CHANNELS if row.get(c, "").strip()}
    subscription: dict[str, Any] = {"invoices": _csv_invoices(row.get("invoices", ""))}
    for column in _CSV_SUBSCRIPTION:
        cell = row.get(column, "")
        if column == "agreement_broken":
            subscription[column] = _csv_bool(cell)
        elif cell.strip():
            subscription[column] = cell.strip()
    record["subscription"] = subscription
    return record


def _csv_column(loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "subscription":
        return str(loc[1])
    if len(loc) >= 2 and loc[0] == "channel_ids":
        return str(loc[1])
    return str(loc[0]) if loc else "row"


def load_csv(path: str | Path) -> Directory:
    """A directory from a CSV file (UTF-8, comma-separated, a header row; see `CSV_COLUMNS`).

    Multi-valued cells (emails, phones, tax_ids, whatsapp, telegram, invoices) separate values with
    ';'. An invoice is 'number:due_date:paid', e.g. 'FV-1001:2026-11-12:false'. Rows are numbered as a
    spreadsheet shows them: the header is row 1. Every problem names its row and column, e.g.
    "customers.csv row 7: phones: '+57 300' is not a valid phone number".
    """
    with _bulk():
        return _load_csv(Path(path))


def _load_csv(path: Path) -> Directory:
    problems = _Problems(path.name)
    customers: list[DirectoryCustomer] = []
    first_row: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                problems.add(None, None, "empty file: expected a header row with " + ",".join(CSV_COLUMNS))
                problems.raise_if_any()
            columns = [h.strip() for h in header or []]
            unknown = [c for c in columns if c not in CSV_COLUMNS]
            missing = [c for c in _CSV_REQUIRED if c not in columns]
            doubled = sorted({c for c in columns if columns.count(c) > 1})
            if unknown:
                problems.add("row 1", None, f"unknown columns {unknown}; the columns are {','.join(CSV_COLUMNS)}")
            if missing:
                problems.add("row 1", None, f"missing columns {missing}")
            if doubled:
                problems.add("row 1", None, f"repeated columns {doubled}")
            problems.raise_if_any()
            for number, cells in enumerate(reader, start=2):
                if not any(cell.strip() for cell in cells):
                    continue
                where = f"row {number}"
                if len(cells) != len(columns):
                    problems.add(where, None, f"has {len(cells)} cells, the header has {len(columns)}")
                    continue
                row = dict(zip(columns, cells, strict=True))
                try:
                    customer = DirectoryCustomer.model_validate(_csv_record(row))
                except _CellError as exc:
                    problems.add(where, exc.column, str(exc))
                    continue
                except ValidationError as exc:
                    for error in exc.errors(include_url=False):
                        problems.add(where, _csv_column(error["loc"]), _error_text(error))
                    continue
                cid = customer.customer_id
                if cid in first_row:
                    problems.add(where, "customer_id", f"{cid!r} is already used at row {first_row[cid]}")
                    continue
                first_row[cid] = number
                customers.append(customer)
    except UnicodeDecodeError as exc:
        problems.add(None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except csv.Error as exc:
        problems.add(None, None, f"not valid CSV: {exc}")
    problems.raise_if_any()
    return Directory(customers)


class _YamlLoader(_BaseLoader):
    """Safe YAML where numbers and dates stay text for the model to read: +573001234567, 0123 and
    9001234567 are identifiers (YAML 1.1 would drop the '+' and read 0123 as octal), and a bad date
    like 2026-13-01 is reported with its field and line. Booleans and null keep their YAML meaning."""


_TEXT_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")
_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _TEXT_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_line(node: Node, loc: tuple[int | str, ...]) -> int:
    """The line (1-based) of the deepest node of `loc` that exists in the document."""
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value  # the line of 'field:', where a reader looks
                    break
            else:
                break
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "customer"


def load_yaml(path: str | Path) -> Directory:
    """A directory from a YAML file: a list of customers with the fields of `DirectoryCustomer`.

    Every problem names the line and field path, e.g.
    "navegasoft.yaml line 12: subscription.invoices[0].due_date: ...".
    """
    with _bulk():
        return _load_yaml(Path(path))


def _load_yaml(path: Path) -> Directory:
    problems = _Problems(path.name)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DirectoryError(
            [Problem(path.name, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
        ) from None
    loader = _YamlLoader(text)
    customers: list[DirectoryCustomer] = []
    first_line: dict[str, int] = {}
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            location = f"line {mark.line + 1}" if mark is not None else None
            problems.add(location, None, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")
            problems.raise_if_any()
        if root is None:
            return Directory(())
        if not isinstance(root, SequenceNode):
            problems.add(f"line {root.start_mark.line + 1}", None, "expected a list of customers")
            problems.raise_if_any()
        for item in root.value:
            where = f"line {item.start_mark.line + 1}"
            if not isinstance(item, MappingNode):
                problems.add(where, None, "expected a customer (a mapping of fields)")
                continue
            try:
                data = loader.construct_document(item)
                customer = DirectoryCustomer.model_validate(data)
            except yaml.YAMLError as exc:
                problems.add(where, None, f"not valid YAML: {exc}")
                continue
            except ValidationError as exc:
                for error in exc.errors(include_url=False):
                    loc = error["loc"]
                    problems.add(f"line {_yaml_line(item, loc)}", _dotted(loc), _error_text(error))
                continue
            except (ValueError, TypeError) as exc:  # an explicit tag that cannot be built, e.g. !!timestamp 2026-13-01
                problems.add(where, None, f"not valid YAML: {exc}")
                continue
            cid = customer.customer_id
            if cid in first_line:
                line = _yaml_line(item, ("customer_id",))
                problems.add(f"line {line}", "customer_id", f"{cid!r} is already used at line {first_line[cid]}")
                continue
            first_line[cid] = _yaml_line(item, ("customer_id",))
            customers.append(customer)
    finally:
        loader.dispose()
    problems.raise_if_any()
    return Directory(customers)
