"""Fused primitives, one file per op (fast attribution backend)."""
