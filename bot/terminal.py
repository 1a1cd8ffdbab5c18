"""Text made safe for a terminal: no escape sequences, control characters or bidi overrides.

Pasted logs can carry OSC sequences (window title, clipboard writes via OSC 52), cursor
movement that hides lines, and bidirectional overrides that make text read differently
than it is. Everything the CLI prints passes safe(); line breaks and tabs stay.
"""

from __future__ import annotations

import logging
import re

# Whole sequences first (CSI, OSC, DCS/SOS/PM/APC strings, two-char escapes, in their 7-bit
# and C1 forms), so that no payload is left behind as visible garbage; then any single
# C0 / DEL / C1 control and the bidi embeddings, overrides and isolates.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"                           # CSI … final byte
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC / DCS / SOS / PM / APC … terminator
    r"|\x1b[ -/]*[0-~]?"                                           # other escapes (ESC c, ESC ( B …)
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """`text` without terminal escape sequences, control characters (but \\n and \\t) or bidi overrides."""
    if text.isascii() and text.isprintable():
        return text
    return _CONTROL.sub("", _SEQUENCE.sub("", text.replace("\r\n", "\n")))


class SafeFormatter(logging.Formatter):
    """Log lines carry cloud and Slack text too: format them, then make them terminal-safe."""

    def format(self, record: logging.LogRecord) -> str:
        return safe(super().format(record))
