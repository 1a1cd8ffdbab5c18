"""Shared fixtures: the shipped playbook library and a scratch playbook directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_selections():
    """Each test starts with no Custom Vision selection remembered from another (ports are reused)."""
    yield
    from bot.providers.customvision import forget_selections

    forget_selections()


@pytest.fixture(scope="session")
def library():
    from bot.playbooks import cached

    return cached()


@pytest.fixture
def pb_dir(tmp_path: Path) -> Path:
    """A playbook directory holding a copy of one valid playbook, to break in tests."""
    d = tmp_path / "playbooks" / "azureml"
    d.mkdir(parents=True)
    src = ROOT / "playbooks" / "azureml" / "endpoint.ERR_2200.yaml"
    (d / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    context = ROOT / "playbooks" / "_context.yaml"
    (tmp_path / "playbooks" / context.name).write_text(context.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path / "playbooks"


# ---- the store backends: SQLite, and PostgreSQL on a throwaway cluster -----------------------------

BACKENDS = ("sqlite", "postgresql")
_pg_problem: list[str] = []


def _pg_unavailable(why: str) -> None:
    """Locally a missing server skips (and says so at the end); with CI set it is a failure."""
    if os.environ.get("CI"):
        _pg_problem[:] = [f"PostgreSQL tests cannot run: {why}; CI is set, so they fail instead of skipping"]
        pytest.fail(_pg_problem[0], pytrace=False)
    _pg_problem[:] = [f"PostgreSQL tests skipped: {why}"]
    pytest.skip(_pg_problem[0])


@pytest.fixture(scope="session")
def pg_server():
    from pg_server import PgServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        _pg_unavailable("no server binary (initdb, pg_ctl) found; install postgresql or set PG_BIN")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _pg_unavailable("psycopg is not installed (pip install -e '.[test]')")
    server = PgServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def store_location(request, tmp_path) -> str:
    """Where a test's store lives: a SQLite file, or a fresh database on the test cluster."""
    if request.param == "sqlite":
        return str(tmp_path / "triage.db")
    return request.getfixturevalue("pg_server").create_database()


@pytest.fixture
def store(store_location):
    from bot.store import open_store

    s = open_store(store_location)
    yield s
    s.close()


def pytest_terminal_summary(terminalreporter):
    if _pg_problem:
        terminalreporter.write_line(_pg_problem[0], yellow=True)


@pytest.fixture
def fake():
    """A Custom Vision training resource on loopback with the standard projects (tests/fake_customvision.py)."""
    from fake_customvision import FakeCustomVision

    server = FakeCustomVision().start()
    server.seed_standard()
    yield server
    server.stop()
