"""`diagnose`: match any pasted text or log file against every playbook."""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from bot.diagnosis import DiagnoseResult, check_lang, engine, scan_text
from bot.errors import InputError
from bot.manifests import peek_head, sniff


def diagnose_stream(
    stream: BinaryIO, *, service: str | None = None, lang: str = "en", top: int | None = None
) -> DiagnoseResult:
    """Diagnose a byte stream of any size; memory stays flat in the input size."""
    check_lang(lang)
    if top is not None and top < 1:
        raise InputError("--top must be 1 or more")
    engine(service)  # an unknown service is an error before any input is read
    if service in (None, "rekognition"):
        # A Rekognition manifest summary or validation manifest is analysed, not grepped:
        # peek at its head (the stream still yields every byte) and route by content.
        head, stream = peek_head(stream)
        kind = sniff(head)
        if kind is not None:
            from bot.commands.manifest import diagnose_manifest  # builds on the types above

            return diagnose_manifest(stream, kind, service=service, lang=lang, top=top)
    return scan_text(stream, service=service, lang=lang, top=top)


def diagnose_text(text: str, **kwargs: Any) -> DiagnoseResult:
    """Diagnose a pasted text (Slack message, modal input): a manifest pasted whole is analysed."""
    return diagnose_stream(io.BytesIO(text.encode("utf-8", "replace")), **kwargs)
