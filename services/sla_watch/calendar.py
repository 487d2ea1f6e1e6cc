"""Business calendars: time zone, working intervals per weekday, national holidays, exceptions.

Pure and DST-correct: instants are aware datetimes; arithmetic over working time is done on local
wall-clock intervals converted back to instants through zoneinfo, so a DST shift inside a working
interval shortens or lengthens it the way the clock on the office wall does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays as holidays_lib

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_SCAN_DAYS = 3660  # ten years without a working day means a broken calendar, not a long wait


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str
    working_hours: dict[str, tuple[tuple[time, time], ...]]
    country: str | None = None
    subdivision: str | None = None
    extra_closed: frozenset[date] = field(default_factory=frozenset)
    extra_open: frozenset[date] = field(default_factory=frozenset)

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _holidays(self) -> holidays_lib.HolidayBase | None:
        if not self.country:
            return None
        # The `holidays` package knows each country's movable feasts (e.g. Colombia's Emiliani law).
        return holidays_lib.country_holidays(self.country, subdiv=self.subdivision)

    def holiday_name(self, day: date) -> str | None:
        if day in self.extra_closed:
            return "cerrado"
        if self._holidays is not None and day in self._holidays and day not in self.extra_open:
            return str(self._holidays.get(day))
        return None

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of a local date, as aware instants (empty on closed days)."""
        if self.holiday_name(day) is not None:
            return []
        spans = self.working_hours.get(WEEKDAYS[day.weekday()], ())
        if not spans and day in self.extra_open:
            spans = self.working_hours.get("mon", ())
        out = []
        for start, end in spans:
            a = datetime.combine(day, start, self.tz)
            b = datetime.combine(day, end, self.tz) if end != time(0) else datetime.combine(
                day + timedelta(days=1), time(0), self.tz
            )
            # In UTC, so that `instant + timedelta` is elapsed time, not wall-clock time (DST).
            out.append((a.astimezone(UTC), b.astimezone(UTC)))
        return out

    def is_working_day(self, day: date) -> bool:
        return bool(self.intervals(day))

    def is_working_time(self, at: datetime) -> bool:
        return any(a <= at < b for a, b in self.intervals(at.astimezone(self.tz).date()))

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself if it is working time, else the start of the next working interval."""
        day = at.astimezone(self.tz).date()
        for offset in range(_MAX_SCAN_DAYS):
            for a, b in self.intervals(day + timedelta(days=offset)):
                if at < b:
                    return max(a, at.astimezone(UTC))
        raise ValueError(f"calendar {self.timezone} has no working time after {at}")

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of working time have elapsed since `start`."""
        remaining = timedelta(seconds=seconds)
        day = start.astimezone(self.tz).date()
        cursor = start
        for offset in range(_MAX_SCAN_DAYS):
            for a, b in self.intervals(day + timedelta(days=offset)):
                if b <= cursor:
                    continue
                lo = max(a, cursor)
                available = b - lo
                if remaining <= available:
                    return lo + remaining
                remaining -= available
                cursor = b
        raise ValueError(f"calendar {self.timezone} has no working time after {start}")

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Working time inside [start, end), in seconds (0 if end <= start)."""
        if end <= start:
            return 0.0
        total = timedelta(0)
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            for a, b in self.intervals(day):
                lo, hi = max(a, start), min(b, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds()

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """001 'días hábiles': the same working time of day on the N-th next working day.

        A start outside working hours counts from the next opening. If that time of day is not
        working time on the target day (a shorter day), the deadline is the next opening after it.
        """
        begin = self.next_opening(start)
        local = begin.astimezone(self.tz)
        day = local.date()
        counted = 0
        for _ in range(_MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    candidate = datetime.combine(day, local.time(), self.tz).astimezone(UTC)
                    return self.next_opening(candidate)
        raise ValueError(f"calendar {self.timezone} has fewer than {days} working days ahead")
