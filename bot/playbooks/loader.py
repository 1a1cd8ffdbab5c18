"""Load playbook YAML files into validated models; errors name the file and the field."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pickle
import re
import threading
from pathlib import Path

import re2

from bot.errors import PlaybookError, field_path
from bot.playbooks.fields import FACTS
from bot.playbooks.model import Playbook, ServiceContext

CONTEXT_FILE = "_context.yaml"


def default_dir() -> Path:
    """Playbooks shipped with the package (wheel) or beside it (checkout)."""
    here = Path(__file__).resolve().parent.parent
    bundled = here / "_data" / "playbooks"
    return bundled if bundled.is_dir() else here.parent / "playbooks"


def _read_mapping(path: Path, unfold: bool = False) -> dict:
    import yaml  # only when the library is (re)built: a cache hit needs no YAML parser

    # libyaml is bundled with PyYAML wheels; it parses ~10x faster
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.load(unfold_japanese(text) if unfold else text, Loader=loader)
    except UnicodeDecodeError as e:
        raise PlaybookError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PlaybookError(f"{path}:{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(raw, dict):
        raise PlaybookError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def _validate(model: type, raw: dict, path: Path):
    import pydantic  # only when the library is (re)built: records from the cache need no validation

    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as e:
        problems = "; ".join(f"{field_path(err['loc'])}: {err['msg']}" for err in e.errors())
        raise PlaybookError(f"{path}: {problems}") from None


def _re2(pattern: str):
    """The pattern compiled quietly: RE2 would also print its parse errors to stderr."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _check_re2(path: Path, where: str, patterns: list[str], facts: bool = True) -> None:
    for i, pattern in enumerate(patterns):
        try:
            groups = _re2(pattern).groupindex
        except re2.error as e:
            raise PlaybookError(f"{path}: {where}[{i}]: not a valid RE2 expression: {e}") from None
        unknown = sorted(set(groups) - (set(FACTS) if facts else set()))
        if unknown:
            known = "known facts are in bot/playbooks/fields.py" if facts else "product context captures no facts"
            raise PlaybookError(f"{path}: {where}[{i}]: unknown fact name(s) {unknown}; {known}")


def load_file(path: Path) -> Playbook:
    """Parse and validate one playbook file."""
    raw = _read_mapping(path, unfold=True)
    playbook = _validate(Playbook, raw, path)
    expected = playbook.id.split(".", 1)[1] + ".yaml"
    if path.name != expected:
        raise PlaybookError(f"{path}: id: file name must be {expected!r} for id {playbook.id!r}")
    for field in ("patterns", "context", "facts"):
        _check_re2(path, f"match.{field}", getattr(playbook.match, field))
    for i, expression in enumerate(playbook.match.facts):
        if not _re2(expression).groupindex:
            raise PlaybookError(f"{path}: match.facts[{i}]: reads no fact; name a group, e.g. (?P<module>[\\w.]+)")
    return playbook


def load_context(directory: Path | None = None) -> ServiceContext:
    """The per-product context expressions in `_context.yaml` beside the playbooks."""
    path = (directory or default_dir()) / CONTEXT_FILE
    if not path.is_file():
        raise PlaybookError(f"{path}: context file not found")
    context = _validate(ServiceContext, _read_mapping(path), path)
    for fam in ("customvision", "azureml", "rekognition"):
        _check_re2(path, fam, context.get(fam), facts=False)
    for fam, expressions in context.names.items():
        _check_re2(path, f"names.{fam}", expressions, facts=False)
    for fam, expressions in context.facts.items():
        _check_re2(path, f"facts.{fam}", expressions)
    return context


# Folded YAML (`>-`) joins lines with a space, which puts stray spaces inside Japanese sentences
# ("クォータを 超えています"). Before parsing, a folded line that ends in a non-ASCII character is
# joined to the next when that one starts with a non-ASCII character; deliberate spaces inside a
# line ("ユーザー コンテナー") and ASCII words at a fold keep theirs.
_FOLDED_HEADER = re.compile(r"^(\s*)(?:-\s+)?[\w.-]+:\s*>[-+]?\s*$")


