"""The study at scale into a SQLite database: `idgi-fast run` over named models (run_study) and
`run` over your own model and data, one loop, then `idgi-fast report`.

Rooms, top to bottom (an import only points down; pyproject.toml's "study rooms" contract):

    demo/ | report/ | execution/   the demo; the report read from a database; the run that fills it
    store/                         the database: schema, curves, identity, work left, saved maps
    inputs/ | drawing              what a study runs (settings, models, images); PNG drawing
"""

from .execution.lock import DatabaseBusy
from .execution.own_model import run
from .execution.runner import run_study
from .inputs.config import StudyConfig, StudySettings
from .store.database import IncompatibleDatabase, Store

__all__ = [
    "StudyConfig",
    "StudySettings",
    "run",
    "run_study",
    "Store",
    "IncompatibleDatabase",
    "DatabaseBusy",
]
