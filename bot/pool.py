"""Run independent cloud reads at the same time: wall time close to the slowest call, not the sum.

One bounded `Pool` serves a whole sweep, across targets and inside each one: a target's fan-out
(its projects, a project's iterations and tags) takes threads from the same pool as the targets.
A fan-out never waits for work that has not started: the caller claims items itself until none
is left, so nesting cannot deadlock however busy the pool is (a full pool runs the rest inline).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

SWEEP_WORKERS = 256
"""Targets read at once. Calls are I/O-bound; one thread per target up to this keeps wall time
close to the slowest target for any realistic triage.toml (64 made a 100-target sweep two rounds)."""

CALL_WORKERS = 1024
"""Threads a sweep may use for calls in flight, over all targets (created only as needed): 100
Custom Vision targets with two projects each have 700 calls in flight; with 256 threads they took
three rounds of the slowest call. Each provider sizes its HTTP connection pool to what one target
can have in flight."""

_current: contextvars.ContextVar["Pool | None"] = contextvars.ContextVar("triage_pool", default=None)


class Pool:
    """A bounded thread pool shared by nested fan-outs; `Pool(0)` runs everything in the caller, in order."""

    def __init__(self, workers: int = CALL_WORKERS) -> None:
        self.workers = max(0, workers)
        self._ex = ThreadPoolExecutor(self.workers, thread_name_prefix="triage") if self.workers else None
        self._token: contextvars.Token | None = None

    def __enter__(self) -> "Pool":
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if self._ex is not None:
            self._ex.shutdown(wait=True)

    def map(self, fn: Callable[[T], R], items: Iterable[T], limit: int) -> list[R]:
        """fn over items, at most `limit` at once, results in input order; the first failing item's
        exception (in input order, not in time) is raised after all have finished."""
        todo = list(items)
        n = len(todo)
        results: list[Any] = [None] * n
        errors: list[BaseException | None] = [None] * n
        state = {"next": 0, "done": 0}
        cond = threading.Condition()

        def drain() -> None:
            while True:
                with cond:
                    i = state["next"]
                    if i >= n:
                        return
                    state["next"] = i + 1
                try:
                    results[i] = fn(todo[i])
                except BaseException as e:  # re-raised in the caller, in input order
                    errors[i] = e
                with cond:
                    state["done"] += 1
                    if state["done"] == n:
                        cond.notify_all()

        helpers = min(limit, n) - 1 if self._ex is not None else 0
        for _ in range(max(0, helpers)):
            self._ex.submit(contextvars.copy_context().run, drain)  # type: ignore[union-attr]
        drain()
        with cond:
            cond.wait_for(lambda: state["done"] == n)
        for e in errors:
            if e is not None:
                raise e
        return results


def current() -> Pool | None:
    """The pool of the sweep this code runs in, if any."""
    return _current.get()


def pmap(fn: Callable[[T], R], items: Iterable[T], max_workers: int = 8) -> list[R]:
    """fn over items concurrently (at most max_workers at once), results in input order; the first
    failing item's exception propagates. Inside a sweep it shares the sweep's pool."""
    items = list(items)
    pool = _current.get()
    if pool is not None:
        return pool.map(fn, items, max_workers)
    if len(items) <= 1 or max_workers <= 1:
        return [fn(x) for x in items]
    with Pool() as pool:
        return pool.map(fn, items, max_workers)


def together(*calls: Callable[[], R]) -> list[R]:
    """Independent calls at the same time; results in call order."""
    return pmap(lambda call: call(), calls, max_workers=len(calls))


class Outcome:
    """A call's value or the exception it raised, to be looked at in a fixed order later."""

    __slots__ = ("value", "error")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def attempt(call: Callable[[], Any]) -> Outcome:
    """The call's value or the exception it raised, kept for later."""
    try:
        return Outcome(call())
    except Exception as e:
        return Outcome(error=e)


def settle(*calls: Callable[[], Any]) -> list[Outcome]:
    """Like `together`, but every call's outcome is kept: the caller decides which error wins."""
    return pmap(attempt, calls, max_workers=len(calls))
