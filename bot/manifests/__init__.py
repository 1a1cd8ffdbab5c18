"""Rekognition Custom Labels manifests: recognise, analyse validation results, lint before training.

Names are imported from their modules on first use, so that recognising a manifest (every
`diagnose` does) does not load the analysers and the linter.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DatasetLint": "lint",
    "LintReport": "lint",
    "lint_manifest": "lint",
    "lint_pair": "lint",
    "peek_head": "reader",
    "prepend": "reader",
    "Kind": "sniff",
    "sniff": "sniff",
    "MAX_SUMMARY_BYTES": "summary",
    "SummaryReport": "summary",
    "parse_summary": "summary",
    "ValidationReport": "validation",
    "analyse": "validation",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'bot.manifests' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bot.manifests.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
