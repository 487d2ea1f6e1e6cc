"""`guardia replay`: the event log (GUARDIA_EVENTS or a `guardia events --json` dump) into DuckDB + Parquet.

Output folder: `guardia.duckdb`, one `<table>.parquet` per table (tables.TABLES), `manifest.json`
(what was read and built: stream sequences, counts per event type, rows per table, decode errors,
policy versions) and `run.json` (timings and rate). Same input, same Parquet and manifest bytes:
timings are the only thing that differs between runs, so they live apart in `run.json`.

Reading NATS: an ordered push consumer with a callback (the fastest nats-py read, analysts-notes §3),
from `since − lateness` by stored time, since `occurred_at` can be earlier than the storage order
(back-dated contacts, timers fired after an outage); rows are then kept by `occurred_at`.

After the read: every table is built and written by tasks on WORKERS cursors side by side
(tables.run_tasks), since DuckDB runs a statement on a small table on one core.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from guardia import __version__
from guardia.analytics.landing import create_landing, land_batch, validate_exactly
from guardia.analytics.tables import TABLES, Task, build_steps, install_macros, prepare_build, run_tasks
from guardia.policy import Policies

BATCH = 20_000
#: The last TAIL messages of a read whose length is known land in batches of TAIL_BATCH.
TAIL = BATCH
TAIL_BATCH = 2_500
#: Threads that build and write tables side by side (each statement may use DuckDB's own threads too).
WORKERS = max(3, min(4, os.cpu_count() or 2))
Progress = Callable[[int, int | None], None]  # (messages so far, total if known)


@dataclass(frozen=True)
class ReplayOptions:
    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    lateness: timedelta = timedelta(days=7)
    keep_names: bool = False
    validate: bool = False
    policies_dir: Path | None = None


@dataclass
class ReplayResult:
    out_dir: Path
    manifest: dict[str, Any]
    connection: duckdb.DuckDBPyConnection
    run: dict[str, Any] = field(default_factory=dict)


def new_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB in UTC, so timestamps print and group the same on every machine."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


# --- sources ------------------------------------------------------------------------------------------

def land_file(con: duckdb.DuckDBPyConnection, path: Path, progress: Progress | None = None,
              keep_raw_text: bool = False, keep_names: bool = False) -> int:
    """A `guardia events --json` dump: one envelope per line; `seq` is the line number (1-based)."""
    create_landing(con, keep_raw_text, keep_names)
    seqs: list[int] = []
    raws: list[bytes] = []
    n = 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            seqs.append(number)
            raws.append(line)
            n += 1
            if len(raws) >= BATCH:
                land_batch(con, [None] * len(raws), [None] * len(raws), raws, seqs)
                seqs, raws = [], []
                if progress:
                    progress(n, None)
    if raws:
        land_batch(con, [None] * len(raws), [None] * len(raws), raws, seqs)
    if progress:
        progress(n, n)
    return n


async def land_nats(con: duckdb.DuckDBPyConnection, url: str, stream: str, subject: str,
                    start: datetime | None, progress: Progress | None = None, idle: float = 2.0,
                    keep_raw_text: bool = False, keep_names: bool = False) -> int:
    """Read `subject` of `stream` to its current end into `landing`. The callback keeps three
    references per message; a worker thread lands each batch while the next one is read."""
    from nats.js.api import ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    create_landing(con, keep_raw_text, keep_names)
    from guardia.bus.connection import connect
    from guardia.settings import Settings

    nc = await connect(Settings(), url)  # as the operator's NATS user when users are configured
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardia-replay-landing")
    pending: list[Future[None]] = []
    subjects: list[str | None] = []
    replies: list[str | None] = []
    raws: list[bytes] = []
    count = 0
    total: int | None = None
    done = asyncio.get_running_loop().create_future()
    last_seen = time.monotonic()
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return 0
        if info.state.messages == 0:
            return 0
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start) \
            if start is not None else ConsumerConfig(deliver_policy=DeliverPolicy.ALL)

        def flush() -> None:
            nonlocal subjects, replies, raws
            if raws:
                pending.append(pool.submit(land_batch, con, subjects, replies, raws))
                subjects, replies, raws = [], [], []

        async def on_msg(msg: Any) -> None:
            nonlocal count, last_seen
            subjects.append(msg.subject)
            replies.append(msg.reply)
            raws.append(msg.data)
            count += 1
            # what is still to land when the last message arrives waits on one core: in the last stretch of
            # a read of known length, land in small batches, so that little is left behind the last message
            if len(raws) >= BATCH or (total is not None and total - count < TAIL and len(raws) >= TAIL_BATCH):
                flush()
                last_seen = time.monotonic()
                if progress:
                    progress(count, total)
            # pending == 0 is the last token of a 9-token reply subject (the server's own count)
            if msg.reply.endswith(".0") and not done.done():
                done.set_result(None)

        # No cyclic garbage collection while messages pour in: the reader allocates only acyclic objects
        # (messages, bytes, strings) by the hundred thousand, and the collector's passes over them cost about
        # a tenth of the read (measured in one script, three alternating reads of 200,000 envelopes from a
        # local nats-server: 2.7-2.9 s with it, 2.5-2.6 s without).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        sub = await js.subscribe(subject, stream=stream, ordered_consumer=True, cb=on_msg, config=config)
        ci = await sub.consumer_info()
        total = int(ci.num_pending or 0) + count
        if total == 0:
            done.set_result(None)
        try:
            while not done.done():
                before = count
                try:
                    await asyncio.wait_for(asyncio.shield(done), timeout=idle)
                except TimeoutError:
                    if count == before and time.monotonic() - last_seen > idle:
                        break  # nothing new: the end of what the stream holds for this subject
        finally:
            await sub.unsubscribe()
            if gc_was_enabled:
                gc.enable()
        flush()
        for f in pending:
            f.result()
        if progress:
            progress(count, count)
        return count
    finally:
        pool.shutdown(wait=True)
        await nc.close()


# --- build and write ------------------------------------------------------------------------------------

def apply_filters(con: duckdb.DuckDBPyConnection, options: ReplayOptions) -> None:
    """Keep decoded events of the tenant and `[since, until)` by event time; undecodable ones always."""
    conds = []
    params: list[object] = []
    if options.tenant:
        conds.append("(tenant = ? OR (decode_error IS NOT NULL AND tenant IS NULL))")
        params.append(options.tenant)
    if options.since:
        conds.append("(occurred_at >= ? OR occurred_at IS NULL)")
        params.append(options.since)
    if options.until:
        conds.append("(occurred_at < ? OR occurred_at IS NULL)")
        params.append(options.until)
    if conds:
        con.execute(f"DELETE FROM events_full WHERE NOT ({' AND '.join(conds)})", params)


def prepare(con: duckdb.DuckDBPyConnection, options: ReplayOptions,
            policies: Policies) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Filters, `--validate`, calendars and the `ok` view; returns the setup of a build cursor."""
    apply_filters(con, options)
    if options.validate:
        validate_exactly(con)
    return prepare_build(con, policies, options.keep_names)


