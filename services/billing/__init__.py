"""Billing: charges, payments and arrears (SPEC §4)."""
