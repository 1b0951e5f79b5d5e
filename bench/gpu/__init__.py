"""The GPU check, one script for a lent card: python -m bench.gpu.check (docs/backends.md)."""
