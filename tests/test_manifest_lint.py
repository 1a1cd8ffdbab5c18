"""`triage manifest lint`: one test per documented rule, each flagged on the right line with Rekognition's code."""

from __future__ import annotations

import io
import json

import pytest

from bot.manifests import codes, lint_manifest, lint_pair
from manifest_data import BUCKET, classification, detection, ref

BOX = {"class_id": 0, "top": 65, "left": 86, "width": 220, "height": 334}


def lint(lines: list, model_type: str | None = None, **kw):
    data = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines).encode()
    return lint_manifest(io.BytesIO(data), model_type=model_type, **kw)


def found(ds) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in ds.findings]


def terminal(ds) -> list[str]:
    return [f.code for f in ds.terminal]


def padded(bad: list, n: int = 20, kind=classification) -> list:
    """`bad` lines first, then valid lines with two labels, so only the rule under test fires."""
    return bad + [kind(100 + i, label=("Sunrise", "Sunset")[i % 2]) if kind is classification else kind(100 + i)
                  for i in range(n)]


def test_clean_manifests_pass():
    ds = lint(padded([]))
    assert (ds.findings, ds.terminal, ds.model_type, ds.valid, ds.invalid) == ([], [], "classification", 20, 0)
    ds = lint([detection(i) for i in range(1, 6)])
    assert (ds.findings, ds.terminal, ds.model_type, len(ds.labels)) == ([], [], "detection", 2)


def test_json_line_too_long():
    long_line = classification(1)
    long_line["sport-metadata"]["job-name"] = "x" * 100_001
    ds = lint(padded([long_line, "{" + '"a": "' + "y" * 500_000 + '"}']))
    assert found(ds) == [(1, codes.JSON_LINE_TOO_LONG), (2, codes.JSON_LINE_TOO_LONG)]
    assert ds.removed == 2


def test_multibyte_line_under_the_character_limit_is_fine():
    line = classification(1, label="日の出")
    line["sport-metadata"]["job-name"] = "ジョブ" * 30_000  # 90,000 characters, 270,000 bytes
    assert found(lint(padded([line]))) == []


def test_invalid_json_lines():
    ds = lint(padded(['{"source-ref": "s3://b/k.jpg",', "", "[1, 2]"]))
    assert found(ds) == [(1, "ERROR_INVALID_JSON_LINE"), (2, "ERROR_INVALID_JSON_LINE"), (3, "ERROR_INVALID_JSON_LINE")]
    raw = json.dumps(classification(1)).encode().replace(b"Sunrise", b"Sun\xffrise")
    ds = lint_manifest(io.BytesIO(raw + b"\n" + json.dumps(classification(2)).encode()))
    assert found(ds) == [(1, "ERROR_INVALID_JSON_LINE")] and "not UTF-8" in ds.findings[0].detail


def test_missing_source_ref():
    line = classification(1)
    line["source_ref"] = line.pop("source-ref")
    ds = lint(padded([line]))
    assert found(ds) == [(1, "ERROR_MISSING_SOURCE_REF")]
    assert "spelled source-ref" in ds.findings[0].detail


@pytest.mark.parametrize("value", ["https://bucket/images/a.jpg", "s3://bucket", "s3://bucket/", "bucket/a.jpg", 42, None])
def test_invalid_source_ref_format(value):
    ds = lint(padded([{**classification(1), "source-ref": value}]))
    assert found(ds) == [(1, "ERROR_INVALID_SOURCE_REF_FORMAT")]


def test_duplicate_source_ref():
    ds = lint(padded([classification(1), classification(2), classification(1, label="Sunset")]))
    assert found(ds) == [(3, codes.DUPLICATE_SOURCE_REF)]
    assert ds.findings[0].source_ref == ref(1)


def test_images_in_multiple_buckets_is_terminal():
    other = {**classification(1), "source-ref": ref(1, bucket="another-bucket")}
    ds = lint(padded([other]))
    assert found(ds) == [] and terminal(ds) == ["ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"]
    assert "another-bucket (1 line from line 1)" in ds.terminal[0].detail and BUCKET in ds.terminal[0].detail


