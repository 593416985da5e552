"""A consumer that counts its effects, so tests can prove no event is handled twice or lost.

Its `effects` table has no unique key on purpose: a second handling of one event would add a second row.
Its handler fails for people named "FAIL…" until the `switches` table says the fault is fixed.
"""
