"""Files attached to a message: a text or log file is downloaded, streamed and capped, for the diagnose path."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any, BinaryIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import CloudError, InputError

TEXT_TYPES = {"text", "log", "json", "jsonl", "csv", "yaml", "yml", "xml", "python", "shell", "markdown", "out", "err"}
TEXT_SUFFIXES = (".log", ".txt", ".json", ".jsonl", ".csv", ".yaml", ".yml", ".out", ".err", ".trace", ".py", ".sh")
HEAD_KEEP = 64 * 1024  # what is kept of a file for the stored diagnosis record (excerpt and fields)


def text_file(message: dict[str, Any]) -> dict[str, Any] | None:
    """The first attached file that is text or a log, or None."""
    for f in message.get("files") or []:
        name = (f.get("name") or "").lower()
        if (f.get("mimetype") or "").startswith("text/") or f.get("filetype") in TEXT_TYPES or name.endswith(TEXT_SUFFIXES):
            return f
    return None


class Capped:
    """A read-only stream that stops with a clear error past `cap` bytes and keeps its head for the record."""

    def __init__(self, raw: BinaryIO, cap: int, name: str) -> None:
        self.raw, self.cap, self.name = raw, cap, name
        self.read_bytes = 0
        self.head = bytearray()

    def _count(self, data: bytes) -> bytes:
        self.read_bytes += len(data)
        if self.read_bytes > self.cap:
            raise InputError(f"{self.name} is larger than {self.cap:,} bytes, the limit for files in Slack",
                             hint="diagnose it with the CLI: triage diagnose FILE")
        if len(self.head) < HEAD_KEEP:
            self.head += data[: HEAD_KEEP - len(self.head)]
        return data

    def read(self, n: int = -1) -> bytes:
        return self._count(self.raw.read(n if n is not None and n >= 0 else self.cap + 1))

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readline(self, limit: int = -1) -> bytes:
        return self._count(self.raw.readline(limit))

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()


def open_file(client: WebClient, f: dict[str, Any], cap: int, timeout: float = 30.0) -> Capped:
    """Open the file's private download URL with the bot token (files:read); refuse it when larger than `cap`."""
    name = f.get("name") or f.get("id") or "the file"
    if not f.get("url_private_download") and not f.get("url_private") and f.get("id"):
        try:
            f = {**f, **(client.files_info(file=f["id"]).get("file") or {})}
        except SlackApiError as e:
            raise CloudError(f"Slack would not give triage the file {name}: {e.response.get('error')}",
                             hint="add the files:read scope to the Slack app (slack/manifest.yaml) and reinstall it") from None
    url = f.get("url_private_download") or f.get("url_private")
    if not url:
        raise InputError(f"{name} has no download link")
    if int(f.get("size") or 0) > cap:
        raise InputError(f"{name} is {int(f['size']):,} bytes; files up to {cap:,} bytes are diagnosed in Slack",
                         hint="diagnose it with the CLI: triage diagnose FILE")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {client.token}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (Slack's file URL)
    except urllib.error.HTTPError as e:
        hint = "add the files:read scope to the Slack app and reinstall it" if e.code in (401, 403) else None
        raise CloudError(f"Slack answered HTTP {e.code} for the file {name}", hint=hint) from None
    except (urllib.error.URLError, OSError) as e:
        raise CloudError(f"could not download {name} from Slack: {e}") from None
    if "text/html" in (response.headers.get("Content-Type") or ""):  # Slack's sign-in page: the token may not read files
        response.close()
        raise CloudError(f"Slack did not hand over the file {name}", hint="add the files:read scope to the Slack app and reinstall it")
    return Capped(response, cap, name)
