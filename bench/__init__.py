"""Benchmarks, run as `python -m bench`: one JSON object per line on stdout, progress on stderr."""
