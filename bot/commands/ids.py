"""`ids`: the identifiers support will ask for (Project Id, Iteration Id, Resource ID, ARNs …)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.commands.targets import check_service, overrides_for, pick
from bot.config import Settings
from bot.errors import CloudNotFound, InputError, TriageError
from bot.pool import SWEEP_WORKERS, pmap
from bot.providers import get_provider


@dataclass
class TargetIds:
    """One target's identifiers, or why they could not be read."""

    service: str
    target: str
    ids: Any = None
    error: TriageError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "target": self.target,
            "ok": self.ok,
            "ids": self.ids.to_json() if self.ids is not None else None,
            "error": error_json(self.error),
        }


@dataclass
class IdsResult:
    service: str
    query: str | None
    targets: list[TargetIds] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "query": self.query, "targets": [t.to_json() for t in self.targets]}


def project_names(
    settings: Settings,
    service: str,
    target: str,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """The names one target's projects (Azure ML: online endpoints) have now: what `ids SERVICE NAME` takes."""
    check_service(service)
    ((svc, t),) = pick(settings, service, target)
    return get_provider(svc, t, settings, **overrides_for(overrides, service)).names()


def error_json(e: TriageError | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"type": type(e).__name__, "message": e.message, "hint": e.hint}


def ids(
    settings: Settings,
    service: str,
    name: str | None = None,
    target: str | None = None,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> IdsResult:
    """IDs for one project (name, ID or ARN) or every configured one, across the service's targets at once.

    With one target, its error is raised. With several, each target's error is kept in its entry;
    a project found in some targets hides the "not found" of the others.
    """
    check_service(service)
    pairs = pick(settings, service, target)
    seams = overrides_for(overrides, service)

    def one(pair: tuple[str, Any]) -> TargetIds:
        svc, t = pair
        try:
            return TargetIds(svc, t.name, ids=get_provider(svc, t, settings, **seams).ids(name))
        except TriageError as e:
            return TargetIds(svc, t.name, error=e)

    results = pmap(one, pairs, max_workers=SWEEP_WORKERS)
    for r in results:
        if isinstance(r.error, InputError) or (len(results) == 1 and r.error is not None):
            raise r.error
    if name is not None:
        found = [r for r in results if r.ok]
        if not found and all(isinstance(r.error, CloudNotFound) for r in results):
            first = results[0].error
            assert first is not None
            raise CloudNotFound(
                f"{name!r} was not found in any {service} target ({', '.join(r.target for r in results)})",
                hint="; ".join(f"{r.target}: {r.error.hint}" for r in results if r.error and r.error.hint) or None,
            )
        if found:
            results = [r for r in results if not isinstance(r.error, CloudNotFound)]
    return IdsResult(service, name, results)
