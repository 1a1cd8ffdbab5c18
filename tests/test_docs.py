"""The docs are tested: every command is in the README, every playbook in the generated index."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import click
import pytest

from bot.cli import cli
from bot.playbooks import cached
from bot.render.text import render_playbook_index

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _import_every_cli_module() -> None:
    """The root group imports its command modules lazily; the docs cover all of them."""
    import bot.cli as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"bot.cli.{info.name}")


_import_every_cli_module()


def test_lazy_command_map_is_complete():
    from bot.cli import LAZY_COMMANDS

    for name, cmd in cli.commands.items():
        module = cmd.callback.__module__
        if module != "bot.cli":
            assert LAZY_COMMANDS.get(name) == module.rsplit(".", 1)[1], f"`{name}` lives in {module}: add it to LAZY_COMMANDS"
    assert set(LAZY_COMMANDS) <= set(cli.commands)


def commands(group: click.Group, prefix: str = "triage") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        out.append((path, cmd))
        if isinstance(cmd, click.Group):
            out += commands(cmd, path)
    return out


@pytest.mark.parametrize("path,cmd", commands(cli), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_is_documented_and_has_help(path, cmd):
    assert path in README, f"`{path}` is not in README.md"
    assert cmd.help and len(cmd.help.strip()) > 20


def test_playbook_index_is_current():
    index = (ROOT / "playbooks" / "README.md").read_text(encoding="utf-8")
    expected = render_playbook_index(sorted(cached(), key=lambda pb: pb.id))
    assert index.strip() == expected.strip(), "run: triage playbooks list --markdown > playbooks/README.md"


def test_readme_opens_with_the_two_commands():
    head = README.split("\n## ", 1)[0]
    assert "<!-- install-and-run -->" in head and "<!-- install-and-test -->" in head
    assert "triage diagnose examples/" in head and "pytest" in head
