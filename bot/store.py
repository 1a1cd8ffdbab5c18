"""SQLite state through sqlite-utils: diagnoses, tickets, alerts, audit, outbox, leases.

One database file (WAL, busy timeout) shared by the CLI, the Slack app and the watcher; each
thread gets its own connection. Feature modules declare their tables with `Store.ensure`.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.errors import TriageError

BUSY_TIMEOUT_MS = 10_000
MAX_ID = 2**63 - 1  # SQLite INTEGER


class StoreError(TriageError, sqlite3.OperationalError):
    """The state database cannot be opened or written (locked, read-only, full, missing).

    Also an OperationalError, so code that expects sqlite's own errors still catches it.
    """

    exit_code = 1


def store_error(e: sqlite3.Error, path: Path | None, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> StoreError:
    """A sqlite fault as one line naming the database file and what to do."""
    where = str(path) if path else "the in-memory database"
    msg = str(e).lower()
    if "locked" in msg or "busy" in msg:
        return StoreError(f"{where}: the database is locked by another process (waited {busy_timeout_ms / 1000:g} s)",
                          hint="wait for it to finish (a running `triage watch` or `triage serve` holds it only briefly), "
                               "then retry; raise [store] busy_timeout_s if it keeps happening")
    if "readonly" in msg or "read-only" in msg:
        return StoreError(f"{where}: the database is read-only",
                          hint="make the file and its directory writable (SQLite writes -wal and -shm files beside it), "
                               "or set [store] path to a writable place")
    if "full" in msg or "disk i/o" in msg:
        return StoreError(f"{where}: cannot write: the disk is full or the file reached a size limit",
                          hint="free space on that disk (or raise the file size limit), or set [store] path elsewhere")
    if "unable to open" in msg or "cannot open" in msg:
        problem = _unwritable(path.parent) if path else None
        if problem:
            return StoreError(f"cannot open {where}: its directory {path.parent} is read-only ({problem})",  # type: ignore[union-attr]
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


class _Connection(sqlite3.Connection):
    """sqlite3 with faults of the file itself (locked, read-only, full) raised as StoreError."""

    store_path: Path | None = None
    busy_timeout_ms: int = BUSY_TIMEOUT_MS

    def execute(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise self._translated(e) from None

    def executemany(self, *args: Any, **kwargs: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.DatabaseError as e:
            raise self._translated(e) from None

    def _translated(self, e: sqlite3.DatabaseError) -> sqlite3.DatabaseError:
        if isinstance(e, StoreError):
            return e
        msg = str(e).lower()
        file_fault = any(w in msg for w in ("locked", "busy", "readonly", "read-only", "full", "disk i/o", "unable to open", "malformed", "not a database"))
        return store_error(e, self.store_path, self.busy_timeout_ms) if file_fault else e


def open_store(path: Path | str, busy_timeout_s: float) -> "Store":
    """The state database at `path` ([store] path), waiting `busy_timeout_s` for another writer."""
    return Store(path, busy_timeout_ms=int(busy_timeout_s * 1000))


def utcnow() -> str:
    """Timestamps are stored as ISO 8601 UTC strings (freezegun-friendly)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: Path | str | None = None, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        """`path=None` is an in-memory database shared by this object's threads (tests)."""
        self.path = None if path is None else Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._schemas: list[Callable[[Database], None]] = [_core_schema]
        self._memory_conn: sqlite3.Connection | None = None
        self._memory_lock = threading.RLock()
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create {self.path.parent}: {e.strerror}",
                                 hint="create it, or set [store] path to a writable place") from None
            if self.path.is_dir():
                raise StoreError(f"{self.path}: is a directory, not a database file", hint="set [store] path to a file name")
        self._apply(self.db)

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            if self._memory_conn is None:
                self._memory_conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            return self._memory_conn
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None, factory=_Connection)
        except sqlite3.Error as e:
            raise store_error(e, self.path, self.busy_timeout_ms) from None
        conn.store_path, conn.busy_timeout_ms = self.path, self.busy_timeout_ms
        conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @property
    def db(self) -> Database:
        """This thread's sqlite-utils Database."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = Database(self._connect())
            self._local.db = db
        return db

    def ensure(self, schema: Callable[[Database], None]) -> None:
        """Create a feature's tables (idempotent: schema functions use if_not_exists)."""
        if schema not in self._schemas:
            self._schemas.append(schema)
            self._apply(self.db)

    def _apply(self, db: Database) -> None:
        # Under one write lock: processes starting together must not race on CREATE TABLE.
        with self.transaction() as locked:
            for schema in self._schemas:
                schema(locked)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so two processes serialise."""
        db = self.db
        lock = self._memory_lock if self.path is None else None
        if lock:
            lock.acquire()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            if lock:
                lock.release()

    # -- audit: who ran what, when, with what result ---------------------------------------
    def audit(self, *, actor: str, action: str, args: str = "", result: str = "ok", channel: str = "", source: str = "cli") -> None:
        self.db["audit"].insert(
            {"at": utcnow(), "actor": actor, "source": source, "channel": channel, "action": action, "args": args[:2000], "result": result[:500]}
        )

    def audit_rows(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.db.query("select * from audit order by id desc limit ?", [limit]))

    # -- diagnoses: pasted texts diagnosed earlier, so a ticket can be drafted from one ------
    def save_diagnosis(self, *, actor: str, service: str, input_bytes: int, input_sha256: str, excerpt: str,
                       matches: list[dict[str, Any]], fields: dict[str, str] | None = None) -> int:
        fingerprint = "diag:" + input_sha256[:24]
        row = {"at": utcnow(), "fingerprint": fingerprint, "actor": actor, "service": service, "input_bytes": input_bytes,
               "input_sha256": input_sha256, "excerpt": excerpt[:20_000], "matches": dumps(matches), "fields": dumps(fields or {})}
        return int(self.db["diagnoses"].insert(row, alter=True).last_pk)  # alter: stores made before `fields` existed

    def get_diagnosis(self, diagnosis_id: int) -> dict[str, Any] | None:
        if not 1 <= diagnosis_id <= MAX_ID:
            return None
        rows = list(self.db.query("select * from diagnoses where id = ?", [diagnosis_id]))
        if not rows:
            return None
        row = dict(rows[0])
        row["matches"] = json.loads(row["matches"])
        row["fields"] = json.loads(row.get("fields") or "{}")
        return row

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None and self.path is not None:
            db.conn.close()
            self._local.db = None


def _core_schema(db: Database) -> None:
    db["audit"].create(
        {"id": int, "at": str, "actor": str, "source": str, "channel": str, "action": str, "args": str, "result": str},
        pk="id",
        if_not_exists=True,
    )
    db["diagnoses"].create(
        {"id": int, "at": str, "fingerprint": str, "actor": str, "service": str, "input_bytes": int, "input_sha256": str,
         "excerpt": str, "matches": str, "fields": str},
        pk="id",
        if_not_exists=True,
    )
    db["diagnoses"].create_index(["fingerprint"], if_not_exists=True)


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)
