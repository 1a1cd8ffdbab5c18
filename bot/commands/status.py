"""`status`: sweep every configured target at once for failed trainings, jobs and deployments."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bot.commands.ids import error_json
from bot.commands.targets import overrides_for, pick
from bot.config import Settings
from bot.errors import TriageError
from bot.failures import Failure
from bot.pool import CALL_WORKERS, SWEEP_WORKERS, Pool
from bot.providers import get_provider



@dataclass
class TargetStatus:
    """One target's failures, or the error that kept us from reading them."""

    service: str
    target: str
    failures: list[Failure] = field(default_factory=list)
    error: TriageError | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "target": self.target,
            "ok": self.ok,
            "failures": [f.to_json() for f in self.failures],
            "error": error_json(self.error),
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass
class StatusResult:
    targets: list[TargetStatus]
    checked_at: datetime
    elapsed_s: float = 0.0

    @property
    def failures(self) -> list[Failure]:
        return [f for t in self.targets for f in t.failures]

    @property
    def errors(self) -> list[TargetStatus]:
        return [t for t in self.targets if not t.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "elapsed_s": round(self.elapsed_s, 3),
            "failure_count": len(self.failures),
            "error_count": len(self.errors),
            "targets": [t.to_json() for t in self.targets],
        }


class InternalError(TriageError):
    """A provider raised something it should have translated; reported for that target only."""


def status(
    settings: Settings,
    service: str | None = None,
    target: str | None = None,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    max_workers: int = SWEEP_WORKERS,
    call_workers: int = CALL_WORKERS,
) -> StatusResult:
    """Failures of every selected target, read concurrently; one target's error never stops the others.

    Up to `max_workers` targets at once, and inside each its independent calls at once, all on one
    pool of `call_workers` threads. `max_workers=1` reads everything one call after another, in the
    calling thread: the same results, the order the concurrent sweep must reproduce.
    """
    pairs = pick(settings, service, target)
    started = time.perf_counter()

    def one(pair: tuple[str, Any]) -> TargetStatus:
        svc, t = pair
        t0 = time.perf_counter()
        try:
            found = get_provider(svc, t, settings, **overrides_for(overrides, svc)).failures()
            return TargetStatus(svc, t.name, found, elapsed_s=time.perf_counter() - t0)
        except TriageError as e:
            return TargetStatus(svc, t.name, error=e, elapsed_s=time.perf_counter() - t0)
        except Exception as e:  # isolate one target's bug from the sweep; it is reported, not hidden
            err = InternalError(f"internal error while reading {t.name}: {type(e).__name__}: {e}")
            return TargetStatus(svc, t.name, error=err, elapsed_s=time.perf_counter() - t0)

    with Pool(call_workers if max_workers > 1 else 0) as pool:
        results = pool.map(one, pairs, max_workers)
    return StatusResult(results, datetime.now(timezone.utc), time.perf_counter() - started)