def load_policies_aside(options: ReplayOptions, loaded: Policies | None = None) -> Future[Policies]:
    """The policies (for the calendars), loaded on a thread of their own while the events are read: YAML,
    validation and the holiday tables take a tenth of a second that would otherwise sit between the read
    and the build. `loaded`: a caller that has them already (a report) is not made to load them twice."""
    if loaded is not None:
        done: Future[Policies] = Future()
        done.set_result(loaded)
        return done
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardia-replay-policies")
    try:
        return pool.submit(Policies.load, options.policies_dir)
    finally:
        pool.shutdown(wait=False)


def manifest_of(con: duckdb.DuckDBPyConnection, source: dict[str, Any], options: ReplayOptions) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    first_last = rows("SELECT min(seq), max(seq), count(*) FROM events")[0]
    errors = rows("SELECT split_part(decode_error, ':', 1), count(*) FROM events WHERE decode_error IS NOT NULL "
                  "GROUP BY 1 ORDER BY 1")
    versions: dict[str, list[str]] = {}
    for tenant, version in rows("""SELECT DISTINCT tenant, v FROM (
            SELECT tenant, policy_version AS v FROM clock_events
            UNION ALL SELECT tenant, version FROM policies) WHERE v IS NOT NULL ORDER BY 1, 2"""):
        versions.setdefault(tenant, []).append(version)
    return {
        "format": 1,
        "guardia_version": __version__,
        "source": source,
        "filters": {
            "tenant": options.tenant,
            "since": options.since.isoformat() if options.since else None,
            "until": options.until.isoformat() if options.until else None,
            "lateness_seconds": options.lateness.total_seconds(),
        },
        "personal_data": "kept (--keep-names)" if options.keep_names else "hashed or left out",
        "stream": {"first_seq": first_last[0], "last_seq": first_last[1]},
        "events": first_last[2],
        "event_types": {str(t): n for t, n in rows(
            "SELECT coalesce(event_type, '(none)'), count(*) FROM events GROUP BY 1 ORDER BY 1")},
        "late_events": rows("SELECT count(*) FROM (SELECT occurred_at < max(occurred_at) OVER "
                            "(ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late FROM events "
                            "WHERE decode_error IS NULL) WHERE late")[0][0],
        "decode_errors": {
            "count": sum(n for _, n in errors),
            "by_reason": {str(r): n for r, n in errors},
            "first": [{"seq": s, "error": e} for s, e in rows(
                "SELECT seq, decode_error FROM events WHERE decode_error IS NOT NULL ORDER BY seq LIMIT 20")],
        },
        "policy_versions": versions,
        "tables": {name: rows(f"SELECT count(*) FROM {name}")[0][0] for name in TABLES},
    }


