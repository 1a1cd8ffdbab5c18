"""The SQLite store: a real file, WAL, per-thread connections, immediate transactions."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from bot.store import Store, StoreError


def test_file_store_creates_core_tables_and_audits(tmp_path):
    store = Store(tmp_path / "deep" / "triage.db")
    store.audit(actor="U1", action="diagnose", args="x" * 5000, result="2 matches", source="slack", channel="C1")
    (row,) = store.audit_rows()
    assert row["actor"] == "U1" and row["source"] == "slack" and len(row["args"]) == 2000
    assert store.db.journal_mode == "wal"
    assert {"audit", "diagnoses"} <= set(store.db.table_names())


def test_threads_get_their_own_connection(tmp_path):
    store = Store(tmp_path / "t.db")
    errors = []

    def work(i):
        try:
            store.audit(actor=f"U{i}", action="status")
        except Exception as e:  # collected for the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.audit_rows()) == 8


def test_transaction_rolls_back_on_error(tmp_path):
    store = Store(tmp_path / "t.db")
    with pytest.raises(RuntimeError):
        with store.transaction() as db:
            db["audit"].insert({"at": "t", "actor": "a", "source": "s", "channel": "", "action": "x", "args": "", "result": ""})
            raise RuntimeError("boom")
    assert store.audit_rows() == []


def test_in_memory_store_and_ensure():
    store = Store()

    def schema(db):
        db["things"].create({"id": str}, pk="id", if_not_exists=True)

    store.ensure(schema)
    store.ensure(schema)
    store.db["things"].insert({"id": "a"})
    assert store.db["things"].count == 1


def test_unwritable_location_is_a_named_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create"):
        Store(blocker / "sub" / "triage.db")


def test_two_stores_on_one_file_see_each_other(tmp_path):
    a, b = Store(tmp_path / "s.db"), Store(tmp_path / "s.db")
    a.audit(actor="U1", action="ids")
    assert b.audit_rows()[0]["actor"] == "U1"
    assert isinstance(a.db.conn, sqlite3.Connection)
