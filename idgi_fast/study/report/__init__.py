"""`idgi-fast report`: one pass over a database (summary) into the tables (tables), the claims
with their bootstrap intervals (claims), the figures (figures) and the Parquet export (export).
Reads the store; never imports the run."""

from .tables import build_report, study_tables, write_report

__all__ = ["build_report", "study_tables", "write_report"]
