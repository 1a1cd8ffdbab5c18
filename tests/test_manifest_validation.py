"""Validation manifests: codes at every level counted, ordered, located; hostile input survives."""

from __future__ import annotations

import io
import json

import pytest

from bot.commands.diagnose import diagnose_stream
from bot.manifests import analyse
from bot.manifests.validation import MAX_CODES, OTHER, SAMPLES
from bot.render.text import render_diagnose
from manifest_data import classification, detection, ref, with_errors, write_lines

SMALL_BOX = {"class_id": 1, "top": 0, "left": 0, "width": 1, "height": 1}


def mixed_lines() -> list:
    """20 lines: 12 valid, 4 invalid (line and metadata level), 2 ignored, 2 valid but with a dropped box."""
    lines: list = [classification(i) for i in range(1, 21)]
    lines[2] = with_errors(classification(3), "ERROR_INVALID_IMAGE")                          # line 3: line level
    lines[6] = with_errors(detection(7), "ERROR_MISSING_CLASS_MAP_ID", where=("bounding-box-metadata",))  # line 7
    lines[9] = with_errors(classification(10), "ERROR_INVALID_IMAGE")                         # line 10
    cl = with_errors(classification(12), "ERROR_UNSUPPORTED_USE_CASE_TYPE", where=("sport-metadata",), key="cl-errors")
    lines[11] = with_errors(cl, "ERROR_NO_VALID_LABEL_ATTRIBUTES", key="cl-errors")           # line 12: seed §7.7 shape
    for i in (5, 15):                                                                          # lines 5, 15: annotation level
        line = detection(i, boxes=[dict(SMALL_BOX), {"class_id": 0, "top": 65, "left": 86, "width": 220, "height": 334}])
        lines[i - 1] = with_errors(line, "ERROR_BOUNDING_BOX_TOO_SMALL", where=("bounding-box", "annotations", 0))
    lines[17] = with_errors({"source-ref": ref(18)}, "WARNING_UNANNOTATED_RECORD", key="warnings")  # line 18
    no_boxes = with_errors(detection(19, boxes=[]), "WARNING_NO_ATTRIBUTE_ANNOTATIONS", where=("bounding-box",), key="warnings")
    lines[18] = with_errors(no_boxes, "WARNING_NO_ANNOTATIONS", key="warnings")               # line 19
    lines[19] = {**classification(20), "errors": []}                                           # empty arrays: valid
    return lines


def test_counts_levels_lines_and_source_refs(tmp_path):
    path = write_lines(tmp_path / "training_manifest_with_validation.json", mixed_lines())
    with path.open("rb") as f:
        r = analyse(f)
    assert (r.lines, r.valid, r.invalid, r.ignored, r.blank, r.unreadable) == (20, 14, 4, 2, 0, 0)
    assert r.partially_valid == 2
    assert r.invalid_share == pytest.approx(4 / 20) and not r.over_limit  # 20% is the limit, not over it
    by_code = {c.code: c for c in r.codes}
    assert by_code["ERROR_INVALID_IMAGE"].levels == {"line"}
    assert [s.line for s in by_code["ERROR_INVALID_IMAGE"].samples] == [3, 10]
    assert by_code["ERROR_MISSING_CLASS_MAP_ID"].levels == {"metadata"}
    assert by_code["ERROR_UNSUPPORTED_USE_CASE_TYPE"].levels == {"metadata"}
    too_small = by_code["ERROR_BOUNDING_BOX_TOO_SMALL"]
    assert too_small.levels == {"annotation"} and too_small.count == 2
    assert [(s.line, s.source_ref) for s in too_small.samples] == [(5, ref(5)), (15, ref(15))]
    assert by_code["WARNING_NO_ATTRIBUTE_ANNOTATIONS"].levels == {"attribute"}
    assert by_code["WARNING_UNANNOTATED_RECORD"].samples[0].source_ref == ref(18)
    # most frequent first, then by code
    assert [c.code for c in r.codes][:2] == ["ERROR_BOUNDING_BOX_TOO_SMALL", "ERROR_INVALID_IMAGE"]


def test_diagnose_matches_terminal_first_then_errors_then_warnings_by_frequency(tmp_path):
    lines = mixed_lines() + [with_errors(classification(i), "ERROR_INVALID_IMAGE") for i in range(21, 26)]
    path = write_lines(tmp_path / "v.json", lines)
    with path.open("rb") as f:
        result = diagnose_stream(f)
    ids = [m.id for m in result.matches]
    assert ids[0] == "rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"  # 9 of 25 invalid: predicted
    assert ids[1] == "rekognition.ERROR_INVALID_IMAGE"                       # 7 lines, the most frequent error
    warnings = [i for i in ids if ".WARNING_" in i]
    assert ids[-len(warnings):] == warnings and len(warnings) == 3
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True)
    image = result.matches[1]
    assert [e.line for e in image.evidence] == [3, 10, 21, 22, 23]
    assert image.evidence[0].text == f"source-ref {ref(3)}: ERROR_INVALID_IMAGE: message of ERROR_INVALID_IMAGE"
    doc = result.to_json()
    assert set(doc) == {"matches", "input", "manifest"}
    assert doc["input"] == {"bytes": path.stat().st_size, "lines": 25}
    assert doc["manifest"]["over_invalid_limit"] is True


def test_text_report(tmp_path):
    path = write_lines(tmp_path / "v.json", mixed_lines())
    with path.open("rb") as f:
        text = render_diagnose(diagnose_stream(f))
    assert "Rekognition validation manifest: 20 lines" in text
    assert "valid 14 · invalid 4 · ignored 2" in text and "invalid share 20.0%: within the 20% limit" in text
    assert "ERROR_BOUNDING_BOX_TOO_SMALL" in text and f"line 5: {ref(5)}" in text


