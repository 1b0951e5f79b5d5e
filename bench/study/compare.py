"""Whether two study databases hold the same results: every result table's rows, the settings
identity and the latest run's recorded configuration, compared exactly.

    .venv/bin/python bench/study/compare.py before/study.sqlite after/study.sqlite
"""

from __future__ import annotations

import sqlite3
import sys

from idgi_fast.study import Store
from idgi_fast.study.store.database import RESULT_TABLES


def _contents(path: str) -> tuple[dict, dict, str]:
    store = Store(path, "compare")
    try:
        tables = {table: store.results(table) for table in RESULT_TABLES}
        settings = store.settings()
    finally:
        store.close()
    with sqlite3.connect(path) as connection:
        config = connection.execute("SELECT config FROM runs ORDER BY run DESC LIMIT 1").fetchone()[0]
    return tables, settings, config


def main(first: str, second: str) -> int:
    (a, a_settings, a_config), (b, b_settings, b_config) = _contents(first), _contents(second)
    same = True
    for table in RESULT_TABLES:
        equal = a[table] == b[table]
        same &= equal
        print(f"{table}: {len(a[table])} and {len(b[table])} rows, {'identical' if equal else 'DIFFERENT'}")
    for name, x, y in (("settings", a_settings, b_settings), ("run config", a_config, b_config)):
        same &= x == y
        print(f"{name}: {'identical' if x == y else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
