"""Lending and storage (ACC-4): items and common keys lent with a return deadline; items kept for pickup."""
