"""The diagnosis core: localized matches with their evidence, facts and steps; the engine per service.

Providers, the watcher, tickets and the verbs all build diagnoses here; `bot/commands/diagnose.py`
adds only what the verb needs on top (recognising Rekognition manifests in a stream).
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from bot.errors import InputError
from bot.playbooks import Engine, Found, Playbook, cached, cached_context
from bot.playbooks.fields import FACTS
from bot.playbooks.matcher import MAX_LINE_CHARS
from bot.playbooks.model import SERVICES
from bot.playbooks.related import Related, RelatedIndex
from bot.redact import redact
from bot.terminal import safe


# A `run` is a shell command when every line starts with a command word and none is a YAML key,
# a list item or JSON; otherwise it is a file fragment (a conda file, a job YAML, a JSON body).
_SHELL_LINE = re.compile(r"^[A-Za-z_][\w./-]*(\s|$)")
_YAML_KEY = re.compile(r"^\s*[\w.$-]+:(\s|$)")


def is_shell(run: str) -> bool:
    """True when `run` is a command to type, false when it is a fragment of a file."""
    lines = [line for line in run.splitlines() if line.strip()]
    return bool(lines) and all(_SHELL_LINE.match(line) and not _YAML_KEY.match(line) for line in lines)


@dataclass(frozen=True)
class StepView:
    text: str
    run: str | None = None

    @property
    def shell(self) -> bool:
        return self.run is not None and is_shell(self.run)

    def as_text(self) -> str:
        if not self.run:
            return self.text
        if self.shell:
            return self.text + "".join(f"\n$ {line}" for line in self.run.splitlines())
        return f"{self.text}\n" + "\n".join(f"    {line}" for line in self.run.splitlines())


@dataclass(frozen=True)
class Evidence:
    line: int
    text: str
    role: str = "match"  # "match": a line that made the playbook match; "context": the product, the command run


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
    facts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "service": self.service,
            "score": self.score,
            "evidence": [{"line": e.line, "text": e.text, "role": e.role} for e in self.evidence],
            "retryable": self.retryable,
            "steps": [s.as_text() for s in self.steps],
            "facts": dict(self.facts),
        }


@dataclass
class DiagnoseResult:
    matches: list[Diagnosis]
    input_bytes: int
    input_lines: int
    lang: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)
    report: Any = None  # a manifest report (bot.manifests) when the input was a Rekognition manifest

    related: list[Related] = field(default_factory=list)  # closest playbooks when nothing matched: not a diagnosis

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "matches": [m.to_json() for m in self.matches],
            "input": {"bytes": self.input_bytes, "lines": self.input_lines},
        }
        if not self.matches:
            out["related"] = [r.to_json() for r in self.related]
        out.update(self.extra)
        return out


# `{module}` in a step is filled with the fact of that name, or shown as a readable `<module>`;
# the `<endpoint>` style placeholders the steps already use are filled when the fact is known.
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}|<([a-z][a-z_-]*)>")


def fill(text: str, facts: dict[str, str]) -> str:
    """A step with its placeholders filled from the facts read in the text; nothing invented."""

    def sub(m: re.Match) -> str:
        name = (m.group(1) or m.group(2)).replace("-", "_")
        if name in facts:
            return facts[name]
        return f"<{m.group(1)}>" if m.group(1) in FACTS else m.group(0)

    return _PLACEHOLDER.sub(sub, text)


def localize(
    pb: Playbook, *, score: int, evidence: list[Evidence], lang: str, facts: dict[str, str] | None = None
) -> Diagnosis:
    """A playbook as a Diagnosis in one language, its steps filled with the facts read."""
    facts = facts or {}
    return Diagnosis(
        id=pb.id,
        title=pb.title.get(lang),
        summary=pb.summary.get(lang),
        service=pb.service,
        severity=pb.severity,
        score=score,
        retryable=pb.retryable,
        evidence=evidence,
        steps=[StepView(fill(s.ja if lang == "ja" else s.en, facts), fill(s.run, facts) if s.run else None) for s in pb.steps],
        collect=list(pb.collect),
        facts=dict(facts),
    )


_ENGINES: dict[str | None, Engine] = {}
_BUILDING = threading.Lock()
"""Held while an engine or index is built: a sweep's threads that all reach their first diagnosis
at once wait for one build instead of each loading and compiling the library (64 builds, seconds
of CPU, in a 100-target `triage status`)."""


def engine(service: str | None = None) -> Engine:
    """The compiled engine for a service selection, built once per process (thread-safe)."""
    if service is not None and service not in SERVICES:
        raise InputError(f"unknown service {service!r}", hint=f"use one of: {', '.join(SERVICES)}")
    found = _ENGINES.get(service)
    if found is None:
        with _BUILDING:
            if service not in _ENGINES:
                _ENGINES[service] = Engine(cached(), service, cached_context())
            found = _ENGINES[service]
    return found


def check_lang(lang: str) -> str:
    if lang not in ("en", "ja"):
        raise InputError(f"unknown language {lang!r}", hint="use en or ja")
    return lang


def scan_text(stream: BinaryIO, *, service: str | None, lang: str, top: int | None) -> DiagnoseResult:
    """The text matcher: every playbook against every line, in one pass."""
    scan = engine(service).scan(stream)
    found = scan.found[:top] if top else scan.found
    matches = [localize(f.playbook, score=f.score, evidence=evidence_of(f), lang=lang, facts=facts_of(f)) for f in found]
    result = DiagnoseResult(matches, scan.bytes, scan.lines, lang)
    if not matches:
        result.related = related_index(service).rank(scan.head.decode("utf-8", "replace"), lang)
    return result


_RELATED: dict[str | None, RelatedIndex] = {}


def related_index(service: str | None = None) -> RelatedIndex:
    """The BM25 index of the playbooks a service selection covers, built on first need."""
    found = _RELATED.get(service)
    if found is None:
        built = engine(service)
        with _BUILDING:
            if service not in _RELATED:
                _RELATED[service] = RelatedIndex(built.playbooks)
            found = _RELATED[service]
    return found


def evidence_text(line: str) -> str:
    """An evidence line as shown: redacted whole, stripped of escape sequences, then cut."""
    text = safe(redact(line))
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


def evidence_of(f: Found) -> list[Evidence]:
    """A match's evidence lines, redacted, with their role."""
    return [Evidence(n, evidence_text(t), "context" if n in f.context_lines else "match") for n, t in f.evidence]


def facts_of(f: Found) -> dict[str, str]:
    """The facts read for a match, redacted; a fact the redactor changed is dropped, not shown half."""
    out = {}
    for name, value in f.facts:
        clean = redact(value)
        if clean == value:
            out[name] = safe(value)
    return out


def diagnose_log(text: str, *, service: str | None = None, lang: str = "en") -> list[Diagnosis]:
    """The matches for a log or message text, best first; none for a blank text.

    No manifest recognition: pasted texts go through bot.commands.diagnose, which has it.
    """
    if not text.strip():
        return []
    check_lang(lang)
    return scan_text(io.BytesIO(text.encode("utf-8", "replace")), service=service, lang=lang, top=None).matches
