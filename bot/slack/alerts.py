"""Alerts in Slack: the watcher's sink (post, update, thread replies) and the acknowledge button."""

from __future__ import annotations

import json
import time
from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.errors import CloudError
from bot.slack import blocks as B
from bot.slack.answer import allowed
from bot.watch import SinkThrottled

EVENT_TYPE = "triage_alert"
REPLY_EVENT_TYPE = "triage_reply"
SNOOZES = {"1h": 3600, "4h": 4 * 3600, "1d": 86_400}
STATE_LABEL = {"open": ":red_circle: failing", "acked": ":large_yellow_circle: acknowledged", "recovered": ":large_green_circle: recovered",
               "resolved": ":white_check_mark: resolved",
               "baseline": ":white_circle: known before triage started"}


def alert_blocks(alert: dict[str, Any]) -> list[dict[str, Any]]:
    """The root message: what failed, the diagnosis, first steps, state, buttons."""
    f = alert["failure"]
    top = (f.get("matches") or [{}])[0]
    state = STATE_LABEL.get(alert["state"], alert["state"])
    if alert["state"] == "recovered" and f.get("recovery"):
        state += f": {f['recovery']}"  # what recovered it: the later iteration, run, model version or deployment
    mention = [B.group_ref(alert["mention"]), " "] if alert.get("mention") and alert["state"] == "open" else []
    who = [" by ", B.user_ref(alert["acked_by"]), f" at {alert['acked_at']}"] if alert.get("acked_by") else []
    if alert.get("resolved_by") and alert["state"] == "resolved":
        who = [" by ", B.user_ref(alert["resolved_by"])]
    snoozed = f" · reminder snoozed until {alert['snoozed_until']}" if alert.get("snoozed_until") and alert["state"] in ("open", "acked") else ""
    ticket = f" · ticket #{alert['ticket_id']} drafted" if alert.get("ticket_id") else ""
    lines = [*mention, f"*{alert['title']}*\n"
             f"`{alert['service']}` target `{alert['target']}` · {alert['kind']} `{alert['key']}` · status `{alert['status']}`\n"
             f"{state}", *who, snoozed, ticket]
    blocks: list[dict[str, Any]] = [B.section(lines)]
    if f.get("message"):
        blocks.append(B.section(B.code(f["message"], 1500)))
    if top.get("facts"):
        blocks.append(B.context("What we read: " + " · ".join(f"{name} `{value}`" for name, value in top["facts"].items())))
    if top.get("evidence"):
        blocks.append(B.section("*Why*\n" + B.code(B.evidence_lines(top["evidence"], "en"), 1500)))
    if top.get("steps"):
        blocks.append(B.section("*First steps*\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(top["steps"][:3], 1))))
    buttons = []
    if alert["state"] == "open":
        buttons.append(B.button("Acknowledge", "acknowledge", {"alert": alert["fingerprint"]}, "primary"))
    if alert["state"] in ("open", "acked"):
        buttons.append(B.button("Resolve", "resolve_alert", {"alert": alert["fingerprint"]}))
        buttons += [B.button(f"Snooze {label}", f"snooze_alert_{label}", {"alert": alert["fingerprint"], "for": label}) for label in SNOOZES]
    fields = f.get("fields", {})
    if f.get("service") == "azureml":
        if fields.get("endpoint") and fields.get("deployment"):
            buttons.append(B.button("Show logs", "show_logs", {"endpoint": fields["endpoint"], "deployment": fields["deployment"], "target": f["target"]}))
        elif fields.get("job_name"):
            buttons.append(B.button("Show logs", "show_logs", {"job": fields["job_name"], "target": f["target"]}))
    if not alert.get("ticket_id"):
        buttons.append(B.button("Draft ticket", "draft_ticket", {"alert": alert["fingerprint"]}))
    if buttons:
        blocks.append({"type": "actions", "block_id": "alert_actions", "elements": buttons})
    return blocks


class BoundedRateLimitRetry(RateLimitErrorRetryHandler):
    """Waits out a 429's Retry-After only up to `max_wait` seconds (exactly, no jitter), so a call's
    longest duration is known and the watcher's lease can outlast it; longer waits go back to the outbox."""

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        return response is not None and response.status_code == 429 and _retry_after(response) <= self.max_wait

    def prepare_for_next_attempt(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> None:
        state.next_attempt_requested = True
        time.sleep(_retry_after(response))
        state.increment_current_attempt()


def _retry_after(response: Any) -> float:
    for k, v in response.headers.items():
        if k.lower() == "retry-after":
            try:
                return float(v[0] if isinstance(v, list) else v)
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def alert_client(token: str, base_url: str | None = None, *, timeout: float = 15, retries: int = 3, max_wait: float = 10) -> WebClient:
    """The watcher's Web API client: retries a 429 (nothing was posted), nothing else.

    A post whose answer was lost (reset, disconnect, timeout, 5xx) may have landed; retrying it
    blindly is how duplicates happen. It stays in the outbox instead, and the retry first asks the
    channel's history whether it is there. One call lasts at most timeout x (retries + 1) +
    retries x max_wait ([watch] slack_timeout_s, slack_retry_wait_s): the lease must outlast that.
    """
    kwargs: dict[str, Any] = {"base_url": base_url.rstrip("/") + "/"} if base_url else {}  # with or without the trailing slash
    return WebClient(token=token, retry_handlers=[BoundedRateLimitRetry(retries, max_wait)], timeout=timeout, **kwargs)


class SlackSink:
    """Posts alerts with message metadata carrying the fingerprint, so a repost after a crash is detected."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as e:
            if e.response.status_code == 429:  # still throttled after the client's own retries
                raise SinkThrottled("Slack rate limit", float(e.response.headers.get("Retry-After", 30))) from None
            raise CloudError(f"Slack {method} failed: {e.response.get('error')}") from None
        except (OSError, HTTPException, SlackClientError) as e:  # timeout, refused, reset: the entry stays in the outbox
            raise CloudError(f"Slack {method} did not answer: {type(e).__name__}: {e}") from None

    def post(self, channel: str, alert: dict[str, Any]) -> str:
        resp = self._call("chat_postMessage", channel=channel, text=B.fallback(f"Failure: {alert['title']}"), blocks=alert_blocks(alert),
                          metadata={"event_type": EVENT_TYPE, "event_payload": {"fingerprint": alert["fingerprint"]}})
        return resp["ts"]

    def update(self, channel: str, ts: str, alert: dict[str, Any]) -> None:
        self._call("chat_update", channel=channel, ts=ts, text=B.fallback(f"Failure: {alert['title']}"), blocks=alert_blocks(alert))

    def reply(self, channel: str, thread_ts: str, text: str, user: str | None = None, key: str | None = None,
              group: str | None = None) -> None:
        """A thread reply (or, without `thread_ts`, a channel notice); `key` rides along as metadata so a
        retry after a crash can find it (find_reply) instead of posting it twice; `group` is mentioned first."""
        kwargs: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        if key:
            kwargs["metadata"] = {"event_type": REPLY_EVENT_TYPE, "event_payload": {"key": key}}
        parts: list[str] = [B.group_ref(group), " "] if group else []
        for i, piece in enumerate(text.split("{user}") if user else [text]):
            parts += [B.user_ref(user or ""), piece] if i else [piece]
        self._call("chat_postMessage", channel=channel, text=B.mrkdwn(parts), **kwargs)

    def _messages(self, method: str, **kwargs: Any) -> Any:
        """Every message of a history or a thread, page after page (however busy the channel)."""
        cursor = None
        while True:
            resp = self._call(method, limit=200, include_all_metadata=True, **kwargs, **({"cursor": cursor} if cursor else {}))
            yield from resp.get("messages", [])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return

    def find_posted(self, channel: str, fingerprint: str, since: str) -> str | None:
        """The root message of this alert, looked for back to the alert's creation."""
        for m in self._messages("conversations_history", channel=channel, oldest=_oldest(since)):
            meta = m.get("metadata") or {}
            if meta.get("event_type") == EVENT_TYPE and (meta.get("event_payload") or {}).get("fingerprint") == fingerprint:
                return m["ts"]
        return None

    def find_reply(self, channel: str, thread_ts: str, key: str, since: str) -> bool:
        """Whether the reply (or channel notice) sent with `key` is already there."""
        if thread_ts:
            found = self._messages("conversations_replies", channel=channel, ts=thread_ts)
        else:
            found = self._messages("conversations_history", channel=channel, oldest=_oldest(since))
        for m in found:
            meta = m.get("metadata") or {}
            if meta.get("event_type") == REPLY_EVENT_TYPE and (meta.get("event_payload") or {}).get("key") == key:
                return True
        return False


def _oldest(since: str) -> str:
    from datetime import datetime

    try:
        return str(datetime.fromisoformat(since).timestamp() - 60)
    except ValueError:
        return "0"


def acknowledge_alert(deps: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
    """Acknowledge button: who and when recorded, the root message updated, a line in the thread."""
    from bot.store import utcnow
    from bot.watch import Watcher

    user = body.get("user", {}).get("id", "")
    channel = (body.get("channel") or {}).get("id", "")
    lang = deps.locales.lang(user)
    value = json.loads((body.get("actions") or [{}])[0].get("value") or "{}")
    if not allowed(deps, "read", user, channel, lang, respond, "button:acknowledge", value.get("alert", "")):
        return
    watcher = Watcher(deps.settings, deps.store, SlackSink(client))
    at = utcnow()
    alert = watcher.alert(value["alert"]) or {}
    # only a failing alert becomes "acked": a late click on a recovered one must not reopen it
    state = {"state": "acked"} if alert.get("state") == "open" else {}
    watcher.note(value["alert"], f":eyes: Acknowledged by {{user}} at {at}.", user=user, acked_by=user, acked_at=at, **state)
    deps.audit(user, channel, "button:acknowledge", value["alert"], "ok")


def resolve_alert(deps: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
    """Resolve button: the alert is closed by a person (no reminder, no buttons), the thread says who."""
    from bot.store import utcnow
    from bot.watch import Watcher

    user = body.get("user", {}).get("id", "")
    channel = (body.get("channel") or {}).get("id", "")
    lang = deps.locales.lang(user)
    value = json.loads((body.get("actions") or [{}])[0].get("value") or "{}")
    if not allowed(deps, "read", user, channel, lang, respond, "button:resolve", value.get("alert", "")):
        return
    watcher = Watcher(deps.settings, deps.store, SlackSink(client))
    alert = watcher.alert(value.get("alert", "")) or {}
    if alert.get("state") not in ("open", "acked"):
        deps.audit(user, channel, "button:resolve", value.get("alert", ""), f"not open ({alert.get('state')})")
        return
    watcher.note(value["alert"], f":white_check_mark: Resolved by {{user}} at {utcnow()}.", user=user, state="resolved", resolved_by=user)
    deps.audit(user, channel, "button:resolve", value["alert"], "ok")


def snooze_alert(deps: Any, body: dict[str, Any], client: WebClient, respond: Any) -> None:
    """Snooze button (1 h, 4 h, 1 day): the reminder waits until then; the thread says who snoozed it and until when."""
    from datetime import datetime, timedelta, timezone

    from bot.watch import Watcher

    user = body.get("user", {}).get("id", "")
    channel = (body.get("channel") or {}).get("id", "")
    lang = deps.locales.lang(user)
    value = json.loads((body.get("actions") or [{}])[0].get("value") or "{}")
    if not allowed(deps, "read", user, channel, lang, respond, "button:snooze", value.get("alert", "")):
        return
    seconds = SNOOZES.get(str(value.get("for")))
    watcher = Watcher(deps.settings, deps.store, SlackSink(client))
    alert = watcher.alert(value.get("alert", "")) or {}
    if seconds is None or alert.get("state") not in ("open", "acked"):
        deps.audit(user, channel, "button:snooze", json.dumps(value), "stale button")
        return
    until = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
    watcher.note(value["alert"], f":zzz: Snoozed by {{user}} for {value['for']}, until {until}.", user=user, snoozed_until=until,
                 reminded_at=None)
    deps.audit(user, channel, "button:snooze", json.dumps(value), f"until {until}")
