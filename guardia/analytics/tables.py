"""The analytic tables, built in SQL from `events_full` (analysts-notes §5.2).

Every derived table reads decoded events only (`decode_error IS NULL`), ordered by event time
(`occurred_at`, ties by stream `seq`), so a back-dated contact or a timer that fired after an outage
lands where it happened, not where it was stored. `events` itself keeps every message, errors
included, in stream order.

Personal data: derived tables carry no names, e-mails, phones, tax ids or message texts; the customer is
`customer_key`, a SHA-256 of tenant and the customer's strongest identifier (the same key intake uses).
`events.data` is redacted with one JSON merge patch per event type; a message that is not JSON at
all keeps its raw text (it cannot be redacted, and dropping it would lose it). `keep_names=True` (`--keep-names`)
keeps the names and the unredacted payloads for internal use.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa

from guardia.policy import Policies

#: Table name -> ORDER BY that makes its Parquet bytes reproducible.
TABLES: dict[str, str] = {
    "events": "seq",
    "tickets": "tenant, opened_at, ticket_id",
    "contacts": "tenant, received_at, contact_id",
    "messages": "tenant, ticket_id, \"at\", seq",
    "status_changes": "tenant, ticket_id, \"at\", seq",
    "classifications": "tenant, ticket_id, \"at\", seq",
    "clocks": "tenant, ticket_id, clock",
    "clock_events": "tenant, ticket_id, \"at\", seq",
    "notifications": "tenant, notification_id",
    "activities": "tenant, ticket_id, \"at\", seq",
    "escalations": "tenant, ticket_id, \"at\", seq",
    "assignments": "tenant, ticket_id, \"at\", seq",
    "merges": "tenant, ticket_id, \"at\", seq",
    "committees": "tenant, \"at\", seq",
    "committee_candidates": "tenant, \"at\", seq",
    "policies": "tenant, \"at\", seq",
    "calendar_intervals": "tenant, start_at",
    "tenant_calendars": "tenant",
}

_CUSTOMER = {"name": None, "email": None, "phone": None, "tax_id": None, "channel_ids": None}
#: What `events.data` loses by default (RFC 7386 merge patches: null removes the key).
REDACT: dict[str, dict[str, object]] = {
    "contact.received": {"customer": _CUSTOMER, "subject": None, "body_text": None, "attachments": None,
                         "provider_message_id": None, "thread_key": None, "hints": None},
    "contact.updated": {"customer": None, "body_text": None, "attachments": None, "raw_event": None,
                        "provider_message_id": None},
    "ticket.opened": {"customer": _CUSTOMER, "subject": None, "text": None, "provider_message_id": None,
                      "thread_key": None, "standing": {"customer_id": None, "message": None}},
    "ticket.message_added": {"text": None, "subject": None},
    "ticket.note_added": {"text": None},
    "ticket.classified": {"note": None},
    "notification.requested": {"to": None, "body": None, "subject": None, "reply_to": None, "references": None},
    "notification.sent": {"to": None, "provider_id": None},
    "notification.delivered": {"provider_id": None},
    "notification.status_reported": {"provider_id": None},
    "activity.recorded": {"person": None, "text": None, "inputs": None},
    # the payload as it was received (a webhook's body: names, phones, texts) and its headers
    "dead_letter.recorded": {"raw_base64": None, "headers": None},
}
#: Event types this build does not know: the usual personal fields, wherever they are at the top.
REDACT_UNKNOWN: dict[str, object] = {"customer": None, "text": None, "body": None, "body_text": None,
                                     "subject": None, "to": None, "person": None, "raw_event": None}

_ORD = "occurred_at, seq"


def redacted_data_sql() -> str:
    """`data` without personal fields, as SQL over the parse's `event_type`, `schema_version`,
    `latest_version` (landing.PARSE_SELECT) and `data`: computed as each batch lands (replay.land_batch), so
    the build has no pass over every payload left to do.

    A known type at a version this build reads loses what REDACT names, and a type that REDACT does not
    name is kept as it is (its schema has no personal field: tests/analytics/test_replay.py checks the
    registry), which spares most events a JSON rewrite. A type this build does not know, or a version newer
    than it knows, may carry personal fields under any name: it loses REDACT_UNKNOWN's too.

    NULL where nothing is taken out (`events` shows `data` then): a second copy of most payloads would
    cost the landing as much as the rewrite it spares."""
    unknown = json.dumps(REDACT_UNKNOWN)
    known = " ".join(f"WHEN '{t}' THEN json_merge_patch(data, '{json.dumps(p)}')" for t, p in REDACT.items())
    newer = " ".join(f"WHEN '{t}' THEN json_merge_patch(data, '{json.dumps(p | REDACT_UNKNOWN)}')"
                     for t, p in REDACT.items())
    return (f"CASE WHEN data IS NULL THEN NULL "
            f"WHEN latest_version IS NOT NULL AND schema_version <= latest_version "
            f"THEN CASE event_type {known} END "
            f"ELSE CASE event_type {newer} ELSE json_merge_patch(data, '{unknown}') END END")

_CLOCK_FIELDS = ["clock", "deadline", "policy_version", "target.amount", "target.unit", "started_at", "ticket_type",
                 "priority", "fraction", "remaining_seconds", "reason", "rule", "previous_deadline", "kind", "attempt",
                 "due_at", "waiting_since", "breached", "overdue_seconds", "overdue_business_seconds"]


def _v(name: str) -> str:
    """The field `name` of `data` in clock_events' single extraction."""
    return f"v[{_CLOCK_FIELDS.index(name) + 1}]"


