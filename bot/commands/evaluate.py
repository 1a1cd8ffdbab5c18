"""`eval`: how well diagnosis generalises, measured on a corpus of real failure texts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.commands.diagnose import diagnose_text
from bot.errors import InputError, field_path
from bot.playbooks import cached
from bot.playbooks.model import Service

NONE = "none"


class Case(BaseModel):
    """One corpus file: a text people really pasted, and what it should give."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expected: str = Field(min_length=1)
    service: Service | None
    lang: Literal["en", "ja"]
    source: str = Field(pattern=r"^https?://\S+$")
    why: str = Field(min_length=1)
    text: str = Field(min_length=1)

    @field_validator("expected")
    @classmethod
    def _id_or_none(cls, v: str) -> str:
        if v != NONE and v not in {pb.id for pb in cached()}:
            raise ValueError(f"no playbook has id {v!r} (use an existing id or 'none')")
        return v

    @property
    def positive(self) -> bool:
        return self.expected != NONE


def load_corpus(directory: Path) -> list[tuple[str, Case]]:
    """Every *.yaml case under `directory`, validated; an error names the file and the field."""
    if not directory.is_dir():
        raise InputError(f"{directory}: corpus directory not found")
    cases = []
    for path in sorted(directory.rglob("*.yaml")):
        name = str(path.relative_to(directory))
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as e:
            raise InputError(f"{path}: not a readable YAML case: {str(e).splitlines()[0]}") from None
        if not isinstance(raw, dict):
            raise InputError(f"{path}: expected a mapping with expected, service, lang, source, why, text")
        try:
            cases.append((name, Case.model_validate(raw)))
        except ValidationError as e:
            problems = "; ".join(f"{field_path(err['loc'])}: {err['msg']}" for err in e.errors())
            raise InputError(f"{path}: {problems}") from None
    if not cases:
        raise InputError(f"{directory}: no *.yaml cases found")
    return cases


@dataclass(frozen=True)
class Outcome:
    name: str
    case: Case
    hinted: bool
    got: str  # the top-1 playbook id, or "none"

    @property
    def ok(self) -> bool:
        return self.got == self.case.expected


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    @property
    def rate(self) -> float:
        return self.right / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"right": self.right, "total": self.total, "rate": round(self.rate, 4)}


@dataclass
class Mode:
    """Figures for one way of running the corpus: with the service hint, or without."""

    hinted: bool
    top1: Tally = field(default_factory=Tally)
    false_positives: Tally = field(default_factory=Tally)  # right = negatives that got a diagnosis
    by_service: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_lang: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    misses: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        case = outcome.case
        if case.positive:
            self.top1.add(outcome.ok)
            self.by_service[case.service or "unnamed"].add(outcome.ok)
        else:
            self.false_positives.add(not outcome.ok)
        self.by_lang[case.lang].add(outcome.ok)
        if not outcome.ok:
            self.misses.append(outcome)

    def to_json(self) -> dict[str, Any]:
        return {
            "top1": self.top1.to_json(),
            "false_positives": self.false_positives.to_json(),
            "by_service": {k: v.to_json() for k, v in sorted(self.by_service.items())},
            "by_lang": {k: v.to_json() for k, v in sorted(self.by_lang.items())},
            "misses": [
                {"case": m.name, "expected": m.case.expected, "got": m.got, "service": m.case.service, "source": m.case.source}
                for m in self.misses
            ],
        }


@dataclass
class EvalResult:
    cases: int
    positives: int
    negatives: int
    modes: list[Mode]

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "positives": self.positives,
            "negatives": self.negatives,
            **{("hint" if m.hinted else "no_hint"): m.to_json() for m in self.modes},
        }


def top1(case: Case, *, hinted: bool) -> str:
    """The id the engine puts first for this case, or "none"."""
    result = diagnose_text(case.text, service=case.service if hinted else None, top=1)
    return result.matches[0].id if result.matches else NONE


def evaluate(directory: Path, *, hint: bool = True, no_hint: bool = True) -> EvalResult:
    """Run every case with the service hint, without it, or both."""
    cases = load_corpus(directory)
    modes = [Mode(hinted=h) for h, on in ((True, hint), (False, no_hint)) if on]
    for mode in modes:
        for name, case in cases:
            mode.add(Outcome(name, case, mode.hinted, top1(case, hinted=mode.hinted)))
    positives = sum(c.positive for _, c in cases)
    return EvalResult(len(cases), positives, len(cases) - positives, modes)
