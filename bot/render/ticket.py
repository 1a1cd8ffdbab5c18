"""Ticket drafts rendered from the Jinja2 templates in templates/tickets/ (StrictUndefined)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jinja2

from bot.errors import InputError
from bot.playbooks.fields import TICKET_FIELDS
from bot.redact import redact, redact_obj
from bot.ticket_words import JA_FIELD_LABELS
from bot.tickets import TEMPLATE_SERVICE, Ticket

FORMATS = ("md", "json", "text")


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent.parent
    bundled = here / "_data" / "templates"
    return bundled if bundled.is_dir() else here.parent / "templates"


@functools.lru_cache(maxsize=4)
def environment(directory: str | None = None) -> jinja2.Environment:
    """Templates fail loudly: an unknown variable is an error, not an empty string."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory or str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


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
    return redact(md if fmt == "md" else markdown_to_text(md))


def markdown_to_text(md: str) -> str:
    """Plain text for forms that do not render Markdown: no #, **, backticks or table rules."""
    out = []
    for line in md.splitlines():
        if re.fullmatch(r"\|?[-| ]+\|?", line) and "-" in line:
            continue
        if line.startswith("```"):
            continue
        line = re.sub(r"^#+\s*", "", line)
        line = line.replace("**", "").replace("`", "")
        if line.startswith("|") and line.endswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            line = f"{cells[0]}: {' | '.join(cells[1:])}" if len(cells) > 1 else cells[0]
        out.append(line)
    return "\n".join(out).strip() + "\n"
