"""`guardia demo --history`: a seeded, realistic past of the four seed tenants, as API calls (pure).

A newcomer's reports are empty on the first day: nothing was ever resolved, paused, reopened or
breached. This module writes such a past as the schedule of gateway calls a help desk would have made
(`POST /v1/contacts`, `/status`, `/replies`), every one dated in the past (`received_at`, `at`), in
event-time order. `history_send.py` posts it; nothing here does I/O, reads a clock or the network, so the
same seed, span and `now` give the same calls in the same order with the same texts (tested).

What a ticket lives through follows the seeds:
- 001 §3.2 stages: nuevo -> en_proceso (first touch) -> resuelto, with the resolution as the reason
  (004 resolution summary); "en proceso del solicitante" waits on the customer (pauses the clock) until
  they answer on the same channel; cancelado for arrears, no active service or a customer who no
  longer needs it (001 "Cancelado"), sometimes taken back (cancelado -> nuevo); a resolved ticket
  reopened (resuelto -> en_proceso) when the fault comes back.
- 001 §3.2 targets: late tickets are resolved 4.2 to 6 working days after opening, past every target
  (72 h calendar, 3 working days), so they breach whatever type triage gives them; urgent matters are
  answered in calendar time (the 24/7 emergency line, 001 §3.5), others in the tenant's working hours.
- 001 §3.4.1 "Unicidad del ticket": a few customers write the same matter again on another channel
  while it is open (intake merges the newer ticket into the oldest).
- Contacts arrive any day: fewer on weekends and national holidays, at least one per tenant on each
  holiday in the span; agents work the tenant's calendar (services/sla_watch/calendar.py).
Recent tickets stay open where their next step would fall after `now`; a few older ones too.

The customers, companies, tax ids, e-mails, phones and document numbers are invented (history.yaml).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from services.sla_watch.calendar import BusinessCalendar

TEXTS = Path(__file__).with_name("history.yaml")
TENANTS = ("navegasoft", "mecodex", "miskuentas", "wolk")

#: Never date a call closer to `now` than this: the gateway refuses an `at` in the future, and the
#: calls are posted a minute or two after they are generated.
MARGIN = timedelta(minutes=5)

#: A ticket's fate (weights of a ticket opened long enough ago to live it out).
FATES: dict[str, int] = {"quick": 44, "paused": 16, "late": 10, "reopened": 7, "cancelled": 5, "uncancelled": 3,
                         "open": 4, "waiting": 3, "duplicate": 8}

Kind = Literal["contact", "status", "reply"]

#: Digits after the country code: Colombia and Mexico 10, Costa Rica 8.
NATIONAL_DIGITS = {"+57": 10, "+52": 10, "+506": 8}


@dataclass(frozen=True)
class Call:
    """One gateway call: `contact` -> POST /v1/contacts, `status` and `reply` -> /v1/tickets/{id}/...
    `ticket` is the generator's key; the sender maps it to the id the gateway answered."""

    at: datetime
    ticket: str
    kind: Kind
    body: dict[str, Any]


@dataclass
class TicketPlan:
    """What the generator meant for one ticket: tags say what its kept calls do (holiday, paused, ...)."""

    key: str
    tenant: str
    channel: str
    opened_at: datetime
    matter: str
    tags: set[str] = field(default_factory=set)
    duplicate_of: str | None = None
    final: str = "nuevo"
    urgent: bool = False


@dataclass(frozen=True)
class History:
    seed: int
    start: datetime
    now: datetime
    calls: tuple[Call, ...]
    tickets: tuple[TicketPlan, ...]


def parse_span(text: str) -> timedelta:
    """`60d`, `8w`, `36h` (1 hour to 400 days)."""
    found = re.fullmatch(r"\s*(\d+)\s*([dwh])\s*", text.lower())
    if not found:
        raise ValueError(f"span {text!r}: a number and d, w or h, e.g. 60d")
    amount, unit = int(found[1]), found[2]
    span = timedelta(hours=amount * {"d": 24, "w": 168, "h": 1}[unit])
    if not timedelta(hours=1) <= span <= timedelta(days=400):
        raise ValueError(f"span {text!r}: between 1h and 400d")
    return span


@cache
def texts() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(TEXTS.read_text(encoding="utf-8"))
    return loaded


def builtin_calendars() -> dict[str, BusinessCalendar]:
    """The calendars of the four built-in tenant policies (guardia/policies)."""
    from guardia.policy import Policies

    policies = Policies.load()
    return {tenant: policies[tenant].business_calendar for tenant in TENANTS}


def _ascii(word: str) -> str:
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().lower().replace(" ", "")


