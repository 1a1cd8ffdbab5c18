"""Who may run what: config allowlists of Slack users, user groups and channels."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.config import AccessRule, SlackSection

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
        what = {"en": {"read": "look things up", "tickets": "draft or send tickets"},
                "ja": {"read": "調査コマンドを実行する", "tickets": "チケットを作成・送信する"}}[lang][kind]
        if lang == "ja":
            return f"{what}権限がありません。triage.toml の [slack.{kind}] に登録されたユーザー、グループ、チャンネルのみ利用できます。管理者に依頼してください。"
        return (f"You are not allowed to {what} with triage. Only the users, user groups and channels listed in "
                f"[slack.{kind}] of triage.toml may; ask the bot's owner to add you.")

    def _members(self, group: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(group)
            if hit and now - hit[0] < GROUP_TTL_S:
                return hit[1]
        members = frozenset(self._group_members(group))
        with self._lock:
            self._cache[group] = (now, members)
        return members