def unfold_japanese(text: str) -> str:
    """YAML source with fold points between two non-ASCII characters joined without a space."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        header = _FOLDED_HEADER.match(lines[i])
        out.append(lines[i])
        i += 1
        if not header:
            continue
        indent = None
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(" ")) > len(header.group(1))):
            line = lines[i]
            this_indent = len(line) - len(line.lstrip(" "))
            prev = out[-1]
            if (
                indent is not None
                and line.strip()
                and prev.strip()
                and this_indent == indent
                and not prev[-1].isascii()
                and not line.lstrip()[0].isascii()
            ):
                out[-1] = prev + line.lstrip()
            else:
                out.append(line)
                if line.strip() and indent is None:
                    indent = this_indent
            i += 1
    return "\n".join(out)


def load_all(directory: Path | None = None) -> list[Playbook]:
    """Every playbook under `directory`, cross-checked: unique IDs, parents exist, no cycles."""
    root = directory or default_dir()
    if not root.is_dir():
        raise PlaybookError(f"{root}: playbook directory not found")
    playbooks: list[Playbook] = []
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("*.yaml")):
        if path.name.startswith("_"):
            continue  # _context.yaml and other non-playbook data
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


Library = tuple[tuple[Playbook, ...], ServiceContext]

# What the cache key covers besides the playbook files: the code that validates them, and the
# version of pydantic (read from its version.py: importing pydantic is what the cache avoids).
_CODE = ("model.py", "schema.py", "loader.py", "fields.py")


def library_digest(root: Path) -> str:
    """A hash of every playbook file (path and bytes) and of the code that validates them."""
    h = hashlib.sha256()
    pydantic = importlib.util.find_spec("pydantic")
    for folder in (pydantic.submodule_search_locations or []) if pydantic else []:
        h.update((Path(folder) / "version.py").read_bytes())
    for name in _CODE:
        h.update((Path(__file__).parent / name).read_bytes())
    for path in sorted(root.rglob("*.yaml")):
        h.update(str(path.relative_to(root)).encode("utf-8") + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def cache_dir() -> Path:
    import platformdirs  # loaded only where it is used

    return Path(platformdirs.user_cache_dir("triage"))


def load_library(directory: Path | None = None, cache: Path | None = None) -> Library:
    """Every playbook and the product context, validated once per content and kept on disk.

    The cache file is named by the hash of the playbooks and of the validating code, so a change
    to any file is a new name (never stale); validating and compiling every pattern happens only
    when it is built. An unwritable cache directory costs speed, not correctness.
    """
    root = directory or default_dir()
    if not root.is_dir():
        raise PlaybookError(f"{root}: playbook directory not found")
    folder = cache if cache is not None else cache_dir()
    path = folder / f"playbooks-{library_digest(root)[:40]}.pickle"
    try:
        with path.open("rb") as f:
            library = pickle.load(f)
        if isinstance(library, tuple) and len(library) == 2 and isinstance(library[1], ServiceContext):
            return library
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        pass  # missing or unreadable: rebuild it
    library = (tuple(load_all(root)), load_context(root))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(library, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
        for old in folder.glob("playbooks-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass
    return library


_LOADING = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load_once(directory: str | None) -> Library:
    return load_library(Path(directory) if directory else None)


def _library(directory: str | None) -> Library:
    """lru_cache alone lets threads that miss at the same time each load (and hash every file);
    the lock makes them wait for the first."""
    with _LOADING:
        return _load_once(directory)


def cached_context(directory: str | None = None) -> ServiceContext:
    """The product context, once per process and directory."""
    return _library(directory)[1]


def cached(directory: str | None = None) -> tuple[Playbook, ...]:
    """Every playbook, once per process and directory (from the on-disk cache when current)."""
    return _library(directory)[0]