DERIVED_SQL: list[str] = [
    "CREATE VIEW ok AS SELECT * FROM events_full WHERE decode_error IS NULL",
    # --- simple projections, one row per event -------------------------------------------------
    f"""CREATE TABLE status_changes AS
    SELECT tenant, ticket_id, seq, occurred_at AS at,
        coalesce(lag(data->>'status') OVER w, 'nuevo') AS from_status,
        data->>'status' AS to_status, data->>'previous' AS recorded_previous,
        data->>'by' AS "by", data->>'reason' AS reason
    FROM ok WHERE event_type = 'ticket.status_changed'
    WINDOW w AS (PARTITION BY tenant, ticket_id ORDER BY {_ORD})""",
    """CREATE TABLE classifications AS
    SELECT tenant, ticket_id, seq, occurred_at AS at, data->>'ticket_type' AS type, data->>'priority' AS priority,
        data->>'area' AS area, CAST(coalesce(data->'categories', '[]') AS VARCHAR[]) AS categories,
        data->>'playbook' AS playbook, data->>'by' AS "by", data->>'classifier' AS classifier,
        CAST(data->>'confidence' AS DOUBLE) AS confidence,
        coalesce(CAST(data->>'needs_review' AS BOOLEAN), false) AS needs_review,
        coalesce(CAST(data->>'abusive' AS BOOLEAN), false) AS abusive
    FROM ok WHERE event_type = 'ticket.classified'""",
    """CREATE TABLE messages AS
    SELECT tenant, ticket_id, seq, occurred_at AS at, data->>'author' AS author, data->>'channel' AS channel,
        data->>'contact_id' AS contact_id
    FROM ok WHERE event_type = 'ticket.message_added'""",
    # every field from one parse of `data` (`data->>'x'` per field would parse it twenty times)
    f"""CREATE TABLE clock_events AS
    WITH x AS (
        SELECT tenant, ticket_id, seq, occurred_at, event_type,
            json_extract_string(data, {[f'$.{name}' for name in _CLOCK_FIELDS]}) AS v
        FROM ok WHERE event_type LIKE 'sla.%' OR event_type LIKE 'followup.%'
    )
    SELECT tenant, ticket_id, seq, occurred_at AS at, event_type,
        coalesce({_v('clock')}, CASE WHEN event_type LIKE 'sla.%' AND event_type <> 'sla.exempted'
                                      THEN 'resolution' END) AS clock,
        TRY_CAST({_v('deadline')} AS TIMESTAMPTZ) AS deadline, {_v('policy_version')} AS policy_version,
        CAST({_v('target.amount')} AS DOUBLE) AS target_amount, {_v('target.unit')} AS target_unit,
        TRY_CAST({_v('started_at')} AS TIMESTAMPTZ) AS started_at,
        {_v('ticket_type')} AS ticket_type, {_v('priority')} AS priority,
        CAST({_v('fraction')} AS DOUBLE) AS fraction, CAST({_v('remaining_seconds')} AS DOUBLE) AS remaining_seconds,
        {_v('reason')} AS reason, {_v('rule')} AS rule,
        TRY_CAST({_v('previous_deadline')} AS TIMESTAMPTZ) AS previous_deadline,
        {_v('kind')} AS kind, CAST({_v('attempt')} AS INTEGER) AS attempt,
        TRY_CAST({_v('due_at')} AS TIMESTAMPTZ) AS due_at,
        TRY_CAST({_v('waiting_since')} AS TIMESTAMPTZ) AS waiting_since,
        CAST({_v('breached')} AS BOOLEAN) AS breached,
        CAST({_v('overdue_seconds')} AS DOUBLE) AS overdue_seconds,
        CAST({_v('overdue_business_seconds')} AS DOUBLE) AS overdue_business_seconds
    FROM x""",
    """CREATE TABLE activities AS
    SELECT tenant, ticket_id, seq, occurred_at AS at,
        CASE WHEN getvariable('keep_names') THEN data->>'person' END AS person,
        data->>'medium' AS medium, data->>'reason' AS reason,
        len(CAST(coalesce(data->'inputs', '[]') AS JSON[])) AS inputs,
        CAST(coalesce(data->'pending', '[]') AS VARCHAR[]) AS pending, data->>'solution' AS solution,
        data->>'protocol' AS protocol, TRY_CAST(data->>'scheduled_call' AS TIMESTAMPTZ) AS scheduled_call,
        data->>'direction' AS direction
    FROM ok WHERE event_type = 'activity.recorded'""",
    """CREATE TABLE escalations AS
    SELECT tenant, ticket_id, seq, occurred_at AS at, data->>'from_level' AS from_level,
        data->>'to_level' AS to_level, data->>'reason' AS reason, data->>'rule' AS rule,
        coalesce(CAST(data->>'alert_emergency' AS BOOLEAN), false) AS alert_emergency
    FROM ok WHERE event_type = 'ticket.escalated'""",
    """CREATE TABLE assignments AS
    SELECT tenant, ticket_id, seq, occurred_at AS at, data->>'level' AS level, data->>'role' AS role,
        data->>'reason' AS reason, coalesce(CAST(data->>'alert_emergency' AS BOOLEAN), false) AS alert_emergency
    FROM ok WHERE event_type = 'ticket.assigned'""",
    """CREATE TABLE merges AS
    SELECT tenant, ticket_id, seq, occurred_at AS at, TRY_CAST(data->>'into_ticket_id' AS UUID) AS into_ticket_id,
        data->>'into_ticket_number' AS into_ticket_number, data->>'reason' AS reason,
        coalesce(CAST(data->>'undone' AS BOOLEAN), false) AS undone
    FROM ok WHERE event_type = 'ticket.merged'""",
    """CREATE TABLE committees AS
    SELECT tenant, seq, occurred_at AS at, CAST(data->>'batch_number' AS INTEGER) AS batch_number,
        CAST(data->'ticket_ids' AS UUID[]) AS ticket_ids, CAST(coalesce(data->'ticket_numbers', '[]') AS VARCHAR[])
        AS ticket_numbers, data->>'convener_role' AS convener_role
    FROM ok WHERE event_type = 'committee.convened'""",
    """CREATE TABLE committee_candidates AS
    SELECT tenant, ticket_id, seq, occurred_at AS at, data->>'ticket_number' AS ticket_number, data->>'rule' AS rule
    FROM ok WHERE event_type = 'committee.candidate'""",
    # policy.applied is read from any event with a valid envelope, so a build older than the event still
    # records which policy was in force.
    """CREATE TABLE policies AS
    SELECT tenant, seq, occurred_at AS at, data->>'service' AS service, data->>'version' AS version,
        data->>'content_hash' AS content_hash, data->'policy' AS policy
    FROM events_full WHERE event_type = 'policy.applied'
        AND (decode_error IS NULL OR decode_error LIKE 'unknown_event_type:%')""",
    """CREATE TABLE contacts AS
    WITH r AS (SELECT * FROM ok WHERE event_type = 'contact.received'),
    tk AS (SELECT tenant, data->>'contact_id' AS contact_id, arg_min(ticket_id, (occurred_at, seq)) AS ticket_id
           FROM ok WHERE event_type IN ('ticket.opened', 'ticket.message_added') AND data->>'contact_id' IS NOT NULL
           GROUP BY ALL),
    up AS (SELECT tenant, data->>'contact_id' AS contact_id, count(*) AS updates
           FROM ok WHERE event_type = 'contact.updated' GROUP BY ALL)
    SELECT r.tenant, r.data->>'contact_id' AS contact_id, coalesce(r.ticket_id, tk.ticket_id) AS ticket_id,
        r.data->>'channel' AS channel, TRY_CAST(r.data->>'received_at' AS TIMESTAMPTZ) AS received_at,
        r.occurred_at, r.seq,
        CASE WHEN getvariable('keep_names') THEN r.data->>'provider_message_id'
             ELSE sha256(r.tenant || '|' || (r.data->>'provider_message_id'))[:16] END AS provider_message_id,
        coalesce(CAST(r.data->>'is_reply' AS BOOLEAN), false) AS is_reply,
        len(CAST(coalesce(r.data->'attachments', '[]') AS JSON[])) AS attachments,
        coalesce(up.updates, 0) AS updates
    FROM r LEFT JOIN tk ON tk.tenant = r.tenant AND tk.contact_id = r.data->>'contact_id'
        LEFT JOIN up ON up.tenant = r.tenant AND up.contact_id = r.data->>'contact_id'""",
    """CREATE TABLE notifications AS
    WITH n AS (SELECT tenant, ticket_id, seq, occurred_at, event_type, data->>'notification_id' AS nid, data
               FROM ok WHERE event_type LIKE 'notification.%')
    SELECT tenant, nid AS notification_id, any_value(ticket_id) AS ticket_id,
        any_value(data->>'kind') FILTER (WHERE event_type = 'notification.requested') AS kind,
        any_value(data->>'audience') FILTER (WHERE event_type = 'notification.requested') AS audience,
        any_value(data->>'channel') FILTER (WHERE event_type = 'notification.requested') AS channel,
        min(occurred_at) FILTER (WHERE event_type = 'notification.requested') AS requested_at,
        min(occurred_at) FILTER (WHERE event_type = 'notification.sent') AS sent_at,
        count(*) FILTER (WHERE event_type = 'notification.failed') AS failed_attempts,
        CASE WHEN count(*) FILTER (WHERE event_type = 'notification.sent') > 0 THEN 'sent'
             WHEN count(*) FILTER (WHERE event_type = 'notification.undeliverable') > 0
                  OR count(*) FILTER (WHERE event_type = 'notification.failed'
                                      AND NOT coalesce(CAST(data->>'will_retry' AS BOOLEAN), true)) > 0
             THEN 'failed' ELSE 'pending' END AS final,
        epoch(min(occurred_at) FILTER (WHERE event_type = 'notification.sent'))
            - epoch(min(occurred_at) FILTER (WHERE event_type = 'notification.requested')) AS latency_seconds
    FROM n WHERE nid IS NOT NULL GROUP BY tenant, nid""",
    # --- clocks: one row per (ticket, clock); outcome from its last cycle (a cancelled clock that is
    # started again, e.g. a merge undone, is the same clock counted once) -----------------------------
    """CREATE TABLE clock_pauses AS
    SELECT tenant, ticket_id, clock, "at" AS paused_at,
        coalesce(next_at, getvariable('replay_end')) AS resumed_at
    FROM (SELECT *, lead("at") OVER (PARTITION BY tenant, ticket_id, clock ORDER BY "at", seq) AS next_at
          FROM clock_events WHERE event_type LIKE 'sla.%' AND event_type <> 'sla.exempted')
    WHERE event_type = 'sla.paused'""",
    # every column in one statement (an ALTER and an UPDATE per derived column cost a pass each)
    """CREATE TABLE clocks AS
    WITH e AS (  -- rn: the event's place in its clock by (at, seq), one integer for arg_max (a struct key is slow)
        SELECT *, sum(CASE WHEN event_type = 'sla.started' THEN 1 ELSE 0 END) OVER w AS cycle, row_number() OVER w AS rn
        FROM clock_events WHERE event_type LIKE 'sla.%' AND event_type <> 'sla.exempted'
        WINDOW w AS (PARTITION BY tenant, ticket_id, clock ORDER BY "at", seq ROWS UNBOUNDED PRECEDING)
    ), last AS (
        SELECT *, max(cycle) OVER (PARTITION BY tenant, ticket_id, clock) AS last_cycle FROM e
    ), a AS (
        SELECT l.tenant, l.ticket_id, l.clock,
            arg_max(l.policy_version, l.rn) AS policy_version,
            arg_max(l.target_amount, l.rn) FILTER (WHERE l.target_amount IS NOT NULL) AS target_amount,
            arg_max(l.target_unit, l.rn) FILTER (WHERE l.target_unit IS NOT NULL) AS target_unit,
            arg_max(l.ticket_type, l.rn) FILTER (WHERE l.event_type = 'sla.started') AS ticket_type,
            arg_max(l.priority, l.rn) FILTER (WHERE l.event_type = 'sla.started') AS priority,
            min(coalesce(l.started_at, l.at)) FILTER (WHERE l.event_type = 'sla.started') AS started_at,
            arg_min(l.deadline, l.rn) FILTER (WHERE l.event_type = 'sla.started') AS first_deadline,
            arg_max(l.deadline, l.rn) FILTER (WHERE l.deadline IS NOT NULL) AS last_deadline,
            min(l.at) FILTER (WHERE l.event_type = 'sla.breached' AND l.cycle = l.last_cycle) AS breached_at,
            min(l.at) FILTER (WHERE l.event_type = 'sla.met' AND l.cycle = l.last_cycle) AS met_at,
            min(l.at) FILTER (WHERE l.event_type = 'sla.cancelled' AND l.cycle = l.last_cycle) AS cancelled_at,
            arg_max(l.event_type, l.rn) AS last_event,
            list(l.fraction ORDER BY l.rn) FILTER (WHERE l.event_type = 'sla.warning' AND l.cycle = l.last_cycle)
                AS warnings_raw,
            count(*) FILTER (WHERE l.event_type = 'sla.retargeted') AS retargets,
            CAST(max(l.cycle) AS INTEGER) AS cycles,
            any_value(l.overdue_seconds) FILTER (WHERE l.event_type = 'sla.met') AS overdue_seconds,
            any_value(l.overdue_business_seconds) FILTER (WHERE l.event_type = 'sla.met') AS overdue_business_seconds
        FROM last l GROUP BY l.tenant, l.ticket_id, l.clock
    ), p AS (
        SELECT tenant, ticket_id, clock, sum(epoch(resumed_at) - epoch(paused_at)) AS s,
            sum(business_seconds(tenant, paused_at, resumed_at)) AS b
        FROM clock_pauses GROUP BY ALL
    )
    SELECT a.* EXCLUDE (warnings_raw), coalesce(a.warnings_raw, []::DOUBLE[]) AS warnings,
        CASE WHEN a.breached_at IS NOT NULL THEN 'breached' WHEN a.met_at IS NOT NULL THEN 'met'
             WHEN a.cancelled_at IS NOT NULL THEN 'cancelled'
             WHEN a.last_event = 'sla.paused' THEN 'paused' ELSE 'running' END AS outcome,
        CASE WHEN a.breached_at IS NOT NULL THEN a.breached_at WHEN a.met_at IS NOT NULL THEN a.met_at
             ELSE a.cancelled_at END AS terminal_at,
        coalesce(p.s, 0) AS paused_seconds, coalesce(p.b, 0) AS paused_business_seconds
    FROM a LEFT JOIN p USING (tenant, ticket_id, clock)""",
    # --- tickets: one row per ticket, as of the replay's end. All but the SLA columns first, in a work
    # table that does not wait for the clocks (the build's longest chain is clock_events -> clocks) ---
    f"""CREATE TABLE tickets_base AS
    WITH o AS (
        SELECT * FROM ok WHERE event_type = 'ticket.opened'
        QUALIFY row_number() OVER (PARTITION BY tenant, ticket_id ORDER BY {_ORD}) = 1
    ), cust AS (  -- the first channel id by name, for a customer with nothing stronger (intake's key)
        SELECT *, list_sort(json_keys(c->'channel_ids'))[1] AS first_channel
        FROM (SELECT tenant, ticket_id, data->'customer' AS c FROM o)
    ), cl AS (
        SELECT tenant, ticket_id, arg_max(type, ("at", seq)) AS type, arg_max(priority, ("at", seq)) AS priority,
            arg_max(area, ("at", seq)) AS area, arg_max(categories, ("at", seq)) AS categories,
            arg_max(playbook, ("at", seq)) AS playbook, arg_max("by", ("at", seq)) AS classified_by,
            count(*) - 1 AS reclassifications,
            count(*) FILTER (WHERE "by" = 'agent') AS agent_corrections,
            bool_or(needs_review) AS needs_review
        FROM classifications GROUP BY ALL
    ), st AS (
        SELECT tenant, ticket_id, arg_max(to_status, ("at", seq)) AS status,
            min("at") FILTER (WHERE to_status = 'en_proceso') AS first_touch_at,
            max("at") FILTER (WHERE to_status = 'resuelto') AS resolved_at,
            max("at") FILTER (WHERE to_status = 'cancelado') AS cancelled_at,
            count(*) FILTER (WHERE from_status = 'resuelto' AND to_status NOT IN ('resuelto', 'cancelado')) AS reopens,
            count(*) FILTER (WHERE to_status = 'en_proceso_del_solicitante') AS pauses
        FROM status_changes GROUP BY ALL
    ), sp AS (  -- calendar time waiting on the customer, from the stages
        SELECT tenant, ticket_id, sum(epoch(coalesce(next_at, getvariable('replay_end'))) - epoch("at")) AS s
        FROM (SELECT *, lead("at") OVER (PARTITION BY tenant, ticket_id ORDER BY "at", seq) AS next_at
              FROM status_changes)
        WHERE to_status = 'en_proceso_del_solicitante' GROUP BY ALL
    ), msg AS (
        SELECT tenant, ticket_id, min("at") FILTER (WHERE author = 'agent') AS first_reply_at,
            count(*) FILTER (WHERE author = 'agent') AS agent_messages,
            count(*) FILTER (WHERE author = 'customer') AS customer_messages
        FROM messages GROUP BY ALL
    ), mg AS (
        SELECT tenant, ticket_id,
            -- the last merge event decides (arg_max skips NULL values, so compare inside a struct)
            arg_max(struct_pack(v := CASE WHEN undone THEN NULL ELSE into_ticket_id END), ("at", seq)).v AS merged_into,
            arg_max(struct_pack(v := CASE WHEN undone THEN NULL ELSE "at" END), ("at", seq)).v AS merged_at,
            count(*) FILTER (WHERE undone) AS merges_undone
        FROM merges GROUP BY ALL
    ), asg AS (
        SELECT tenant, ticket_id, arg_max(level, ("at", seq)) AS assigned_level FROM assignments GROUP BY ALL
    ), esc AS (
        SELECT tenant, ticket_id, count(*) AS escalations, arg_max(to_level, ("at", seq)) AS max_level
        FROM escalations GROUP BY ALL
    ), ex AS (
        SELECT tenant, ticket_id, arg_max(data->>'reason', ({_ORD})) AS reason,
            arg_max(data->>'policy_version', ({_ORD})) AS policy_version
        FROM ok WHERE event_type = 'sla.exempted' GROUP BY ALL
    )
    SELECT o.tenant, o.ticket_id, o.data->>'ticket_number' AS ticket_number, o.data->>'channel' AS channel,
        o.occurred_at AS opened_at, o.seq AS opened_seq, o.stored_at AS opened_stored_at,
        CAST(timezone(coalesce(tz.timezone, 'UTC'), o.occurred_at) AS DATE) AS opened_local_date,
        sha256(o.tenant || '|' || coalesce(
            'email:' || lower(c.c->>'email'), 'phone:' || (c.c->>'phone'), 'tax:' || upper(c.c->>'tax_id'),
            c.first_channel || ':' || (c.c->'channel_ids'->>c.first_channel),
            'anonymous'))[:16] AS customer_key,
        CASE WHEN getvariable('keep_names') THEN c.c->>'name' END AS customer_name,
        CASE WHEN getvariable('keep_names') THEN c.c->>'company' END AS company,
        CAST(o.data->'standing'->>'eligible' AS BOOLEAN) AS eligible,
        o.data->'standing'->>'reason' AS eligibility_reason, o.data->'standing'->>'route_to' AS route_to,
        cl.type, cl.priority, cl.area, coalesce(cl.categories, []::VARCHAR[]) AS categories, cl.playbook,
        cl.classified_by, coalesce(cl.reclassifications, 0) AS reclassifications,
        coalesce(cl.agent_corrections, 0) AS agent_corrections, coalesce(cl.needs_review, false) AS needs_review,
        coalesce(st.status, 'nuevo') AS status, st.first_touch_at, msg.first_reply_at,
        coalesce(msg.agent_messages, 0) AS agent_messages, coalesce(msg.customer_messages, 0) AS customer_messages,
        st.resolved_at, st.cancelled_at, coalesce(st.reopens, 0) AS reopens, coalesce(st.pauses, 0) AS pauses,
        coalesce(sp.s, 0) AS paused_seconds,
        mg.merged_into, mg.merged_at, coalesce(mg.merges_undone, 0) AS merges_undone,
        asg.assigned_level, coalesce(esc.escalations, 0) AS escalations, esc.max_level,
        ex.reason AS exempt_reason, ex.policy_version AS exempt_policy_version,
        epoch(st.resolved_at) - epoch(o.occurred_at) AS resolution_seconds,
        business_seconds(o.tenant, o.occurred_at, st.resolved_at) AS resolution_business_seconds
    FROM o
    LEFT JOIN cust c USING (tenant, ticket_id)
    LEFT JOIN tenant_calendars tz USING (tenant)
    LEFT JOIN cl USING (tenant, ticket_id) LEFT JOIN st USING (tenant, ticket_id) LEFT JOIN sp USING (tenant, ticket_id)
    LEFT JOIN msg USING (tenant, ticket_id) LEFT JOIN mg USING (tenant, ticket_id)
    LEFT JOIN asg USING (tenant, ticket_id) LEFT JOIN esc USING (tenant, ticket_id)
    LEFT JOIN ex USING (tenant, ticket_id)""",
    """CREATE TABLE tickets AS
    SELECT b.* EXCLUDE (exempt_reason, exempt_policy_version, resolution_seconds, resolution_business_seconds),
        CASE WHEN ck.outcome IS NOT NULL THEN ck.outcome WHEN b.exempt_reason IS NOT NULL THEN 'exempt' END
            AS sla_outcome,
        CASE WHEN ck.outcome IS NULL THEN b.exempt_reason END AS sla_exempt_reason,
        ck.target_amount AS sla_target_amount, ck.target_unit AS sla_target_unit, ck.last_deadline AS sla_deadline,
        ck.breached_at AS sla_breached_at, coalesce(len(ck.warnings), 0) AS warnings_fired,
        b.resolution_seconds, b.resolution_business_seconds,
        coalesce(ck.policy_version, b.exempt_policy_version) AS policy_version
    FROM tickets_base b
    LEFT JOIN (SELECT * FROM clocks WHERE clock = 'resolution') ck USING (tenant, ticket_id)""",
]


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """`business_seconds(tenant, a, b)`: working time in [a, b) on the tenant's calendar, from the
    `calendar_intervals` table (the same `BusinessCalendar.intervals` the SLA engine uses); NULL when a
    bound is NULL, 0 for a tenant without a calendar."""
    con.execute("""CREATE OR REPLACE TEMP MACRO business_seconds(t, a, b) AS (
        CASE WHEN a IS NULL OR b IS NULL THEN NULL WHEN b <= a THEN 0.0 ELSE coalesce((
            SELECT sum(epoch(least(i.end_at, b)) - epoch(greatest(i.start_at, a)))
            FROM calendar_intervals i WHERE i.tenant = t AND i.start_at < b AND i.end_at > a), 0.0) END)""")


