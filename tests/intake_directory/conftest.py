"""Fixtures of the customer directory tests: the example directory of navegasoft (seed 001)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.intake.directory import Directory, load_yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_YAML = ROOT / "guardia" / "directories" / "navegasoft.yaml"
EXAMPLE_CSV = Path(__file__).resolve().parent / "fixtures" / "navegasoft.csv"

#: The day the example directory's cases are written for (a Monday).
ON = date(2026, 11, 23)


@pytest.fixture(scope="session")
def directory() -> Directory:
    return load_yaml(EXAMPLE_YAML)
