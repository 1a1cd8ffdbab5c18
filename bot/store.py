"""SQLite state through sqlite-utils: diagnoses, tickets, alerts, audit, outbox, leases.

One database file (WAL, busy timeout) shared by the CLI, the Slack app and the watcher; each
thread gets its own connection. Feature modules declare their tables with `Store.ensure`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.errors import TriageError

BUSY_TIMEOUT_MS = 10_000


class StoreError(TriageError):
    """The state database cannot be opened or written."""


def utcnow() -> str:
    """Timestamps are stored as ISO 8601 UTC strings (freezegun-friendly)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: Path | str | None = None) -> None:
        """`path=None` is an in-memory database shared by this object's threads (tests)."""
        self.path = None if path is None else Path(path)
        self._local = threading.local()
        self._schemas: list[Callable[[Database], None]] = [_core_schema]
        self._memory_conn: sqlite3.Connection | None = None
        self._memory_lock = threading.RLock()
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create {self.path.parent}: {e.strerror}") from None
        self._apply(self.db)

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            if self._memory_conn is None:
                self._memory_conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            return self._memory_conn
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open {self.path}: {e}") from None
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
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
