"""Staff directory (OCC-10): departments, staff members and the roles each holds per site."""