def test_evidence_is_redacted(tmp_path):
    line = classification(1)
    line["errors"] = [{"code": "ERROR_INVALID_IMAGE", "message": "GET failed: password=hunter2hunter2 denied"}]
    path = write_lines(tmp_path / "v.json", [line, classification(2)])
    with path.open("rb") as f:
        doc = diagnose_stream(f).to_json()
    assert "hunter2hunter2" not in doc["matches"][0]["evidence"][0]["text"]


def test_crlf_lines_and_a_pipe_give_the_same_answer(tmp_path):
    lines = mixed_lines()
    with write_lines(tmp_path / "lf.json", lines).open("rb") as f:
        lf = analyse(f)

    class Pipe(io.RawIOBase):  # not seekable, no peek: diagnose must wrap it
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            chunk = self.data.read(min(len(b), 7))
            b[: len(chunk)] = chunk
            return len(chunk)

    crlf = (tmp_path / "crlf.json")
    write_lines(crlf, lines, newline="\r\n")
    result = diagnose_stream(Pipe(crlf.read_bytes()))
    r = result.report
    assert (r.valid, r.invalid, r.ignored, r.lines) == (lf.valid, lf.invalid, lf.ignored, lf.lines)
    assert [(c.code, c.count) for c in r.codes] == [(c.code, c.count) for c in lf.codes]
    assert result.input_bytes == crlf.stat().st_size


def test_plain_manifest_says_to_lint(tmp_path):
    path = write_lines(tmp_path / "train.manifest", [detection(i) for i in range(1, 4)])
    with path.open("rb") as f:
        result = diagnose_stream(f)
    assert result.matches == [] and result.to_json()["manifest"]["kind"] == "manifest"
    assert "triage manifest lint" in render_diagnose(result)


def test_other_service_keeps_the_text_matcher(tmp_path):
    path = write_lines(tmp_path / "v.json", mixed_lines())
    with path.open("rb") as f:
        doc = diagnose_stream(f, service="azureml").to_json()
    assert set(doc) <= {"matches", "input", "related"} and "manifest" not in doc


# Hostile input: nothing crashes, output stays bounded, everything is counted.

def test_broken_json_invalid_utf8_blank_lines(tmp_path):
    good = json.dumps(classification(1))
    data = "\n".join([good, good]).encode() + b'\n{"source-ref": "s3://b/k.jpg", "errors": [\n\n' \
        + b'{"source-ref": "s3://b/\xff\xfe.jpg"}\n[1, 2]\n   \n' + good.encode()
    r = analyse(io.BytesIO(data))
    assert (r.lines, r.valid, r.blank, r.unreadable) == (8, 3, 2, 3)
    assert [reason for _, reason in r.unreadable_samples] == ["not JSON", "not UTF-8", "a JSON list, not an object"]
    assert r.bytes == len(data)


def test_empty_input(tmp_path):
    r = analyse(io.BytesIO(b""))
    assert (r.lines, r.records, r.invalid_share) == (0, 0, None)


def test_huge_single_line_is_skipped_not_held(tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as f:
        f.write(json.dumps(classification(1)).encode() + b"\n")
        f.write(b'{"source-ref": "s3://b/k.jpg", "x": "' + b"a" * (20 << 20) + b'"}\n')
        f.write(json.dumps(with_errors(classification(3), "ERROR_INVALID_IMAGE")).encode())
    with path.open("rb") as f:
        result = diagnose_stream(f)
    r = result.report
    assert (r.lines, r.valid, r.invalid, r.unreadable) == (3, 1, 1, 1)
    assert "over the 8 MB bound" in r.unreadable_samples[0][1]
    assert result.input_bytes == path.stat().st_size


def test_hundred_thousand_bad_rows_bounded_output(tmp_path):
    path = tmp_path / "bad.json"
    bad = json.dumps(with_errors(classification(1), "ERROR_INVALID_IMAGE", "ERROR_MISSING_SOURCE_REF")).encode()
    with path.open("wb") as f:
        for _ in range(100):
            f.write((bad + b"\n") * 500 + b"not json at all\n" * 500)
    with path.open("rb") as f:
        result = diagnose_stream(f)
    r = result.report
    assert (r.lines, r.invalid, r.unreadable) == (100_000, 50_000, 50_000)
    assert all(len(c.samples) <= SAMPLES for c in r.codes)
    assert len(r.unreadable_samples) == SAMPLES
    assert len(json.dumps(result.to_json())) < 20_000


def test_distinct_codes_are_capped(tmp_path):
    lines = [with_errors(classification(i), f"ERROR_MADE_UP_{i}") for i in range(MAX_CODES + 100)]
    r = analyse(io.BytesIO("\n".join(json.dumps(x) for x in lines).encode()))
    assert len(r.codes) == MAX_CODES + 1
    assert r.codes[-1].code == OTHER and r.codes[-1].count == 100


def test_malformed_entries_are_counted_not_fatal():
    line = classification(1)
    line["errors"] = ["just a string", {"code": 42}, {"message": "no code"}]
    line["sport-metadata"]["errors"] = {"code": "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"}
    r = analyse(io.BytesIO(json.dumps(line).encode()))
    by_code = {c.code: c for c in r.codes}
    assert by_code["(malformed entry)"].count == 3
    assert by_code["ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"].levels == {"metadata"}
    assert r.invalid == 1


def test_deeply_nested_line_is_unreadable_not_a_crash():
    line = b'{"code": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = analyse(io.BytesIO(line))
    assert r.unreadable == 1
