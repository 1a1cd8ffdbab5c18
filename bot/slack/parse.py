"""Parse `/triage …` text into a request the core commands understand, or a usage error."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from bot.errors import InputError

MAX_TEXT = 40_000  # Slack caps slash command text well below this; anything larger is hostile

USAGE = {
    "help": "/triage help",
    "diagnose": "/triage diagnose <pasted error text or log lines>",
    "ids": "/triage ids customvision|azureml|rekognition [PROJECT|ENDPOINT] [--target NAME]",
    "status": "/triage status [customvision|azureml|rekognition] [TARGET]",
    "logs": "/triage logs azureml ENDPOINT DEPLOYMENT [--lines N] [--container inference-server|storage-initializer]"
            "  ·  /triage logs azureml --job NAME [--lines N]",
    "ticket": "/triage ticket list  ·  /triage ticket show N  ·  /triage ticket draft <pasted error text>",
    "playbook": "/triage playbook ID",
}
VERBS = tuple(USAGE)


@dataclass
class Request:
    verb: str
    args: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""


def usage(verb: str | None = None) -> str:
    if verb in USAGE:
        return f"usage: `{USAGE[verb]}`"
    return "usage:\n" + "\n".join(f"• `{u}`" for u in USAGE.values())


def parse(text: str) -> Request:
    """`diagnose` and `ticket draft` keep their raw text; the others are split like a shell would."""
    if len(text) > MAX_TEXT:
        raise InputError(f"that is {len(text):,} characters; paste at most {MAX_TEXT:,}",
                         hint="for a whole log use the message shortcut “Diagnose with triage” on a file message, or the CLI")
    stripped = text.strip()
    if not stripped:
        return Request("help")
    verb, _, rest = stripped.partition(" ")
    verb = verb.lower()
    if verb in ("diagnose", "d"):
        if not rest.strip():
            raise InputError("nothing to diagnose", hint=usage("diagnose"))
        return Request("diagnose", text=rest.strip())
    if verb in ("playbooks",):
        verb = "playbook"
    if verb not in VERBS:
        raise InputError(f"unknown subcommand `{verb[:40]}`", hint=usage())
    if verb == "ticket" and rest.strip().lower().startswith("draft"):
        body = rest.strip()[5:].strip()
        if not body:
            raise InputError("paste the error text to draft from", hint=usage("ticket"))
        return Request("ticket", args=["draft"], text=body)
    try:
        words = shlex.split(rest)
    except ValueError as e:
        raise InputError(f"cannot read that: {e}", hint=usage(verb)) from None
    args: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w.startswith("--"):
            name, eq, value = w[2:].partition("=")
            if not eq:
                if i + 1 >= len(words):
                    raise InputError(f"--{name} needs a value", hint=usage(verb))
                value = words[i + 1]
                i += 1
            options[name] = value
        else:
            args.append(w)
        i += 1
    return Request(verb, args, options)
