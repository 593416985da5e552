"""The platform's services. Each folder reads as a table of contents: app (HTTP), domain (rules),
models (tables), events (published), handlers (consumed), migrations."""

NAMES = ("occupants", "ticketing", "billing", "access", "notifications")
