"""SQLite through sqlite-utils: the default, one file (WAL, busy timeout) on one host.

The CLI, the Slack app and the watcher share the file when they run on the same machine; each
thread gets its own connection. Write transactions take the database lock up front.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.store.base import Params, Store, StoreError, StoreFault, Tx

BUSY_TIMEOUT_MS = 10_000
_FILE_FAULTS = ("locked", "busy", "readonly", "read-only", "full", "disk i/o", "unable to open", "malformed", "not a database")


def store_error(e: sqlite3.Error, path: Path | None, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> StoreError:
    """A fault of the database file as one line naming the file and what to do."""
    where = str(path) if path else "the in-memory database"
    msg = str(e).lower()
    if "locked" in msg or "busy" in msg:
        return StoreFault(f"{where}: the database is locked by another process (waited {busy_timeout_ms / 1000:g} s)",
                          hint="wait for it to finish (a running `triage watch` or `triage serve` holds it only briefly), "
                               "then retry; raise [store] busy_timeout_s if it keeps happening")
    if "readonly" in msg or "read-only" in msg:
        return StoreFault(f"{where}: the database is read-only",
                          hint="make the file and its directory writable (SQLite writes -wal and -shm files beside it), "
                               "or set [store] path to a writable place")
    if "full" in msg or "disk i/o" in msg:
        return StoreFault(f"{where}: cannot write: the disk is full or the file reached a size limit",
                          hint="free space on that disk (or raise the file size limit), or set [store] path elsewhere")
    if "unable to open" in msg or "cannot open" in msg:
        problem = _unwritable(path.parent) if path else None
        if path is not None and problem:
            return StoreError(f"cannot open {where}: its directory {path.parent} is read-only ({problem})",
                              hint="make the directory writable (SQLite creates -wal and -shm files beside the database), "
                                   "or set [store] path to a writable place")
        return StoreError(f"cannot open {where}",
                          hint="check that its directory exists and is writable by this user, or set [store] path elsewhere")
    if "malformed" in msg or "not a database" in msg:
        return StoreError(f"{where}: not a triage database, or damaged ({e})",
                          hint="set [store] path to a new file; keep the old one for inspection")
    return StoreError(f"{where}: {e}")


def _unwritable(directory: Path) -> str | None:
    """Why files cannot be created in `directory`, or None if they can (tried, not guessed: root ignores modes)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return None
    except OSError as e:
        return e.strerror or type(e).__name__


class SQLiteTx(Tx):
    def __init__(self, db: Database, path: Path | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                 claims: threading.Lock | None = None) -> None:
        self.db = db
        self.path, self.busy_timeout_ms = path, busy_timeout_ms
        self._claims = claims or threading.Lock()

    def claim_once(self, key: str, *, now: float, ttl: float) -> bool:
        # This process's threads take turns: racing each other for the write lock, SQLite's busy handler
        # sleeps them 1 … 100 ms, which is the tail of a Slack acknowledgement (bench/ack_latency.py).
        with self._claims:
            return super().claim_once(key, now=now, ttl=ttl)

    def _run(self, sql: str, params: Params) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, list(params))
        except sqlite3.DatabaseError as e:
            if any(w in str(e).lower() for w in _FILE_FAULTS):
                raise store_error(e, self.path, self.busy_timeout_ms) from None
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

    def __init__(self, path: Path | str | None = None, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        """`path=None` is an in-memory database shared by this object's threads (tests)."""
        self.path = None if path is None else Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._memory_conn: sqlite3.Connection | None = None
        self._memory_lock = threading.RLock()
        self._claims = threading.Lock()
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create {self.path.parent}: {e.strerror}",
                                 hint="create it, or set [store] path to a writable place") from None
            if self.path.is_dir():
                raise StoreError(f"{self.path}: is a directory, not a database file", hint="set [store] path to a file name")
        self._upgrade()

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            if self._memory_conn is None:
                self._memory_conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            return self._memory_conn
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as e:
            raise store_error(e, self.path, self.busy_timeout_ms) from None
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
        return SQLiteTx(self.db, self.path, self.busy_timeout_ms, self._claims)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so two processes serialise."""
        db = self.db
        lock = self._memory_lock if self.path is None else None
        if lock:
            lock.acquire()
        try:
            tx = SQLiteTx(db, self.path, self.busy_timeout_ms)
            tx.execute("BEGIN IMMEDIATE")
            try:
                yield tx
            except BaseException:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the transaction may already be gone (a full disk ends it); the first error is the news
                raise
            tx.execute("COMMIT")
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
