"""How answers reach the user: response_url (ephemeral), a DM when there is none, a thread, Share in channel.

Every text goes through blocks.py (mrkdwn() escapes and redacts, clip() for plain text), and every
user-facing sentence comes from texts.py in the user's language.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import TriageError
from bot.redact import redact
from bot.slack import blocks as B
from bot.slack import texts

if TYPE_CHECKING:
    from slack_bolt import Respond

    from bot.slack.deps import Deps

NOT_A_MEMBER = ("not_in_channel", "channel_not_found", "is_archived")
SHARE_TTL_S = 3600.0  # a Share in channel button works for an hour after the answer
SHARE_KEEP = 200  # answers kept for sharing


class Shared:
    """Answers kept for their Share in channel button: an hour, at most SHARE_KEEP."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[float, str, str]] = {}
        self._lock = threading.Lock()

    def keep(self, title: str, text: str) -> str:
        key = secrets.token_urlsafe(12)
        now = time.monotonic()
        with self._lock:
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < SHARE_TTL_S}
            while len(self._kept) >= SHARE_KEEP:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = (now, title, text)
        return key

    def get(self, key: str) -> tuple[str, str] | None:
        with self._lock:
            kept = self._kept.get(key)
        return (kept[1], kept[2]) if kept else None


def shared(deps: Deps) -> Shared:
    return deps.keep("shared", Shared)


def ephemeral(respond: Respond, text: str) -> None:
    """A line only the user sees, through response_url."""
    respond(response_type="ephemeral", replace_original=False, text=B.mrkdwn(text))


def fail(respond: Respond, e: TriageError, lang: str) -> None:
    """A named error, in the user's language."""
    ephemeral(respond, texts.error(e, lang))


def say(body: dict[str, Any], respond: Respond, client: WebClient, text: str, user: str) -> None:
    """An ephemeral line to the user wherever the click came from (App Home has no response_url: a DM then)."""
    if body.get("response_url"):
        ephemeral(respond, text)
    else:
        client.chat_postMessage(channel=user, text=B.mrkdwn(text))


def allowed(deps: Deps, kind: str, user: str, channel: str, lang: str, respond: Respond, action: str, args: str) -> bool:
    """Whether [slack.read] / [slack.tickets] lets the user; if not, they are told and it is audited."""
    try:
        if deps.access.allowed(kind, user, channel):
            return True
    except TriageError as e:  # a user group of the allowlist cannot be read now: not known to be allowed
        deps.audit(user, channel, action, args, f"error: {e.message}")
        ephemeral(respond, texts.error(e, lang))
        return False
    deps.audit(user, channel, action, args, "denied")
    ephemeral(respond, texts.denial(kind, lang))
    return False


def post_text(deps: Deps, respond: Respond, client: WebClient, channel: str, title: str, text: str, lang: str = "en",
              thread_ts: str | None = None) -> None:
    """A text result, ephemeral like every answer (a thread reply for an alert's button), with a Share in channel button."""
    if thread_ts:
        try:
            post_whole(client, channel, title, text, thread_ts=thread_ts)
            return
        except SlackApiError as e:
            if e.response.get("error") not in NOT_A_MEMBER:
                raise
            ephemeral(respond, texts.ui(lang, "not_in_channel"))
    respond(response_type="ephemeral", replace_original=False, text=B.fallback(title), blocks=ephemeral_text(deps, title, text, lang))


def ephemeral_text(deps: Deps, title: str, text: str, lang: str) -> list[dict[str, Any]]:
    """The text (its head when long) and a Share in channel button that posts the whole."""
    key = shared(deps).keep(title, text)
    lines = text.splitlines()
    head, shown = [], 0
    for line in lines:
        if shown + len(line) + 1 > B.FILE_THRESHOLD:
            break
        head.append(line)
        shown += len(line) + 1
    blocks = B.text_message(title, "\n".join(head))[: B.BLOCKS_MAX - 2]
    if len(head) < len(lines):
        blocks.append(B.context(texts.ui(lang, "longer", n=len(lines) - len(head))))
    blocks.append({"type": "actions", "block_id": "share_actions", "elements": [B.button(texts.ui(lang, "share"), "share_result", {"share": key})]})
    return blocks


def post_whole(client: WebClient, channel: str, title: str, text: str, thread_ts: str | None = None) -> None:
    """The whole text for everyone in the channel (or the thread): blocks, or a file when long."""
    where: dict[str, Any] = {"channel": channel} | ({"thread_ts": thread_ts} if thread_ts else {})
    if B.fits(text):
        client.chat_postMessage(**where, text=B.fallback(title), blocks=B.text_message(title, text))
    else:
        client.files_upload_v2(**where, content=redact(text), filename="triage.txt", title=B.clip(title, 150),
                               initial_comment=B.fallback(title))


def ids_text(result: Any, service: str) -> str:
    """An `ids` result as text, the same for /triage ids and the Look up IDs modal."""
    if service == "azureml":
        from bot.render.azureml import render_azureml_ids

        return "\n\n".join(render_azureml_ids(t.ids.to_json()) if t.ok else f"{t.target}: {t.error}" for t in result.targets)
    from bot.render.lookups import render_ids

    return render_ids(result)


def ids_title(service: str, name: str | None, lang: str) -> str:
    return texts.ui(lang, "ids", service=service) + (f" {name}" if name else "")