class _Writer:
    """Builds one history: tickets in order of opening, each with its whole life, then sorted."""

    def __init__(self, seed: int, start: datetime, now: datetime, calendars: Mapping[str, BusinessCalendar],
                 volume: float) -> None:
        self.rng = random.Random(seed)
        self.seed, self.start, self.now, self.cal, self.volume = seed, start, now, calendars, volume
        self.limit = now - MARGIN
        self.calls: list[tuple[datetime, int, Call]] = []
        self.tickets: list[TicketPlan] = []
        self.people: dict[str, int] = {}
        self.prefix = f"hist-{seed}-{now:%Y%m%d}"

    # ── when ──────────────────────────────────────────────────────────────────────────────────────
    def arrivals(self, tenant: str) -> list[datetime]:
        """Contact instants of one tenant: its working days per `volume` in history.yaml, 0-1 on
        weekends, 1-2 on each national holiday of its calendar (so every holiday in the span has some)."""
        cal, (lo, hi) = self.cal[tenant], texts()["tenants"][tenant]["volume"]
        out = []
        day = self.start.astimezone(cal.tz).date()
        while day <= self.now.astimezone(cal.tz).date():
            if cal.holiday_name(day) is not None:
                count, hours = self.rng.randint(1, 2), (9, 19)
            elif cal.is_working_day(day):
                count, hours = round(self.rng.randint(lo, hi) * self.volume), (7, 19)
            else:
                count, hours = self.rng.randint(0, 1), (9, 20)
            for _ in range(count):
                local = datetime.combine(day, time(self.rng.randint(*hours), self.rng.randint(0, 59)), cal.tz)
                if self.start <= local < self.limit:
                    out.append(local)
            day += timedelta(days=1)
        return sorted(out)

    def work(self, tenant: str, after: datetime, minutes: float, urgent: bool = False) -> datetime:
        """When an agent does the next thing: `minutes` of the tenant's working time later (urgent
        matters: calendar time, 001 §3.5's 24/7 line). Whole minutes, always after `after`."""
        if urgent:
            at = after + timedelta(minutes=minutes)
        else:
            at = self.cal[tenant].add_business_seconds(after, minutes * 60)
        at = at.replace(second=0, microsecond=0)
        return at if at > after else after + timedelta(minutes=1)

    # ── who and what ──────────────────────────────────────────────────────────────────────────────
    def customer(self, tenant: str) -> dict[str, Any]:
        spec, words = texts()["tenants"][tenant], texts()
        n = self.people[tenant] = self.people.get(tenant, 0) + 1
        first, last = self.rng.choice(words["first_names"]), self.rng.choice(words["surnames"])
        company = self.rng.choice(spec["companies"])
        mobile = self.rng.choice(spec["mobile_prefixes"])
        digits = NATIONAL_DIGITS[spec["phone_prefix"]] - len(mobile)
        # 7919 is prime to 10**k: distinct customers of a tenant get distinct numbers (no thread mixing)
        serial = (n * 7919 + self.seed * 104_729 + TENANTS.index(tenant)) % 10**digits
        phone = f"{spec['phone_prefix']}{mobile}{serial:0{digits}d}"
        email = f"{_ascii(first)}.{_ascii(last)}{n}@{company['domain']}"
        return {"name": f"{first} {last}", "email": email, "phone": phone, "company": company["name"],
                "tax_id": company["tax_id"]}

    def fill(self, text: str, doc: str, n: int) -> str:
        return text.replace("{doc}", doc).replace("{n}", str(n))

    def worded(self, channel: str, who: dict[str, Any], text: str, first: bool) -> str:
        """The customer's words as each channel carries them (000 §4: WhatsApp, Telegram, Tawk, calls)."""
        if channel == "email":
            hello = "Buenos días:" if first else "Hola de nuevo:"
            return f"{hello}\n\n{text}\n\nGracias,\n{who['name']}\n{who['company']}"
        if channel == "webform":
            return f"Empresa: {who['company']}\nIdentificación tributaria: {who['tax_id']}\nDescripción:\n{text}"
        if channel == "phone":
            return f"Resumen de la llamada con {who['name']} ({who['company']}): {text}"
        return text

    def contact(self, plan: TicketPlan, at: datetime, who: dict[str, Any], subject: str, text: str,
                channel: str, first: bool) -> None:
        customer = {k: v for k, v in who.items() if k != "tax_id"}
        if channel == "telegram":
            customer["channel_ids"] = {"telegram": str(int(who["phone"][1:]) % 10**9)}
        if channel in ("whatsapp", "telegram", "phone"):
            customer.pop("email")  # these channels know the customer by number only
        body = {"tenant": plan.tenant, "channel": channel, "provider_message_id": self.next_id(),
                "customer": customer, "subject": subject if channel in ("email", "webform") else "",
                "text": self.worded(channel, who, text, first), "received_at": at.isoformat()}
        self.emit(Call(at, plan.key, "contact", body))

    def next_id(self) -> str:
        return f"{self.prefix}-{len(self.calls) + 1:05d}"

    def emit(self, call: Call) -> None:
        self.calls.append((call.at, len(self.calls), call))

    # ── one ticket's life ─────────────────────────────────────────────────────────────────────────
    def ticket(self, tenant: str, opened: datetime) -> None:
        spec = texts()["tenants"][tenant]
        channels = list(spec["channels"])
        channel = self.rng.choices(channels, weights=[spec["channels"][c] for c in channels])[0]
        index = self.rng.randrange(len(spec["matters"]))
        matter = spec["matters"][index]
        fate = self.rng.choices(list(FATES), weights=list(FATES.values()))[0]
        plan = TicketPlan(f"{tenant}-{len(self.tickets) + 1:04d}", tenant, channel, opened, f"{tenant}:{index}")
        plan.urgent = bool(matter.get("urgent"))
        self.tickets.append(plan)
        cal = self.cal[tenant]
        local_day = opened.astimezone(cal.tz).date()
        if cal.holiday_name(local_day) is not None:
            plan.tags.add("holiday")
        elif not cal.is_working_day(local_day):
            plan.tags.add("weekend")
        doc = self.rng.choice(["FE", "FV", "A", "FEMC"]) + f"-{self.rng.randint(1000, 99999)}"
        n = self.rng.randint(2, 30)
        who = self.customer(tenant)
        subject = self.fill(matter["subject"], doc, n)
        self.contact(plan, opened, who, subject, self.fill(matter["text"], doc, n), channel, first=True)
        life = _Life(self, plan, bool(matter.get("urgent")), {k: self.fill(str(matter[k]), doc, n)
                                                              for k in ("ask", "answer", "fix")}, who, subject)
        if fate == "duplicate":
            self.duplicate(plan, who, subject, self.fill(matter["text"], doc, n), channels)
            fate = "quick"
        life.live(fate)
        if plan.final not in ("resuelto", "cancelado"):
            plan.tags.add("open")

    def duplicate(self, original: TicketPlan, who: dict[str, Any], subject: str, text: str,
                  channels: list[str]) -> None:
        """001 §3.4.1: the same customer writes the same matter on another channel, 20-90 min later
        (before anyone touched the first ticket: see _Life.touch)."""
        others = [c for c in channels if c != original.channel and c in ("whatsapp", "phone", "email", "telegram")]
        at = original.opened_at + timedelta(minutes=self.rng.randint(20, 90))
        if not others or at >= self.limit:
            return
        channel = self.rng.choice(others)
        plan = TicketPlan(f"{original.tenant}-{len(self.tickets) + 1:04d}", original.tenant, channel, at,
                          original.matter, {"duplicate"}, duplicate_of=original.key)
        self.tickets.append(plan)
        self.contact(plan, at, who, subject, texts()["duplicate_prefix"][channel] + text, channel, first=True)
        original.tags.add("duplicated")

    def build(self) -> History:
        for tenant in TENANTS:
            for opened in self.arrivals(tenant):
                self.ticket(tenant, opened)
        ordered = tuple(call for _, _, call in sorted(self.calls, key=lambda c: (c[0], c[1])))
        return History(self.seed, self.start, self.now, ordered, tuple(self.tickets))


