"""`diagnose`: match any pasted text or log file against every playbook."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from bot.playbooks import Engine, Playbook, cached, cached_context
from bot.playbooks.model import SERVICES
from bot.errors import InputError
from bot.manifests import peek_head, sniff
from bot.redact import redact


@dataclass(frozen=True)
class StepView:
    text: str
    run: str | None = None

    def as_text(self) -> str:
        return f"{self.text}\n$ {self.run}" if self.run else self.text


@dataclass(frozen=True)
class Evidence:
    line: int
    text: str


@dataclass(frozen=True)
class Diagnosis:
    """One matched playbook, localized, with redacted evidence."""

    id: str
    title: str
    summary: str
    service: str
    severity: str
    score: int
    retryable: bool
    evidence: list[Evidence]
    steps: list[StepView]
    collect: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "service": self.service,
            "score": self.score,
            "evidence": [{"line": e.line, "text": e.text} for e in self.evidence],
            "retryable": self.retryable,
            "steps": [s.as_text() for s in self.steps],
        }


@dataclass
class DiagnoseResult:
    matches: list[Diagnosis]
    input_bytes: int
    input_lines: int
    lang: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)
    report: Any = None  # a manifest report (bot.manifests) when the input was a Rekognition manifest

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "matches": [m.to_json() for m in self.matches],
            "input": {"bytes": self.input_bytes, "lines": self.input_lines},
        }
        out.update(self.extra)
        return out


def localize(pb: Playbook, *, score: int, evidence: list[Evidence], lang: str) -> Diagnosis:
    """A playbook as a Diagnosis in one language."""
    return Diagnosis(
        id=pb.id,
        title=pb.title.get(lang),
        summary=pb.summary.get(lang),
        service=pb.service,
        severity=pb.severity,
        score=score,
        retryable=pb.retryable,
        evidence=evidence,
        steps=[StepView(s.ja if lang == "ja" else s.en, s.run) for s in pb.steps],
        collect=list(pb.collect),
    )


_ENGINES: dict[str | None, Engine] = {}


def engine(service: str | None = None) -> Engine:
    """The compiled engine for a service selection, built once per process."""
    if service is not None and service not in SERVICES:
        raise InputError(f"unknown service {service!r}", hint=f"use one of: {', '.join(SERVICES)}")
    if service not in _ENGINES:
        _ENGINES[service] = Engine(cached(), service, cached_context())
    return _ENGINES[service]


def check_lang(lang: str) -> str:
    if lang not in ("en", "ja"):
        raise InputError(f"unknown language {lang!r}", hint="use en or ja")
    return lang


def diagnose_stream(
    stream: BinaryIO, *, service: str | None = None, lang: str = "en", top: int | None = None
) -> DiagnoseResult:
    """Diagnose a byte stream of any size; memory stays flat in the input size."""
    check_lang(lang)
    if top is not None and top < 1:
        raise InputError("--top must be 1 or more")
    engine(service)  # an unknown service is an error before any input is read
    if service in (None, "rekognition"):
        # A Rekognition manifest summary or validation manifest is analysed, not grepped:
        # peek at its head (the stream still yields every byte) and route by content.
        head, stream = peek_head(stream)
        kind = sniff(head)
        if kind is not None:
            from bot.commands.manifest import diagnose_manifest  # builds on the types above

            return diagnose_manifest(stream, kind, service=service, lang=lang, top=top)
    return scan_text(stream, service=service, lang=lang, top=top)


def scan_text(stream: BinaryIO, *, service: str | None, lang: str, top: int | None) -> DiagnoseResult:
    """The text matcher: every playbook against every line, in one pass."""
    scan = engine(service).scan(stream)
    found = scan.found[:top] if top else scan.found
    matches = [
        localize(f.playbook, score=f.score, evidence=[Evidence(n, redact(t)) for n, t in f.evidence], lang=lang)
        for f in found
    ]
    return DiagnoseResult(matches, scan.bytes, scan.lines, lang)


def diagnose_text(text: str, **kwargs: Any) -> DiagnoseResult:
    """Diagnose a pasted text (Slack message, modal input)."""
    return diagnose_stream(io.BytesIO(text.encode("utf-8", "replace")), **kwargs)
