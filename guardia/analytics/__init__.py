"""Analysts' tools: read the event log back and compute from it (replay, reports, what-if)."""
