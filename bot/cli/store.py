"""`triage store info|migrate`: where state lives, and moving it to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import JSON, cli, emit, emit_json, settings
from bot.errors import InputError


@cli.group()
def store() -> None:
    """The state store: SQLite by default, PostgreSQL when several hosts share it."""


@store.command("info")
@JSON
@click.pass_context
def store_info(ctx: click.Context, as_json: bool) -> None:
    """Which store this config uses, its schema version, and its rows per table (creates or upgrades it).

    \b
    Examples:
      triage store info
      DATABASE_URL=postgresql://triage@db:5432/triage triage store info --json
    """
    from bot.store import open_store
    from bot.store.schema import LATEST

    s = open_store(settings(ctx).store_location())
    info = {"store": s.describe(), "backend": s.backend, "schema_version": s.schema_version(), "latest": LATEST, "tables": s.counts()}
    if as_json:
        emit_json(info)
        return
    lines = [f"store: {info['store']}", f"  schema version {info['schema_version']} (this triage: {LATEST})"]
    lines += [f"  {t:<16} {n:>9}" for t, n in info["tables"].items()]
    emit("\n".join(lines))


@store.command("migrate")
@click.option("--to", "to", required=True, metavar="URL", help="The destination: postgresql://user@host:5432/dbname (an empty database).")
@click.option("--from", "from_", metavar="PATH|URL", help="The source store (default: the one triage.toml or DATABASE_URL names).")
@JSON
@click.pass_context
def store_migrate(ctx: click.Context, to: str, from_: str | None, as_json: bool) -> None:
    """Copy a store (tickets with their history, diagnoses, alerts, outbox, audit) into PostgreSQL.

    Creates the schema in the destination, copies every row with its id in one transaction,
    and verifies each table's count; a mismatch rolls the copy back. Stop `triage serve` and
    `triage watch` first, then point them at the new store ([store] url or DATABASE_URL).
    The password goes in the URL only from the environment (PGPASSWORD or ~/.pgpass also work).

    \b
    Examples:
      triage store migrate --to postgresql://triage@db.internal:5432/triage
      triage store migrate --from /var/lib/triage/triage.db --to "$DATABASE_URL"
    """
    from bot.store import is_postgres_url, open_store
    from bot.store.migrate import copy_store

    if not is_postgres_url(to):
        raise InputError(f"--to needs a postgresql:// URL, not {to.split('://')[0] + '://…' if '://' in to else repr(to)}",
                         hint="e.g. --to postgresql://triage@db.internal:5432/triage")
    location = from_ if from_ else settings(ctx).store_location()
    if not (isinstance(location, str) and is_postgres_url(location)) and not Path(location).expanduser().is_file():
        raise InputError(f"no store to copy at {location}", hint="give the SQLite file with --from PATH")
    source = open_store(Path(location).expanduser() if not is_postgres_url(str(location)) else str(location))
    report = copy_store(source, open_store(to))
    if as_json:
        emit_json(report.to_json())
        return
    lines = [f"copied {report.source} → {report.destination} (schema version {report.schema_version})",
             f"  {'table':<16} {'source':>9} {'copied':>9}"]
    lines += [f"  {t:<16} {a:>9} {b:>9}" for t, (a, b) in report.tables.items()]
    lines += ["verified: every count matches",
              "next: set [store] url (or DATABASE_URL) for `triage serve` and `triage watch`, then start them"]
    emit("\n".join(lines))
