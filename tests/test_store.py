"""The store on both backends: a real SQLite file and a real PostgreSQL server (tests/pg_server.py).

Backend-specific checks (WAL, the file's directory) are at the end; the versioned schema and
`triage store migrate` after them.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.store import StoreError, open_store
from bot.store.schema import LATEST, MIGRATIONS, TABLES


def test_audit_rows_are_capped_and_newest_first(store):
    store.audit(actor="U1", action="diagnose", args="x" * 5000, result="2 matches", source="slack", channel="C1")
    store.audit(actor="U2", action="ids")
    rows = store.audit_rows()
    assert [r["actor"] for r in rows] == ["U2", "U1"]
    assert rows[1]["source"] == "slack" and len(rows[1]["args"]) == 2000


def test_a_new_store_is_at_the_latest_schema_with_every_table(store):
    assert store.schema_version() == LATEST
    assert set(store.counts()) == set(TABLES) and not any(store.counts().values())


def test_diagnoses_round_trip_with_new_ids(store):
    first = store.save_diagnosis(actor="a", service="azureml", input_bytes=3, input_sha256="ab" * 32, excerpt="x", matches=[{"id": "p"}])
    second = store.save_diagnosis(actor="a", service="azureml", input_bytes=3, input_sha256="cd" * 32, excerpt="y", matches=[])
    assert second == first + 1
    assert store.get_diagnosis(first)["matches"] == [{"id": "p"}]
    assert store.get_diagnosis(999) is None


def test_threads_get_their_own_connection(store):
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


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.insert("audit", {"at": "t", "actor": "a", "source": "s", "channel": "", "action": "x", "args": "", "result": ""})
            raise RuntimeError("boom")
    assert store.audit_rows() == []


def test_two_stores_on_one_location_see_each_other(store_location):
    a, b = open_store(store_location), open_store(store_location)
    a.audit(actor="U1", action="ids")
    assert b.audit_rows()[0]["actor"] == "U1"
    a.close(), b.close()


def test_the_lease_is_held_until_it_expires_and_renewed_by_its_owner(store):
    with store.transaction() as tx:
        assert tx.take_lease("watch", "a", now=100.0, ttl=10.0)
    with store.transaction() as tx:
        assert not tx.take_lease("watch", "b", now=109.0, ttl=10.0)
        assert tx.take_lease("watch", "a", now=109.0, ttl=10.0)  # renewed to 119
    with store.transaction() as tx:
        assert not tx.take_lease("watch", "b", now=118.0, ttl=10.0)
        assert tx.take_lease("watch", "b", now=119.5, ttl=10.0)  # expired: taken over
    assert store.query("select owner, expires_at from leases") == [{"owner": "b", "expires_at": 129.5}]
    with store.transaction() as tx:
        tx.release_lease("watch", "a")  # not a's any more: nothing happens
    assert store.scalar("select count(*) as n from leases") == 1


def _contend(location: str, owner: str, barrier, results) -> None:
    store = open_store(location)
    barrier.wait()
    for i in range(50):
        with store.transaction() as tx:
            if tx.take_lease("watch", owner, now=1000.0 + i * 0.001, ttl=60.0):
                results.put((owner, i))
    store.close()


def test_four_processes_contending_for_the_lease_only_one_ever_holds_it(store_location):
    open_store(store_location).close()  # schema in place before the race
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(store_location, f"w{i}", barrier, results)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    held = []
    while not results.empty():
        held.append(results.get())
    assert len({owner for owner, _ in held}) == 1 and len(held) == 50  # one winner, renewing 50 times


def test_a_request_key_is_claimed_once_until_it_expires(store):
    tx = store.tx()
    assert tx.claim_once("sig:v0=abc", now=1000.0, ttl=300.0)
    assert not tx.claim_once("sig:v0=abc", now=1299.0, ttl=300.0)  # still inside the window: a replay
    assert tx.claim_once("event:Ev1", now=1299.0, ttl=3600.0)  # another key is its own claim
    assert tx.claim_once("sig:v0=abc", now=1300.0, ttl=300.0)  # expired: claimed anew, until 1600
    assert not tx.claim_once("sig:v0=abc", now=1599.0, ttl=300.0)
    assert store.query("select key, expires_at from seen_requests order by key") == [
        {"key": "event:Ev1", "expires_at": 4899.0}, {"key": "sig:v0=abc", "expires_at": 1600.0}]


def test_expired_request_keys_are_forgotten_and_live_ones_kept(store):
    tx = store.tx()
    for i in range(5):
        assert tx.claim_once(f"sig:{i}", now=1000.0 + i, ttl=10.0)  # expire at 1010 … 1014
    assert tx.forget_expired(1012.0) == 3
    assert [r["key"] for r in store.query("select key from seen_requests order by key")] == ["sig:3", "sig:4"]
    assert not tx.claim_once("sig:3", now=1012.5, ttl=10.0)  # forgetting left the live claims alone


def _claim_keys(location: str, barrier, results) -> None:
    store = open_store(location)
    barrier.wait()
    won = [i for i in range(100) if store.tx().claim_once(f"event:Ev{i}", now=1000.0, ttl=3600.0)]
    results.put(won)
    store.close()


def test_processes_racing_for_the_same_request_keys_each_key_is_won_once(store_location):
    open_store(store_location).close()  # schema in place before the race
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim_keys, args=(store_location, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    won = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(i for w in won for i in w) == list(range(100))  # every key once, by exactly one process


def test_placeholders_and_percent_signs_in_sql(store):
    store.audit(actor="50%", action="like?")
    assert store.query("select actor from audit where actor like '%0%%' and action = ?", ["like?"]) == [{"actor": "50%"}]


# ---- SQLite specifics ---------------------------------------------------------------------------


def test_sqlite_file_store_is_wal_in_a_created_directory(tmp_path):
    store = open_store(tmp_path / "deep" / "triage.db")
    store.audit(actor="U1", action="x")
    assert store.db.journal_mode == "wal" and isinstance(store.db.conn, sqlite3.Connection)
    assert set(TABLES) <= set(store.db.table_names())


def test_in_memory_store():
    store = open_store(None)
    store.audit(actor="U1", action="x")
    assert store.counts()["audit"] == 1 and store.describe() == "sqlite (in memory)"


def test_unwritable_location_is_a_named_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create"):
        open_store(blocker / "sub" / "triage.db")


# ---- versioned schema -----------------------------------------------------------------------------


def _pre_versioning_file(path) -> None:
    """A state file as triage made it before schemas were versioned (sqlite-utils tables, no claimed_until)."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE [tickets] ([id] INTEGER PRIMARY KEY, [fingerprint] TEXT NOT NULL, [service] TEXT, [status] TEXT NOT NULL,
          [title] TEXT, [lang] TEXT, [body] TEXT, [created] TEXT, [updated] TEXT, [sent_at] TEXT);
        CREATE UNIQUE INDEX [idx_tickets_fingerprint] ON [tickets] ([fingerprint]);
        CREATE TABLE [outbox] ([id] INTEGER PRIMARY KEY, [fingerprint] TEXT, [op] TEXT, [channel] TEXT, [payload] TEXT,
          [created] TEXT, [posted_at] TEXT, [attempts] INTEGER, [last_error] TEXT);
        INSERT INTO tickets VALUES (7, 'fp', 'customvision', 'draft', 't', 'en', '{}', 'c', 'u', NULL);
        INSERT INTO outbox VALUES (3, 'fp', 'post', 'C1', '{}', 'c', NULL, 0, NULL);
    """)
    conn.commit()
    conn.close()


def test_a_file_from_before_versioning_is_adopted_and_upgraded_keeping_its_rows(tmp_path):
    path = tmp_path / "old.db"
    _pre_versioning_file(path)
    store = open_store(path)
    assert store.schema_version() == LATEST
    assert store.query("select version from schema_migrations order by version") == [{"version": m.version} for m in MIGRATIONS]
    assert store.query("select id, fingerprint from tickets") == [{"id": 7, "fingerprint": "fp"}]
    assert store.query("select id, claimed_until from outbox") == [{"id": 3, "claimed_until": None}]
    assert {"idx_ticket_history_ticket_id", "idx_outbox_fingerprint"} <= {r["name"] for r in store.query("select name from sqlite_master where type = 'index'")}


def test_an_older_schema_is_upgraded_on_open(store_location):
    if store_location.startswith("postgresql://"):
        from bot.store.postgres import PostgresStore as cls
    else:
        from bot.store.sqlite import SQLiteStore as cls
    v1 = _open_at(cls, store_location, 1)
    assert v1.schema_version() == 1
    v1.close()
    store = open_store(store_location)
    assert store.schema_version() == LATEST
    assert [r["version"] for r in store.query("select version from schema_migrations order by version")] == list(range(1, LATEST + 1))
    store.close()


def _open_at(cls, location, version):
    """A store of this backend whose schema stops at `version`."""
    original = cls._upgrade
    cls._upgrade = lambda self, upto=None: original(self, upto=version)
    try:
        return cls(location)
    finally:
        cls._upgrade = original


def test_a_newer_schema_is_refused_with_a_clear_message(store):
    store.execute("insert into schema_migrations (version, description, applied_at) values (?, 'from the future', 'now')", [LATEST + 1])
    with pytest.raises(StoreError, match=f"version {LATEST + 1}, newer than this triage knows"):
        store._upgrade()


# ---- triage store migrate ---------------------------------------------------------------------------


def _populate(location) -> dict[str, int]:
    """A store with a bit of everything, as a season of use leaves it."""
    from bot.tickets import Ticket, TicketStore

    s = open_store(location)
    tickets = TicketStore(s)
    for i in range(3):
        t, _ = tickets.save_draft(Ticket(fingerprint=f"fp{i}", service="customvision", title=f"t{i}", fields={"project_id": "p"}), actor="a")
        tickets.edit(t.id, actor="b", set_fields={"region": "westeurope"})
    for i in range(5):
        s.audit(actor=f"U{i}", action="diagnose", args="100% sure?")
    s.save_diagnosis(actor="a", service="azureml", input_bytes=1, input_sha256="ab" * 32, excerpt="x", matches=[])
    with s.transaction() as tx:
        tx.insert("alerts", {"fingerprint": "fp0", "service": "customvision", "target": "cv", "state": "open", "baseline": 0,
                             "failure": "{}"}, returning_id=False)
        tx.insert("outbox", {"fingerprint": "fp0", "op": "post", "channel": "C1", "payload": "{}", "created": "c", "attempts": 1,
                             "claimed_until": 12.5})
        tx.insert("watched_targets", {"target": "customvision:cv", "since": "s"}, returning_id=False)
        tx.take_lease("watch", "old-watcher", now=0.0, ttl=1e12)
    counts = s.counts()
    s.close()
    return counts


def test_store_migrate_copies_everything_and_verifies_the_counts(tmp_path, pg_server):
    from bot.tickets import Ticket, TicketStore

    src = tmp_path / "triage.db"
    counts = _populate(src)
    (tmp_path / "triage.toml").write_text(f'[store]\npath = "{src}"\n', encoding="utf-8")
    url = pg_server.create_database()
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "triage.toml"), "store", "migrate", "--to", url])
    assert result.exit_code == 0, result.output
    assert "verified: every count matches" in result.output
    assert "  ticket_history           6         6" in result.output

    dest = open_store(url)
    assert dest.counts() == counts
    assert dest.query("select count(*) as n from leases") == [{"n": 0}]  # a fresh lease for the new watchers
    tickets = TicketStore(dest)
    assert [t.id for t in tickets.list()] == [3, 2, 1]
    assert [h["action"] for h in tickets.history(2)] == ["created", "edited"]
    assert dest.query("select claimed_until, attempts from outbox") == [{"claimed_until": 12.5, "attempts": 1}]
    # new rows continue after the copied ids, and one ticket per failure still holds
    t, created = tickets.save_draft(Ticket(fingerprint="fp-new", service="rekognition", title="n"), actor="a")
    assert created and t.id == 4
    _, created = tickets.save_draft(Ticket(fingerprint="fp1", service="customvision", title="again"), actor="a")
    assert not created and dest.counts()["tickets"] == 4
    dest.close()

    again = CliRunner().invoke(cli, ["--config", str(tmp_path / "triage.toml"), "store", "migrate", "--to", url])
    assert again.exit_code == 1 and "already holds data (" in again.output + str(again.exception)


def test_store_migrate_refuses_bad_input(tmp_path, pg_server):
    runner = CliRunner()
    r = runner.invoke(cli, ["store", "migrate", "--to", "mysql://db/x"])
    assert r.exit_code != 0 and "--to needs a postgresql:// URL" in str(r.exception)
    r = runner.invoke(cli, ["store", "migrate", "--from", str(tmp_path / "missing.db"), "--to", pg_server.create_database()])
    assert "no store to copy at" in str(r.exception) and not (tmp_path / "missing.db").exists()


def test_store_info_names_the_backend_and_the_schema(tmp_path):
    (tmp_path / "t.toml").write_text(f'[store]\npath = "{tmp_path / "s.db"}"\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(tmp_path / "t.toml"), "store", "info"])
    assert r.exit_code == 0, r.output
    assert f"store: sqlite {tmp_path / 's.db'}" in r.output and f"schema version {LATEST}" in r.output


# ---- PostgreSQL specifics -----------------------------------------------------------------------


def test_a_dropped_postgresql_connection_is_a_named_error_then_replaced(pg_server):
    import psycopg

    url = pg_server.create_database()
    store = open_store(url)
    store.audit(actor="U1", action="x")
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:  # a server restart or a failover, seen from the client
        admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
                      [url.rsplit("/", 1)[1]])
    with pytest.raises(StoreError) as e:
        store.audit_rows()
    assert e.value.message.startswith(store.describe()) and e.value.hint
    assert [r["actor"] for r in store.audit_rows()] == ["U1"]  # the next call connects again
    store.close()


def test_an_unreachable_postgresql_server_is_a_named_error_without_the_password(pg_server):
    from pg_server import free_port

    with pytest.raises(StoreError) as e:  # a port nobody listens on (the test cluster is on pg_server.port)
        open_store(f"postgresql://triage:hunter2@127.0.0.1:{free_port()}/triage")
    assert e.value.message.startswith(f"cannot connect to postgresql://triage@127.0.0.1:") and "hunter2" not in str(e.value)


def test_a_postgresql_role_without_create_runs_on_a_current_schema(pg_server):
    """The owner creates the schema once; the processes may run as a role that can only read and write rows."""
    import psycopg

    url = pg_server.create_database()
    open_store(url).close()  # created (and versioned) by the owner
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"create role app_{dbname} login")
        admin.execute("revoke create on schema public from public")
        admin.execute(f"grant select, insert, update, delete on all tables in schema public to app_{dbname}")
        admin.execute(f"grant usage on all sequences in schema public to app_{dbname}")
    app = open_store(url.replace("postgresql://postgres@", f"postgresql://app_{dbname}@"))
    app.audit(actor="U1", action="x")
    assert app.schema_version() == LATEST and app.audit_rows()[0]["actor"] == "U1"
    with pytest.raises(StoreError, match="permission denied") as e:
        app.execute("create table nope (x int)")  # it really cannot create
    assert "CREATE to create or upgrade them" in e.value.hint
    app.close()
