"""The study measured: cost, memory, overhead, writing, the paper-scale store, and compare
(two databases, row for row)."""
