"""Shared fixtures: the shipped playbook library and a scratch playbook directory."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
