"""SQLite connections whose statements are finished in the call that runs them.

aiosqlite runs a statement and reads its rows in two calls on its thread. A task
cancelled between them (a worker stopping, a job pausing, a timeout) leaves the
statement unfinished: for `UPDATE ... RETURNING`, or any read in a transaction that
wrote, the transaction and its write lock stay open. SQLAlchemy then throws the
connection away, but SQLite cannot close a connection while one of its statements is
unfinished, and the cursor holding it lives until the garbage collector frees the
traceback that refers to it: every other writer waited its 30 s and failed with
"database is locked" (a paused download's own write of the pause, in CI). Reading the
rows in the same call leaves no such moment.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any


class PrefetchingCursor(sqlite3.Cursor):
    """A cursor that reads every row of a statement as it runs it (SQLAlchemy reads them
    all at once anyway), so the statement is finished when `execute` returns."""

    _rows: deque[Any] | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> PrefetchingCursor:
        super().execute(sql, parameters)
        self._rows = deque(super().fetchall()) if self.description is not None else None
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> PrefetchingCursor:
        self._rows = None  # (no rows: not the ones of an earlier statement either)
        super().executemany(sql, seq_of_parameters)
        return self

    def __next__(self) -> Any:
        if self._rows is None:
            return super().__next__()
        if not self._rows:
            raise StopIteration
        return self._rows.popleft()

    def fetchone(self) -> Any:
        if self._rows is None:
            return super().fetchone()
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        wanted = self.arraysize if size is None else size
        if self._rows is None:
            return super().fetchmany(wanted)
        return [self._rows.popleft() for _ in range(min(wanted, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        if self._rows is None:
            return super().fetchall()
        rows = list(self._rows)
        self._rows.clear()
        return rows


class PrefetchingConnection(sqlite3.Connection):
    """`sqlite3.connect(..., factory=PrefetchingConnection)`: its cursors prefetch."""

    def cursor(self, factory: Any = PrefetchingCursor) -> Any:
        return super().cursor(factory)
