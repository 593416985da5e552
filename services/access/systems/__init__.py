"""Registered access-control systems (ACC-5): grants and revocations pushed to the door systems installed at
the sites, with per-(system, credential) sync state, and the entries and exits they report."""
