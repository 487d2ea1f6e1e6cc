"""Landing raw envelopes in DuckDB, and parsing them there in bulk.

Why raw: the replay is bound by Python work per message (analysts-notes §3), and `decode_event` costs
about 34 µs per event here, three times the raw NATS read. So the reader keeps only `(subject, reply,
bytes)` per message, and a worker thread hands each batch to DuckDB as Arrow arrays, where one SQL
statement parses and checks the JSON and redacts `data` while the read goes on. The stream sequence and
stored time are cut out of the JetStream reply subject in SQL, since `msg.metadata` alone costs half of a
raw read. `events_full`, `known_types` are plain (not temporary) tables so that the build's cursors
(tables.run_tasks) see them.

The checks in SQL mirror `decode_event` for what the tables rely on: well-formed JSON, the envelope's
fields and types, a known event type, a version this build can read (not newer), and the payload's
required fields. `--validate` adds the exact pydantic validation on top (slower).
"""

from __future__ import annotations

from array import array
from itertools import accumulate
from typing import Any

import duckdb
import pyarrow as pa

from guardia.analytics.tables import redacted_data_sql
from shared.schemas import REGISTRY

LANDING_DDL = """
CREATE TEMP TABLE landing (seq BIGINT, stored_ns BIGINT, subject VARCHAR, reply VARCHAR, raw BLOB)
"""


def create_landing(con: duckdb.DuckDBPyConnection, keep_raw_text: bool = False, keep_names: bool = False) -> None:
    """The empty `events_full` (and the registry as `known_types`): batches are parsed as they land,
    in the landing thread, so DuckDB's parsing overlaps the NATS read. `keep_raw_text` (for
    `--validate`) keeps every envelope's text, not only those without a JSON object."""
    con.execute(f"SET VARIABLE replay_keep_raw_text = {'true' if keep_raw_text else 'false'}")
    con.execute(f"SET VARIABLE replay_keep_names = {'true' if keep_names else 'false'}")
    con.execute(LANDING_DDL)
    con.register("known_types_arrow", known_types())
    con.execute("CREATE TABLE known_types AS SELECT * FROM known_types_arrow")
    con.unregister("known_types_arrow")
    con.execute(PARSE_SQL.format(source="landing", raw_text=RAW_TEXT, redacted=REDACTED) + " LIMIT 0")


def land_batch(con: duckdb.DuckDBPyConnection, subjects: list[str | None], replies: list[str | None],
               raws: list[bytes], seqs: list[int] | None = None) -> None:
    """Append one batch; `seqs` is given for files (line numbers), else cut from the reply subjects."""
    batch = pa.table({
        "seq": pa.array(seqs, pa.int64()) if seqs is not None else pa.nulls(len(raws), pa.int64()),
        "subject": pa.array(subjects, pa.string()),
        "reply": pa.array(replies, pa.string()),
        "raw": binary_array(raws),
    })
    con.register("batch_view", batch)
    try:
        con.execute("INSERT INTO events_full " + PARSE_SELECT.format(source="batch_view", raw_text=RAW_TEXT,
                                                                    redacted=REDACTED))
    finally:
        con.unregister("batch_view")