class _Life:
    """The agent's side of one ticket: each step dated after the previous one, none after `limit`."""

    def __init__(self, w: _Writer, plan: TicketPlan, urgent: bool, words: dict[str, str], who: dict[str, Any],
                 subject: str) -> None:
        self.w, self.plan, self.urgent, self.words, self.who, self.subject = w, plan, urgent, words, who, subject
        self.last = plan.opened_at
        self.steps = 0

    def later(self, minutes: float, calendar_time: bool = False) -> datetime | None:
        """The next step's instant, or None when it would fall after `limit` (the ticket stays as is)."""
        at = self.w.work(self.plan.tenant, self.last, minutes, self.urgent or calendar_time)
        return None if at >= self.w.limit else at

    def step(self, kind: Literal["status", "reply"], at: datetime, **body: str) -> None:
        self.steps += 1
        if kind == "status":
            self.plan.final = body["status"]
        local = at.astimezone(self.w.cal[self.plan.tenant].tz)
        command_id = f"{self.w.prefix}-{self.plan.key}-{self.steps}"
        self.w.emit(Call(at, self.plan.key, kind, {**body, "at": local.isoformat(), "command_id": command_id}))
        self.last = at

    def status(self, minutes: float, status: str, reason: str, calendar_time: bool = False) -> bool:
        at = self.later(minutes, calendar_time)
        if at is None:
            return False
        self.step("status", at, status=status, reason=reason)
        return True

    def reply(self, minutes: float, text: str) -> bool:
        at = self.later(minutes)
        if at is None:
            return False
        self.step("reply", at, text=text)
        return True

    def touch(self) -> bool:
        """First touch (001 "En proceso"): 10-90 working minutes after opening (urgent: 5-40 minutes);
        after a duplicate's arrival, so intake still sees the first ticket open when it merges."""
        rng = self.w.rng
        wait = rng.randint(5, 40) if self.urgent else rng.randint(10, 90)
        if "duplicated" in self.plan.tags:
            self.last = self.plan.opened_at + timedelta(minutes=95)
        return self.status(wait, "en_proceso", "Caso recibido y en revisión")

    def resolve(self, late: bool = False) -> bool:
        rng = self.w.rng
        if late:
            cal = self.w.cal[self.plan.tenant]
            at = cal.add_business_seconds(self.plan.opened_at, rng.randint(42, 60) * 3600).replace(second=0,
                                                                                                  microsecond=0)
            if at <= self.last or at >= self.w.limit:
                return False
            if not self.reply(rng.randint(30, 240), "Seguimos revisando su caso con el área técnica; le "
                                                      "avisamos apenas tengamos la solución."):
                return False
            if at <= self.last:
                return False
            self.step("reply", at, text=self.words["fix"])
            if not self.status(1, "resuelto", self.words["fix"]):
                return False
            self.plan.tags.update({"resolved", "late"})
            return True
        if not self.reply(rng.randint(20, 240), self.words["fix"]):
            return False
        if not self.status(rng.randint(1, 5), "resuelto", self.words["fix"]):
            return False
        self.plan.tags.add("resolved")
        return True

    def pause(self, answered: bool) -> bool:
        """001 "En proceso del solicitante": the agent asks, the ticket waits; the customer answers on
        the same channel 1-30 h later (intake appends it, sla_watch resumes the clock), the agent goes on."""
        rng = self.w.rng
        if not self.reply(rng.randint(5, 60), self.words["ask"]):
            return False
        if not self.status(1, "en_proceso_del_solicitante", "Se solicitó información al cliente: " + self.words["ask"]):
            return False
        self.plan.tags.add("paused")
        if not answered:
            return False
        at = (self.last + timedelta(minutes=rng.randint(60, 30 * 60))).replace(second=0, microsecond=0)
        if at >= self.w.limit:
            return False
        subject = "RE: " + self.subject if self.subject else ""
        self.w.contact(self.plan, at, self.who, subject, self.words["answer"], self.plan.channel, first=False)
        self.last = at
        self.plan.tags.add("answered")
        return self.status(rng.randint(10, 120), "en_proceso", "El cliente respondió; se retoma el caso")

    def live(self, fate: str) -> None:
        rng, words = self.w.rng, texts()
        if fate in ("cancelled", "uncancelled"):
            if not self.status(rng.randint(15, 120), "cancelado", rng.choice(words["cancel"])):
                return
            self.plan.tags.add("cancelled")
            if fate == "cancelled" or not self.status(rng.randint(8, 20) * 60, "nuevo", words["uncancel"]):
                return
            self.plan.tags.add("uncancelled")
        if not self.touch():
            return
        if fate == "open":
            self.plan.tags.add("left_open")
            return
        if fate in ("paused", "waiting") and not self.pause(answered=fate == "paused"):
            return
        if not self.resolve(late=fate == "late"):
            return
        if fate != "reopened":
            return
        if not self.status(rng.randint(6, 30) * 60, "en_proceso", words["reopen"]["reason"]):
            return
        self.plan.tags.add("reopened")
        if self.reply(rng.randint(10, 60), words["reopen"]["again"]):
            self.status(rng.randint(60, 300), "resuelto", self.words["fix"])


def generate(seed: int, span: timedelta, now: datetime, calendars: Mapping[str, BusinessCalendar] | None = None,
             volume: float = 1.0) -> History:
    """The history of the `span` before `now` (aware), from `seed`. `volume` scales the working-day
    contacts of history.yaml (8-15 a working day across tenants at 1.0; tests use less)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    start = now - span
    return _Writer(seed, start, now, calendars or builtin_calendars(), volume).build()

