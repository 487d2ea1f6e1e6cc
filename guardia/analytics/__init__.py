"""Analysts' side of guardia: replay the event log into DuckDB + Parquet, and the reports built on it.

Reusable pieces:

- `guardia.analytics.replay`: `replay_file` / `replay_nats` land raw envelopes and build every table;
  `open_replay` opens a replay folder's DuckDB file.
- `guardia.analytics.tables`: the SQL that turns `events` into the analytic tables, and
  `business_seconds` (SQL macro) on the tenant's calendar.
- `guardia.analytics.metrics`: the metric definitions of the README (window, backlog, attainment...).
- `guardia.analytics.reports`: `sla`, `daily`, `weekly`, `handover`, rendered as CSV, Markdown or HTML.
- `guardia.analytics.whatif`: re-run a window under the recorded policy (must reproduce it), then a
  proposed one (`whatif_input` reads a dump or the stream; `whatif_report` renders it).

DuckDB, pyarrow and Altair are the `analytics` extra; nothing here is imported by the services.
"""
