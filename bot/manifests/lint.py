"""Pre-flight lint of a SageMaker Ground Truth manifest for Rekognition Custom Labels.

Reports, line by line, the codes Rekognition would report, and predicts the terminal errors
(more than 20% invalid lines, label counts, buckets, quotas) that would fail the import or the
training. Streams the file: memory holds counters, one 8-byte hash per image, and the labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from bot.manifests import codes as C
from bot.manifests.reader import LineReader
from bot.manifests.rules import check_labels, check_source_ref

MAX_READ = 4 * C.MAX_JSON_LINE_CHARS + 8  # 100,000 characters are at most 400,000 bytes of UTF-8
MAX_TRACKED_REFS = 4_000_000  # 16x the rows quota; past it duplicates are no longer tracked
MAX_LABELS = 10_000
MAX_BUCKETS = 100
SAMPLES = 5
WARNING_CODES = frozenset({C.TOO_MANY_LABELS_PER_IMAGE, C.TEST_IMAGES_IN_TRAINING})
MODEL_TYPES = ("classification", "detection")


def severity(code: str, line: int) -> str:
    if line == 0:
        return "terminal"
    return "warning" if C.is_warning(code) or code in WARNING_CODES else "error"


@dataclass(frozen=True)
class Finding:
    line: int  # 0: the whole file
    code: str
    level: str  # file, line, attribute, metadata, annotation
    detail: str
    source_ref: str | None = None

    @property
    def severity(self) -> str:
        return severity(self.code, self.line)

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "severity": self.severity, "level": self.level,
                "detail": self.detail, "source_ref": self.source_ref, "playbook": C.playbook_id(self.code)}


@dataclass
class CodeCount:
    code: str
    count: int = 0
    lines: int = 0
    first_lines: list[int] = field(default_factory=list)
    last: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "severity": severity(self.code, 1), "count": self.count, "lines": self.lines,
                "first_lines": self.first_lines, "message": C.MESSAGES.get(self.code, ""),
                "playbook": C.playbook_id(self.code)}


@dataclass
class DatasetLint:
    """The lint of one manifest (the training or the test dataset)."""

    role: str
    path: str
    max_findings: int = 200
    model_type: str | None = None
    model_type_source: str = "inferred"  # given (--type), inferred (from the valid lines), training
    bytes: int = 0
    lines: int = 0
    invalid: int = 0
    ignored: int = 0
    removed: int = 0  # lines a dataset import drops silently (no code): bad JSON, source-ref, duplicates
    valid_by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODEL_TYPES, 0))
    labels_by_type: dict[str, dict[str, int]] = field(default_factory=lambda: {t: {} for t in MODEL_TYPES})
    labels_capped: bool = False
    buckets: dict[str, list[int]] = field(default_factory=dict)  # bucket -> [lines, first line]
    findings: list[Finding] = field(default_factory=list)
    findings_total: int = 0
    counts: dict[str, CodeCount] = field(default_factory=dict)
    terminal: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refs: set[int] = field(default_factory=set, repr=False)

    @property
    def valid(self) -> int:
        return self.valid_by_type[self.model_type] if self.model_type else 0

    @property
    def excluded(self) -> int:
        """Valid lines of the other model type: Rekognition does not use them."""
        return sum(self.valid_by_type.values()) - self.valid

    @property
    def labels(self) -> dict[str, int]:
        return self.labels_by_type[self.model_type] if self.model_type else {}

    @property
    def invalid_share(self) -> float | None:
        """Invalid over all lines: blank and invalid lines count as dataset objects (S3 L3363)."""
        return self.invalid / self.lines if self.lines else None

    def report(self, line: int, code: str, level: str, detail: str, ref: str | None = None) -> None:
        count = self.counts.get(code) or self.counts.setdefault(code, CodeCount(code))
        count.count += 1
        if count.last != line:
            count.last = line
            count.lines += 1
            if len(count.first_lines) < SAMPLES:
                count.first_lines.append(line)
        self.findings_total += 1
        if len(self.findings) < self.max_findings:
            self.findings.append(Finding(line, code, level, detail, ref[:300] if ref else None))

    def fail(self, code: str, detail: str) -> None:
        self.terminal.append(Finding(0, code, "file", detail))

    def to_json(self) -> dict[str, Any]:
        share = self.invalid_share
        names = sorted(self.labels.items(), key=lambda kv: (-kv[1], kv[0]))[:300]
        return {
            "path": self.path,
            "bytes": self.bytes,
            "lines": self.lines,
            "model_type": self.model_type,
            "model_type_source": self.model_type_source,
            "valid_lines_by_type": dict(self.valid_by_type),
            "valid": self.valid,
            "invalid": self.invalid,
            "ignored": self.ignored,
            "excluded": self.excluded,
            "removed": self.removed,
            "invalid_share": round(share, 4) if share is not None else None,
            "invalid_share_limit": C.INVALID_SHARE_LIMIT,
            "labels": {"count": len(self.labels), "capped": self.labels_capped, "images_per_label": dict(names)},
            "buckets": {b: {"lines": v[0], "first_line": v[1]} for b, v in self.buckets.items()},
            "terminal_errors": [f.to_json() for f in self.terminal],
            "codes": [c.to_json() for c in self.ordered_counts()],
            "findings": [f.to_json() for f in self.findings],
            "findings_total": self.findings_total,
            "notes": self.notes,
        }

    def ordered_counts(self) -> list[CodeCount]:
        return sorted(self.counts.values(), key=lambda c: (-c.count, c.code))


@dataclass
class LintReport:
    training: DatasetLint
    testing: DatasetLint | None = None
    cross: list[Finding] = field(default_factory=list)  # terminal errors that span both manifests
    overlap: dict[str, Any] | None = None

    @property
    def terminal(self) -> list[tuple[str, Finding]]:
        out = [(d.role, f) for d in (self.training, self.testing) if d for f in d.terminal]
        return out + [("both", f) for f in self.cross]

    @property
    def exit_code(self) -> int:
        return 1 if self.terminal else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.terminal,
            "terminal_errors": [{"dataset": role, **f.to_json()} for role, f in self.terminal],
            "training": self.training.to_json(),
            "testing": self.testing.to_json() if self.testing else None,
            "label_overlap": self.overlap,
            "not_checked": [{"code": code, "why": why} for code, why in C.NOT_CHECKED.items()],
        }


def lint_manifest(
    stream: BinaryIO,
    *,
    path: str = "-",
    role: str = "training",
    model_type: str | None = None,
    max_findings: int = 200,
    training: DatasetLint | None = None,
) -> DatasetLint:
    """Lint one manifest; with `training`, also look for its images and labels in the test set."""
    if model_type is not None and model_type not in MODEL_TYPES:
        raise ValueError(f"model type must be one of {MODEL_TYPES}")
    ds = DatasetLint(role, path, max_findings, model_type, "given" if model_type else "inferred")
    reader = LineReader(stream, MAX_READ)
    for n, raw, size in reader:
        _line(ds, n, raw, size, training)
    ds.bytes, ds.lines = reader.bytes, reader.lines
    _finish(ds)
    return ds


def lint_pair(training: BinaryIO, testing: BinaryIO | None = None, *, paths: tuple[str, str] = ("-", "-"),
              model_type: str | None = None, max_findings: int = 200) -> LintReport:
    """Lint a training manifest and optionally its test manifest, with the cross-dataset rules."""
    train = lint_manifest(training, path=paths[0], model_type=model_type, max_findings=max_findings)
    report = LintReport(train)
    if testing is None:
        return report
    test = lint_manifest(testing, path=paths[1], role="testing", model_type=train.model_type,
                         max_findings=max_findings, training=train)
    test.model_type_source = "given" if model_type else "training"
    report.testing = test
    train_labels, test_labels = set(train.labels), set(test.labels)
    if train_labels:
        common = train_labels & test_labels
        share = len(common) / len(train_labels)  # (common labels) / (training labels), S3 L3364
        report.overlap = {"share": round(share, 4), "minimum": C.MIN_LABEL_OVERLAP, "common": len(common),
                          "training_labels": len(train_labels), "test_labels": len(test_labels),
                          "training_only": sorted(train_labels - test_labels)[:20],
                          "test_only": sorted(test_labels - train_labels)[:20]}
        if share < C.MIN_LABEL_OVERLAP:
            report.cross.append(Finding(0, "ERROR_INSUFFICIENT_LABEL_OVERLAP", "file",
                                        f"{len(common)} of {len(train_labels)} training labels are in the test manifest "
                                        f"({share:.0%}; at least {C.MIN_LABEL_OVERLAP:.0%} needed)"))
    return report


def _line(ds: DatasetLint, n: int, raw: bytes, size: int, training: DatasetLint | None) -> None:
    if size > MAX_READ or len(raw) > C.MAX_JSON_LINE_CHARS:
        chars = len(raw.decode("utf-8", "replace")) if size <= MAX_READ else None
        if chars is None or chars > C.MAX_JSON_LINE_CHARS:
            what = f"{chars:,} characters" if chars else f"{size:,} bytes"
            _drop(ds, n, C.JSON_LINE_TOO_LONG, f"{what}; the maximum is {C.MAX_JSON_LINE_CHARS:,} characters")
            return
    if not raw.strip():
        _drop(ds, n, "ERROR_INVALID_JSON_LINE", "blank line (blank lines count as invalid rows)")
        return
    try:
        obj = json.loads(raw, parse_constant=_not_json)
    except UnicodeDecodeError as e:
        _drop(ds, n, "ERROR_INVALID_JSON_LINE", f"not UTF-8 ({e.reason} at byte {e.start})")
        return
    except json.JSONDecodeError as e:
        _drop(ds, n, "ERROR_INVALID_JSON_LINE", f"not JSON: {e.msg} at column {e.colno}")
        return
    except (ValueError, RecursionError) as e:
        _drop(ds, n, "ERROR_INVALID_JSON_LINE", f"not JSON: {e}"[:200])
        return
    if not isinstance(obj, dict):
        _drop(ds, n, "ERROR_INVALID_JSON_LINE", f"a JSON {type(obj).__name__}, not an object")
        return
    problem, bucket = check_source_ref(obj)
    if problem is not None:
        _drop(ds, n, problem.code, problem.detail)
        return
    ref: str = obj["source-ref"]
    _bucket(ds, n, bucket)
    key = hash(ref)
    if key in ds.refs:
        _drop(ds, n, C.DUPLICATE_SOURCE_REF, "this source-ref is already on an earlier line", ref)
        return
    if len(ds.refs) < MAX_TRACKED_REFS:
        ds.refs.add(key)
    elif len(ds.notes) < 20 and not any("duplicate" in x for x in ds.notes):
        ds.notes.append(f"duplicate source-refs were checked for the first {MAX_TRACKED_REFS:,} images only")
    if training is not None and key in training.refs:
        ds.report(n, C.TEST_IMAGES_IN_TRAINING, "line", "this image is also in the training manifest", ref)
    result = check_labels(obj)
    for p in result.problems:
        ds.report(n, p.code, p.level, p.detail, ref)
    per_image = sum(len(v) for v in result.labels.values())
    if per_image > C.MAX_LABELS_PER_IMAGE:
        ds.report(n, C.TOO_MANY_LABELS_PER_IMAGE, "line", f"{per_image} labels (max {C.MAX_LABELS_PER_IMAGE})", ref)
    if result.status == "invalid":
        ds.invalid += 1
    elif result.status == "ignored":
        ds.ignored += 1
    else:
        ds.valid_by_type["detection" if "detection" in result.labels else "classification"] += 1
        for kind, labels in result.labels.items():
            _labels(ds, kind, labels)


def _not_json(name: str) -> None:
    """NaN and Infinity are Python's extensions, not JSON."""
    raise ValueError(f"{name} is not JSON")


