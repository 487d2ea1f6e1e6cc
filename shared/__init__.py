"""Contracts shared by every guardia service: today only the versioned event catalogue."""
