"""PostgreSQL through psycopg 3: the store every replica shares when web and worker run on several hosts.

Each thread gets its own connection (autocommit outside `transaction()`); a connection that broke
(server restart, network) is replaced on next use. One ticket per failure is a unique index with
INSERT … ON CONFLICT; read-modify-write paths lock their row (FOR UPDATE); the lease is one row
updated by a conditional upsert, locked until the taking transaction commits; schema upgrades
hold an advisory lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bot.store.base import Params, Store, StoreError, StoreFault, Tx

CONNECT_TIMEOUT_S = 10
SCHEMA_LOCK = 0x7472696167  # "triag": the advisory lock key schema upgrades take


@functools.lru_cache(maxsize=512)
def adapt(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (and a literal `%` to `%%`), outside quoted strings."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if not quoted and ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def describe_url(url: str) -> str:
    """postgresql://user@host:port/dbname, without the password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql (unparseable URL)"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    user = f"{info['user']}@" if info.get("user") else ""
    return f"postgresql://{user}{host}:{port}/{info.get('dbname') or ''}"


class PostgresTx(Tx):
    def __init__(self, conn: psycopg.Connection, where: str) -> None:
        self.conn = conn
        self.where = where

    def _run(self, sql: str, params: Params) -> psycopg.Cursor:
        try:
            return self.conn.execute(adapt(sql), list(params))
        except psycopg.OperationalError as e:
            raise StoreError(f"{self.where}: {str(e).strip()}", hint="is the PostgreSQL server up and reachable?") from None
        except psycopg.errors.ReadOnlySqlTransaction as e:  # a standby after a failover: the same fault as SQLite's read-only file
            raise StoreFault(f"{self.where}: {str(e).strip()}",
                             hint="the server is read-only (a standby, or default_transaction_read_only): "
                                  "point [store] url at the primary") from None
        except psycopg.errors.InsufficientPrivilege as e:
            raise StoreError(f"{self.where}: {str(e).strip()}",
                             hint="the role needs SELECT, INSERT, UPDATE, DELETE on triage's tables, and CREATE to create "
                                  "or upgrade them (run one start as the database owner)") from None

    def query(self, sql: str, params: Params = (), *, for_update: bool = False) -> list[dict[str, Any]]:
        return list(self._run(sql + (" for update" if for_update else ""), params).fetchall())

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._run(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.executemany(adapt(sql), [list(r) for r in rows])
        except psycopg.OperationalError as e:
            raise StoreError(f"{self.where}: {str(e).strip()}") from None

    def insert(self, table: str, row: dict[str, Any], *, returning_id: bool = True) -> int | None:
        sql = f"insert into {table} ({', '.join(row)}) values ({', '.join('?' * len(row))})"
        if not returning_id:
            self._run(sql, list(row.values()))
            return None
        got = self._run(sql + " returning id", list(row.values())).fetchone()
        return int(got["id"]) if got else None


class PostgresStore(Store):
    backend = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = describe_url(url)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[psycopg.Connection] = []
        self._upgrade()

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            try:
                conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S,
                                       application_name="triage")
            except psycopg.Error as e:
                raise StoreError(f"cannot connect to {self.where}: {str(e).strip()}",
                                 hint="check [store] url / DATABASE_URL, and that the server accepts this host") from None
            self._local.conn = conn
            with self._lock:
                self._conns = [c for c in self._conns if not c.closed] + [conn]
        return conn

    def tx(self) -> Tx:
        return PostgresTx(self._conn(), self.where)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self._conn()
        try:
            with conn.transaction():
                yield PostgresTx(conn, self.where)
        except psycopg.OperationalError as e:  # e.g. the connection dropped at COMMIT
            raise StoreError(f"{self.where}: {str(e).strip()}", hint="is the PostgreSQL server up and reachable?") from None

    def _lock_schema(self, tx: Tx) -> None:
        tx.execute("select pg_advisory_xact_lock(?)", [SCHEMA_LOCK])

    def _has_table(self, tx: Tx, name: str) -> bool:
        return tx.scalar("select to_regclass(?) is not null as present", [name]) is True

    def _after_copy(self, tx: Tx, tables: list[str]) -> None:
        from bot.store.schema import ID_TABLES

        for table in tables:
            if table in ID_TABLES:
                tx.execute(f"select setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) from {table}")

    def describe(self) -> str:
        return self.where

    def close(self) -> None:
        """Close every connection this store opened (call when no thread uses it any more)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            c.close()
        self._local = threading.local()
