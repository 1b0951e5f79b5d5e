"""The study's database and the files beside it: the SQLite store (database) and its layout and
migrations (schema), curves as their bends (curves), the settings identity compared on every run
(identity), what work a database lacks (work), bulk reads for the report (variants) and where
saved maps go (maps). Reads inputs/ for what a study is; knows nothing of how it is run."""

from .curves import decode_curve
from .database import RESULT_TABLES, ImageResult, IncompatibleDatabase, Store

__all__ = ["Store", "ImageResult", "IncompatibleDatabase", "RESULT_TABLES", "decode_curve"]
