"""The Bolt listeners, one module per kind (as in Bolt's starter app); each registers its own."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.deps import Deps
from bot.slack.listeners import actions, commands, events, options, shortcuts, views


def register(app: App, deps: Deps) -> None:
    for module in (commands, shortcuts, actions, views, events, options):
        module.register(app, deps)
