"""guardia: every customer contact becomes a tracked, classified, clocked and escalated ticket."""

__version__ = "0.1.0"
