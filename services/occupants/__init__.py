"""Occupants: organizations' sites, buildings and units, and the people who live and work in them."""
