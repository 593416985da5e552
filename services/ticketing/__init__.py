"""Ticketing: every request, one owner, on the clock (SPEC §3)."""
