"""Bounded retries with exponential backoff and full jitter, honouring Retry-After.

A provider wraps one cloud call in `call_with_retry`; inside it, a transient fault (429, 5xx,
connection reset) is raised as `Retry(error, retry_after)`. After the last attempt, or when the
cloud asks for a longer wait than we are willing to spend, the wrapped CloudError is raised.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

from bot.errors import CloudError
from bot.redact import redact

T = TypeVar("T")

_TRY_AGAIN_IN = re.compile(r"(?i)try again in (\d+(?:\.\d+)?) seconds?")


TIMEOUT_ATTEMPTS = 2
"""A timeout is retried at most once: one target then costs at most about twice its timeout_s."""


class Retry(Exception):
    """Raised inside a retried call: this attempt failed transiently; `error` is what to raise at the end.

    `limit` caps the attempts for this kind of fault below the policy's (timeouts: TIMEOUT_ATTEMPTS).
    """

    def __init__(self, error: CloudError, retry_after: float | None = None, *, limit: int | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.limit = limit


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying. `sleep` and `rand` are injectable so tests never really wait."""

    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 8.0
    max_retry_after_s: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before attempt `attempt + 1`: full jitter, but never less than the server asked for."""
        backoff = min(self.cap_s, self.base_s * 2 ** (attempt - 1)) * self.rand()
        if retry_after is None:
            return backoff
        return retry_after + min(backoff, 1.0)


def parse_retry_after(header: str | None, message: str | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), else from 'Try again in N seconds'."""
    if header:
        h = header.strip()
        try:
            return max(0.0, float(h))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(h)
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError, IndexError):
            pass
    if message:
        m = _TRY_AGAIN_IN.search(message)
        if m:
            return float(m.group(1))
    return None


def body_summary(content_type: str | None, text: str) -> str:
    """What came back instead of JSON: its content type and its first words (an HTML page's title)."""
    ctype = (content_type or "no content type").split(";", 1)[0]
    m = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
    first = " ".join(redact(m.group(1) if m else text[:20_000]).split())[:80]  # redact before the cut
    return ctype + (f", starting {first!r}" if first else ", empty")


def tried(attempts: int) -> str:
    """How many requests were made, as the end of an error message."""
    return f"tried {attempts} time{'s' if attempts != 1 else ''}"


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy) -> T:
    """Run fn; on Retry, back off and try again, at most policy.attempts times in all (timeouts: twice).

    The error raised at the end says how many requests were made, counted here, not assumed.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Retry as r:
            limit = min(policy.attempts, r.limit or policy.attempts)
            if attempt >= limit:
                r.error.message += f" ({tried(attempt)})"
                raise r.error from None
            if r.retry_after is not None and r.retry_after > policy.max_retry_after_s:
                r.error.message += f" ({tried(attempt)}; the service asks to wait {r.retry_after:.0f} s)"
                raise r.error from None
            policy.sleep(policy.delay(attempt, r.retry_after))
