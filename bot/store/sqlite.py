"""SQLite through sqlite-utils: the default, one file (WAL, busy timeout) on one host.

The CLI, the Slack app and the watcher share the file when they run on the same machine; each
thread gets its own connection. Write transactions take the database lock up front.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.store.base import Params, Store, StoreError, Tx

BUSY_TIMEOUT_MS = 10_000


class SQLiteTx(Tx):
    def __init__(self, db: Database) -> None:
        self.db = db

    def _run(self, sql: str, params: Params) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, list(params))
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StoreError(f"the state database is busy: {e}", hint="another triage process held it for over 10 s") from None
            raise

    def query(self, sql: str, params: Params = (), *, for_update: bool = False) -> list[dict[str, Any]]:
        # for_update: nothing to add, a write transaction already holds the whole database
        cur = self._run(sql, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._run(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self.db.conn.executemany(sql, [list(r) for r in rows])

    def insert(self, table: str, row: dict[str, Any], *, returning_id: bool = True) -> int | None:
        cur = self._run(f"insert into {table} ({', '.join(row)}) values ({', '.join('?' * len(row))})", list(row.values()))
        return int(cur.lastrowid) if returning_id and cur.lastrowid else None


class SQLiteStore(Store):
    backend = "sqlite"

    def __init__(self, path: Path | str | None = None) -> None:
        """`path=None` is an in-memory database shared by this object's threads (tests)."""
        self.path = None if path is None else Path(path)
        self._local = threading.local()
        self._memory_conn: sqlite3.Connection | None = None
        self._memory_lock = threading.RLock()
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create {self.path.parent}: {e.strerror}") from None
        self._upgrade()

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            if self._memory_conn is None:
                self._memory_conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            return self._memory_conn
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as e:
            raise StoreError(f"cannot open {self.path}: {e}") from None
        return conn

    @property
    def db(self) -> Database:
        """This thread's sqlite-utils Database."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = Database(self._connect())
            self._local.db = db
        return db

    def tx(self) -> Tx:
        return SQLiteTx(self.db)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so two processes serialise."""
        db = self.db
        lock = self._memory_lock if self.path is None else None
        if lock:
            lock.acquire()
        try:
            tx = SQLiteTx(db)
            tx.execute("BEGIN IMMEDIATE")
            try:
                yield tx
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            if lock:
                lock.release()

    def _lock_schema(self, tx: Tx) -> None:
        pass  # BEGIN IMMEDIATE already holds the write lock

    def _has_table(self, tx: Tx, name: str) -> bool:
        return tx.one("select name from sqlite_master where type = 'table' and name = ?", [name]) is not None

    def _after_copy(self, tx: Tx, tables: list[str]) -> None:
        pass  # INTEGER PRIMARY KEY continues after the largest id by itself

    def describe(self) -> str:
        return f"sqlite {self.path}" if self.path else "sqlite (in memory)"

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None and self.path is not None:
            db.conn.close()
            self._local.db = None
