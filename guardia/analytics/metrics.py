"""The metric definitions (README "Analytics: replay and reports", analysts-notes §5.3), as SQL over the
replay tables. Every function takes a tenant and a window `[start, end)` of instants; day buckets are
tenant-local dates; business time is `business_seconds` on the tenant's calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> Any:
    row = con.execute(sql, params).fetchone()
    return None if row is None else row[0]


def opened(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime) -> int:
    """`ticket.opened` events in the window (merged duplicates included)."""
    return int(_one(con, "SELECT count(*) FROM tickets WHERE tenant = $t AND opened_at >= $s AND opened_at < $e",
                    {"t": tenant, "s": start, "e": end}))


def resolved(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime) -> int:
    """Changes to `resuelto` in the window; a ticket counts once a local day."""
    return int(_one(con, """SELECT count(DISTINCT (sc.ticket_id, CAST(timezone(coalesce(tz.timezone, 'UTC'), sc."at")
                                                                 AS DATE)))
        FROM status_changes sc LEFT JOIN tenant_calendars tz USING (tenant)
        WHERE sc.tenant = $t AND sc.to_status = 'resuelto' AND sc."at" >= $s AND sc."at" < $e""",
                    {"t": tenant, "s": start, "e": end}))


def backlog(con: duckdb.DuckDBPyConnection, tenant: str, at: datetime) -> int:
    """Tickets opened at or before `at` whose last status at or before `at` is neither resuelto nor cancelado."""
    return int(_one(con, """SELECT count(*) FROM tickets t WHERE t.tenant = $t AND t.opened_at <= $at
        AND coalesce((SELECT arg_max(to_status, ("at", seq)) FROM status_changes sc
                      WHERE sc.tenant = t.tenant AND sc.ticket_id = t.ticket_id AND sc."at" <= $at), 'nuevo')
            NOT IN ('resuelto', 'cancelado')""", {"t": tenant, "at": at}))


@dataclass(frozen=True)
class Resolution:
    count: int
    median_seconds: float | None
    p90_seconds: float | None
    median_business_seconds: float | None
    p90_business_seconds: float | None


def resolution(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime) -> Resolution:
    """Opened -> last `resuelto`, over tickets whose last resolution falls in the window."""
    row = con.execute("""SELECT count(*), quantile_cont(resolution_seconds, 0.5),
            quantile_cont(resolution_seconds, 0.9),
            quantile_cont(resolution_business_seconds, 0.5), quantile_cont(resolution_business_seconds, 0.9)
        FROM tickets WHERE tenant = $t AND resolved_at >= $s AND resolved_at < $e""",
                      {"t": tenant, "s": start, "e": end}).fetchone()
    assert row is not None
    return Resolution(int(row[0]), row[1], row[2], row[3], row[4])


@dataclass(frozen=True)
class Attainment:
    met: int
    breached: int

    @property
    def rate(self) -> float | None:
        total = self.met + self.breached
        return None if total == 0 else round(100 * self.met / total, 1)


ATTAINMENT_DIMENSIONS = {"type": "t.type", "priority": "t.priority", "area": "t.area", "channel": "t.channel"}


def attainment_rows(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime,
                    by: str | None = None) -> list[tuple[Any, int, int]]:
    """met / (met + breached) over clocks whose terminal event (`sla.met`, or the first `sla.breached`)
    falls in the window; one row per clock however often it was re-targeted. Grouped by the ticket's
    final classification or channel when `by` is given."""
    key = ATTAINMENT_DIMENSIONS[by] if by else "'total'"
    return [(r[0], int(r[1]), int(r[2])) for r in con.execute(f"""
        SELECT {key} AS k, count(*) FILTER (WHERE c.outcome = 'met'), count(*) FILTER (WHERE c.outcome = 'breached')
        FROM clocks c JOIN tickets t USING (tenant, ticket_id)
        WHERE c.tenant = $t AND c.outcome IN ('met', 'breached') AND c.terminal_at >= $s AND c.terminal_at < $e
        GROUP BY 1 ORDER BY 1 NULLS LAST""", {"t": tenant, "s": start, "e": end}).fetchall()]


def attainment(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime) -> Attainment:
    rows = attainment_rows(con, tenant, start, end)
    return Attainment(rows[0][1], rows[0][2]) if rows else Attainment(0, 0)


def reopen_rate(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(tickets reopened in the window: a change from resuelto to a non-closed status, tickets resolved in
    the window); the rate is the first over the second."""
    row = con.execute("""SELECT
        count(DISTINCT ticket_id) FILTER (WHERE from_status = 'resuelto'
                                          AND to_status NOT IN ('resuelto', 'cancelado')),
        count(DISTINCT ticket_id) FILTER (WHERE to_status = 'resuelto')
        FROM status_changes WHERE tenant = $t AND "at" >= $s AND "at" < $e""",
                      {"t": tenant, "s": start, "e": end}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def one_touch(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(one-touch tickets, tickets resolved in the window): resolved with 0 reopens, 0 waits on the
    customer, 0 escalations and at most one agent message."""
    row = con.execute("""SELECT count(*) FILTER (WHERE reopens = 0 AND pauses = 0 AND escalations = 0
                                             AND agent_messages <= 1), count(*)
        FROM tickets WHERE tenant = $t AND ticket_id IN (
            SELECT ticket_id FROM status_changes WHERE tenant = $t AND to_status = 'resuelto' AND "at" >= $s
            AND "at" < $e) AND status = 'resuelto'""", {"t": tenant, "s": start, "e": end}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def paused_share(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime
                 ) -> tuple[float, float]:
    """(paused business seconds, running + paused business seconds) of the clocks that ended (met or
    breached) in the window: from start to terminal event, on the tenant's calendar."""
    row = con.execute("""SELECT coalesce(sum(paused_business_seconds), 0),
            coalesce(sum(business_seconds(tenant, started_at, terminal_at)), 0)
        FROM clocks WHERE tenant = $t AND outcome IN ('met', 'breached') AND terminal_at >= $s AND terminal_at < $e""",
                      {"t": tenant, "s": start, "e": end}).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


@dataclass(frozen=True)
class Committee:
    convened_in_window: int
    convened_total: int
    candidates_total: int
    toward_next: int
    every: int
    days_to_convene: list[float]


def committee(con: duckdb.DuckDBPyConnection, tenant: str, start: datetime, end: datetime, every: int = 5
              ) -> Committee:
    """001 committee: batches convened, improvement tickets counted toward the next batch (count mod
    `every`), and days from each batch's last (5th) candidate to its convening."""
    conv = con.execute("""SELECT count(*) FILTER (WHERE "at" >= $s AND "at" < $e), count(*) FROM committees
        WHERE tenant = $t AND "at" < $e""", {"t": tenant, "s": start, "e": end}).fetchone()
    cands = int(_one(con, """SELECT count(*) FROM committee_candidates WHERE tenant = $t AND "at" < $e""",
                     {"t": tenant, "e": end}))
    delays = [float(r[0]) for r in con.execute("""
        SELECT round((epoch(c."at") - epoch(max(k."at"))) / 86400, 2)
        FROM committees c, unnest(c.ticket_ids) AS u(tid) JOIN committee_candidates k
            ON k.tenant = c.tenant AND k.ticket_id = u.tid
        WHERE c.tenant = $t AND c."at" >= $s AND c."at" < $e GROUP BY c.seq, c."at" ORDER BY c.seq""",
                                              {"t": tenant, "s": start, "e": end}).fetchall()]
    assert conv is not None
    return Committee(int(conv[0]), int(conv[1]), cands, cands % every, every, delays)
