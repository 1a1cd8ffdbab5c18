"""Diagnosis on real texts: the quality bars of PRODUCT.md, measured on tests/corpus/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.commands.evaluate import evaluate, load_corpus
from bot.errors import InputError

CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture(scope="module")
def result():
    return evaluate(CORPUS)


def test_corpus_is_big_and_varied_enough():
    cases = [case for _, case in load_corpus(CORPUS)]
    negatives = [c for c in cases if not c.positive]
    assert len(cases) >= 300
    assert len(negatives) >= 80
    assert sum(c.lang == "ja" for c in cases) >= 25
    assert {c.service for c in cases if c.positive} == {"customvision", "azureml-endpoint", "azureml-job", "rekognition"}


def _misses(mode) -> str:
    return "\n".join(f"  {m.name}: expected {m.case.expected}, got {m.got}" for m in mode.misses)


def test_top1_with_the_service_named(result):
    hint = next(m for m in result.modes if m.hinted)
    assert hint.top1.rate >= 0.95, f"top-1 {hint.top1.rate:.1%} with the hint; misses:\n{_misses(hint)}"


def test_top1_without_the_service_named(result):
    no_hint = next(m for m in result.modes if not m.hinted)
    assert no_hint.top1.rate >= 0.90, f"top-1 {no_hint.top1.rate:.1%} without the hint; misses:\n{_misses(no_hint)}"


def test_silent_on_look_alikes_from_other_platforms(result):
    for mode in result.modes:
        wrong = [m for m in mode.misses if not m.case.positive]
        assert not wrong, "diagnosed a look-alike:\n" + "\n".join(f"  {m.name}: got {m.got}" for m in wrong)


def test_eval_cli_json(tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text(
        "expected: azureml.endpoint.ERR_1100\nservice: azureml-endpoint\nlang: en\n"
        "source: https://example.invalid/1\nwhy: quota\ntext: |\n  (OutOfQuota) Not enough quota available for Standard_DS3_v2 in SubscriptionId\n",
        encoding="utf-8",
    )
    neg = tmp_path / "n.yaml"
    neg.write_text(
        "expected: none\nservice: null\nlang: en\nsource: https://example.invalid/2\nwhy: local\n"
        "text: |\n  ZeroDivisionError: division by zero\n",
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, "-m", "bot", "eval", "--json", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["cases"] == 2 and out["positives"] == 1
    assert out["hint"]["top1"] == {"right": 1, "total": 1, "rate": 1.0}
    assert out["no_hint"]["false_positives"]["right"] == 0


def test_eval_names_the_bad_case(tmp_path):
    (tmp_path / "bad.yaml").write_text("expected: azureml.nope\nservice: null\nlang: en\nsource: https://x.invalid\nwhy: w\ntext: t\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.yaml: expected: .*no playbook has id 'azureml\.nope'"):
        load_corpus(tmp_path)
    (tmp_path / "bad.yaml").write_text("expected: none\nservice: sagemaker\nlang: en\nsource: https://x.invalid\nwhy: w\ntext: t\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.yaml: service"):
        load_corpus(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "bot", "eval", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "bad.yaml: service" in proc.stderr and "Traceback" not in proc.stderr
