"""What Slack's Web API answered when it refused: its error code, and whether it refused a token."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import CloudError, ConfigError, TriageError

REFUSED_TOKEN = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type")


def api_error(e: SlackClientError) -> str:
    """Slack's error code (`invalid_auth`, `ratelimited` …), the HTTP status of an answer that was not
    Slack's JSON, or the kind of failure when no answer came."""
    if not isinstance(e, SlackApiError):
        return type(e).__name__
    if isinstance(e.response.data, dict):
        return str(e.response.get("error"))
    return f"HTTP {e.response.status_code}"


def startup_error(e: SlackClientError | OSError, url: str, method: str, token_var: str, token_hint: str) -> TriageError:
    """A call made before serving (auth.test, apps.connections.open) that failed, as one named error:
    a refused token names its variable, any other refusal the method, no answer the URL."""
    if isinstance(e, SlackApiError):
        error = api_error(e)
        if error in REFUSED_TOKEN:
            return ConfigError(f"Slack at {url} refused {token_var}: {error}", hint=token_hint)
        return CloudError(f"Slack at {url} answered {method} with {error}")
    return CloudError(f"cannot reach Slack at {url}: {getattr(e, 'reason', None) or e}",
                      hint="check the network or proxy; SLACK_API_URL overrides the Web API URL (for a local stand-in)")
