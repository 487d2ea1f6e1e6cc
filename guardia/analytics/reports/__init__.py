"""The four reports (analysts-notes §5.4): `sla` (001), `daily` (000 A), `weekly` (000 B), `handover` (000 C)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from guardia.analytics.reports import daily, handover, sla, weekly
from guardia.analytics.reports.common import Report, Window
from guardia.policy import TenantPolicy

KINDS = ("sla", "daily", "weekly", "handover")


def default_days(kind: str, at: datetime, tz: ZoneInfo, first: date | None, last: date | None) -> tuple[date, date]:
    """The report's local days when --from/--to are not given: the day of `at` (daily, handover), its
    week from Monday (weekly), the 30 days up to it (sla). --to is inclusive."""
    today = at.astimezone(tz).date()
    if kind == "weekly":
        start = first or today - timedelta(days=today.weekday())
        return start, last or start + timedelta(days=6)
    if kind == "sla":
        end = last or today
        return first or end - timedelta(days=29), end
    start = first or today
    return start, last or start


def build_report(kind: str, con: duckdb.DuckDBPyConnection, policy: TenantPolicy | None, tenant: str,
                 first: date | None, last: date | None, at: datetime) -> Report:
    tz = ZoneInfo(policy.calendar.timezone if policy is not None else "UTC")
    w = Window.of_days(*default_days(kind, at, tz, first, last), tz)
    if kind == "sla":
        return sla.build(con, policy, tenant, w)
    if kind == "daily":
        return daily.build(con, policy, tenant, w)
    if kind == "weekly":
        return weekly.build(con, policy, tenant, w)
    if kind == "handover":
        return handover.build(con, policy, tenant, w, at)
    raise ValueError(f"unknown report {kind!r}: {', '.join(KINDS)}")
