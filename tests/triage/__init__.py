"""Triage: seed rules over the statistical model, the corpus accuracy, `guardia classify`."""
