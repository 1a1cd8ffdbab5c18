"""Line wrapping by display width: Japanese wraps between characters, never before 、。 or a closing bracket."""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]+|\s+")
_NO_LINE_START = set("、。，．）」』】〕〉》・ー！？)]}:;,.")


def width(text: str) -> int:
    """Columns a terminal gives the text: wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, columns: int, initial_indent: str = "", subsequent_indent: str = "") -> list[str]:
    """Lines of at most `columns` display columns (a single longer word gets its own line)."""
    lines: list[str] = []
    line, used = initial_indent, width(initial_indent)
    has_text = False
    for token in _TOKEN.findall(" ".join(text.split())):
        if token.isspace():
            if has_text:
                line, used = line + " ", used + 1
            continue
        w = width(token)
        if has_text and used + w > columns and token[0] not in _NO_LINE_START:
            lines.append(line.rstrip())
            line, used, has_text = subsequent_indent, width(subsequent_indent), False
        line, used, has_text = line + token, used + w, True
    if has_text:
        lines.append(line.rstrip())
    return lines
