"""Playbook files load into validated models; a broken file names the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import pytest

from bot.errors import PlaybookError
from bot.playbooks import load_all, load_file
from bot.playbooks.loader import unfold_japanese

ROOT = Path(__file__).resolve().parent.parent

ERR = "endpoint.ERR_2200.yaml"


def _edit(pb_dir: Path, old: str, new: str) -> None:
    f = pb_dir / "azureml" / ERR
    text = f.read_text(encoding="utf-8")
    assert old in text
    f.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_valid_copy_loads(pb_dir):
    (pb,) = load_all(pb_dir)
    assert pb.id == "azureml.endpoint.ERR_2200"
    assert pb.match.codes == ["ERR_2200"]


@pytest.mark.parametrize(
    "old,new,field",
    [
        ("retryable: false", "retryable: false\nflavour: spicy", "flavour: Extra inputs are not permitted"),
        ("severity: error", "severity: apocalyptic", "severity:"),
        ("  ja: \"ユーザー コンテナーがクラッシュまたは終了しました (ERR_2200 / ResourceNotReady)\"\n", "", "title.ja: Field required"),
        ("codes: [ERR_2200]", "codes: [ERR_2200]\n  flags: [x]", "match.flags"),
        ("service: azureml-endpoint", "service: rekognition", "belongs to 'azureml-endpoint'"),
        ("collect: [subscription_id", "collect: [favourite_colour, subscription_id", "collect: Value error, unknown ticket field"),
        ("    - '\\(ResourceNotReady\\)'", "    - '(?<=x)lookbehind'", "match.patterns[0]: not a valid RE2 expression"),
        ("id: azureml.endpoint.ERR_2200", "id: Azure ML error", "id: Value error, id must look like"),
    ],
)
def test_broken_file_names_file_and_field(pb_dir, old, new, field):
    _edit(pb_dir, old, new)
    with pytest.raises(PlaybookError) as e:
        load_all(pb_dir)
    message = str(e.value)
    assert ERR in message, message
    assert field in message, message


def test_invalid_yaml_names_the_line(pb_dir):
    _edit(pb_dir, "retryable: false", "retryable: [false")
    with pytest.raises(PlaybookError, match=r"endpoint\.ERR_2200\.yaml: line \d+: invalid YAML"):
        load_all(pb_dir)


def test_file_name_must_match_id(pb_dir):
    (pb_dir / "azureml" / ERR).rename(pb_dir / "azureml" / "err2200.yaml")
    with pytest.raises(PlaybookError, match="file name must be 'endpoint.ERR_2200.yaml'"):
        load_all(pb_dir)


def test_unknown_parent_and_cycles(pb_dir):
    _edit(pb_dir, "retryable: false", "retryable: false\nrefines: azureml.endpoint.ERR_9999")
    with pytest.raises(PlaybookError, match="refines: no playbook has id 'azureml.endpoint.ERR_9999'"):
        load_all(pb_dir)


def test_duplicate_ids(pb_dir):
    src = pb_dir / "azureml" / ERR
    other = pb_dir / "azureml" / "sub"
    other.mkdir()
    (other.parent / "copy").mkdir()
    (pb_dir / "azureml" / "copy" / ERR).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(PlaybookError, match="already defined"):
        load_all(pb_dir)


def test_not_a_mapping_and_not_utf8(pb_dir):
    (pb_dir / "azureml" / ERR).write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(PlaybookError, match="expected a mapping"):
        load_all(pb_dir)
    (pb_dir / "azureml" / ERR).write_bytes(b"id: \xff\xfe")
    with pytest.raises(PlaybookError, match="not UTF-8"):
        load_all(pb_dir)


# Japanese reads as Japanese: folded YAML must not leave a space where a line was broken
# between two Japanese characters.
FOLD_HEADER = re.compile(r"^(\s*)(?:-\s+)?ja:\s*>[-+]?\s*$")


def _folded_japanese_blocks(path: Path) -> list[str]:
    """Each folded `ja:` block of a playbook file, joined as a Japanese reader expects: no space
    where a line break fell between two non-ASCII characters, one space elsewhere."""
    lines, blocks = path.read_text(encoding="utf-8").splitlines(), []
    for i, line in enumerate(lines):
        head = FOLD_HEADER.match(line)
        if not head:
            continue
        body: list[str] = []
        for nxt in lines[i + 1 :]:
            if not nxt.strip() or len(nxt) - len(nxt.lstrip()) <= len(head.group(1)):
                break
            body.append(nxt.strip())
        text = body[0]
        for part in body[1:]:
            text += ("" if not text[-1].isascii() and not part[0].isascii() else " ") + part
        blocks.append(text)
    return blocks


def test_folded_japanese_has_no_stray_spaces():
    checked = 0
    for path in sorted((ROOT / "playbooks").rglob("*.yaml")):
        if path.name.startswith("_"):
            continue
        pb = load_file(path)
        texts = [pb.title.ja, pb.summary.ja, *(s.ja for s in pb.steps)]
        for block in _folded_japanese_blocks(path):
            checked += 1
            assert block in texts, f"{path.name}: folded Japanese text not joined as expected: {block[:60]!r}"
    assert checked > 100, "the playbooks fold Japanese text in many places"


def test_unfold_keeps_deliberate_spaces_and_ascii_words():
    src = "summary:\n  ja: >-\n    ユーザー コンテナーがクォータを\n    超えています。GPU では\n    Killed と表示\n"
    assert yaml.safe_load(unfold_japanese(src))["summary"]["ja"] == "ユーザー コンテナーがクォータを超えています。GPU では Killed と表示"


# The compiled library is cached on disk by content: loaded in milliseconds, never stale.
def test_library_cache_is_used_and_never_stale(pb_dir, tmp_path, monkeypatch):
    from bot.playbooks import loader

    cache = tmp_path / "cache"
    first = loader.load_library(pb_dir, cache)
    assert [p.name for p in cache.iterdir()] and first[0][0].id == "azureml.endpoint.ERR_2200"

    def no_validation(*_a, **_k):
        raise AssertionError("validated again although nothing changed")

    monkeypatch.setattr(loader, "load_all", no_validation)
    assert loader.load_library(pb_dir, cache) == first

    monkeypatch.undo()
    f = pb_dir / "azureml" / "endpoint.ERR_2200.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("severity: critical", "severity: warning").replace("severity: error", "severity: warning"), encoding="utf-8")
    changed = loader.load_library(pb_dir, cache)
    assert changed[0][0].severity == "warning", "an edited playbook is read again"
    assert len(list(cache.glob("playbooks-*.pickle"))) == 1, "older cache files are removed"


def test_library_cache_survives_corruption_and_read_only_dirs(pb_dir, tmp_path):
    from bot.playbooks import loader

    cache = tmp_path / "cache"
    good = loader.load_library(pb_dir, cache)
    for p in cache.glob("playbooks-*.pickle"):
        p.write_bytes(b"not a pickle")
    assert loader.load_library(pb_dir, cache) == good
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    assert loader.load_library(pb_dir, blocked / "cache") == good, "an unusable cache directory only costs speed"


def test_library_cache_still_reports_load_errors(pb_dir, tmp_path):
    from bot.playbooks import loader

    f = pb_dir / "azureml" / "endpoint.ERR_2200.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("severity:", "sevirity:"), encoding="utf-8")
    with pytest.raises(PlaybookError, match="endpoint.ERR_2200.yaml"):
        loader.load_library(pb_dir, tmp_path / "cache")


def test_unknown_fact_name_in_a_pattern_is_a_load_error(pb_dir):
    f = pb_dir / "azureml" / "endpoint.ERR_2200.yaml"
    text = f.read_text(encoding="utf-8").replace("  patterns:\n", "  patterns:\n    - 'No module named (?P<modul>\\w+)'\n", 1)
    f.write_text(text, encoding="utf-8")
    with pytest.raises(PlaybookError, match=r"endpoint\.ERR_2200\.yaml: match\.patterns\[0\]: unknown fact name\(s\) \['modul'\]"):
        load_all(pb_dir)


def test_records_carry_exactly_what_the_schema_validated(library):
    """Each plain record has the schema model's fields in its order, and the shipped library's
    records dump to what pydantic's models dump (playbooks show --json is unchanged)."""
    import dataclasses

    from bot.playbooks import model, schema
    from bot.playbooks.loader import _read_mapping, default_dir

    for name in ("Text", "Step", "Match", "Source", "Example", "ServiceContext", "Playbook"):
        assert [f.name for f in dataclasses.fields(getattr(model, name))] == list(getattr(schema, name).model_fields), name
    root = default_dir()
    for pb in library:
        path = next((root / pb.service.split("-")[0]).rglob(pb.id.split(".", 1)[1] + ".yaml"))
        validated = schema.Playbook.model_validate(_read_mapping(path, unfold=True))
        assert pb.model_dump() == validated.model_dump()
        assert list(pb.model_dump()) == list(validated.model_dump())


