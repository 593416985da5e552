"""Read models of occupants' sites, buildings, units and people (SPEC §7: fed by events only)."""