def binary_array(raws: list[bytes]) -> pa.Array:
    """The payloads as one Arrow binary array, from one joined buffer and its offsets. Why not
    `pa.array(raws)`: that walks the list holding the GIL, which the NATS reader on the event loop needs,
    and on this kind of machine it took from 0.15 to 3 µs an item (allocator warm-up); the join and the
    offsets took a steadier 0.3-0.5 µs (measured in one script, rounds of 20,000 envelopes)."""
    offsets = array("q", [0])
    offsets.extend(accumulate(map(len, raws)))
    data = b"".join(raws)
    return pa.Array.from_buffers(pa.large_binary(), len(raws), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def known_types() -> pa.Table:
    """Every registered event type: the oldest version this build can upcast, its newest version and
    the payload's required fields (from the pydantic model's JSON Schema)."""
    rows: dict[str, list[Any]] = {"event_type": [], "min_version": [], "latest_version": [], "required": []}
    for name, cls in sorted(REGISTRY.latest.items()):
        oldest = cls.version
        while oldest > 1 and (name, oldest - 1) in REGISTRY.upcasters:
            oldest -= 1
        rows["event_type"].append(name)
        rows["min_version"].append(oldest)
        rows["latest_version"].append(cls.version)
        rows["required"].append(sorted(cls.model_json_schema().get("required", [])))
    return pa.table(rows, schema=pa.schema([
        ("event_type", pa.string()), ("min_version", pa.int64()), ("latest_version", pa.int64()),
        ("required", pa.list_(pa.string())),
    ]))


#: The JetStream ack reply subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`
#: (9 tokens) or, with domain and account hash, `$JS.ACK.<domain>.<hash>.<stream>...<pending>.<token>`.
PARSE_SELECT = """
WITH p AS (
    SELECT seq, subject, raw, CASE WHEN reply IS NOT NULL THEN string_split(reply, '.') END AS r FROM {source}
), l AS (
    SELECT
        CASE WHEN r IS NULL THEN seq WHEN len(r) = 9 THEN TRY_CAST(r[6] AS BIGINT) ELSE TRY_CAST(r[8] AS BIGINT) END
            AS seq,
        CASE WHEN r IS NULL THEN NULL WHEN len(r) = 9 THEN TRY_CAST(r[8] AS BIGINT) ELSE TRY_CAST(r[10] AS BIGINT) END
            AS stored_ns,
        subject,
        TRY(decode(raw)) AS txt
    FROM p
), f AS (
    -- one parse for the whole envelope, and it also decides "a JSON object or not": TRY turns the error of
    -- malformed text into NULL (the documents json_valid rejects), and a document that does not open with
    -- '{{' is valid JSON but no object. json_transform gives each field as json_extract_string would
    -- (numbers and objects as their JSON text, the first of duplicate keys) and `data` as JSON; only a
    -- `data` that is JSON null (or missing) comes back NULL, so those few are extracted again to keep the 'null'
    SELECT seq, stored_ns, subject, txt, env,
        CASE WHEN env['data'] IS NOT NULL THEN env['data'] WHEN env IS NOT NULL THEN json_extract(txt, '$.data') END
            AS data
    FROM (SELECT *, CASE WHEN starts_with(ltrim(txt, E' \\t\\n\\r'), '{{') THEN TRY(json_transform(txt,
              '{{"event_id": "VARCHAR", "event_type": "VARCHAR", "schema_version": "VARCHAR",
              "occurred_at": "VARCHAR", "tenant": "VARCHAR", "ticket_id": "VARCHAR", "correlation_id": "VARCHAR",
              "causation_id": "VARCHAR", "producer": "VARCHAR", "data": "JSON"}}')) END AS env FROM l)
), c AS (
    SELECT f.*,
        TRY_CAST(env['event_id'] AS UUID) AS event_id, env['event_type'] AS event_type,
        TRY_CAST(env['schema_version'] AS INTEGER) AS schema_version,
        CASE WHEN regexp_matches(coalesce(env['occurred_at'], ''), '(Z|[+-]\\d\\d:?\\d\\d)$')
             THEN TRY_CAST(env['occurred_at'] AS TIMESTAMPTZ) END AS occurred_at,
        env['tenant'] AS tenant, TRY_CAST(env['ticket_id'] AS UUID) AS ticket_id,
        TRY_CAST(env['correlation_id'] AS UUID) AS correlation_id,
        TRY_CAST(env['causation_id'] AS UUID) AS causation_id, env['producer'] AS producer,
        -- json_extract writes minified JSON, so an object is exactly a value that starts with '{{'
        -- (cheaper than json_type, which would parse `data` once more)
        data IS NOT NULL AND starts_with(data, '{{') AS data_is_object,
        k.min_version, k.latest_version, k.required
    FROM f LEFT JOIN known_types k ON k.event_type = f.env['event_type']
)
SELECT
    seq,
    CASE WHEN stored_ns IS NOT NULL THEN make_timestamp(stored_ns // 1000)::TIMESTAMPTZ END AS stored_at,
    subject, event_id, event_type, schema_version, occurred_at, tenant, ticket_id, correlation_id,
    causation_id, producer, data,
    CASE
        WHEN txt IS NULL THEN 'malformed_json: not UTF-8'
        WHEN env IS NULL THEN 'malformed_json: not a JSON object'
        WHEN event_id IS NULL THEN 'schema_violation: envelope: event_id: missing or not a UUID'
        WHEN event_type IS NULL OR NOT regexp_full_match(event_type, '[a-z_]+\\.[a-z_]+')
            THEN 'schema_violation: envelope: event_type: missing or malformed'
        WHEN schema_version IS NULL OR schema_version < 1
            THEN 'schema_violation: envelope: schema_version: missing or < 1'
        WHEN occurred_at IS NULL THEN 'schema_violation: envelope: occurred_at: missing or not an aware datetime'
        WHEN tenant IS NULL OR NOT regexp_full_match(tenant, '[a-z0-9][a-z0-9_-]{{0,62}}')
            THEN 'schema_violation: envelope: tenant: missing or malformed'
        WHEN env['ticket_id'] IS NOT NULL AND ticket_id IS NULL THEN 'schema_violation: envelope: ticket_id: not a UUID'
        WHEN correlation_id IS NULL THEN 'schema_violation: envelope: correlation_id: missing or not a UUID'
        WHEN env['causation_id'] IS NOT NULL AND causation_id IS NULL
            THEN 'schema_violation: envelope: causation_id: not a UUID'
        WHEN producer IS NULL THEN 'schema_violation: envelope: producer: missing'
        WHEN NOT data_is_object THEN 'schema_violation: envelope: data: not an object'
        WHEN latest_version IS NULL THEN 'unknown_event_type: ' || event_type
        WHEN schema_version > latest_version THEN 'unsupported_version: ' || event_type || ' v' || schema_version
            || ' is newer than this build knows (v' || latest_version || ')'
        WHEN schema_version < min_version THEN 'unsupported_version: ' || event_type || ' v' || schema_version
            || ' has no upcaster to v' || (schema_version + 1)
        -- one parse of `data` for its top-level keys, instead of one json_exists per required field
        WHEN schema_version = latest_version AND NOT list_has_all(json_keys(data), required)
            THEN 'schema_violation: ' || event_type || ': '
                 || array_to_string(list_transform(
                        list_filter(required, lambda x: NOT list_contains(json_keys(data), x)),
                                                   lambda x: 'data.' || x || ': Field required'), '; ')
    END AS decode_error,
    {raw_text} AS raw_text,
    {redacted} AS redacted_data
FROM c
"""
#: The text is kept only where `events.raw_text` shows it (no JSON object to redact) or `--validate` reads it:
#: copying every envelope's text a second time would cost as much as a JSON parse.
RAW_TEXT = "CASE WHEN data IS NULL OR getvariable('replay_keep_raw_text') THEN txt END"
#: `events.data` by default (tables.redacted_data_sql); nothing with `--keep-names`, which shows `data`.
REDACTED = f"CASE WHEN getvariable('replay_keep_names') THEN NULL ELSE {redacted_data_sql()} END"
PARSE_SQL = "CREATE TABLE events_full AS " + PARSE_SELECT




def validate_exactly(con: duckdb.DuckDBPyConnection) -> int:
    """`--validate`: run `decode_event` (pydantic) on every event the SQL checks passed; returns how many
    more it rejected. About 34 µs an event, so it is an option, not the default."""
    from shared.schemas import SchemaError, decode_event

    errors: list[tuple[str, int]] = []
    for seq, txt in con.execute("SELECT seq, raw_text FROM events_full WHERE decode_error IS NULL").fetchall():
        try:
            decode_event(txt)
        except SchemaError as exc:
            errors.append((str(exc), seq))
    if errors:
        con.executemany("UPDATE events_full SET decode_error = ? WHERE seq = ?", errors)
    return len(errors)
