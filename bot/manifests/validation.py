"""Streaming analysis of a validation-results manifest (training/testing_manifest_with_validation.json).

One pass, constant memory: per code only counts, the first message and the first few lines
are kept, and the number of distinct codes is bounded, so a 1 GB file or a million bad rows
costs the same few MB as a small one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from bot.manifests.codes import INVALID_SHARE_LIMIT, canonical, is_warning, playbook_id
from bot.manifests.reader import line_blocks

MAX_LINE_BYTES = 8 << 20  # an input line is at most 100,000 characters; validation adds the errors
MAX_CODES = 500
SAMPLES = 5
MAX_TEXT = 300
ERROR_KEYS = ("errors", "cl-errors")
WARNING_KEYS = ("warnings", "cl-warnings")
_LINE_KEYS = frozenset({"source-ref", "cl-metadata", *ERROR_KEYS, *WARNING_KEYS})
OTHER = "(other codes)"


@dataclass(frozen=True)
class Sample:
    line: int
    source_ref: str | None
    message: str


@dataclass
class CodeStat:
    """One error or warning code: how often, at which levels, and its first lines."""

    code: str
    count: int = 0
    lines: int = 0
    levels: set[str] = field(default_factory=set)
    message: str = ""
    samples: list[Sample] = field(default_factory=list)
    last_line: int = 0

    @property
    def severity(self) -> str:
        return "warning" if is_warning(self.code) else "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "count": self.count,
            "lines": self.lines,
            "levels": sorted(self.levels),
            "message": self.message,
            "playbook": playbook_id(self.code) if self.code != OTHER else None,
            "first_lines": [{"line": s.line, "source_ref": s.source_ref, "message": s.message} for s in self.samples],
        }


@dataclass
class ValidationReport:
    kind: str = "validation_manifest"
    bytes: int = 0
    lines: int = 0
    valid: int = 0
    invalid: int = 0
    ignored: int = 0
    partially_valid: int = 0  # valid lines that lost an annotation or a label attribute
    blank: int = 0
    unreadable: int = 0
    unreadable_samples: list[tuple[int, str]] = field(default_factory=list)
    first_invalid_line: int = 0
    codes: list[CodeStat] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.valid + self.invalid + self.ignored

    @property
    def invalid_share(self) -> float | None:
        """Invalid lines over all readable lines; warning-only (ignored) lines are not invalid."""
        return self.invalid / self.records if self.records else None

    @property
    def over_limit(self) -> bool:
        share = self.invalid_share
        return share is not None and share > INVALID_SHARE_LIMIT

    @property
    def errors(self) -> list[CodeStat]:
        return [c for c in self.codes if c.severity == "error"]

    @property
    def warnings(self) -> list[CodeStat]:
        return [c for c in self.codes if c.severity == "warning"]

    def to_json(self) -> dict[str, Any]:
        share = self.invalid_share
        predicted = (
            [{"code": "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", "predicted": True}] if self.over_limit else []
        )
        return {
            "kind": self.kind,
            "lines": self.lines,
            "records": self.records,
            "valid": self.valid,
            "invalid": self.invalid,
            "ignored": self.ignored,
            "partially_valid": self.partially_valid,
            "blank": self.blank,
            "unreadable": self.unreadable,
            "unreadable_lines": [{"line": n, "reason": r} for n, r in self.unreadable_samples],
            "invalid_share": round(share, 4) if share is not None else None,
            "invalid_share_limit": INVALID_SHARE_LIMIT,
            "over_invalid_limit": self.over_limit,
            "terminal_errors": predicted,
            "codes": [c.to_json() for c in self.codes],
        }


class _Tally:
    """Per-code counters, bounded in the number of codes and of samples per code."""

    def __init__(self) -> None:
        self.stats: dict[str, CodeStat] = {}

    def add(self, code: str, message: str, level: str, line: int, source_ref: str | None) -> None:
        stat = self.stats.get(code)
        if stat is None:
            if len(self.stats) >= MAX_CODES:
                code = OTHER  # a hostile file cannot grow this table without bound
                stat = self.stats.get(code)
            if stat is None:
                stat = self.stats[code] = CodeStat(code, message=message)
        stat.count += 1
        stat.levels.add(level)
        if stat.last_line != line:
            stat.last_line = line
            stat.lines += 1
            if len(stat.samples) < SAMPLES:
                stat.samples.append(Sample(line, source_ref, message))

    def ordered(self) -> list[CodeStat]:
        return sorted(self.stats.values(), key=lambda s: (s.code == OTHER, -s.count, s.code))


def _entries(container: dict, keys: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(code, message) of the validation entries under `keys` of one JSON object."""
    for key in keys:
        items = container.get(key)
        if not items:
            continue
        if not isinstance(items, list):
            items = [items]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("code"), str) and item["code"].strip():
                message = item.get("message")
                yield (canonical(item["code"].strip()[:100]),
                       " ".join(message.split())[:MAX_TEXT] if isinstance(message, str) else "")
            else:
                yield "(malformed entry)", str(item)[:MAX_TEXT]


