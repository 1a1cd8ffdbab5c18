"""The one store interface: `Store` (connections, transactions, versioned schema) and `Tx` (statements).

Callers write portable SQL with `?` placeholders; each backend adapts it (PostgreSQL turns `?`
into `%s`). What differs between the databases (connections, locks, new ids, schema DDL) stays in
the backend modules; the tickets, the watcher and the Slack app see only these two classes.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

from bot.errors import TriageError


class StoreError(TriageError):
    """The state database cannot be opened, upgraded or written."""

    exit_code = 1


class StoreFault(StoreError):
    """The database is there but cannot be written now (locked past the busy timeout, read-only, disk full): waiting may help."""


MAX_ID = 2**63 - 1  # ids are 64-bit integers in both backends


def database_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own error classes, for the process edge to name a fault the store did not."""
    import sqlite3
    import sys

    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error,) + ((psycopg.Error,) if psycopg is not None else ())


def utcnow() -> str:
    """Timestamps are stored as ISO 8601 UTC strings (freezegun-friendly)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


Params = Sequence[Any]


class Tx(ABC):
    """Statements on one connection: inside `Store.transaction()`, or autocommit from `Store.tx()`."""

    @abstractmethod
    def query(self, sql: str, params: Params = (), *, for_update: bool = False) -> list[dict[str, Any]]:
        """Rows as dicts. `for_update` locks them until the transaction ends (where the database has row locks)."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows changed."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abstractmethod
    def insert(self, table: str, row: dict[str, Any], *, returning_id: bool = True) -> int | None:
        """INSERT one row; returns its new `id` (tables with an integer id) or None."""

    def one(self, sql: str, params: Params = (), *, for_update: bool = False) -> dict[str, Any] | None:
        rows = self.query(sql, params, for_update=for_update)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else next(iter(row.values()))

    def update(self, table: str, where: dict[str, Any], changes: dict[str, Any]) -> int:
        if not changes:
            return 0
        sets = ", ".join(f"{k} = ?" for k in changes)
        cond = " and ".join(f"{k} = ?" for k in where)
        return self.execute(f"update {table} set {sets} where {cond}", [*changes.values(), *where.values()])

    # -- the lease: one row per name, taken in one statement (the row is locked until commit) ------
    def take_lease(self, name: str, owner: str, *, now: float, ttl: float) -> bool:
        """Take or renew `name` for `owner` until now + ttl; False while another owner's lease is live."""
        row = self.one(
            "insert into leases (name, owner, expires_at) values (?, ?, ?) "
            "on conflict (name) do update set owner = excluded.owner, expires_at = excluded.expires_at "
            "where leases.owner = excluded.owner or leases.expires_at <= ? returning owner",
            [name, owner, now + ttl, now])
        return row is not None

    def release_lease(self, name: str, owner: str) -> None:
        self.execute("delete from leases where name = ? and owner = ?", [name, owner])

    # -- requests seen: a key claimed once until it expires, whichever process asks ----------------
    def claim_once(self, key: str, *, now: float, ttl: float) -> bool:
        """True for the first claim of `key` (or the first after its claim expired), False while a claim is live.

        One statement: the primary key decides between processes racing for the same key."""
        row = self.one(
            "insert into seen_requests (key, expires_at) values (?, ?) "
            "on conflict (key) do update set expires_at = excluded.expires_at "
            "where seen_requests.expires_at <= ? returning key",
            [key, now + ttl, now])
        return row is not None

    def forget_expired(self, now: float) -> int:
        """Delete claims that expired by `now`; returns how many."""
        return self.execute("delete from seen_requests where expires_at <= ?", [now])


