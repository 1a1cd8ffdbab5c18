"""Events: App Home, with recent failures and ticket drafts for the users allowed to see them."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack import blocks as B
from bot.slack import texts
from bot.slack.deps import Deps
from bot.slack.parse import usage
from bot.slack.records import recent_failures


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        # acknowledged at once: users.info, the store and views.publish on the pool (a failure there
        # would be a 500, and Slack's retry of it is refused as already handled)
        deps.later(publish_home, deps, event, client)


def publish_home(deps: Deps, event: dict[str, Any], client: WebClient) -> None:
    """App Home: failures for users allowed by [slack.read], drafts for users allowed by [slack.tickets]."""
    user = event.get("user", "")
    lang = deps.locales.lang(user)
    may_read, may_ticket = deps.access.allowed("read", user, None), deps.access.allowed("tickets", user, None)
    blocks = [B.header("triage")]
    if may_read:
        recent = recent_failures(deps.store)
        blocks.append(B.section(texts.ui(lang, "home_failures")))
        blocks += [B.section(f"• `{r['service']}` {r['title']} — {r['status']} ({r['at']})") for r in recent[:10]] or \
            [B.context(texts.ui(lang, "home_no_failures"))]
    if may_ticket:
        drafts = deps.tickets.list("draft", limit=10)
        blocks.append(B.section(texts.ui(lang, "home_drafts")))
        for t in drafts:
            blocks.append(B.section(f"#{t.id} {t.title}" + (f"\n{texts.ui(lang, 'needs', fields=', '.join(t.missing))}" if t.missing else ""),
                                    accessory=B.button(texts.ui(lang, "review"), "draft_ticket", {"ticket": t.id})))
        if not drafts:
            blocks.append(B.context(texts.ui(lang, "home_no_drafts")))
    if not may_read and not may_ticket:
        blocks.append(B.section(texts.denial("read", lang)))
    blocks.append(B.context(usage().replace("\n", "  ")))
    client.views_publish(user_id=user, view={"type": "home", "blocks": blocks[: B.BLOCKS_MAX]})
    deps.audit(user, "", "home", "", f"read={may_read} tickets={may_ticket}")
