"""The modals and ticket cards: loading and notices, the ticket to review, Look up IDs. Texts from texts.py."""

from __future__ import annotations

import json
from typing import Any

from bot.config import Config
from bot.slack import blocks as B
from bot.slack.texts import field_label, ui
from bot.tickets import Ticket

MODAL_FIELD_MAX = 3000
TITLE_MAX = 24  # a modal's title, submit and close
OPTION_MAX = 75  # an option's text
OPTION_VALUE_MAX = 150
SERVICES = ("customvision", "azureml", "rekognition")
MULTILINE = ("log_excerpt", "error_message", "status_message", "manifest_summary")


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": B.clip(text, limit)}


def option(text: str, value: str | None = None) -> dict[str, Any]:
    """A select option: text redacted and cut to Block Kit's 75 characters, value to 150."""
    return {"text": plain(text, OPTION_MAX), "value": (text if value is None else value)[:OPTION_VALUE_MAX]}


def notice_view(title: str, text: str, close: str = "Close") -> dict[str, Any]:
    """A modal that only says something: loading, a denial, an error."""
    return {"type": "modal", "title": plain(title, TITLE_MAX), "close": plain(close, TITLE_MAX), "blocks": [B.section(text)]}


def loading_view(lang: str) -> dict[str, Any]:
    return notice_view(ui(lang, "ticket"), ui(lang, "loading"), ui(lang, "close"))


def ticket_summary(t: Ticket, lang: str = "en") -> list[dict[str, Any]]:
    lines = [f"*Ticket #{t.id}* · {t.status} · `{t.service}`", t.title]
    if t.missing:
        lines.append(ui(lang, "missing") + ", ".join(t.missing))
    for w in t.blocking:
        if w.code != "missing_field":
            lines.append(":no_entry: " + w.message)
    return [B.section("\n".join(lines)),
            {"type": "actions", "elements": [B.button(ui(lang, "review_send"), "draft_ticket", {"ticket": t.id}, "primary")]}]


def ticket_modal(t: Ticket, channel: str, lang: str = "en") -> dict[str, Any]:
    """The prefilled ticket to review: required fields first, then the recommended ones."""
    blocks: list[dict[str, Any]] = [B.section(f"*{t.title}*\n" + ("\n".join(":no_entry: " + w.message for w in t.blocking if w.code != "missing_field")))]
    names = list(t.required) + [n for n in t.recommended if n not in t.required]
    for name in names[:40]:
        value = t.fields.get(name, "")
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": "v", "multiline": name in MULTILINE, "max_length": MODAL_FIELD_MAX}
        if value:
            element["initial_value"] = B.clip(value, MODAL_FIELD_MAX)
        blocks.append({"type": "input", "block_id": f"f_{name}", "optional": name not in t.required,
                       "label": plain(field_label(name, lang), 150), "element": element})
    return {"type": "modal", "callback_id": "ticket_modal", "title": plain(ui(lang, "ticket_title", id=t.id), TITLE_MAX),
            "submit": plain(ui(lang, "mark_ready"), TITLE_MAX), "close": plain(ui(lang, "cancel"), TITLE_MAX),
            "private_metadata": json.dumps({"ticket": t.id, "channel": channel}), "blocks": blocks[:100]}


def configured_targets(config: Config) -> list[str]:
    return [t.name for s in SERVICES for t in config.targets(s)]


def ids_modal(config: Config, lang: str = "en") -> dict[str, Any]:
    """Look up IDs: service and target from the configuration (no cloud call: the trigger expires in 3 s),
    the project from the target's live list (an external select: listeners/options.py) or typed."""
    targets = configured_targets(config)
    blocks: list[dict[str, Any]] = [
        {"type": "input", "block_id": "service", "label": plain(ui(lang, "service"), 150),
         "element": {"type": "static_select", "action_id": "v", "options": [option(s) for s in SERVICES]}},
    ]
    if targets:
        blocks.append({"type": "input", "block_id": "target", "optional": True, "label": plain(ui(lang, "target"), 150),
                       "element": {"type": "static_select", "action_id": "v", "options": [option(t) for t in targets[:100]]}})
    blocks.append({"type": "input", "block_id": "project", "optional": True, "label": plain(ui(lang, "project_pick"), 150),
                   "element": {"type": "external_select", "action_id": "ids_project", "min_query_length": 0,
                               "placeholder": plain(ui(lang, "project"), 150)}})
    blocks.append({"type": "input", "block_id": "name", "optional": True, "label": plain(ui(lang, "project_typed"), 150),
                   "element": {"type": "plain_text_input", "action_id": "v", "max_length": 200}})
    return {"type": "modal", "callback_id": "ids_modal", "title": plain(ui(lang, "ids_title"), TITLE_MAX),
            "submit": plain(ui(lang, "ids_submit"), TITLE_MAX), "close": plain(ui(lang, "cancel"), TITLE_MAX),
            "blocks": blocks}