class Store(ABC):
    """Diagnoses, tickets, alerts, outbox, audit and leases, in SQLite or PostgreSQL.

    Opening a store creates or upgrades its schema (bot/store/schema.py) under a lock, so
    processes starting together do not race. Each thread gets its own connection.
    """

    backend: str = ""

    # -- what a backend provides ---------------------------------------------------------------
    @abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """One transaction: committed when the block ends, rolled back on an exception.

        Writers serialise on what they touch: SQLite takes the database write lock up front
        (BEGIN IMMEDIATE); PostgreSQL locks rows (unique constraints, FOR UPDATE, the lease row).
        """

    @abstractmethod
    def tx(self) -> Tx:
        """This thread's connection in autocommit mode: each statement is its own transaction."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data lives, for people (never a password)."""

    @abstractmethod
    def close(self) -> None:
        """Close this thread's connection."""

    @abstractmethod
    def _lock_schema(self, tx: Tx) -> None:
        """Serialise schema upgrades between processes (inside the upgrade's transaction)."""

    @abstractmethod
    def _has_table(self, tx: Tx, name: str) -> bool:
        """Whether the table exists (asked before any DDL, so a role without CREATE can run an upgraded schema)."""

    @abstractmethod
    def _after_copy(self, tx: Tx, tables: list[str]) -> None:
        """After rows were copied in with their ids: make new ids continue after them."""

    # -- shared ------------------------------------------------------------------------------
    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return self.tx().query(sql, params)

    def execute(self, sql: str, params: Params = ()) -> int:
        return self.tx().execute(sql, params)

    def scalar(self, sql: str, params: Params = ()) -> Any:
        return self.tx().scalar(sql, params)

    def _upgrade(self, upto: int | None = None) -> None:
        from bot.store.schema import upgrade

        with self.transaction() as tx:
            self._lock_schema(tx)
            upgrade(tx, self.backend, upto=upto, where=self.describe(), versioned=self._has_table(tx, "schema_migrations"))

    def schema_version(self) -> int:
        return int(self.scalar("select coalesce(max(version), 0) as v from schema_migrations") or 0)

    def counts(self) -> dict[str, int]:
        """Rows per data table."""
        from bot.store.schema import TABLES

        return {t: int(self.scalar(f"select count(*) as n from {t}")) for t in TABLES}

    # -- audit: who ran what, when, with what result ---------------------------------------
    def audit(self, *, actor: str, action: str, args: str = "", result: str = "ok", channel: str = "", source: str = "cli") -> None:
        self.tx().insert("audit", {"at": utcnow(), "actor": actor, "source": source, "channel": channel, "action": action,
                                   "args": args[:2000], "result": result[:500]})

    def audit_rows(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.query("select * from audit order by id desc limit ?", [limit])

    # -- diagnoses: pasted texts diagnosed earlier, so a ticket can be drafted from one ------
    def save_diagnosis(self, *, actor: str, service: str, input_bytes: int, input_sha256: str, excerpt: str,
                       matches: list[dict[str, Any]], fields: dict[str, str] | None = None) -> int:
        fingerprint = "diag:" + input_sha256[:24]
        row = {"at": utcnow(), "fingerprint": fingerprint, "actor": actor, "service": service, "input_bytes": input_bytes,
               "input_sha256": input_sha256, "excerpt": excerpt[:20_000], "matches": dumps(matches), "fields": dumps(fields or {})}
        return int(self.tx().insert("diagnoses", row) or 0)

    def get_diagnosis(self, diagnosis_id: int) -> dict[str, Any] | None:
        if not 1 <= diagnosis_id <= MAX_ID:
            return None
        row = self.tx().one("select * from diagnoses where id = ?", [diagnosis_id])
        if row is None:
            return None
        row = dict(row)
        row["matches"] = json.loads(row["matches"])
        row["fields"] = json.loads(row.get("fields") or "{}")
        return row


def rows_iter(tx: Tx, table: str, batch: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """A table's rows in batches, in primary-key order (for copying a store)."""
    from bot.store.schema import PRIMARY_KEYS

    pk = PRIMARY_KEYS[table]
    offset = 0
    while True:
        rows = tx.query(f"select * from {table} order by {pk} limit ? offset ?", [batch, offset])
        if not rows:
            return
        yield rows
        offset += len(rows)
