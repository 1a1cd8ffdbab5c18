"""Read a Rekognition manifest_summary.json: totals per dataset, terminal errors, the 20% rule."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bot.errors import InputError
from bot.manifests.codes import INVALID_SHARE_LIMIT, canonical

# A real summary is small (one index per invalid line: 500,000 rows make ~10 MB at most); this
# only stops someone feeding a huge file that merely starts like one.
MAX_SUMMARY_BYTES = 32 << 20
SHOWN_INDICES = 100
MAX_TEXT = 500
MAX_ISSUES = 1000
COUNTS = ("total_json_lines", "valid_json_lines", "invalid_json_lines", "ignored_json_lines")
_CODE = re.compile(rb'"code"\s*:\s*"((?:[^"\\\n]|\\.){1,200})"')
# The index arrays are the bulk of a big summary: they are counted in the text, not parsed.
_INDICES = re.compile(rb'("error_(?:json_)?line_indices"\s*:\s*)\[([^\[\]{}"]*)\]')


@dataclass(frozen=True)
class Issue:
    """A terminal error code from the summary; scope is training, testing, or both (top level)."""

    scope: str
    code: str
    message: str
    line: int  # line of the summary file where the code appears; 0 when not found


@dataclass
class DatasetSummary:
    name: str
    use_case: str | None = None
    total_json_lines: int | None = None
    valid_json_lines: int | None = None
    invalid_json_lines: int | None = None
    ignored_json_lines: int | None = None
    error_json_line_indices: list[int] = field(default_factory=list)  # the first SHOWN_INDICES
    error_json_line_count: int = 0
    errors: list[Issue] = field(default_factory=list)

    @property
    def invalid_share(self) -> float | None:
        """Invalid lines over all lines; ignored (warning-only) lines are not invalid (S3 L5573)."""
        if not self.total_json_lines or self.invalid_json_lines is None:
            return None
        return self.invalid_json_lines / self.total_json_lines

    @property
    def over_limit(self) -> bool:
        share = self.invalid_share
        return share is not None and share > INVALID_SHARE_LIMIT

    def to_json(self) -> dict[str, Any]:
        share = self.invalid_share
        return {
            "use_case": self.use_case,
            **{k: getattr(self, k) for k in COUNTS},
            "invalid_share": round(share, 4) if share is not None else None,
            "over_invalid_limit": self.over_limit,
            "error_json_line_count": self.error_json_line_count,
            "error_json_line_indices": self.error_json_line_indices,
            "errors": [{"code": e.code, "message": e.message} for e in self.errors],
        }


@dataclass
class SummaryReport:
    datasets: list[DatasetSummary]
    errors: list[Issue]  # top level: errors that span the training and test datasets
    problems: list[str]  # what in the file is not as documented
    kind: str = "manifest_summary"

    @property
    def terminal(self) -> list[Issue]:
        """Every error code in a summary is a terminal manifest content error (catalog §6.6)."""
        return self.errors + [e for d in self.datasets for e in d.errors]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "invalid_share_limit": INVALID_SHARE_LIMIT,
            "datasets": {d.name: d.to_json() for d in self.datasets},
            "errors": [{"code": e.code, "message": e.message} for e in self.errors],
            "terminal_errors": [{"scope": e.scope, "code": e.code, "message": e.message} for e in self.terminal],
            "problems": self.problems,
        }


def parse_summary(data: bytes) -> SummaryReport:
    """A manifest_summary.json as a report; raises InputError when it is not valid JSON."""
    try:
        doc = json.loads(_INDICES.sub(_count_indices, data).decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise InputError(f"manifest_summary.json is not UTF-8 ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise InputError(f"manifest_summary.json is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})",
                         hint="download it again; a truncated copy cannot be read") from None
    except RecursionError:
        raise InputError("manifest_summary.json is nested too deeply to be a manifest summary") from None
    if not isinstance(doc, dict):
        raise InputError(f"manifest_summary.json: expected an object at the top level, got {type(doc).__name__}")
    problems: list[str] = []
    lines = _code_lines(data)
    errors = _issues(doc.get("errors"), "both", "errors", lines, problems)
    stats = doc.get("statistics")
    datasets: list[DatasetSummary] = []
    if not isinstance(stats, dict):
        problems.append("statistics: missing or not an object")
        stats = {}
    elif "errors" in stats and "errors" not in doc:  # the seed's format block nests it here (catalog §7.1)
        errors = _issues(stats.get("errors"), "both", "statistics.errors", lines, problems)
    for name in ("training", "testing"):
        section = stats.get(name)
        if section is None:
            continue
        if not isinstance(section, dict):
            problems.append(f"statistics.{name}: not an object")
            continue
        datasets.append(_dataset(name, section, lines, problems))
    if not datasets:
        problems.append("statistics has neither training nor testing")
    return SummaryReport(datasets, errors, problems)


def _dataset(name: str, section: dict, lines: dict[str, list[int]], problems: list[str]) -> DatasetSummary:
    d = DatasetSummary(name, use_case=_text(section.get("use_case")) or None)
    for key in COUNTS:
        value = section.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            setattr(d, key, value)
        elif value is not None:
            problems.append(f"statistics.{name}.{key}: not a count ({_text(value)[:40]!r})")
    indices = section.get("error_json_line_indices", section.get("error_line_indices"))
    if isinstance(indices, dict) and set(indices) == {"count", "first"}:  # counted by _count_indices
        d.error_json_line_count, indices = indices["count"], indices["first"]
    elif isinstance(indices, list):
        d.error_json_line_count = len(indices)
    elif indices is not None:
        problems.append(f"statistics.{name}.error_json_line_indices: not a list")
    if isinstance(indices, list):
        d.error_json_line_indices = [i for i in indices[:SHOWN_INDICES] if isinstance(i, int) and not isinstance(i, bool)]
    d.errors = _issues(section.get("errors"), name, f"statistics.{name}.errors", lines, problems)
    counted = [getattr(d, k) for k in COUNTS[1:]]
    if d.total_json_lines is not None and None not in counted and sum(counted) != d.total_json_lines:
        problems.append(f"statistics.{name}: valid + invalid + ignored = {sum(counted)}, but total_json_lines = {d.total_json_lines}")
    return d


def _issues(raw: Any, scope: str, where: str, lines: dict[str, list[int]], problems: list[str]) -> list[Issue]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{where}: not a list")
        return []
    out = []
    if len(raw) > MAX_ISSUES:
        problems.append(f"{where}: {len(raw):,} entries; the first {MAX_ISSUES:,} are read")
    for i, item in enumerate(raw[:MAX_ISSUES]):
        code = _text(item.get("code")) if isinstance(item, dict) else ""
        if not code:
            problems.append(f"{where}[{i}]: no code")
            continue
        code = canonical(code[:200])
        where_found = lines.get(code, [])
        out.append(Issue(scope, code, _text(item.get("message"))[:MAX_TEXT],
                         where_found.pop(0) if where_found else 0))
    return out


def _count_indices(m: re.Match) -> bytes:
    """An index array as {"count": N, "first": [...]}: a million indices cost no memory."""
    body = m.group(2)
    count = body.count(b",") + 1 if body.strip() else 0
    head = body[: SHOWN_INDICES * 64]
    if len(head) < len(body):
        head = head[: head.rfind(b",")]  # do not cut a number in two
    first = [p.strip() for p in head.split(b",")[:SHOWN_INDICES]]
    first = [p for p in first if p.lstrip(b"-").isdigit()]
    return m.group(1) + b'{"count": %d, "first": [%s]}' % (count, b", ".join(first))


def _code_lines(data: bytes) -> dict[str, list[int]]:
    """Where each `"code": "…"` sits in the file, so evidence can point at a line."""
    out: dict[str, list[int]] = {}
    line, pos = 1, 0
    for m in _CODE.finditer(data):
        line += data.count(b"\n", pos, m.start())
        pos = m.start()
        code = m.group(1).decode("utf-8", "replace")
        out.setdefault(canonical(code), []).append(line)
    return out


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))
