"""State behind one interface: diagnoses, tickets, alerts, outbox, audit, leases.

SQLite (sqlite-utils, one file) is the default with nothing to configure; PostgreSQL (psycopg 3)
is for web and worker on several hosts or on ephemeral disks. Code outside this package uses
`Store` / `Tx` and `open_store` and never learns which database it talks to.
"""

from __future__ import annotations

from pathlib import Path

from bot.store.base import MAX_ID, Store, StoreError, StoreFault, Tx, database_errors, dumps, utcnow

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    return location.startswith(POSTGRES_SCHEMES)


def open_store(location: str | Path | None, busy_timeout_s: float = 10.0) -> Store:
    """A postgresql:// URL opens PostgreSQL; a path opens (or creates) a SQLite file, waiting up to
    `busy_timeout_s` ([store] busy_timeout_s) for another writer; None is in-memory SQLite."""
    if isinstance(location, str) and is_postgres_url(location):
        from bot.store.postgres import PostgresStore  # psycopg only loads when it is used

        return PostgresStore(location)
    from bot.store.sqlite import SQLiteStore

    return SQLiteStore(location, busy_timeout_ms=int(busy_timeout_s * 1000))


__all__ = ["MAX_ID", "Store", "StoreError", "StoreFault", "Tx", "database_errors", "dumps", "utcnow", "open_store", "is_postgres_url"]
