"""Goods release (ACC-3): application, the occupant's confirmation, the release slip, the exit at the gate."""