def build_calendars(con: duckdb.DuckDBPyConnection, policies: Policies, tenants: list[str],
                    first: date, last: date) -> None:
    """`tenant_calendars` (time zone) and `calendar_intervals` (working intervals per local day,
    holidays out) for every tenant seen, over [first, last]."""
    names: list[str] = []
    zones: list[str] = []
    versions: list[str] = []
    rows: dict[str, list[object]] = {"tenant": [], "local_date": [], "start_at": [], "end_at": []}
    for tenant in sorted(tenants):
        if tenant not in policies:
            continue
        policy = policies[tenant]
        cal = policy.business_calendar
        names.append(tenant)
        zones.append(cal.timezone)
        versions.append(policy.version)
        day = first
        while day <= last:
            for a, b in cal.intervals(day):
                rows["tenant"].append(tenant)
                rows["local_date"].append(day)
                rows["start_at"].append(a)
                rows["end_at"].append(b)
            day += timedelta(days=1)
    tz = pa.timestamp("us", tz="UTC")
    intervals = pa.table(rows, schema=pa.schema([("tenant", pa.string()), ("local_date", pa.date32()),
                                                 ("start_at", tz), ("end_at", tz)]))
    calendars = pa.table({"tenant": pa.array(names, pa.string()), "timezone": pa.array(zones, pa.string()),
                          "policy_version": pa.array(versions, pa.string())})
    con.register("intervals_arrow", intervals)
    con.register("calendars_arrow", calendars)
    # in output order, like every table (tables.build_steps)
    for name, arrow in (("calendar_intervals", "intervals_arrow"), ("tenant_calendars", "calendars_arrow")):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {arrow} ORDER BY {TABLES[name]}")
    con.unregister("intervals_arrow")
    con.unregister("calendars_arrow")


