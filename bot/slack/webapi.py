"""What Slack's Web API answered when it refused: its error code, and whether it refused a token."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError

REFUSED_TOKEN = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type")


def api_error(e: SlackClientError) -> str:
    """Slack's error code (`invalid_auth`, `ratelimited` …), the HTTP status of an answer that was not
    Slack's JSON, or the kind of failure when no answer came."""
    if not isinstance(e, SlackApiError):
        return type(e).__name__
    if isinstance(e.response.data, dict):
        return str(e.response.get("error"))
    return f"HTTP {e.response.status_code}"
