"""Notifications: the right people, in time, on record (SPEC §6)."""
