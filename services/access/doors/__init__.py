"""Doors and zones: what a pass's scope names and what a reader asks about (ACC-2, ACC-5)."""