def write_tasks(out_dir: Path, built: set[str]) -> list[Task]:
    """Per table: its Parquet file and its copy in the DuckDB file (attached as `replay_file`), once the
    table is built (`built`: the tables that tasks build; the others exist before the tasks start).
    Tables are already in their output order (tables.build_steps), so both are plain scans: the Parquet
    bytes repeat; DuckDB's own file layout is not byte-stable (it is a convenience), the Parquet files are."""
    tasks: list[Task] = []
    for name in TABLES:
        target = out_dir / f"{name}.parquet"

        def parquet(cur: duckdb.DuckDBPyConnection, name: str = name, target: Path = target) -> None:
            cur.execute(f"COPY {name} TO '{target}' (FORMAT parquet, COMPRESSION zstd)")

        def copy(cur: duckdb.DuckDBPyConnection, name: str = name) -> None:
            cur.execute(f"CREATE TABLE replay_file.{name} AS SELECT * FROM {name}")

        after = (name,) if name in built else ()
        tasks += [Task(f"parquet:{name}", after, parquet), Task(f"file:{name}", after, copy)]
    return tasks


def open_replay(out_dir: Path) -> duckdb.DuckDBPyConnection:
    """A replay folder's tables in a fresh in-memory DuckDB (read from its Parquet files), with the
    `business_seconds` macro installed: what reports and the what-if read."""
    con = new_connection()
    for name in TABLES:
        path = out_dir / f"{name}.parquet"
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    install_macros(con)
    return con


def _finish(con: duckdb.DuckDBPyConnection, out_dir: Path | None, source: dict[str, Any], options: ReplayOptions,
            policies: Future[Policies], n: int, t0: float, t_read: float) -> ReplayResult:
    """Build every table and write them, as one set of tasks on two cursors: a table's files are written
    while the next tables are built (see tables.run_tasks for why)."""
    setup = prepare(con, options, policies.result())
    tasks = build_steps(options.keep_names)
    built = [t.name for t in tasks]
    manifest: dict[str, Any] = {}

    def make_manifest(cur: duckdb.DuckDBPyConnection) -> None:
        manifest.update(manifest_of(cur, source, options))

    tasks.append(Task("manifest", tuple(built), make_manifest))
    db = tmp = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        db, tmp = out_dir / "guardia.duckdb", out_dir / "guardia.duckdb.tmp"
        tmp.unlink(missing_ok=True)
        con.execute(f"ATTACH '{tmp}' AS replay_file")
        tasks += write_tasks(out_dir, set(built))
    # one DuckDB thread per statement while the tasks run: the parallelism is the tasks side by side, and
    # DuckDB's own threads on top would only oversubscribe the cores (measured: less CPU, same or less time)
    row = con.execute("SELECT current_setting('threads')").fetchone()
    threads = int(row[0]) if row else os.cpu_count() or 1
    con.execute("SET threads = 1")
    try:
        finished = run_tasks(con, tasks, setup, workers=WORKERS)
    finally:
        con.execute(f"SET threads = {threads}")
        if tmp is not None:
            con.execute("DETACH replay_file")
    t_build = max(finished[name] for name in built)
    if out_dir is not None and db is not None and tmp is not None:
        (out_dir / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        shutil.move(str(tmp), str(db))
    t_end = time.perf_counter()
    run = {
        "messages": n,
        "read_seconds": round(t_read - t0, 3),
        "build_seconds": round(t_build - t_read, 3),
        "write_seconds": round(t_end - t_build, 3),
        "elapsed_seconds": round(t_end - t0, 3),
        "messages_per_second": round(n / (t_end - t0), 1) if t_end > t0 else None,
    }
    if out_dir is not None:
        (out_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    return ReplayResult(out_dir or Path(), manifest, con, run)


def replay_file(path: Path, out_dir: Path | None, options: ReplayOptions = ReplayOptions(),
                progress: Progress | None = None, con: duckdb.DuckDBPyConnection | None = None,
                policies: Policies | None = None) -> ReplayResult:
    """Offline and deterministic: a `guardia events --json` dump. With `out_dir=None` the tables stay
    in `con` only (reports replay into memory). `policies`: those of `options.policies_dir`, if loaded."""
    con = con or new_connection()
    t0 = time.perf_counter()
    loading = load_policies_aside(options, policies)
    n = land_file(con, path, progress, options.validate, options.keep_names)
    return _finish(con, out_dir, {"kind": "file", "name": path.name}, options, loading, n, t0, time.perf_counter())


def replay_nats(url: str, out_dir: Path | None, options: ReplayOptions = ReplayOptions(),
                stream: str = "GUARDIA_EVENTS", progress: Progress | None = None,
                con: duckdb.DuckDBPyConnection | None = None, policies: Policies | None = None) -> ReplayResult:
    """GUARDIA_EVENTS (or `stream`) on a nats-server, from `since − lateness` by stored time."""
    con = con or new_connection()
    subject = f"ev.{options.tenant}.>" if options.tenant else "ev.>"
    start = options.since - options.lateness if options.since else None
    t0 = time.perf_counter()
    loading = load_policies_aside(options, policies)
    n = asyncio.run(land_nats(con, url, stream, subject, start, progress, keep_raw_text=options.validate,
                                  keep_names=options.keep_names))
    return _finish(con, out_dir, {"kind": "nats", "stream": stream, "subject": subject}, options, loading, n, t0,
                   time.perf_counter())
