"""One classifier for the whole triage suite: the model trains once per process (about 2 s)."""

from __future__ import annotations

import pytest

from services.triage.policy import TriagePolicy
from services.triage.rules import Classifier


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier(TriagePolicy().merged_vocabulary())
