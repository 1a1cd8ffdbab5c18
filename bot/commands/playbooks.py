"""`playbooks list|show|lint`: browse and validate the playbook library."""

from __future__ import annotations

import difflib
import io
from dataclasses import dataclass
from pathlib import Path

from bot.errors import InputError, PlaybookError
from bot.playbooks import Engine, Playbook, cached, load_all, load_context
from bot.playbooks.model import ServiceContext
from bot.playbooks.model import service_matches


def list_playbooks(service: str | None = None) -> list[Playbook]:
    return sorted((pb for pb in cached() if service_matches(service, pb.service)), key=lambda pb: pb.id)


def show_playbook(playbook_id: str) -> Playbook:
    by_id = {pb.id: pb for pb in cached()}
    if playbook_id in by_id:
        return by_id[playbook_id]
    close = difflib.get_close_matches(playbook_id, list(by_id), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "run `triage playbooks list` to see every ID"
    raise InputError(f"no playbook has id {playbook_id!r}", hint=hint)


@dataclass
class LintReport:
    playbooks: int
    examples: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def example_problems(playbooks: list[Playbook], context: ServiceContext) -> tuple[int, list[str]]:
    """Every example must match its own playbook first, against the whole library (with its service named, if it names one)."""
    engines: dict[str | None, Engine] = {}
    problems, count = [], 0
    for pb in playbooks:
        for i, example in enumerate(pb.examples):
            count += 1
            if example.service not in engines:
                engines[example.service] = Engine(playbooks, example.service, context)
            found = engines[example.service].scan(io.BytesIO(example.text.encode("utf-8"))).found
            if not found:
                problems.append(f"{pb.id}: examples[{i}]: matches no playbook")
            elif found[0].playbook.id != pb.id:
                ranked = ", ".join(f"{f.playbook.id} ({f.score})" for f in found[:3])
                problems.append(f"{pb.id}: examples[{i}]: first match is {ranked}")
    return count, problems


def lint(directory: Path | None = None) -> LintReport:
    """Validate every file, then check every example; the first load error stops the lint."""
    try:
        playbooks = load_all(directory)
        context = load_context(directory)
    except PlaybookError as e:
        return LintReport(0, 0, [str(e)])
    count, problems = example_problems(playbooks, context)
    return LintReport(len(playbooks), count, problems)
