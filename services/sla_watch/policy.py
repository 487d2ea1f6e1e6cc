"""sla_watch's part of the tenant policy: targets per type and priority, warnings, calendar.

001 §3.2: problema 24 h, pregunta 48 h, anomalía 72 h, solicitud 3 business days, usabilidad
2 business days, bugs have no support deadline (development owns them); urgente is 8 h whatever the
type. 001 §2.3: WhatsApp, where the tenant says it is not official, never counts for SLA.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.schemas import Priority, Target, TicketType

from .calendar import WEEKDAYS, BusinessCalendar


def _parse_hhmm(value: str) -> time:
    hours, _, minutes = value.partition(":")
    h, m = int(hours), int(minutes or 0)
    if h == 24 and m == 0:
        return time(0)
    return time(h, m)


class CalendarPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = Field(description="IANA zone, e.g. America/Bogota")
    country: str | None = Field(default=None, description="ISO country for national holidays, e.g. CO")
    subdivision: str | None = None
    working_hours: dict[str, list[tuple[str, str]]] = Field(
        description="Per weekday (mon..sun), a list of [HH:MM, HH:MM] working intervals."
    )
    extra_closed: list[date] = Field(default_factory=list)
    extra_open: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("working_hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"working_hours: {day!r} is not one of {', '.join(WEEKDAYS)}")
            previous_end = time(0)
            for start, end in spans:
                try:
                    a, b = _parse_hhmm(start), _parse_hhmm(end)
                except ValueError as exc:
                    raise ValueError(f"working_hours.{day}: {start}-{end} is not HH:MM-HH:MM") from exc
                if (b != time(0) and b <= a) or a < previous_end:
                    raise ValueError(f"working_hours.{day}: {start}-{end} is empty or overlaps")
                previous_end = b if b != time(0) else time(23, 59, 59)
        if not any(value.values()):
            raise ValueError("working_hours: at least one weekday needs a working interval")
        return value

    def calendar(self) -> BusinessCalendar:
        if self.country:
            import holidays as holidays_lib

            if self.country not in holidays_lib.list_supported_countries():
                raise ValueError(f"calendar.country: the holidays package does not know {self.country!r}")
        return BusinessCalendar(
            timezone=self.timezone,
            country=self.country,
            subdivision=self.subdivision,
            working_hours={
                day: tuple((_parse_hhmm(a), _parse_hhmm(b)) for a, b in spans)
                for day, spans in self.working_hours.items()
            },
            extra_closed=frozenset(self.extra_closed),
            extra_open=frozenset(self.extra_open),
        )


class PolicyTarget(Target):
    """A target as a policy may declare it: business days are whole days (001 'días hábiles')."""

    @model_validator(mode="after")
    def _whole_business_days(self) -> PolicyTarget:
        if self.unit == "business_days" and self.amount != int(self.amount):
            raise ValueError(f"business_days must be a whole number, got {self.amount}")
        return self


class SlaPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    targets: dict[TicketType, PolicyTarget | None] = Field(description="None: no support deadline (bugs).")
    urgent: PolicyTarget | None = Field(description="001: urgente <= 8 h whatever the type.")
    warnings: tuple[float, ...] = (0.5, 0.8, 0.95)
    reclassification: Literal["retarget", "restart", "stricter"] = Field(
        default="retarget",
        description="retarget: new target from the original start; restart: from the reclassification; "
        "stricter: the earlier of the two.",
    )

    @field_validator("warnings")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < f < 1 for f in value):
            raise ValueError("warnings: every fraction must be between 0 and 1 (exclusive)")
        return tuple(sorted(set(value)))

    def target_for(self, ticket_type: TicketType | None, priority: Priority) -> Target | None:
        if ticket_type is None:
            return None
        urgent = priority is Priority.urgente and self.urgent is not None
        chosen = self.urgent if urgent else self.targets.get(ticket_type)
        return None if chosen is None else Target(amount=chosen.amount, unit=chosen.unit)
