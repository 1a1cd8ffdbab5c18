"""Block Kit renderings of command results, kept inside Slack's limits."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.diagnosis import DiagnoseResult, Diagnosis
from bot.redact import redact
from bot.slack.texts import RESULT
from bot.terminal import safe

SECTION_MAX = 3000  # characters in a section's text
HEADER_MAX = 150
BLOCKS_MAX = 50
VALUE_MAX = 2000  # button value
FILE_THRESHOLD = 12_000  # longer text goes to a file in the thread

L = RESULT  # the result texts, kept with every other text in texts.py


class Entity(str):
    """A Slack mention the app builds from a validated ID: the only `<…>` that goes out live."""


_ENTITY = re.compile(r"<(?:@[UW][A-Z0-9]{1,20}|!subteam\^S[A-Z0-9]{1,20})>")


def user_ref(user_id: str) -> Entity | str:
    """`<@U…>` for a Slack user ID; anything else stays text (and is escaped like text)."""
    ref = f"<@{user_id}>"
    return Entity(ref) if _ENTITY.fullmatch(ref) else user_id


def group_ref(group_id: str) -> Entity | str:
    """`<!subteam^S…>` for a Slack user group ID; anything else stays text."""
    ref = f"<!subteam^{group_id}>"
    return Entity(ref) if _ENTITY.fullmatch(ref) else group_id


def mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str | Sequence[str]) -> str:
    """The one escaping helper for Slack: every mrkdwn string the app sends passes here.

    Redacts, drops control characters and bidi overrides (as for a terminal), then escapes
    `&`, `<` and `>` in everything except Entity parts, so text from
    input, logs or the cloud (`<!channel>`, `<@U…>`, `<url|text>`, a step's `<endpoint>`)
    is shown as typed and never goes live. Code fences get the same treatment: Slack
    parses `<…>` inside them too.
    """
    parts = [text] if isinstance(text, str) else text
    return "".join(p if isinstance(p, Entity) else mrkdwn_escape(safe(redact(p))) for p in parts)


def clip(text: str, limit: int) -> str:
    """Redacted plain text (headers, buttons, labels: Slack does not parse them) within `limit`."""
    return _cut(safe(redact(text)), limit)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", len(cut) - 5)
    if amp >= 0 and ";" not in cut[amp:]:  # do not leave half an &amp; / &lt; / &gt;
        cut = cut[:amp]
    return cut + "…"


def fallback(text: str, limit: int = 150) -> str:
    """The top-level `text` of a message or response (notifications, screen readers): mrkdwn, so escaped."""
    return _cut(mrkdwn(text), limit)


def section(text: str | Sequence[str], accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": _cut(mrkdwn(text), SECTION_MAX)}}
    if accessory:
        block["accessory"] = accessory
    return block


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_MAX), "emoji": True}}


def context(text: str | Sequence[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(mrkdwn(text), SECTION_MAX)}]}


def button(text: str, action_id: str, value: dict[str, Any] | str, style: str | None = None) -> dict[str, Any]:
    raw = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if len(raw) > VALUE_MAX:
        raise ValueError("button value over Slack's 2000 characters")
    b: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": clip(text, 75)}, "action_id": action_id, "value": raw}
    if style:
        b["style"] = style
    return b


def code(text: str, limit: int = SECTION_MAX - 8) -> str:
    """A code block, to pass to section(), which escapes it like any text."""
    body = redact(text).replace("```", "ˋˋˋ")
    if len(body) > limit:
        body = body[: limit - 1] + "…"
    return f"```{body}```"


def diagnosis_blocks(d: Diagnosis, lang: str) -> list[dict[str, Any]]:
    t = L[lang]
    retry = t["retry_yes"] if d.retryable else t["retry_no"]
    blocks = [
        section(f"*{d.title}*\n`{d.id}` · {t['score']} {d.score} · {retry}\n{d.summary}"),
    ]
    if d.facts:
        blocks.append(context(f"{t['read']}: " + " · ".join(f"{name} `{value}`" for name, value in d.facts.items())))
    if d.evidence:
        blocks.append(section(f"*{t['why']}*\n" + code(evidence_lines(d.evidence, lang), 2000)))
    steps = []
    for i, s in enumerate(d.steps, 1):
        line = f"{i}. {s.text}"
        if s.run:
            line += "\n" + code(s.run, 600)
        steps.append(line)
    blocks.append(section(f"*{t['steps']}*\n" + "\n".join(steps)))
    return blocks


def evidence_lines(evidence: Sequence[Any], lang: str) -> str:
    """Evidence as lines: the decisive one marked ▶, context lines labelled. Items are Evidence or stored dicts."""
    t = L[lang]
    out = []
    for i, e in enumerate(evidence):
        line, text, role = (e["line"], e["text"], e.get("role", "match")) if isinstance(e, dict) else (e.line, e.text, e.role)
        mark = "▶" if i == 0 and role == "match" else " "
        label = f" ({t['context']})" if role == "context" else ""
        out.append(f"{mark} {t['line']} {line}{label}: {text}")
    return "\n".join(out)


def diagnose_message(result: DiagnoseResult, *, diagnosis_id: int | None, top: int = 3) -> list[dict[str, Any]]:
    """The answer to a diagnosis: the best matches with evidence and steps, and buttons."""
    t = L[result.lang]
    if not result.matches:
        blocks = [section(f"{t['none']}\n{t['none_hint']}")]
        if result.related:
            blocks.append(section(f"{t['related']}\n" + "\n".join(f"• `{r.id}` {r.title} ({r.similarity:.2f})" for r in result.related[:10])))
        return blocks + [context(f"{result.input_lines} lines · {result.input_bytes} bytes")]
    blocks: list[dict[str, Any]] = [header(result.matches[0].title)]
    for i, d in enumerate(result.matches[:top]):
        if i:
            blocks.append({"type": "divider"})
        blocks += diagnosis_blocks(d, result.lang)
    rest = result.matches[top:]
    if rest:
        blocks.append(context(f"+{len(rest)} {t['more']}: " + ", ".join(f"`{d.id}`" for d in rest[:10])))
    if diagnosis_id is not None:
        other = "ja" if result.lang == "en" else "en"
        blocks.append({"type": "actions", "block_id": "diagnosis_actions", "elements": [
            button(t["draft"], "draft_ticket", {"diagnosis": diagnosis_id}, style="primary"),
            button(t["switch"], "switch_lang", {"diagnosis": diagnosis_id, "lang": other}),
        ]})
    return blocks[:BLOCKS_MAX]


def text_message(title: str, text: str) -> list[dict[str, Any]]:
    """A rendered text result (ids, status, logs) as code sections within the block limits."""
    blocks: list[dict[str, Any]] = [header(title)]
    chunk: list[str] = []
    size = 0
    for line in redact(text).splitlines():
        if size + len(line) + 1 > SECTION_MAX - 100 and chunk:
            blocks.append(section(code("\n".join(chunk))))
            chunk, size = [], 0
        chunk.append(line[: SECTION_MAX - 200])
        size += len(line) + 1
    if chunk:
        blocks.append(section(code("\n".join(chunk))))
    return blocks[:BLOCKS_MAX]


def fits(text: str) -> bool:
    """Whether a text result can go inline rather than as a file."""
    return len(text) <= FILE_THRESHOLD
