"""Passes of every kind (ACC-2) and the rules that hold for all of them (ACC-6)."""
