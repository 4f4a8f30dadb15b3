"""Benchmarks that print ratios: run them as modules, e.g. ``python -m benchmarks.quota``."""
