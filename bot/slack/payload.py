"""Reading Slack's payloads: who clicked, where, with what value; what a modal holds."""

from __future__ import annotations

import json
from typing import Any


def user_of(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("id", "") or body.get("user_id", "")


def channel_of(body: dict[str, Any]) -> str:
    return (body.get("channel") or {}).get("id", "") or body.get("channel_id", "")


def action_value(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON value of the clicked button; {} when it is missing or not an object."""
    try:
        value = json.loads((body.get("actions") or [{}])[0].get("value") or "{}")
        return value if isinstance(value, dict) else {}
    except (ValueError, TypeError):
        return {}


def picked(view: dict[str, Any], block: str, action: str = "v") -> str | None:
    """A modal input's current value: a select's chosen option or typed text; None when empty."""
    v = ((view.get("state") or {}).get("values") or {}).get(block, {}).get(action) or {}
    return (v.get("selected_option") or {}).get("value") or v.get("value") or None


def field_block_ids(view: dict[str, Any]) -> list[str]:
    """The ticket modal's field blocks (f_<name>)."""
    return [b.get("block_id", "") for b in view.get("blocks", []) if b.get("block_id", "").startswith("f_")]
