"""The study at scale: `idgi-fast run` (runner.py) into a SQLite database (store.py)."""

from .lock import DatabaseBusy
from .runner import StudyConfig, run_study
from .store import IncompatibleDatabase, Store

__all__ = ["StudyConfig", "run_study", "Store", "IncompatibleDatabase", "DatabaseBusy"]
