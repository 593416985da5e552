"""The chassis every service runs on: configuration, database, bus, HTTP, auth, metrics, tracing, logs.

Infrastructure only: no domain rules live here.
"""