def test_threads_that_first_need_the_engine_at_once_build_it_once(monkeypatch):
    """A status sweep's threads reach their first diagnosis together: one library load and one engine
    build for all of them, not one each (64 loads and builds cost seconds of CPU in a 100-target sweep)."""
    import threading
    import time

    from bot import diagnosis
    from bot.playbooks import loader

    built, loaded = [], []
    real_engine, real_load = diagnosis.Engine, loader.load_library

    class CountingEngine(real_engine):
        def __init__(self, *a, **kw):
            built.append(1)
            time.sleep(0.05)  # widen the window in which the other threads arrive
            super().__init__(*a, **kw)

    def counting_load(*a, **kw):
        loaded.append(1)
        time.sleep(0.05)
        return real_load(*a, **kw)

    monkeypatch.setattr(diagnosis, "Engine", CountingEngine)
    monkeypatch.setattr(diagnosis, "_ENGINES", {})
    monkeypatch.setattr(loader, "load_library", counting_load)
    loader._load_once.cache_clear()
    start = threading.Barrier(8)
    engines = []

    def first_diagnosis():
        start.wait()
        engines.append(diagnosis.engine("customvision"))

    threads = [threading.Thread(target=first_diagnosis) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loader._load_once.cache_clear()
    assert len(built) == 1 and len(loaded) == 1
    assert len(engines) == 8 and all(e is engines[0] for e in engines)
