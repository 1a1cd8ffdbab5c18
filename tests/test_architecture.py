"""Dependencies point inward: only bot/slack imports Slack, only bot/providers import cloud SDKs, only bot/store a database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
RULES = {
    "slack_bolt": "slack",
    "slack_sdk": "slack",
    "websocket": "slack",  # websocket-client, under Socket Mode
    "gunicorn": "slack",
    "boto3": "providers",
    "botocore": "providers",
    "azure": "providers",
    "requests": "providers",
    "urllib3": "providers",
    # nothing outside bot/store knows which database holds the state
    "sqlite3": "store",
    "sqlite_utils": "store",
    "psycopg": "store",
    "psycopg_binary": "store",
}
FILES = sorted(BOT.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BOT)))
def test_imports_stay_in_their_room(path):
    room = path.relative_to(BOT).parts[0]
    for module in imported_roots(path) & RULES.keys():
        assert room == RULES[module], f"{path.relative_to(BOT)} imports {module}; only bot/{RULES[module]}/ may"


def test_nothing_deeper_reads_the_environment():
    offenders = []
    for path in FILES:
        rel = path.relative_to(BOT)
        if rel.as_posix() in ("config.py", "cli/__init__.py"):  # the composition root and the process edge
            continue
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv(" in path.read_text(encoding="utf-8"):
            offenders.append(str(rel))
    assert offenders == []


def test_outside_bot_store_nothing_names_a_database_backend():
    """The tickets, the watcher and the Slack app speak to the Store interface, not to SQLite or PostgreSQL."""
    offenders = []
    for path in FILES:
        rel = path.relative_to(BOT)
        if rel.parts[0] in ("store", "cli") or rel.as_posix() == "config.py":  # the store itself; the edge that names it
            continue
        text = path.read_text(encoding="utf-8")
        for word in ("SQLiteStore", "PostgresStore", "sqlite_master", "pg_", "BEGIN IMMEDIATE", "journal_mode"):
            if word in text:
                offenders.append(f"{rel}: {word}")
    assert offenders == []


# Every layer depends downward only: the core (the engine, the diagnosis types, providers, the
# watcher, tickets, the store) never imports the verbs, the renderers or the front ends.
OUTER = ("bot.commands", "bot.cli", "bot.slack", "bot.render")
CORE = [p for p in FILES if p.relative_to(BOT).parts[0] not in ("commands", "cli", "slack", "render", "__main__.py")]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{alias.name}" for alias in node.names}
    return out


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(BOT)))
def test_the_core_never_imports_verbs_renderers_or_front_ends(path):
    outward = sorted(m for m in imported_modules(path) if m.startswith(OUTER))
    assert not outward, f"{path.relative_to(BOT)} imports {outward}; the core depends downward only"


def test_the_diagnosis_core_lives_beside_the_engine():
    assert (BOT / "diagnosis.py").is_file()
    verbs = imported_modules(BOT / "commands" / "manifest.py")
    assert "bot.commands.diagnose" not in verbs, "commands/manifest and commands/diagnose must not import each other"
