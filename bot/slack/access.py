"""Who may run what: config allowlists of Slack users, user groups and channels."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from slack_sdk.errors import SlackClientError

from bot.config import AccessRule, SlackSection
from bot.errors import CloudError
from bot.slack.texts import denial
from bot.slack.webapi import api_error

GROUP_TTL_S = 300.0


class Access:
    """Checks a user in a channel against a rule; user-group members are fetched once per TTL."""

    def __init__(self, slack: SlackSection, group_members: Callable[[str], list[str]], clock: Callable[[], float] = time.monotonic) -> None:
        self.slack = slack
        self._group_members = group_members
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def rule(self, kind: str) -> AccessRule:
        return self.slack.tickets if kind == "tickets" else self.slack.read

    def allowed(self, kind: str, user: str, channel: str | None) -> bool:
        rule = self.rule(kind)
        if rule.open:
            return True
        if user in rule.users or (channel and channel in rule.channels):
            return True
        return any(user in self._members(group) for group in rule.groups)

    def denial(self, kind: str, lang: str) -> str:
        return denial(kind, lang)

    def _members(self, group: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(group)
            if hit and now - hit[0] < GROUP_TTL_S:
                return hit[1]
        try:
            members = frozenset(self._group_members(group))
        except SlackClientError as e:  # refused, throttled past its retries, or unreachable: not known to be allowed
            raise CloudError(f"Slack would not list the members of user group {group} ({api_error(e)}), so access cannot be checked now",
                             hint="try again in a minute; the app needs usergroups:read") from None
        with self._lock:
            self._cache[group] = (now, members)
        return members
