"""The scan's shortcuts change nothing: the RE2 set of relaxed expressions, the blocks, the chunks and
the exact expressions dropped once full give the matches and evidence of running every exact
expression over the whole text, on every corpus text, every playbook example and a varied log."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import re2

from bot.commands.evaluate import load_corpus
from bot.playbooks import Engine, cached, cached_context
from bot.playbooks.matcher import RAW_LINE_BYTES, Found, Hit
from bot.playbooks.model import SERVICES

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = cached()
ENGINES = {s: Engine(LIBRARY, s, cached_context()) for s in (None, *SERVICES)}
_EXACT: dict[str | None, list] = {}


def reference(service: str | None, data: bytes) -> list[Found]:
    """Every spec's exact expression over the whole text, without the set: its first lines (up to
    the spec's cap) with the column and the named groups of the first match on each."""
    engine = ENGINES[service]
    if service not in _EXACT:
        _EXACT[service] = [re2.compile(spec.regex.encode("utf-8")) for spec in engine.specs]
    exact = _EXACT[service]
    hits: dict[int, Hit] = {}
    for n, regex in enumerate(exact):
        if regex.search(data) is None:
            continue
        hit = Hit()
        for m in regex.finditer(data):
            line = data.count(b"\n", 0, m.start()) + 1
            if line in hit.starts:
                continue
            start = data.rfind(b"\n", 0, m.start()) + 1
            end = data.find(b"\n", m.start())
            hit.lines.append((line, data[start : len(data) if end < 0 else end][:RAW_LINE_BYTES]))
            hit.starts[line] = m.start() - start
            for name, value in m.groupdict().items():
                name = name.decode() if isinstance(name, bytes) else name
                if value and name not in hit.facts:
                    hit.facts[name] = value
            if len(hit.lines) >= engine._caps[n]:
                break
        if hit.lines:
            hits[n] = hit
    return engine._rank(hits)


def scanned(service: str | None, data: bytes) -> list[Found]:
    return ENGINES[service].scan(io.BytesIO(data)).found


TEXTS = [pytest.param(case.text, case.service, id=f"corpus:{name}") for name, case in load_corpus(ROOT / "tests" / "corpus")]
TEXTS += [pytest.param(ex.text, ex.service, id=f"example:{pb.id}[{i}]") for pb in LIBRARY for i, ex in enumerate(pb.examples)]


@pytest.mark.parametrize("text,service", TEXTS)
def test_scan_equals_every_exact_expression_on_the_whole_text(text, service):
    data = text.encode("utf-8")
    assert scanned(service, data) == reference(service, data)
    if service is not None:
        assert scanned(None, data) == reference(None, data)


def test_scan_equals_every_exact_expression_on_a_varied_log_across_chunks(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from diagnose_throughput import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    path = tmp_path / "varied.log"
    generate(path, 1.5, seed=11)
    data = path.read_bytes()
    found = scanned(None, data)
    assert len(found) >= 3 and found == reference(None, data)
    monkeypatch.setattr("bot.playbooks.matcher.CHUNK_BYTES", 1 << 16)
    monkeypatch.setattr("bot.playbooks.matcher.BLOCK_BYTES", 1 << 12)
    assert scanned(None, data) == found, "smaller chunks and blocks: the same"