#: What a table's statements read besides `ok` / `events_full` and the calendars (ready before any task).
AFTER: dict[str, tuple[str, ...]] = {
    "clocks": ("clock_events",),
    "tickets_base": ("classifications", "status_changes", "messages", "merges", "assignments", "escalations"),
    "tickets": ("tickets_base", "clocks"),
}
#: Work tables that belong to another table's statements.
GROUP: dict[str, str] = {"clock_pauses": "clocks"}
_TARGET = re.compile(r"^\s*(?:CREATE (?:TABLE|VIEW)|ALTER TABLE|UPDATE)\s+(\w+)")
_CREATE = re.compile(r"^\s*CREATE TABLE (\w+) AS\s+(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Task:
    """One unit of the build or the write: `run` gets a cursor of its own, and starts once every task
    named in `after` has finished."""
    name: str
    after: tuple[str, ...]
    run: Callable[[duckdb.DuckDBPyConnection], None]


def run_tasks(con: duckdb.DuckDBPyConnection, tasks: Sequence[Task], setup: Callable[[duckdb.DuckDBPyConnection], None],
              workers: int = 2) -> dict[str, float]:
    """Run `tasks` on `workers` threads, each with its own cursor (a connection to the same database), the
    earliest ready task in list order first; returns when each finished (perf_counter).

    Why by hand: DuckDB parallelises one statement by row groups of 122,880 rows, so a statement on a
    table of a few thousand (or tens of thousands of) rows runs on one core; the build's statements are
    many and mostly independent, so running them side by side is what uses the machine's cores. A
    statement releases the GIL while it runs."""
    local = threading.local()
    cursors: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def call(task: Task) -> float:
        cur = getattr(local, "cursor", None)
        if cur is None:
            cur = con.cursor()
            setup(cur)
            local.cursor = cur
            with lock:
                cursors.append(cur)
        task.run(cur)
        return time.perf_counter()

    finished: dict[str, float] = {}
    pending = list(tasks)
    running: dict[Future[float], Task] = {}
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="guardia-replay-build") as pool:
            while pending or running:
                for task in list(pending):
                    if len(running) < workers and all(d in finished for d in task.after):
                        running[pool.submit(call, task)] = task
                        pending.remove(task)
                if not running:
                    raise RuntimeError(f"replay tasks wait on each other: {[t.name for t in pending]}")
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    task = running.pop(future)
                    try:
                        finished[task.name] = future.result()
                    except BaseException:
                        pending.clear()  # let what runs finish (the pool waits), start nothing new
                        raise
    finally:
        for cur in cursors:
            cur.close()
    return finished


