"""Benchmarks run with `pytest bench/` (pytest-benchmark); they are never part of `make test`."""
