"""The embedded database: Django's SQLite backend with one writer at a time per process, queued in Python.

SQLite lets one connection write at a time. Django's backend leaves the others to SQLite's busy handler, which
polls the lock with sleeps of 1, 2, 5, 10, 15, 20, 25, 50 and 100 ms: under a burst (request threads, the run
threads, their recorders and the cache index all writing) a writer that loses the race sleeps for tens of
milliseconds while the lock is free most of that time, and the order is left to chance. Here every write
transaction (``BEGIN IMMEDIATE`` to ``COMMIT``/``ROLLBACK``) and every write statement outside one first takes a
process-wide FIFO lock, so writers of this process follow each other at once and in arrival order. Writers in
other processes (a management command) still meet SQLite's busy handler.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from django.db.backends.sqlite3 import base

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# Longer than SQLite's own ``timeout`` would be pointless: past it the busy handler takes over and reports.
WRITER_WAIT_SECONDS = 20.0

_writer = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    """SQLite with the process's writers queued on ``_writer`` (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holds_writer = False

    def take_writer(self) -> None:
        """Wait for this process's write turn (a timeout leaves the wait to SQLite's busy handler)."""
        if not self.holds_writer:
            self.holds_writer = _writer.acquire(timeout=WRITER_WAIT_SECONDS)

    def give_writer(self) -> None:
        if self.holds_writer:
            self.holds_writer = False
            _writer.release()

    def _start_transaction_under_autocommit(self) -> None:
        self.take_writer()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # django-stubs lacks the private method
        except BaseException:
            self.give_writer()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # django-stubs lacks the private method
        finally:
            if not self.in_transaction():
                self.give_writer()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # django-stubs lacks the private method
        finally:
            if not self.in_transaction():
                self.give_writer()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # django-stubs lacks the private method
        finally:
            self.give_writer()

    def in_transaction(self) -> bool:
        """True while SQLite has a transaction open on this connection."""
        return self.connection is not None and self.connection.in_transaction

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=partial(CursorWrapper, wrapper=self))


class CursorWrapper(base.SQLiteCursorWrapper):
    """Takes the writer lock around a write statement run outside a transaction (autocommit)."""

    def __init__(self, connection: Any, wrapper: DatabaseWrapper) -> None:
        super().__init__(connection)
        self.wrapper = wrapper

    def execute(self, query: str, params: Any = None) -> Any:
        if self.wrapper.holds_writer or not _is_write(query) or self.connection.in_transaction:
            return super().execute(query, params)
        self.wrapper.take_writer()
        try:
            return super().execute(query, params)
        finally:
            if not self.connection.in_transaction:
                self.wrapper.give_writer()

    def executemany(self, query: str, param_list: Any) -> Any:
        if self.wrapper.holds_writer or self.connection.in_transaction:
            return super().executemany(query, param_list)
        self.wrapper.take_writer()
        try:
            return super().executemany(query, param_list)
        finally:
            if not self.connection.in_transaction:
                self.wrapper.give_writer()


def _is_write(query: str) -> bool:
    return query.lstrip()[:7].upper().startswith(WRITES)
