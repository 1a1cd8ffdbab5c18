"""`triage store migrate`: copy one store into another (SQLite to PostgreSQL), then verify the counts.

The source is read inside one transaction (on SQLite that holds the write lock, so nothing
changes under the copy); the destination is written in one transaction that rolls back unless
every table's count matches. Ids are kept, so tickets keep their numbers and their history.
Leases are not copied: watchers take a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.store.base import Store, StoreError, rows_iter
from bot.store.schema import TABLES


@dataclass
class CopyReport:
    source: str
    destination: str
    schema_version: int
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)
    """table -> (rows in the source, rows in the destination after the copy)"""

    @property
    def ok(self) -> bool:
        return all(a == b for a, b in self.tables.values())

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "schema_version": self.schema_version, "ok": self.ok,
                "tables": {t: {"source": a, "destination": b} for t, (a, b) in self.tables.items()}}


def copy_store(source: Store, dest: Store, batch: int = 1000) -> CopyReport:
    """Copy every data table; refuses a destination that already holds data."""
    if source.describe() == dest.describe():
        raise StoreError("the source and the destination are the same store")
    if source.schema_version() != dest.schema_version():
        raise StoreError(f"schema versions differ: {source.describe()} is at {source.schema_version()}, "
                         f"{dest.describe()} at {dest.schema_version()}", hint="run the same triage version on both")
    busy = {t: n for t, n in dest.counts().items() if n}
    if busy:
        held = ", ".join(f"{t}: {n}" for t, n in busy.items())
        raise StoreError(f"{dest.describe()} already holds data ({held})", hint="migrate into an empty database")
    report = CopyReport(source.describe(), dest.describe(), dest.schema_version())
    with source.transaction() as src, dest.transaction() as dst:
        for table in TABLES:
            copied = 0
            for rows in rows_iter(src, table, batch):
                cols = list(rows[0])
                dst.executemany(f"insert into {table} ({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
                                [[r[c] for c in cols] for r in rows])
                copied += len(rows)
            expected = int(src.scalar(f"select count(*) as n from {table}"))
            got = int(dst.scalar(f"select count(*) as n from {table}"))
            report.tables[table] = (expected, got)
            if got != expected or copied != expected:
                raise StoreError(f"{table}: {expected} row(s) in the source but {got} copied; nothing was written")
        dest._after_copy(dst, list(TABLES))
    # verified again from outside the transaction: what a new connection sees is what was committed
    after = dest.counts()
    report.tables = {t: (a, after[t]) for t, (a, _) in report.tables.items()}
    if not report.ok:
        raise StoreError("counts differ after the copy committed: " +
                         ", ".join(f"{t} {a} vs {b}" for t, (a, b) in report.tables.items() if a != b))
    return report
