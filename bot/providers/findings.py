"""Turn what a provider read (a status line, a summary, a count) into playbook matches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from bot.diagnosis import Diagnosis, Evidence, diagnose_log, engine, localize
from bot.redact import redact

MAX_EVIDENCE = 6


def diagnose_lines(lines: Iterable[str], service: str, lang: str) -> list[Diagnosis]:
    """Diagnose synthesized text (one fact per line), as if a person had pasted it."""
    text = "\n".join(line.replace("\n", " ") for line in lines)
    return diagnose_log(text, service=service, lang=lang)


def playbook_match(playbook_id: str, evidence: list[str], score: int, lang: str) -> Diagnosis | None:
    """A match for a known playbook, built from a finding the provider computed itself.

    Used when the evidence is a number (too few images per tag) rather than a message a
    playbook could match. None if the playbook is not in the library.
    """
    eng = engine(None)
    i = eng.by_id.get(playbook_id)
    if i is None:
        return None
    ev = [Evidence(n, redact(text)) for n, text in enumerate(evidence, 1)]
    return localize(eng.playbooks[i], score=score, evidence=ev, lang=lang)


def playbook_title(playbook_id: str, lang: str) -> str | None:
    eng = engine(None)
    i = eng.by_id.get(playbook_id)
    return eng.playbooks[i].title.get(lang) if i is not None else None


def merge(*groups: Iterable[Diagnosis | None]) -> list[Diagnosis]:
    """One match per playbook, best first: the highest score, with the evidence of every finding."""
    best: dict[str, Diagnosis] = {}
    for group in groups:
        for d in group:
            if d is None:
                continue
            if d.id not in best:
                best[d.id] = d
                continue
            old = best[d.id]
            texts = {e.text for e in old.evidence}
            evidence = old.evidence + [e for e in d.evidence if e.text not in texts]
            best[d.id] = replace(old, score=max(old.score, d.score), evidence=evidence[:MAX_EVIDENCE])
    return sorted(best.values(), key=lambda d: (-d.score, d.id))
