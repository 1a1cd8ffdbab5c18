"""Recognise a Rekognition manifest by its first bytes, whatever the file is called."""

from __future__ import annotations

import json
from typing import Literal

from bot.manifests.reader import HEAD_BYTES

Kind = Literal["manifest_summary", "validation_manifest", "manifest"]

VALIDATION_KEYS = ("errors", "warnings", "cl-errors")
_SAMPLE_LINES = 50


def _has_validation_keys(obj: dict) -> bool:
    """Validation results sit on the line, on a label attribute or its -metadata, or on an annotation."""
    if any(k in obj for k in VALIDATION_KEYS):
        return True
    for value in obj.values():
        if isinstance(value, dict):
            if any(k in value for k in VALIDATION_KEYS):
                return True
            annotations = value.get("annotations")
            if isinstance(annotations, list) and any(
                isinstance(a, dict) and any(k in a for k in VALIDATION_KEYS) for a in annotations[:_SAMPLE_LINES]
            ):
                return True
    return False


def sniff(head: bytes) -> Kind | None:
    """What the input is, from its first ~64 KB: a manifest summary, a validation manifest, a manifest, or None."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return None
    if b'"statistics"' in text and (b'_json_lines"' in text or b'"error_json_line_indices"' in text):
        return "manifest_summary"
    parts = text.split(b"\n")
    if len(head) >= HEAD_BYTES and len(parts) > 1:
        parts = parts[:-1]  # the head cut the last line short
    elif len(head) >= HEAD_BYTES:  # one line longer than the head: judge by its keys
        if b'"source-ref"' not in text[:4096]:
            return None
        return "validation_manifest" if any(b'"%s"' % k.encode() in text for k in VALIDATION_KEYS) else "manifest"
    records = with_ref = validation = tried = 0
    for raw in parts:
        if tried >= _SAMPLE_LINES:
            break
        raw = raw.strip()
        if not raw:
            continue
        tried += 1
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if not isinstance(obj, dict):
            continue
        records += 1
        with_ref += isinstance(obj.get("source-ref"), str)
        validation += _has_validation_keys(obj)
    if tried == 0 or records * 2 < tried or not (with_ref or validation):
        return None
    return "validation_manifest" if validation else "manifest"
