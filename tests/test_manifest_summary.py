"""manifest_summary.json: recognised by content, totals and the 20% rule, terminal errors as matches."""

from __future__ import annotations

import copy
import io
import json

import pytest

from bot.commands.diagnose import diagnose_stream
from bot.errors import InputError
from bot.manifests import parse_summary, sniff
from bot.render.text import render_diagnose
from manifest_data import SEED_SUMMARY, classification, detection, with_errors

CONTRACT_MATCH_KEYS = {"id", "title", "service", "score", "evidence", "retryable", "steps"}


def summary_bytes(doc: dict = SEED_SUMMARY) -> bytes:
    return json.dumps(doc, indent=2).encode()


def test_seed_example_totals_share_and_terminal_error():
    report = parse_summary(summary_bytes())
    training, testing = report.datasets
    assert (training.name, training.total_json_lines, training.valid_json_lines, training.invalid_json_lines) == ("training", 301, 146, 155)
    assert training.invalid_share == pytest.approx(155 / 301) and training.over_limit
    assert testing.invalid_share == pytest.approx(2 / 15) and not testing.over_limit
    assert training.error_json_line_indices == [15, 16, 17, 22, 23, 24, 300]
    assert [(e.scope, e.code) for e in report.terminal] == [("training", "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST")]
    assert report.problems == []


def test_diagnose_json_keeps_the_contract_and_adds_the_report():
    data = summary_bytes()
    doc = diagnose_stream(io.BytesIO(data)).to_json()
    assert set(doc) == {"matches", "input", "manifest"}
    assert doc["input"] == {"bytes": len(data), "lines": data.count(b"\n") + 1}
    best = doc["matches"][0]
    assert set(best) == CONTRACT_MATCH_KEYS | {"facts"}, "keys may be added, never removed"
    assert best["id"] == "rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" and best["service"] == "rekognition"
    [evidence] = best["evidence"]
    assert "155 of 301 lines invalid, 51.5%" in evidence["text"]
    assert data.decode().splitlines()[evidence["line"] - 1].strip().startswith('"code": "ERROR_TOO_MANY_INVALID_ROWS')
    training = doc["manifest"]["datasets"]["training"]
    assert training["invalid_json_lines"] == 155 and training["over_invalid_limit"] is True
    assert training["error_json_line_indices"] == [15, 16, 17, 22, 23, 24, 300]
    assert doc["manifest"]["kind"] == "manifest_summary"


def test_cross_dataset_errors_come_first_and_codes_are_canonical():
    doc = copy.deepcopy(SEED_SUMMARY)
    doc["errors"] = [{"code": "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP", "message": "Less than 50% overlap"}]
    doc["statistics"]["testing"]["errors"] = [{"code": "ERROR_MANIFEST_TOO_FEW_LABELS", "message": "too few"}]
    result = diagnose_stream(io.BytesIO(summary_bytes(doc)))
    assert [m.id for m in result.matches] == [
        "rekognition.ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP",
        "rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
        "rekognition.ERROR_MANIFEST_TOO_FEW_LABELS",
    ]
    assert all(m.score == 100 for m in result.matches)


def test_text_report_shows_totals_share_errors_and_indices():
    text = render_diagnose(diagnose_stream(io.BytesIO(summary_bytes())))
    assert "manifest_summary.json" in text
    assert "51.5%  over the 20% limit" in text and "13.3%  within the 20% limit" in text
    assert "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" in text
    assert "15, 16, 17, 22, 23, 24, 300" in text and "training_manifest_with_validation.json" in text


def test_japanese_text_report():
    text = render_diagnose(diagnose_stream(io.BytesIO(summary_bytes()), lang="ja"))
    assert "マニフェストの概要" in text and "上限 20% を超過" in text


def test_counts_that_do_not_add_up_are_reported():
    doc = copy.deepcopy(SEED_SUMMARY)
    doc["statistics"]["training"]["valid_json_lines"] = 100
    doc["statistics"]["testing"]["ignored_json_lines"] = "many"
    problems = parse_summary(summary_bytes(doc)).problems
    assert any("total_json_lines = 301" in p for p in problems)
    assert any("testing.ignored_json_lines: not a count" in p for p in problems)


def test_a_million_indices_are_counted_not_listed():
    doc = copy.deepcopy(SEED_SUMMARY)
    doc["statistics"]["training"]["error_json_line_indices"] = list(range(1, 1_000_001))
    for indent in (None, 8):
        report = parse_summary(json.dumps(doc, indent=indent).encode())
        training = report.datasets[0]
        assert training.error_json_line_count == 1_000_000
        assert training.error_json_line_indices == list(range(1, 101))
        assert report.datasets[1].error_json_line_indices == [13, 15]


def test_error_line_indices_prose_spelling_is_accepted():
    doc = copy.deepcopy(SEED_SUMMARY)
    doc["statistics"]["testing"]["error_line_indices"] = doc["statistics"]["testing"].pop("error_json_line_indices")
    assert parse_summary(summary_bytes(doc)).datasets[1].error_json_line_indices == [13, 15]


@pytest.mark.parametrize("data,message", [
    (b'{"statistics": {"training": {"total_json_lines": 3', "not valid JSON"),
    (b'{"statistics": {"training": {"total_json_lines": "\xff"}}}', "not UTF-8"),
    (b"[1, 2]", "expected an object"),
])
def test_unreadable_summary_is_a_clear_input_error(data, message):
    with pytest.raises(InputError, match=message):
        parse_summary(data)


def test_truncated_summary_falls_back_to_the_text_matcher():
    data = summary_bytes()[:400]
    assert sniff(data) == "manifest_summary"
    doc = diagnose_stream(io.BytesIO(data)).to_json()
    assert set(doc) == {"matches", "input", "manifest"}
    assert doc["input"]["bytes"] == 400
    assert "not valid JSON" in doc["manifest"]["problems"][0]


@pytest.mark.parametrize("data,kind", [
    (summary_bytes(), "manifest_summary"),
    (json.dumps(SEED_SUMMARY).encode(), "manifest_summary"),
    ("\n".join(json.dumps(x) for x in [classification(1), with_errors(classification(2), "ERROR_INVALID_IMAGE")]).encode(),
     "validation_manifest"),
    ("\n".join(json.dumps(x) for x in [detection(1), {**detection(2), "errors": []}]).encode(), "validation_manifest"),
    ("\n".join(json.dumps(detection(i)) for i in range(3)).encode(), "manifest"),
    (b"2024-05-01 ERROR_INVALID_IMAGE in line 3\n", None),
    (b'{"level": "info", "msg": "ok"}\n{"level": "info", "msg": "ok"}\n', None),
    (b"", None),
    (b"\xff\xfe garbage", None),
    (json.dumps(detection(1), indent=2).encode(), None),  # a pasted, pretty-printed line: left to the text matcher
])
def test_sniff(data, kind):
    assert sniff(data) == kind
