"""Run independent cloud reads at the same time: wall time close to the slowest call, not the sum."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

SWEEP_WORKERS = 64
"""Targets read at once. Calls are I/O-bound; one thread per target up to this keeps wall time
close to the slowest target for any realistic triage.toml."""


def pmap(fn: Callable[[T], R], items: Iterable[T], max_workers: int = 8) -> list[R]:
    """fn over items concurrently, results in input order; the first exception propagates."""
    items = list(items)
    if len(items) <= 1 or max_workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items)), thread_name_prefix="triage") as ex:
        return list(ex.map(fn, items))


def together(*calls: Callable[[], R]) -> list[R]:
    """Independent calls at the same time (one thread each); results in call order."""
    return pmap(lambda call: call(), calls, max_workers=len(calls))