def test_no_label_attributes():
    only_meta = classification(1)
    del only_meta["sport"]
    no_meta = {"source-ref": ref(2), "bounding-box": detection(2)["bounding-box"]}
    ds = lint(padded([only_meta, no_meta]))
    assert found(ds) == [(1, "ERROR_NO_LABEL_ATTRIBUTES"), (2, "ERROR_NO_LABEL_ATTRIBUTES")]


def test_unannotated_record_is_a_warning_and_ignored():
    ds = lint(padded([{"source-ref": ref(1)}]))
    assert found(ds) == [(1, "WARNING_UNANNOTATED_RECORD")]
    assert (ds.ignored, ds.invalid) == (1, 0)


@pytest.mark.parametrize("change", [
    {"human-annotated": "maybe"}, {"creation-date": None}, {"creation-date": "yesterday"}, {"class-name": ""},
    {"confidence": 7}, {"type": None}, {"job-name": 3},
])
def test_invalid_label_attribute_metadata_format(change):
    line = classification(1)
    line["sport-metadata"].update(change)
    line["sport-metadata"] = {k: v for k, v in line["sport-metadata"].items() if v is not None}
    assert found(lint(padded([line]))) == [(1, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT")]


def test_job_name_is_optional():
    line = classification(1)
    del line["sport-metadata"]["job-name"]
    assert found(lint(padded([line]))) == []


def test_unsupported_use_case_type():
    ds = lint(padded([classification(1, type="groundtruth/wrongtype")]))
    assert found(ds) == [(1, "ERROR_UNSUPPORTED_USE_CASE_TYPE"), (1, "ERROR_NO_VALID_LABEL_ATTRIBUTES")]
    assert ds.findings[0].level == "metadata" and ds.invalid == 1


def test_invalid_label_attribute_format():
    no_size = detection(1)
    del no_size["bounding-box"]["image_size"]
    bad_box = detection(2, boxes=[{"class_id": 0, "top": "x", "left": 1, "width": 5, "height": 5}])
    text_value = {**classification(3), "sport": "one"}
    ds = lint([no_size, bad_box, text_value] + [detection(i) for i in range(10, 20)])
    assert found(ds) == [(1, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"), (2, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"),
                         (3, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT")]


def test_missing_class_map_id():
    ds = lint([detection(1, boxes=[BOX, {**BOX, "class_id": 7}])] + [detection(i) for i in range(2, 10)])
    assert found(ds) == [(1, "ERROR_MISSING_CLASS_MAP_ID")] and "class_id 7" in ds.findings[0].detail


def test_missing_bounding_box_confidence():
    no_key = detection(2)
    no_key["bounding-box-metadata"]["objects"] = [{"confidence": 1}, {}]
    ds = lint([detection(1, confidences=1), no_key] + [detection(i) for i in range(3, 10)])
    assert found(ds) == [(1, "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"), (2, "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE")]


def test_priority_error_stops_the_line():
    line = detection(1, boxes=[{**BOX, "left": -5}], confidences=0)
    assert found(lint([line] + [detection(i) for i in range(2, 10)])) == [(1, "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE")]


def test_bounding_box_off_frame_drops_only_that_box():
    line = detection(1, boxes=[{**BOX, "left": -1}, {**BOX, "left": 600}, BOX])  # 600 + 220 > 640
    ds = lint([line] + [detection(i) for i in range(2, 10)])
    assert found(ds) == [(1, "ERROR_INVALID_BOUNDING_BOX"), (1, "ERROR_INVALID_BOUNDING_BOX")]
    assert ds.findings[0].level == "annotation" and ds.invalid == 0 and ds.counts["ERROR_INVALID_BOUNDING_BOX"].lines == 1


def test_bounding_box_too_small_also_after_the_resize():
    tiny = detection(1, boxes=[{**BOX, "width": 1, "height": 1}, BOX])
    resized = detection(2, boxes=[{**BOX, "width": 3, "height": 3}, BOX], size=(4096, 3000))  # 3 px -> 0.9 px
    ok = detection(3, boxes=[{**BOX, "width": 3, "height": 3}, BOX])
    ds = lint([tiny, resized, ok] + [detection(i) for i in range(4, 10)])
    assert found(ds) == [(1, "ERROR_BOUNDING_BOX_TOO_SMALL"), (2, "ERROR_BOUNDING_BOX_TOO_SMALL")]
    assert "after the resize" in ds.findings[1].detail


def test_too_many_bounding_boxes():
    ds = lint([detection(1, boxes=[BOX] * 51)] + [detection(i) for i in range(2, 10)])
    assert found(ds) == [(1, "ERROR_TOO_MANY_BOUNDING_BOXES")]
    assert found(lint([detection(1, boxes=[BOX] * 50)])) == []


def test_no_valid_annotations():
    line = detection(1, boxes=[{**BOX, "top": -3}, {**BOX, "width": 0}])
    ds = lint([line] + [detection(i) for i in range(2, 10)])
    assert found(ds) == [(1, "ERROR_INVALID_BOUNDING_BOX"), (1, "ERROR_BOUNDING_BOX_TOO_SMALL"), (1, "ERROR_NO_VALID_ANNOTATIONS")]
    assert ds.invalid == 1


def test_no_annotations_is_a_warning_and_ignored():
    ds = lint([detection(1, boxes=[])] + [detection(i) for i in range(2, 10)])
    assert found(ds) == [(1, "WARNING_NO_ATTRIBUTE_ANNOTATIONS"), (1, "WARNING_NO_ANNOTATIONS")]
    assert (ds.ignored, ds.invalid) == (1, 0)


def test_label_name_length():
    long = "L" * 257
    ds = lint(padded([classification(1, label=long), detection(2, class_map={"0": long, "1": "Echo Dot"})]))
    assert found(ds) == [(1, "ERROR_INVALID_LABEL_NAME_LENGTH"), (2, "ERROR_INVALID_LABEL_NAME_LENGTH")]
    assert found(lint(padded([classification(1, label="L" * 256)]))) == []


def test_labels_per_image():
    line = classification(1)
    for i in range(51):
        line.update({k.replace("sport", f"sport{i}"): v for k, v in classification(1, label=f"label{i}").items() if k != "source-ref"})
    assert found(lint(padded([line]))) == [(1, codes.TOO_MANY_LABELS_PER_IMAGE)]


def test_too_few_labels_depends_on_the_model_type():
    one_label = [classification(i, label="Sunrise") for i in range(1, 10)]
    assert terminal(lint(one_label)) == ["ERROR_MANIFEST_TOO_FEW_LABELS"]
    one_box_label = [detection(i, boxes=[BOX], class_map={"0": "Echo"}) for i in range(1, 10)]
    assert terminal(lint(one_box_label)) == []  # detection needs only 1 (quotas, catalog §9 item 1)


def test_too_many_labels():
    ds = lint([classification(i, label=f"label-{i}") for i in range(251)])
    assert terminal(ds) == ["ERROR_MANIFEST_TOO_MANY_LABELS"] and len(ds.labels) == 251
    assert terminal(lint([classification(i, label=f"label-{i}") for i in range(250)])) == []


def test_other_model_type_lines_are_excluded():
    ds = lint(padded([], kind=detection), model_type="classification")
    assert ds.excluded == 20 and ds.valid == 0
    assert terminal(ds) == ["ERROR_MANIFEST_TOO_FEW_USABLE_LABELS"]
    assert any("detection lines" in note for note in ds.notes)


def test_invalid_rows_over_twenty_percent_is_terminal():
    bad = [{**classification(i), "source-ref": "https://x/y.jpg"} for i in range(1, 5)]
    assert terminal(lint(padded(bad, n=16))) == []  # 4 of 20: exactly 20% is allowed
    ds = lint(padded(bad + [{"source-ref": "nope"}], n=16))
    assert terminal(ds) == ["ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", "ERROR_TOO_MANY_RECORDS_IN_ERROR"]
    assert "5 of 21 lines are invalid (23.8%" in ds.terminal[0].detail


def test_rows_and_size_quotas(monkeypatch):
    monkeypatch.setattr(codes, "MAX_ROWS", 10)
    monkeypatch.setattr(codes, "MAX_MANIFEST_BYTES", 1000)
    ds = lint(padded([], n=11))
    assert terminal(ds) == ["ERROR_MANIFEST_SIZE_TOO_LARGE", "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM"]
    assert "500,000 after a quota increase" in ds.terminal[1].detail


def test_small_region_quota_is_a_note(monkeypatch):
    monkeypatch.setitem(codes.MAX_ROWS_SMALL_REGIONS, "training", 10)
    assert any("ap-south-1" in note for note in lint(padded([], n=11)).notes)


def test_empty_manifest():
    ds = lint_manifest(io.BytesIO(b""))
    assert terminal(ds) == [codes.MANIFEST_EMPTY]


def test_label_overlap_and_shared_images_with_test_manifest():
    train = [classification(i, label=f"label-{i % 4}") for i in range(40)]
    test = [classification(100 + i, label=("label-0", "other")[i % 2]) for i in range(10)] + [classification(3, label="other")]
    as_bytes = lambda lines: io.BytesIO("\n".join(json.dumps(x) for x in lines).encode())  # noqa: E731
    report = lint_pair(as_bytes(train), as_bytes(test))
    assert [f.code for _, f in report.terminal] == ["ERROR_INSUFFICIENT_LABEL_OVERLAP"]  # 1 of 4 training labels
    assert report.overlap["common"] == 1 and report.overlap["share"] == 0.25
    assert found(report.testing) == [(11, codes.TEST_IMAGES_IN_TRAINING)]
    assert report.exit_code == 1


def test_label_overlap_of_half_is_enough():
    train = [classification(i, label=f"label-{i % 2}") for i in range(10)]
    test = [classification(100 + i, label="label-0") for i in range(5)] + [classification(200, label="label-9")]
    as_bytes = lambda lines: io.BytesIO("\n".join(json.dumps(x) for x in lines).encode())  # noqa: E731
    report = lint_pair(as_bytes(train), as_bytes(test))
    assert report.cross == [] and report.overlap["share"] == 0.5 and report.overlap["test_only"] == ["label-9"]


def test_a_broken_manifest_line_by_line():
    """The issue's example: one manifest, many problems, each on its line with its code."""
    lines = [
        classification(1, label="Sunrise"),
        {**classification(2), "source-ref": "https://bucket/images/2.jpg"},
        classification(1, label="Sunset"),
        detection(4, boxes=[{**BOX, "width": 1, "height": 1}, BOX]),
        detection(5, boxes=[BOX, {**BOX, "class_id": 9}]),
        '{"source-ref": "s3://bucket/6.jpg"',
        classification(7, label="Sunset"),
    ]
    ds = lint(lines, model_type="classification")
    assert found(ds) == [(2, "ERROR_INVALID_SOURCE_REF_FORMAT"), (3, codes.DUPLICATE_SOURCE_REF),
                         (4, "ERROR_BOUNDING_BOX_TOO_SMALL"), (5, "ERROR_MISSING_CLASS_MAP_ID"), (6, "ERROR_INVALID_JSON_LINE")]
    assert "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" in terminal(ds)
    assert ds.excluded == 1  # line 4 is a valid detection line: a classification model does not use it


# Hostile input.

def test_hundred_thousand_bad_rows_are_counted_and_the_listing_bounded():
    data = b'{"source-ref": 1}\n' * 100_000
    ds = lint_manifest(io.BytesIO(data), max_findings=50)
    assert ds.invalid == 100_000 and ds.findings_total == 100_000 and len(ds.findings) == 50
    assert ds.counts["ERROR_INVALID_SOURCE_REF_FORMAT"].first_lines == [1, 2, 3, 4, 5]
    assert len(json.dumps(ds.to_json())) < 50_000


def test_one_huge_line_without_newline():
    ds = lint_manifest(io.BytesIO(b'{"source-ref": "' + b"a" * (30 << 20)))
    assert found(ds) == [(1, codes.JSON_LINE_TOO_LONG)] and ds.bytes == (30 << 20) + 16


def test_binary_garbage():
    ds = lint_manifest(io.BytesIO(bytes(range(256)) * 4000))
    assert ds.invalid == ds.lines and terminal(ds)[0] == "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
