"""Ticket drafts rendered from the Jinja2 templates in templates/tickets/ (StrictUndefined)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from bot.errors import InputError
from bot.playbooks.fields import TICKET_FIELDS
from bot.redact import redact, redact_obj
from bot.ticket_words import JA_FIELD_LABELS
from bot.terminal import safe
from bot.tickets import TEMPLATE_SERVICE, Ticket

FORMATS = ("md", "json", "text")


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent.parent
    bundled = here / "_data" / "templates"
    return bundled if bundled.is_dir() else here.parent / "templates"


_MD_INLINE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\\": "\\\\", "`": "\\`"})
_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")


def md_inline(value: Any) -> str:
    """Text from input, logs or the cloud inside a Markdown line or table cell: raw HTML shown as
    text, `|` and backticks escaped (no forged cells, no code spans), line breaks as <br>."""
    if isinstance(value, Markup):  # already a block built by fence()
        return value
    return _BREAKS.sub("<br>", redact(str(value)).translate(_MD_INLINE))


def fence(value: Any) -> Markup:
    """A fenced code block whose fence is longer than any backtick run inside it, so nothing escapes it."""
    body = redact(str(value)).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return Markup(f"{ticks}\n{body}\n{ticks}")


@functools.lru_cache(maxsize=4)
def environment(directory: str | None = None) -> jinja2.Environment:
    """Templates fail loudly: an unknown variable is an error, not an empty string. Every
    `{{ … }}` is escaped for Markdown (md_inline) unless it is a fence() block."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory or str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=md_inline,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fence"] = fence
    return env


def template_name(ticket: Ticket) -> str:
    service = TEMPLATE_SERVICE.get(ticket.service, "azureml")
    return f"tickets/{service}.{ticket.lang}.md.j2"


def context(ticket: Ticket) -> dict[str, Any]:
    t = ticket.to_json()
    t["fields"] = {name: t["fields"].get(name, "") for name in TICKET_FIELDS} | t["fields"]
    labels = JA_FIELD_LABELS if ticket.lang == "ja" else {}

    def label(name: str) -> str:
        return labels.get(name) or TICKET_FIELDS.get(name, name)

    return {"t": t, "label": label}


def render_ticket(ticket: Ticket, fmt: str = "md", directory: str | None = None) -> str:
    """The ticket as Markdown (the template), JSON, or plain text; always redacted."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(redact_obj(ticket.to_json()), ensure_ascii=False, indent=2)
    md = environment(directory).get_template(template_name(ticket)).render(**context(ticket))
    md = re.sub(r"\n{3,}", "\n\n", md).strip() + "\n"
    # safe(): a ticket is pasted and printed; escape sequences and bidi overrides from a log have no place in it
    return safe(redact(md if fmt == "md" else markdown_to_text(md)))


def markdown_to_text(md: str) -> str:
    """Plain text for forms that do not render Markdown: no #, **, backticks or table rules."""
    out = []
    fence_len = 0
    for line in md.splitlines():
        ticks = len(line) - len(line.lstrip("`"))
        if ticks >= 3 and (not fence_len or (ticks >= fence_len and not line.strip("`"))):
            fence_len = 0 if fence_len else ticks  # opening or closing fence
            continue
        if fence_len:  # code: verbatim
            out.append(line)
            continue
        if re.fullmatch(r"\|?[-| ]+\|?", line) and "-" in line:
            continue
        line = re.sub(r"^#+\s*", "", line)
        line = line.replace("**", "")
        if line.startswith("|") and line.endswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]
            line = f"{cells[0]}: {' | '.join(cells[1:])}" if len(cells) > 1 else cells[0]
        out.append(_md_unescape(line))
    return "\n".join(out).strip() + "\n"


def _md_unescape(line: str) -> str:
    line = re.sub(r"(?<!\\)`", "", line)  # code spans the template made
    line = re.sub(r"\\([\\|`])", r"\1", line).replace("<br>", " / ")
    return line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