def _drop(ds: DatasetLint, n: int, code: str, detail: str, ref: str | None = None) -> None:
    """A line Rekognition cannot use at all (and a dataset import removes without a word)."""
    ds.invalid += 1
    ds.removed += 1
    ds.report(n, code, "line", detail, ref)


def _bucket(ds: DatasetLint, n: int, bucket: str | None) -> None:
    seen = ds.buckets.get(bucket or "")
    if seen is not None:
        seen[0] += 1
    elif len(ds.buckets) < MAX_BUCKETS:
        ds.buckets[bucket or ""] = [1, n]


def _labels(ds: DatasetLint, kind: str, labels: set[str]) -> None:
    known = ds.labels_by_type[kind]
    for label in labels:
        if label in known:
            known[label] += 1
        elif len(known) < MAX_LABELS:
            known[label] = 1
        else:
            ds.labels_capped = True


def _lines(n: int) -> str:
    return f"{n:,} line{'s' if n != 1 else ''}"


def _finish(ds: DatasetLint) -> None:
    """Choose the model type and predict the terminal, whole-file errors."""
    if ds.model_type is None and any(ds.valid_by_type.values()):
        ds.model_type = max(MODEL_TYPES, key=lambda t: ds.valid_by_type[t])
    if ds.bytes > C.MAX_MANIFEST_BYTES:
        ds.fail("ERROR_MANIFEST_SIZE_TOO_LARGE", f"{ds.bytes:,} bytes; the maximum is 1 GB")
    if ds.bytes == 0:
        ds.fail(C.MANIFEST_EMPTY, "the manifest has no lines")
        return
    if ds.lines > C.MAX_ROWS:
        more = (f"; classification allows up to {C.MAX_ROWS_CLASSIFICATION_RAISED:,} after a quota increase"
                if ds.model_type != "detection" else "")
        ds.fail("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", f"{ds.lines:,} lines; the default maximum is {C.MAX_ROWS:,}{more}")
    small = C.MAX_ROWS_SMALL_REGIONS[ds.role]
    if ds.lines > small:
        ds.notes.append(f"{ds.lines:,} lines: over the {small:,} {ds.role} images allowed in ap-south-1 (Mumbai) "
                        "and eu-west-2 (London), where the quota cannot be raised")
    share = ds.invalid_share or 0.0
    if share > C.INVALID_SHARE_LIMIT:
        ds.fail("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
                f"{ds.invalid:,} of {_lines(ds.lines)} are invalid ({share:.1%}; the limit is {C.INVALID_SHARE_LIMIT:.0%})")
    if ds.removed / ds.lines > C.INVALID_SHARE_LIMIT:
        ds.fail("ERROR_TOO_MANY_RECORDS_IN_ERROR",
                f"{ds.removed:,} of {_lines(ds.lines)} would be removed at import (broken JSON, source-ref, duplicates)")
    if len(ds.buckets) > 1:
        top = sorted(ds.buckets.items(), key=lambda kv: -kv[1][0])
        listed = ", ".join(f"{b} ({_lines(v[0])} from line {v[1]})" for b, v in top[:5])
        ds.fail("ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS", f"images in {len(top)}{'+' if len(top) >= MAX_BUCKETS else ''} buckets: {listed}")
    if ds.excluded:
        other = next(t for t in MODEL_TYPES if t != ds.model_type)
        ds.notes.append(f"{ds.excluded:,} valid lines are {other} lines; a {ds.model_type} model does not use them")
    count = len(ds.labels)
    if ds.labels_capped or count > C.MAX_UNIQUE_LABELS:
        ds.fail("ERROR_MANIFEST_TOO_MANY_LABELS",
                f"{'over ' + format(MAX_LABELS, ',') if ds.labels_capped else count} unique labels; the maximum is {C.MAX_UNIQUE_LABELS}")
    minimum = C.MIN_UNIQUE_LABELS[ds.model_type or "detection"]
    if count < minimum:
        code = "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS" if ds.excluded else "ERROR_MANIFEST_TOO_FEW_LABELS"
        kind = ds.model_type or "any"
        ds.fail(code, f"{count} unique label{'s' if count != 1 else ''} on valid lines; a {kind} dataset needs at least {minimum}")
