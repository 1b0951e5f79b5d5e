"""The study at scale into a SQLite database (store.py): `idgi-fast run` over named models
(run_study) and `run` over your own model and data (own.py), one loop (runner.py)."""

from .config import StudyConfig, StudySettings
from .lock import DatabaseBusy
from .own import run
from .runner import run_study
from .store import IncompatibleDatabase, Store

__all__ = [
    "StudyConfig",
    "StudySettings",
    "run",
    "run_study",
    "Store",
    "IncompatibleDatabase",
    "DatabaseBusy",
]
