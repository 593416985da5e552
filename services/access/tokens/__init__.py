"""Offline pass tokens (ACC-5): a COSE_Sign1 over a CWT, signed with Ed25519, base45-encoded for a QR code."""
