"""The manifest features through the command line: contract keys, exit codes, stdin, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from manifest_data import SEED_SUMMARY, classification, detection, write_lines

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_MATCH_KEYS = {"id", "title", "service", "score", "evidence", "retryable", "steps"}


def invoke(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin)


def test_diagnose_json_on_a_summary_file_keeps_the_contract(tmp_path):
    path = tmp_path / "manifest_summary.json"
    path.write_text(json.dumps(SEED_SUMMARY, indent=2), encoding="utf-8")
    r = invoke("diagnose", "--json", str(path))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert set(doc) == {"matches", "input", "manifest"}
    assert set(doc["input"]) == {"bytes", "lines"} and doc["input"]["bytes"] == path.stat().st_size
    assert all(set(m) == CONTRACT_MATCH_KEYS | {"facts"} for m in doc["matches"]), "keys may be added, never removed"
    assert doc["matches"][0]["id"] == "rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"


def test_diagnose_validation_manifest_from_stdin_of_a_real_process(tmp_path):
    bad = {**classification(2), "errors": [{"code": "ERROR_INVALID_IMAGE", "message": "The image is invalid."}]}
    data = "\n".join(json.dumps(x) for x in [classification(1), bad] + [classification(i) for i in range(3, 11)]).encode()
    r = subprocess.run([sys.executable, "-m", "bot", "diagnose", "--json", "-"], input=data, capture_output=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    doc = json.loads(r.stdout)
    assert doc["input"] == {"bytes": len(data), "lines": 10}
    assert doc["matches"][0]["id"] == "rekognition.ERROR_INVALID_IMAGE"
    assert doc["matches"][0]["evidence"][0]["line"] == 2


def test_diagnose_text_top_and_lang(tmp_path):
    path = tmp_path / "manifest_summary.json"
    path.write_text(json.dumps(SEED_SUMMARY), encoding="utf-8")
    r = invoke("diagnose", "--lang", "ja", "--top", "1", str(path))
    assert r.exit_code == 0 and "マニフェストの概要" in r.output


def test_lint_exit_codes(tmp_path):
    clean = write_lines(tmp_path / "clean.manifest", [classification(i, label=("a", "b")[i % 2]) for i in range(10)])
    r = invoke("manifest", "lint", str(clean))
    assert r.exit_code == 0, r.output
    assert "no terminal error predicted" in r.output and "ERROR_INVALID_IMAGE" in r.output  # listed as not checked
    broken = write_lines(tmp_path / "broken.manifest", [classification(1), "not json", {"source-ref": 1}])
    r = invoke("manifest", "lint", str(broken))
    assert r.exit_code == 1
    assert "line 2: ERROR_INVALID_JSON_LINE" in r.output and "line 3: ERROR_INVALID_SOURCE_REF_FORMAT" in r.output
    assert "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" in r.output


def test_lint_json_and_test_manifest(tmp_path):
    train = write_lines(tmp_path / "train.manifest", [detection(i) for i in range(1, 11)])
    test = write_lines(tmp_path / "test.manifest", [detection(i) for i in range(20, 25)])
    r = invoke("manifest", "lint", "--json", "--type", "detection", str(train), "--test", str(test))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["ok"] is True and doc["terminal_errors"] == []
    assert doc["training"]["model_type"] == "detection" and doc["training"]["model_type_source"] == "given"
    assert doc["testing"]["lines"] == 5 and doc["label_overlap"]["share"] == 1.0
    assert {c["code"] for c in doc["not_checked"]} >= {"ERROR_INVALID_IMAGE", "ERROR_INVALID_IMAGE_DIMENSION"}


def test_lint_reads_stdin_and_limits_the_listing(tmp_path):
    data = b'{"source-ref": "https://x/y.jpg"}\n' * 1000
    r = invoke("manifest", "lint", "--json", "--limit", "3", "-", stdin=data)
    assert r.exit_code == 1
    doc = json.loads(r.output)
    assert len(doc["training"]["findings"]) == 3 and doc["training"]["findings_total"] == 1000


def test_lint_bad_input_is_a_clear_message_not_a_trace(tmp_path):
    r = subprocess.run([sys.executable, "-m", "bot", "manifest", "lint", str(tmp_path / "nope.manifest")],
                       capture_output=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and b"no such file" in r.stderr and b"Traceback" not in r.stderr
    r = invoke("manifest", "lint", "--type", "segmentation", "x")
    assert r.exit_code == 2 and "Invalid value for '--type'" in r.output


def test_help_has_examples():
    r = invoke("manifest", "lint", "--help")
    assert r.exit_code == 0 and "Examples:" in r.output and "--test" in r.output
    assert "manifest" in invoke("--help").output