def analyse(stream: BinaryIO, kind: str = "validation_manifest") -> ValidationReport:
    """Read a validation manifest once and count its valid, invalid and ignored lines and every code."""
    report = ValidationReport(kind=kind)
    tally = _Tally()
    n = total = 0
    for buf, start, end, skipped in line_blocks(stream, MAX_LINE_BYTES):
        if skipped:
            n, total = n + 1, total + skipped
            _unreadable(report, n, f"line of {skipped:,} bytes, over the {MAX_LINE_BYTES >> 20} MB bound")
            continue
        total += end - start
        newlines = buf.count(b"\n", start, end)
        count = newlines + (buf[end - 1 : end] != b"\n")
        if _clean(buf, start, end, newlines):
            _sparse(report, tally, buf, start, end, n, count)
        else:
            for i, line in enumerate(buf[start:end].split(b"\n")[:count], n + 1):
                _line(report, tally, i, line.rstrip(b"\r"))
        n += count
    report.bytes, report.lines = total, n
    report.codes = tally.ordered()
    return report


def _clean(buf: bytes, start: int, end: int, newlines: int) -> bool:
    """True when every line in buf[start:end] is one `{…}` of UTF-8: only lines with "code" need parsing."""
    if buf[start : start + 1] != b"{" or (buf[end - 2 : end] != b"}\n" and buf[end - 3 : end] != b"}\r\n"):
        return False
    # One count checks every line boundary at once: each inner newline sits between } and {.
    if buf.count(b"}\n{", start, end) != newlines - 1 and (
        b"\r" not in buf or buf.count(b"}\r\n{", start, end) != newlines - 1
    ):
        return False
    # The whole buffer is checked (no copy); a stray byte outside the range only costs the slow path.
    return buf.isascii() or _is_utf8(buf[start:end])


def _sparse(report: ValidationReport, tally: _Tally, buf: bytes, start: int, end: int, n: int, count: int) -> None:
    """Parse only the lines that hold a "code" key; without one, a line has no error or warning."""
    parsed = 0
    seen, before = start, 0
    find, rfind = buf.find, buf.rfind
    pos = find(b'"code"', start, end)
    while pos >= 0:
        first = rfind(b"\n", start, pos) + 1 or start
        last = find(b"\n", pos, end)
        before += buf.count(b"\n", seen, first)
        seen = first
        _line(report, tally, n + before + 1, buf[first:last].rstrip(b"\r"))
        parsed += 1
        pos = find(b'"code"', last, end)
    report.valid += count - parsed


def _line(report: ValidationReport, tally: _Tally, n: int, line: bytes) -> None:
    if len(line) > MAX_LINE_BYTES:
        _unreadable(report, n, f"line of {len(line):,} bytes, over the {MAX_LINE_BYTES >> 20} MB bound")
        return
    # Without a "code" key no error or warning entry can be on the line.
    if b'"code"' not in line and line[:1] == b"{" and line[-1:] == b"}" and (line.isascii() or _is_utf8(line)):
        report.valid += 1
        return
    if not line.strip():
        report.blank += 1
        return
    try:
        obj = json.loads(line)
    except UnicodeDecodeError:
        _unreadable(report, n, "not UTF-8")
        return
    except (ValueError, RecursionError):
        _unreadable(report, n, "not JSON")
        return
    if not isinstance(obj, dict):
        _unreadable(report, n, f"a JSON {type(obj).__name__}, not an object")
        return
    _record(report, tally, n, obj)


def _record(report: ValidationReport, tally: _Tally, n: int, obj: dict) -> None:
    """Count one parsed line: its codes at every level, and whether it is valid, invalid or ignored."""
    ref = obj.get("source-ref")
    ref = ref[:MAX_TEXT] if isinstance(ref, str) else None
    line_errors = line_warnings = False
    for code, message in _entries(obj, ERROR_KEYS):
        line_errors = True
        tally.add(code, message, "line", n, ref)
    for code, message in _entries(obj, WARNING_KEYS):
        line_warnings = True
        tally.add(code, message, "line", n, ref)
    attrs: dict[str, list[bool]] = {}  # label attribute -> [has errors, has warnings]
    dropped = False
    for key, value in obj.items():
        if key in _LINE_KEYS or not isinstance(value, dict):
            continue
        is_meta = key.endswith("-metadata")
        state = attrs.setdefault(key[:-9] if is_meta else key, [False, False])
        level = "metadata" if is_meta else "attribute"
        for code, message in _entries(value, ERROR_KEYS):
            state[0] = True
            tally.add(code, message, level, n, ref)
        for code, message in _entries(value, WARNING_KEYS):
            state[1] = True
            tally.add(code, message, level, n, ref)
        annotations = value.get("annotations") if not is_meta else None
        if isinstance(annotations, list):
            for annotation in annotations:
                if isinstance(annotation, dict) and _has_entries(annotation):
                    for code, message in _entries(annotation, ERROR_KEYS + WARNING_KEYS):
                        dropped = True
                        tally.add(code, message, "annotation", n, ref)
    usable = [name for name, (err, warn) in attrs.items() if not err and not warn]
    if line_errors or (attrs and not usable and any(err for err, _ in attrs.values())):
        report.invalid += 1
        report.first_invalid_line = report.first_invalid_line or n
    elif line_warnings or (attrs and not usable):
        report.ignored += 1
    else:
        report.valid += 1
        report.partially_valid += dropped or len(usable) < len(attrs)


def _has_entries(obj: dict) -> bool:
    return bool(obj.get("errors") or obj.get("warnings") or obj.get("cl-errors") or obj.get("cl-warnings"))


def _unreadable(report: ValidationReport, n: int, reason: str) -> None:
    report.unreadable += 1
    if len(report.unreadable_samples) < SAMPLES:
        report.unreadable_samples.append((n, reason))


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
