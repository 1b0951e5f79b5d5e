"""The `idgi-fast` command: `main` parses the flags, runs the subcommand and turns bad input
into one line on stderr and an exit status (2 bad input, 3 disk full)."""

from __future__ import annotations

import errno
import sqlite3
import sys

from ..models.zoo import ZooUnavailable
from ..study.store.database import IncompatibleDatabase
from . import commands
from .parser import build_parser

__all__ = ["build_parser", "main"]

_COMMANDS = {
    "demo": commands.demo,
    "run": commands.run,
    "schedule": commands.fit_schedule,
    "report": commands.report,
    "train-toy": commands.train_toy,
    "info": commands.info,
}


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return _COMMANDS[args.command](args)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except (
        FileNotFoundError,
        ValueError,
        ZooUnavailable,
        IncompatibleDatabase,
    ) as error:  # bad input: the message says the fix
        print(f"idgi-fast: error: {error}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.DatabaseError) as error:
        if _disk_full(error):
            print(
                f"idgi-fast: error: the disk is full ({error}). Every batch written before is kept: free "
                "some space and run the same command again to go on.",
                file=sys.stderr,
            )
            return 3
        if isinstance(error, sqlite3.Error):  # a damaged page quick_check did not see shows up when read
            print(
                f"idgi-fast: error: the study database cannot be used ({error}). Restore it from a copy, "
                "or write to a new --db; what was written before is kept.",
                file=sys.stderr,
            )
        else:  # a path that cannot be read or written: permissions, a missing folder
            print(f"idgi-fast: error: {error}", file=sys.stderr)
        return 2


def _disk_full(error: Exception) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        return "full" in str(error)
    return getattr(error, "errno", None) == errno.ENOSPC
