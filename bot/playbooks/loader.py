"""Load playbook YAML files into validated models; errors name the file and the field."""

from __future__ import annotations

import functools
from pathlib import Path

import re2
import yaml
from pydantic import ValidationError

from bot.errors import PlaybookError, field_path
from bot.playbooks.model import Playbook

try:  # libyaml is bundled with PyYAML wheels; it parses ~10x faster
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


def default_dir() -> Path:
    """Playbooks shipped with the package (wheel) or beside it (checkout)."""
    here = Path(__file__).resolve().parent.parent
    bundled = here / "_data" / "playbooks"
    return bundled if bundled.is_dir() else here.parent / "playbooks"


def load_file(path: Path) -> Playbook:
    """Parse and validate one playbook file."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except UnicodeDecodeError as e:
        raise PlaybookError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PlaybookError(f"{path}:{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise PlaybookError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        playbook = Playbook.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{field_path(err['loc'])}: {err['msg']}" for err in e.errors())
        raise PlaybookError(f"{path}: {problems}") from None
    expected = playbook.id.split(".", 1)[1] + ".yaml"
    if path.name != expected:
        raise PlaybookError(f"{path}: id: file name must be {expected!r} for id {playbook.id!r}")
    for field in ("patterns", "context"):
        for i, pattern in enumerate(getattr(playbook.match, field)):
            try:
                re2.compile(pattern)
            except re2.error as e:
                raise PlaybookError(f"{path}: match.{field}[{i}]: not a valid RE2 expression: {e}") from None
    return playbook


def load_all(directory: Path | None = None) -> list[Playbook]:
    """Every playbook under `directory`, cross-checked: unique IDs, parents exist, no cycles."""
    root = directory or default_dir()
    if not root.is_dir():
        raise PlaybookError(f"{root}: playbook directory not found")
    playbooks: list[Playbook] = []
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("*.yaml")):
        pb = load_file(path)
        if pb.service.split("-")[0] != path.relative_to(root).parts[0]:
            raise PlaybookError(f"{path}: service: file must live under playbooks/{pb.service.split('-')[0]}/")
        if pb.id in seen:
            raise PlaybookError(f"{path}: id: {pb.id!r} is already defined in {seen[pb.id]}")
        seen[pb.id] = path
        playbooks.append(pb)
    by_id = {pb.id: pb for pb in playbooks}
    for pb in playbooks:
        chain, node = [pb.id], pb
        while node.refines is not None:
            if node.refines not in by_id:
                raise PlaybookError(f"{seen[node.id]}: refines: no playbook has id {node.refines!r}")
            if node.refines in chain:
                raise PlaybookError(f"{seen[pb.id]}: refines: cycle {' -> '.join(chain + [node.refines])}")
            chain.append(node.refines)
            node = by_id[node.refines]
    return playbooks


@functools.lru_cache(maxsize=4)
def cached(directory: str | None = None) -> tuple[Playbook, ...]:
    """load_all, once per process and directory."""
    return tuple(load_all(Path(directory) if directory else None))
