"""Rekognition manifests: `manifest lint`, and `diagnose` on a manifest summary or validation manifest."""

from __future__ import annotations

import contextlib
import functools
import io
from pathlib import Path
from typing import BinaryIO, ContextManager

from bot.diagnosis import DiagnoseResult, Diagnosis, Evidence, localize, scan_text
from bot.errors import InputError
from bot.manifests import MAX_SUMMARY_BYTES, LintReport, SummaryReport, ValidationReport, analyse, lint_pair, parse_summary, prepend
from bot.manifests.codes import MESSAGES, canonical, is_warning, playbook_id
from bot.manifests.validation import OTHER
from bot.playbooks import Playbook, cached
from bot.redact import redact

TERMINAL_SCORE, ERROR_SCORE, WARNING_SCORE = 100, 80, 50
READ_BYTES = 1 << 20
MIN_RECORDS_TO_PREDICT = 10
MAX_CODES, MAX_EVIDENCE = 50, 5


def lint(path: str, *, test: str | None = None, model_type: str | None = None, max_findings: int = 200,
         stdin: BinaryIO | None = None) -> LintReport:
    """Lint a training manifest (and its test manifest) before Rekognition sees it; "-" reads `stdin`."""
    if path == "-" and test == "-":
        raise InputError("only one of the manifests can come from stdin")
    with _open(path, stdin) as training:
        if test is None:
            return lint_pair(training, paths=(path, "-"), model_type=model_type, max_findings=max_findings)
        with _open(test, stdin) as testing:
            return lint_pair(training, testing, paths=(path, test), model_type=model_type, max_findings=max_findings)


def _open(path: str, stdin: BinaryIO | None) -> ContextManager[BinaryIO]:
    if path == "-":
        if stdin is None:
            raise InputError("- means stdin, but there is no stdin here")
        return contextlib.nullcontext(stdin)
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if not p.is_file():
        raise InputError(f"{path}: not a regular file")
    try:
        return p.open("rb", buffering=READ_BYTES)
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None


def diagnose_manifest(stream: BinaryIO, kind: str, *, service: str | None, lang: str, top: int | None) -> DiagnoseResult:
    """Analyse a manifest summary or a (validation) manifest; its codes become the matches."""
    if kind == "manifest_summary":
        return _summary(stream, service, lang, top)
    report = analyse(stream, kind)
    result = DiagnoseResult(_validation_matches(report, lang)[:top], report.bytes, report.lines, lang)
    return _attach(result, report)


def _summary(stream: BinaryIO, service: str | None, lang: str, top: int | None) -> DiagnoseResult:
    data = stream.read(MAX_SUMMARY_BYTES + 1)
    if len(data) > MAX_SUMMARY_BYTES:
        problem = f"over {MAX_SUMMARY_BYTES >> 20} MB, so not read as a manifest summary"
        text: BinaryIO = prepend(data, stream)
    else:
        try:
            report = parse_summary(data)
        except InputError as e:
            problem, text = e.message, io.BytesIO(data)
        else:
            lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
            result = DiagnoseResult(_summary_matches(report, lang)[:top], len(data), lines, lang)
            return _attach(result, report)
    # Not a readable summary after all: explain it as text, and say why.
    result = scan_text(text, service=service, lang=lang, top=top)
    result.extra["manifest"] = {"kind": "manifest_summary", "problems": [problem]}
    return result


def _attach(result: DiagnoseResult, report: SummaryReport | ValidationReport) -> DiagnoseResult:
    result.report = report
    result.extra["manifest"] = report.to_json()
    return result


def _summary_matches(report: SummaryReport, lang: str) -> list[Diagnosis]:
    """One match per terminal code, top-level (both datasets) first, with the counts as evidence."""
    evidence: dict[str, list[Evidence]] = {}
    for issue in report.terminal:
        if issue.code not in evidence and len(evidence) >= MAX_CODES:
            continue  # a real summary holds a handful of codes; a hostile one cannot flood the answer
        text = f"{issue.scope}: {issue.code}: {issue.message}"
        dataset = next((d for d in report.datasets if d.name == issue.scope), None)
        if issue.code == "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" and dataset and dataset.invalid_share is not None:
            text += (f" ({dataset.invalid_json_lines:,} of {dataset.total_json_lines:,} lines invalid, "
                     f"{dataset.invalid_share:.1%}; the limit is 20%)")
        items = evidence.setdefault(issue.code, [])
        if len(items) < MAX_EVIDENCE:
            items.append(Evidence(issue.line, redact(text)))
    return [_diagnosis(code, ev, TERMINAL_SCORE, lang) for code, ev in evidence.items()]


def _validation_matches(report: ValidationReport, lang: str) -> list[Diagnosis]:
    """The predicted terminal error first, then errors by frequency, then warnings by frequency."""
    out = []
    # A few pasted lines are not a manifest: predict the 20% failure only for a whole file.
    if report.over_limit and report.records >= MIN_RECORDS_TO_PREDICT:
        share = report.invalid_share or 0.0
        text = f"{report.invalid:,} of {report.records:,} lines invalid ({share:.1%}; the limit is 20%)"
        out.append(_diagnosis("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
                              [Evidence(report.first_invalid_line, redact(text))], TERMINAL_SCORE, lang))
    for stat in report.errors + report.warnings:
        if stat.code in (OTHER, "(malformed entry)"):
            continue
        evidence = [Evidence(s.line, redact(f"source-ref {s.source_ref or '(none)'}: {stat.code}: {s.message}".strip()))
                    for s in stat.samples]
        out.append(_diagnosis(stat.code, evidence, WARNING_SCORE if is_warning(stat.code) else ERROR_SCORE, lang))
    return out


def _diagnosis(code: str, evidence: list[Evidence], score: int, lang: str) -> Diagnosis:
    """The code's playbook, or the bare code when no playbook is written for it yet."""
    pb = _playbooks().get(playbook_id(code))
    if pb is not None:
        return localize(pb, score=score, evidence=evidence, lang=lang)
    severity = "critical" if score == TERMINAL_SCORE else ("warning" if is_warning(code) else "error")
    return Diagnosis(id=playbook_id(code), title=canonical(code), summary=MESSAGES.get(code, ""), service="rekognition",
                     severity=severity, score=score, retryable=False, evidence=evidence, steps=[], collect=[])


@functools.lru_cache(maxsize=1)
def _playbooks() -> dict[str, Playbook]:
    return {pb.id: pb for pb in cached()}
