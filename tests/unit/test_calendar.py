"""BusinessCalendar: working intervals, Colombian holidays (seed 001), business arithmetic, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardia.policy import Policies
from services.sla_watch.calendar import BusinessCalendar
from services.sla_watch.policy import CalendarPolicy

BOG = ZoneInfo("America/Bogota")
NYC = ZoneInfo("America/New_York")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

NAVEGASOFT = Policies.load()["navegasoft"].business_calendar
SPLIT = BusinessCalendar(
    timezone="America/Bogota",
    country="CO",
    working_hours={d: ((time(8), time(12)), (time(14), time(18))) for d in WEEKDAYS},
)
NEW_YORK_OFFICE = BusinessCalendar(
    timezone="America/New_York", working_hours={d: ((time(8), time(18)),) for d in WEEKDAYS}
)
NEW_YORK_NIGHT_SHIFT = BusinessCalendar(  # Sundays 00:00-06:00 cover both DST switches of 2026 (at 02:00)
    timezone="America/New_York", working_hours={"sun": ((time(0), time(6)),)}
)


def bog(*args: int) -> datetime:
    return datetime(*args, tzinfo=BOG)


def nyc(*args: int) -> datetime:
    return datetime(*args, tzinfo=NYC)


# -- the seed 001 calendar -------------------------------------------------------------------------------


def test_navegasoft_calendar_is_bogota_monday_to_friday_eight_to_six() -> None:
    assert NAVEGASOFT.timezone == "America/Bogota"
    assert NAVEGASOFT.country == "CO"
    monday = date(2026, 12, 14)
    assert [(a.astimezone(BOG).time(), b.astimezone(BOG).time()) for a, b in NAVEGASOFT.intervals(monday)] == [
        (time(8), time(18))
    ]
    assert NAVEGASOFT.intervals(date(2026, 12, 12)) == []  # Saturday
    assert NAVEGASOFT.intervals(date(2026, 12, 13)) == []  # Sunday


@pytest.mark.parametrize(
    "day",
    [date(2026, 12, 8), date(2027, 1, 11), date(2026, 12, 25), date(2027, 1, 1)],
    ids=["inmaculada-concepcion", "reyes-magos-moved-to-monday", "navidad", "ano-nuevo"],
)
def test_colombian_holidays_are_closed(day: date) -> None:
    assert NAVEGASOFT.holiday_name(day) is not None
    assert not NAVEGASOFT.is_working_day(day)


def test_reyes_magos_is_observed_on_monday_so_the_sixth_of_january_is_a_working_day() -> None:
    assert date(2027, 1, 6).weekday() == 2  # a Wednesday
    assert NAVEGASOFT.is_working_day(date(2027, 1, 6))
    assert not NAVEGASOFT.is_working_day(date(2027, 1, 11))


def test_working_time_is_half_open_at_opening_and_closing() -> None:
    assert NAVEGASOFT.is_working_time(bog(2026, 12, 14, 8, 0))
    assert NAVEGASOFT.is_working_time(bog(2026, 12, 14, 17, 59, 59))
    assert not NAVEGASOFT.is_working_time(bog(2026, 12, 14, 18, 0))
    assert not NAVEGASOFT.is_working_time(bog(2026, 12, 14, 7, 59, 59))
    assert not NAVEGASOFT.is_working_time(bog(2026, 12, 8, 10, 0))  # holiday


# -- business days ----------------------------------------------------------------------------------------


def test_solicitud_deadline_skips_weekend_and_colombian_holiday() -> None:
    # Fri 4 Dec 10:00 -> Mon 7 (1), Tue 8 Inmaculada Concepción closed, Wed 9 (2), Thu 10 (3).
    assert NAVEGASOFT.add_business_days(bog(2026, 12, 4, 10, 0), 3) == bog(2026, 12, 10, 10, 0)


def test_usabilidad_deadline_skips_weekend_and_reyes_magos_monday() -> None:
    # Fri 8 Jan 2027 10:00 -> Sat, Sun, Mon 11 Reyes Magos closed -> Tue 12 (1), Wed 13 (2).
    assert NAVEGASOFT.add_business_days(bog(2027, 1, 8, 10, 0), 2) == bog(2027, 1, 13, 10, 0)


def test_business_days_from_friday_evening_count_from_monday_opening() -> None:
    # Opened Fri 4 Dec 20:00: counting starts Mon 7 08:00; Tue 8 is a holiday -> Wed 9, Thu 10, Fri 11.
    assert NAVEGASOFT.add_business_days(bog(2026, 12, 4, 20, 0), 3) == bog(2026, 12, 11, 8, 0)


def test_business_days_from_before_opening_count_from_that_mornings_opening() -> None:
    assert NAVEGASOFT.add_business_days(bog(2026, 12, 14, 6, 30), 1) == bog(2026, 12, 15, 8, 0)


def test_business_days_from_a_holiday_count_from_the_next_working_day() -> None:
    assert NAVEGASOFT.add_business_days(bog(2026, 12, 8, 11, 0), 1) == bog(2026, 12, 10, 8, 0)


def test_business_days_to_a_shorter_day_land_on_its_next_opening() -> None:
    cal = BusinessCalendar(
        timezone="America/Bogota",
        working_hours={**{d: ((time(8), time(18)),) for d in WEEKDAYS}, "fri": ((time(8), time(13)),)},
    )
    # Thu 17 Dec 15:00 + 1 business day -> Fri 15:00 is after Friday's 13:00 close -> Mon 21 08:00.
    assert cal.add_business_days(bog(2026, 12, 17, 15, 0), 1) == bog(2026, 12, 21, 8, 0)


# -- next opening ------------------------------------------------------------------------------------------


def test_next_opening_of_a_working_instant_is_itself() -> None:
    at = bog(2026, 12, 14, 9, 15)
    assert NAVEGASOFT.next_opening(at) == at


def test_next_opening_from_saturday_is_monday_eight() -> None:
    assert NAVEGASOFT.next_opening(bog(2026, 12, 12, 11, 0)) == bog(2026, 12, 14, 8, 0)


def test_next_opening_after_monday_close_skips_the_tuesday_holiday() -> None:
    assert NAVEGASOFT.next_opening(bog(2026, 12, 7, 18, 0)) == bog(2026, 12, 9, 8, 0)


def test_next_opening_of_a_calendar_with_no_working_time_raises() -> None:
    closed = BusinessCalendar(timezone="America/Bogota", working_hours={})
    with pytest.raises(ValueError, match="no working time"):
        closed.next_opening(bog(2026, 12, 14, 9, 0))


# -- split day (08:00-12:00, 14:00-18:00) -------------------------------------------------------------------


def test_split_day_business_hours_skip_the_lunch_break() -> None:
    assert SPLIT.add_business_seconds(bog(2026, 12, 14, 11, 0), 2 * 3600) == bog(2026, 12, 14, 15, 0)


def test_split_day_start_during_lunch_counts_from_the_afternoon_opening() -> None:
    assert SPLIT.add_business_seconds(bog(2026, 12, 14, 12, 30), 3600) == bog(2026, 12, 14, 15, 0)


def test_split_day_hours_roll_over_to_the_next_morning() -> None:
    # Mon 10:00: 2 h before lunch + 4 h after = 6 h; the remaining 2 h end Tue 10:00.
    assert SPLIT.add_business_seconds(bog(2026, 12, 14, 10, 0), 8 * 3600) == bog(2026, 12, 15, 10, 0)


def test_split_day_business_seconds_between_excludes_lunch_and_night() -> None:
    assert SPLIT.business_seconds_between(bog(2026, 12, 14, 11, 0), bog(2026, 12, 14, 15, 0)) == 2 * 3600
    assert SPLIT.business_seconds_between(bog(2026, 12, 14, 17, 0), bog(2026, 12, 15, 9, 0)) == 2 * 3600


def test_business_seconds_between_skips_a_weekend_and_a_holiday() -> None:
    # Fri 4 Dec 17:00 -> Wed 9 Dec 09:00: 1 h Friday + 10 h Monday + 1 h Wednesday (Tue 8 is a holiday).
    assert NAVEGASOFT.business_seconds_between(bog(2026, 12, 4, 17, 0), bog(2026, 12, 9, 9, 0)) == 12 * 3600


def test_business_seconds_between_is_zero_for_an_empty_or_reversed_span() -> None:
    at = bog(2026, 12, 14, 10, 0)
    assert NAVEGASOFT.business_seconds_between(at, at) == 0.0
    assert NAVEGASOFT.business_seconds_between(at, at - timedelta(hours=1)) == 0.0


def test_split_day_calendar_built_from_a_policy_matches_the_hand_built_one() -> None:
    policy = CalendarPolicy(
        timezone="America/Bogota", country="CO",
        working_hours={d: [("08:00", "12:00"), ("14:00", "18:00")] for d in WEEKDAYS},
    )
    cal = policy.calendar()
    assert cal.intervals(date(2026, 12, 14)) == SPLIT.intervals(date(2026, 12, 14))
    assert cal.intervals(date(2026, 12, 8)) == []


# -- extra closed / open days -------------------------------------------------------------------------------


def test_extra_closed_day_is_not_worked_and_extra_open_day_overrides_a_holiday() -> None:
    cal = BusinessCalendar(
        timezone="America/Bogota", country="CO",
        working_hours={d: ((time(8), time(18)),) for d in WEEKDAYS},
        extra_closed=frozenset({date(2026, 12, 24)}), extra_open=frozenset({date(2026, 12, 8)}),
    )
    assert cal.holiday_name(date(2026, 12, 24)) == "cerrado"
    assert not cal.is_working_day(date(2026, 12, 24))
    assert cal.is_working_day(date(2026, 12, 8))


def test_extra_open_saturday_uses_mondays_hours() -> None:
    cal = BusinessCalendar(
        timezone="America/Bogota", working_hours={"mon": ((time(9), time(13)),)},
        extra_open=frozenset({date(2026, 12, 12)}),
    )
    assert cal.intervals(date(2026, 12, 12)) == [(bog(2026, 12, 12, 9, 0).astimezone(UTC),
                                                  bog(2026, 12, 12, 13, 0).astimezone(UTC))]


# -- DST (America/New_York: 2026-03-08 spring forward, 2026-11-01 fall back) ---------------------------------


def test_spring_forward_shortens_a_working_interval_by_an_hour() -> None:
    sunday = date(2026, 3, 8)
    [(a, b)] = NEW_YORK_NIGHT_SHIFT.intervals(sunday)
    assert (b - a) == timedelta(hours=5)  # 00:00-06:00 on the wall, but only 5 real hours
    assert NEW_YORK_NIGHT_SHIFT.business_seconds_between(nyc(2026, 3, 8, 0, 0), nyc(2026, 3, 8, 6, 0)) == 5 * 3600


def test_fall_back_lengthens_a_working_interval_by_an_hour() -> None:
    [(a, b)] = NEW_YORK_NIGHT_SHIFT.intervals(date(2026, 11, 1))
    assert (b - a) == timedelta(hours=7)  # 00:00-06:00 on the wall, 7 real hours
    start, end = nyc(2026, 11, 1, 0, 0), nyc(2026, 11, 1, 6, 0)
    assert NEW_YORK_NIGHT_SHIFT.business_seconds_between(start, end) == 7 * 3600
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == 7 * 3600


def test_business_seconds_across_spring_forward_are_real_seconds() -> None:
    start = nyc(2026, 3, 8, 0, 0)
    deadline = NEW_YORK_NIGHT_SHIFT.add_business_seconds(start, 3 * 3600)
    assert (deadline - start).total_seconds() == 3 * 3600
    assert deadline.astimezone(NYC).hour == 4  # 00:00 EST + 3 real hours = 04:00 EDT on the wall


def test_business_hours_over_a_dst_weekend_elapse_one_hour_less_in_real_time() -> None:
    start = nyc(2026, 3, 6, 17, 0)  # Friday 17:00 EST
    deadline = NEW_YORK_OFFICE.add_business_seconds(start, 2 * 3600)
    assert deadline.astimezone(NYC).replace(tzinfo=None) == datetime(2026, 3, 9, 9, 0)  # Monday 09:00 EDT
    assert (deadline - start).total_seconds() == 63 * 3600  # 64 wall-clock hours, 63 real ones
    assert NEW_YORK_OFFICE.business_seconds_between(start, deadline) == 2 * 3600


def test_business_days_over_fall_back_keep_the_wall_clock_time() -> None:
    start = nyc(2026, 10, 30, 10, 0)  # Friday 10:00 EDT
    deadline = NEW_YORK_OFFICE.add_business_days(start, 1)
    assert deadline.astimezone(NYC).replace(tzinfo=None) == datetime(2026, 11, 2, 10, 0)  # Monday 10:00 EST
    assert (deadline - start).total_seconds() == 73 * 3600


# -- properties -------------------------------------------------------------------------------------------


_CALENDARS = [NAVEGASOFT, SPLIT, NEW_YORK_OFFICE, NEW_YORK_NIGHT_SHIFT]
_INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None, database=None)
@given(cal=st.sampled_from(_CALENDARS), start=_INSTANTS, days=st.integers(1, 10))
def test_business_day_deadline_always_falls_inside_working_time(
    cal: BusinessCalendar, start: datetime, days: int
) -> None:
    deadline = cal.add_business_days(start, days)
    assert cal.is_working_time(deadline)
    assert deadline > start
    # exactly `days` working days after the day counting starts on, up to the deadline's own day
    first = cal.next_opening(start).astimezone(cal.tz).date()
    last = deadline.astimezone(cal.tz).date()
    counted = sum(cal.is_working_day(first + timedelta(days=i)) for i in range(1, (last - first).days + 1))
    assert counted == days


@settings(max_examples=150, deadline=None, database=None)
@given(cal=st.sampled_from(_CALENDARS), start=_INSTANTS, seconds=st.integers(1, 120 * 3600))
def test_business_seconds_deadline_lies_in_a_working_interval_and_consumes_exactly_that_time(
    cal: BusinessCalendar, start: datetime, seconds: int
) -> None:
    deadline = cal.add_business_seconds(start, seconds)
    local_day = deadline.astimezone(cal.tz).date()
    spans = cal.intervals(local_day) + cal.intervals(local_day - timedelta(days=1))
    assert any(a < deadline <= b for a, b in spans)
    assert cal.business_seconds_between(start, deadline) == pytest.approx(seconds, abs=1e-3)