def _sql_task(name: str, statements: list[str]) -> Task:
    def run(cur: duckdb.DuckDBPyConnection) -> None:
        for sql in statements:
            cur.execute(sql)
    return Task(name, AFTER.get(name, ()), run)


def build_steps(keep_names: bool) -> list[Task]:
    """One task per analytic table (its statements in order). A table of
    TABLES is created already in its output order, so writing it needs no second sort: DuckDB keeps
    insertion order when it scans a table (preserve_insertion_order, on by default)."""
    groups: dict[str, list[str]] = {}
    for sql in DERIVED_SQL[1:]:  # [0] is the `ok` view, made before the tasks
        target = _TARGET.match(sql)
        assert target is not None, sql
        name = GROUP.get(target.group(1), target.group(1))
        create = _CREATE.match(sql)
        if create and create.group(1) in TABLES:
            table, body = create.groups()
            sql = f"CREATE TABLE {table} AS SELECT * FROM ({body}) ORDER BY {TABLES[table]}"
        groups.setdefault(name, []).append(sql)
    columns = f"""seq, stored_at, subject, event_id, event_type, schema_version, occurred_at, tenant, ticket_id,
        correlation_id, causation_id, producer, {'data' if keep_names else 'coalesce(redacted_data, data)'} AS data,
        decode_error,
        CASE WHEN data IS NULL THEN raw_text END AS raw_text"""

    def events(cur: duckdb.DuckDBPyConnection) -> None:
        """`events` is a view of `events_full` (redacted as it landed): nothing left to copy after the read.
        Batches land in stream order, so the view is already in `seq` order; checked (one narrow sort),
        and sorted into a table if it ever is not."""
        row = cur.execute("""SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY rowid) AS prev FROM events_full)
                             WHERE seq IS NULL OR seq <= prev""").fetchone()
        if row is not None and row[0] == 0:
            cur.execute(f"CREATE VIEW events AS SELECT {columns} FROM events_full")
        else:
            cur.execute(f"CREATE TABLE events AS SELECT {columns} FROM events_full ORDER BY {TABLES['events']}")

    # the longest chain first (clock_events -> clocks -> tickets), what tickets_base waits on, then the biggest table
    first = ["clock_events", "clocks", "tickets", "status_changes", "classifications", "tickets_base"]
    return ([_sql_task(name, groups.pop(name)) for name in first] + [Task("events", (), events)]
            + [_sql_task(name, sql) for name, sql in groups.items()])


def prepare_build(con: duckdb.DuckDBPyConnection, policies: Policies,
                  keep_names: bool) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """What every build task reads and is not a table of its own: the `ok` view, the calendars (from the
    policies, in Python). Returns the setup of a task's cursor: UTC, the replay's variables, the macro
    (settings, variables and temporary macros belong to one connection)."""
    span = con.execute("SELECT min(occurred_at), max(occurred_at) FROM events_full WHERE decode_error IS NULL"
                       ).fetchone()
    lo, hi = (span or (None, None))
    end = hi if isinstance(hi, datetime) else datetime(1970, 1, 1, tzinfo=UTC)
    tenants = [r[0] for r in con.execute("SELECT DISTINCT tenant FROM events_full WHERE decode_error IS NULL"
                                         ).fetchall()]
    first = (lo.date() if isinstance(lo, datetime) else end.date()) - timedelta(days=2)
    build_calendars(con, policies, tenants, first, end.date() + timedelta(days=60))
    con.execute(DERIVED_SQL[0])

    def setup(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute(f"SET VARIABLE keep_names = {'true' if keep_names else 'false'}")
        cur.execute("SET VARIABLE replay_end = ?::TIMESTAMPTZ", [end])
        install_macros(cur)

    setup(con)
    return setup
