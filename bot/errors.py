"""Named errors. The CLI and the Slack app translate these into friendly answers."""

from __future__ import annotations


class TriageError(Exception):
    """Base class for every error triage reports to a person."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InputError(TriageError):
    """The user's input is malformed: bad ID, ARN, file or option."""


class PlaybookError(TriageError):
    """A playbook file is invalid; the message names the file and the field."""


class ConfigError(TriageError):
    """triage.toml or the environment is invalid or incomplete."""


class NotAllowed(TriageError):
    """The caller may not run this command."""


class CloudError(TriageError):
    """A cloud call failed; the message says why in plain language."""


class CloudAuthError(CloudError):
    """Credentials are missing, invalid or expired, or a role is missing."""


class CloudNotFound(CloudError):
    """The named cloud resource does not exist."""


class CloudThrottled(CloudError):
    """The cloud kept throttling after the bounded retries."""


class CloudTimeout(CloudError):
    """The cloud did not answer within the time bound."""


def field_path(loc: tuple) -> str:
    """A pydantic error location as a path a person can find in the file: `steps[2].ja`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
