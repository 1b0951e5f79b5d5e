"""One run at a time per study database (docs/study.md, "One run per database").

Two `idgi-fast run` processes on one database would explain the same images twice and race to
mark them done. A run therefore holds an exclusive advisory lock on `<db>.lock` beside the
database (under torchrun, rank 0 for the launch) from before its first write to after its last.
The operating system drops the lock when the process ends, however it ends, so a killed run never
leaves the database locked; the file itself stays, empty, and is harmless.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..store.database import IncompatibleDatabase, check_database_file


class DatabaseBusy(IncompatibleDatabase):
    """Another process is running a study into the same database."""


def lock_path(db: Path) -> Path:
    return db.with_name(f"{db.name}.lock")


@contextmanager
def exclusive_run(db: str | Path) -> Iterator[None]:
    """Hold `db`'s run lock for the block, or raise DatabaseBusy naming the holder. Where the
    platform has no flock (Windows), the block runs unlocked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a platform the study runs on
        yield
        return
    db = Path(db)
    check_database_file(db)  # a folder or a file that is not SQLite is refused before a lock is made
    path = lock_path(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")
    except OSError:  # a folder no lock file can be made in: the Store refuses it with its own message
        handle = None
    if handle is None:
        yield
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise DatabaseBusy(
                f"{db} is in use by another `idgi-fast run` ({holder}); wait for it to finish, or give this "
                "run another --db. One run writes a database at a time; to use several GPUs on one "
                "database, launch a single run under torchrun"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {started}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
