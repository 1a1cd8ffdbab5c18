"""Every example of every playbook matches that playbook first, against the whole library."""

from __future__ import annotations

import io

import pytest

from bot.playbooks.model import SERVICES
from bot.playbooks import Engine, cached, cached_context

LIBRARY = cached()
ENGINES = {s: Engine(LIBRARY, s, cached_context()) for s in (None, *SERVICES)}
CASES = [pytest.param(pb, i, id=f"{pb.id}[{i}]") for pb in LIBRARY for i in range(len(pb.examples))]


@pytest.mark.parametrize("pb,i", CASES)
def test_example_matches_its_playbook_first(pb, i):
    found = ENGINES[pb.examples[i].service].scan(io.BytesIO(pb.examples[i].text.encode("utf-8"))).found
    ranked = [(f.playbook.id, f.score) for f in found[:3]]
    assert found, f"{pb.id} example {i} matched nothing"
    assert found[0].playbook.id == pb.id, f"{pb.id} example {i} ranked {ranked}"
    assert found[0].evidence, "a match always carries evidence"


@pytest.mark.parametrize("pb", LIBRARY, ids=lambda pb: pb.id)
def test_playbook_is_bilingual_and_concrete(pb):
    assert pb.title.en != pb.title.ja
    assert all(step.en and step.ja for step in pb.steps)
    assert any(ord(ch) > 0x3000 for ch in pb.title.ja + pb.summary.ja), "ja text should be Japanese"


def test_library_has_the_core_endpoint_set():
    ids = {pb.id for pb in LIBRARY}
    assert {"azureml.endpoint.ERR_2200", "azureml.endpoint.ERR_2200.probe_misconfigured"} <= ids
