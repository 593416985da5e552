"""Access passes: keys, passes and gates (SPEC §5)."""
