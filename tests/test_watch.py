"""`triage watch`: fake providers driven through transitions, a real store (SQLite file and PostgreSQL), a fake Slack on 127.0.0.1.

The first half runs the Watcher in-process (the `poll=` seam, an injected clock); the second half
runs real `python -m bot watch` processes against the fake Slack and a fake Custom Vision, and
kills them at the worst moments.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from slack_sdk import WebClient

from bot.diagnosis import Diagnosis, Evidence, StepView
from bot.config import Settings, Target, parse
from bot.errors import CloudError, CloudThrottled
from bot.failures import Failure
from bot.slack.alerts import SlackSink, alert_client
from bot.store import Store, open_store
from bot.watch import Watcher
from bot.watch.outbox import enqueue
from fake_customvision import IT_FAILED, KEY, WIDGETS, FakeCustomVision, iteration
from tests.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
SUB = "11111111-2222-3333-4444-555555555555"
RESOURCE_ID = f"/subscriptions/{SUB}/resourceGroups/rg-vision/providers/Microsoft.CognitiveServices/accounts/cv-prod"
POST, UPDATE, HISTORY = "/api/chat.postMessage", "/api/chat.update", "/api/conversations.history"

TOML = f"""
[slack]
alert_channel = "CALERTS"
oncall_group = "SONCALL"

[watch]
interval_s = 5

[watch.routes]
aml-prod = "CMLOPS"

[[customvision]]
name = "cv-prod"
endpoint = "https://cv-prod.cognitiveservices.azure.com"
training_key_env = "CV_KEY"
resource_id = "{RESOURCE_ID}"

[[azureml]]
name = "aml-prod"
subscription_id = "{SUB}"
resource_group = "rg-ml"
workspace = "ws-prod"

[[rekognition]]
name = "rek-prod"
region = "us-east-1"
"""


# ---- fakes and helpers ----------------------------------------------------------------------------


def diagnosis(pid: str, title: str, step: str) -> Diagnosis:
    return Diagnosis(id=pid, title=title, summary="", service=pid.split(".")[0], severity="error", score=90, retryable=True,
                     evidence=[Evidence(1, '"status": "Failed"')], steps=[StepView(step)], collect=[])


def cv_failure(iteration_id: str = "it-2") -> Failure:
    return Failure(service="customvision", target="cv-prod", kind="iteration", key=iteration_id, status="Failed",
                   message=f"iteration {iteration_id} status Failed", fields={"project_id": "p-1", "iteration_id": iteration_id},
                   matches=[diagnosis("customvision.training_failed", "Custom Vision training failed", "Retry the training once")])


def aml_failure(job: str = "train-42") -> Failure:
    return Failure(service="azureml", target="aml-prod", kind="job", key=job, status="Failed",
                   message="exit code 137 (OOMKilled)", fields={"job_name": job},
                   matches=[diagnosis("azureml.job.out_of_memory", "Job ran out of memory", "Use a larger VM size")])


class Scenario(dict):
    """The fake provider: target name -> the failures it reports now, or the exception it raises."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self.clock = clock
        self.polls: list[tuple[str, float]] = []
        self.on_poll: Callable[[str], None] = lambda name: None

    def __call__(self, service: str, target: Target) -> list[Failure]:
        self.polls.append((target.name, self.clock()))
        self.on_poll(target.name)
        value = self.get(target.name, [])
        if isinstance(value, BaseException):
            raise value
        return list(value)


class Clock:
    """Injected time: sleeping advances it at once."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] = lambda: None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep()


class Env:
    def __init__(self, location: str, slack: FakeSlack, toml: str = TOML) -> None:
        self.slack = slack
        self.settings = Settings(parse(toml), {})
        self.store = open_store(location)
        self.clock = Clock()
        self.scenario = Scenario(self.clock)
        self._seen = 0

    def watcher(self, client: WebClient | None = None, **kw: Any) -> Watcher:
        client = client or alert_client("xoxb-test", base_url=f"{self.slack.base}/api/")
        return Watcher(self.settings, self.store, SlackSink(client), poll=self.scenario, clock=self.clock, sleep=self.clock.sleep, **kw)

    def new_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Slack calls since the last look."""
        with self.slack.lock:
            calls = list(self.slack.calls[self._seen:])
            self._seen = len(self.slack.calls)
        return calls

    def outbox(self) -> list[dict[str, Any]]:
        return self.store.query("select * from outbox order by id")


@pytest.fixture
def slack():
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def env(store_location, slack) -> Env:
    """On both backends (tests/conftest.py)."""
    e = Env(store_location, slack)
    yield e
    e.store.close()


def paths(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [p for p, _ in calls]


def sections(body: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in body.get("blocks", []) if b["type"] == "section")


def buttons(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    actions = [b for b in body.get("blocks", []) if b["type"] == "actions"]
    return {e["action_id"]: json.loads(e["value"]) for a in actions for e in a["elements"]}


SECRET = "test-signing-secret-0123456789"


def slack_app(env: Env) -> Any:
    """The real Bolt app on the same state file, its client on the same fake Slack."""
    from slack_bolt.authorization import AuthorizeResult

    from bot.slack.app import build_app, web_client

    def authorize(enterprise_id, team_id, user_id):
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test", bot_id="BBOT", bot_user_id="UBOT")

    settings = Settings(env.settings.config, {"SLACK_SIGNING_SECRET": SECRET})
    return build_app(settings, env.store, client=web_client("xoxb-test", base_url=f"{env.slack.base}/api/"), authorize=authorize)


def signed(raw: str) -> Any:
    from slack_bolt import BoltRequest
    from slack_sdk.signature import SignatureVerifier

    stamp = str(int(time.time()))
    return BoltRequest(body=raw, headers={"content-type": ["application/x-www-form-urlencoded"], "x-slack-request-timestamp": [stamp],
                                          "x-slack-signature": [SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=raw)]})


def interactive(payload: dict[str, Any]) -> str:
    return "payload=" + quote(json.dumps(payload))


def started_clean(env: Env, **kw: Any) -> Watcher:
    """A watcher past its first start with nothing failing: everything after is new."""
    w = env.watcher(**kw)
    report = w.cycle()
    assert (report.targets, report.failures, report.baseline) == (3, 0, 0)
    assert env.new_calls() == []
    return w

def one_cv_alert(env: Env) -> tuple[Watcher, dict[str, Any], str, str]:
    """A clean start, then one Custom Vision failure posted: (watcher, the post's payload, fingerprint, root ts)."""
    w = started_clean(env)
    env.scenario["cv-prod"] = [cv_failure()]
    w.cycle()
    (_, posted), = env.new_calls()
    fp = cv_failure().fingerprint
    return w, posted, fp, w.alert(fp)["message_ts"]



# ---- first start ----------------------------------------------------------------------------------


def test_first_start_records_existing_failures_as_baseline_and_posts_nothing(env):
    env.scenario["cv-prod"] = [cv_failure("it-2")]
    env.scenario["aml-prod"] = [aml_failure()]
    w = env.watcher()

    report = w.cycle()
    assert (report.failures, report.baseline, report.new) == (2, 2, 0)
    assert env.new_calls() == [] and env.outbox() == []
    assert w.cycle().new == 0 and env.new_calls() == []

    env.scenario["cv-prod"] = [cv_failure("it-2"), cv_failure("it-3")]  # after the baseline: new
    report = w.cycle()
    calls = env.new_calls()
    assert report.new == 1 and paths(calls) == [POST]
    assert "iteration `it-3`" in sections(calls[0][1])

    env.scenario["cv-prod"] = [cv_failure("it-3")]  # the baseline failure recovers: it was never posted, so silence
    assert w.cycle().recovered == 0 and env.new_calls() == []
    env.scenario["cv-prod"] = [cv_failure("it-3"), cv_failure("it-2")]  # and failing again after that is a new alert
    calls = (w.cycle(), env.new_calls())[1]
    assert paths(calls) == [POST] and "iteration `it-2`" in sections(calls[0][1])


def test_post_baseline_posts_the_existing_failures(env):
    env.scenario["cv-prod"] = [cv_failure()]
    report = env.watcher(post_baseline=True).cycle()
    calls = env.new_calls()
    assert (report.baseline, report.new, report.posted) == (0, 1, 1)
    assert paths(calls) == [POST] and calls[0][1]["channel"] == "CALERTS"


def test_a_target_unreachable_at_first_start_gets_its_baseline_when_it_answers(env):
    env.scenario["aml-prod"] = CloudError("Azure ML did not answer in 30 s")
    w = env.watcher()
    w.cycle()
    assert [b["text"][:40] for _, b in env.new_calls()] == [":warning: triage cannot read target `aml"]

    env.scenario["aml-prod"] = [aml_failure()]  # failing since before triage could see it: baseline, no flood
    report = w.cycle()
    calls = env.new_calls()
    assert (report.baseline, report.new) == (1, 0)
    assert paths(calls) == [POST] and calls[0][1]["text"].startswith(":white_check_mark: target `aml-prod` answers again")


# ---- one failure's life: new, same, recovered, failing again, acknowledged ------------------------


def test_new_failure_is_posted_once_diagnosed_with_mention_and_buttons_routed_per_target(env):
    w = started_clean(env)
    env.scenario["cv-prod"] = [cv_failure()]
    env.scenario["aml-prod"] = [aml_failure()]

    report = w.cycle()
    calls = env.new_calls()
    assert (report.new, report.posted, report.pending) == (2, 2, 0)
    assert paths(calls) == [POST, POST]
    cv, aml = calls[0][1], calls[1][1]
    assert cv["channel"] == "CALERTS" and aml["channel"] == "CMLOPS"  # [watch.routes] for aml-prod, the default for cv-prod
    assert "thread_ts" not in cv and "thread_ts" not in aml

    fp = cv_failure().fingerprint
    assert cv["text"] == "Failure: Custom Vision training failed"
    text = sections(cv)
    assert text.startswith("<!subteam^SONCALL> *Custom Vision training failed*\n")
    assert "`customvision` target `cv-prod` · iteration `it-2` · status `Failed`" in text
    assert ":red_circle: failing" in text
    assert "*First steps*\n1. Retry the training once" in text
    assert cv["metadata"] == {"event_type": "triage_alert", "event_payload": {"fingerprint": fp}}
    def on_call(fp: str) -> dict[str, dict[str, Any]]:  # Resolve, and Snooze 1 h / 4 h / 1 day
        return {"resolve_alert": {"alert": fp}, **{f"snooze_alert_{t}": {"alert": fp, "for": t} for t in ("1h", "4h", "1d")}}

    assert buttons(cv) == {"acknowledge": {"alert": fp}, **on_call(fp), "draft_ticket": {"alert": fp}}
    assert buttons(aml) == {"acknowledge": {"alert": aml_failure().fingerprint}, **on_call(aml_failure().fingerprint),
                            "show_logs": {"job": "train-42", "target": "aml-prod"},
                            "draft_ticket": {"alert": aml_failure().fingerprint}}
    assert sections(aml).startswith("<!subteam^SONCALL> *Job ran out of memory*")

    assert w.alert(fp)["message_ts"] == env.slack.messages["CALERTS"][0]["ts"]
    assert all(e["posted_at"] for e in env.outbox())

    report = w.cycle()  # the same failures again: nothing
    assert (report.failures, report.new) == (2, 0) and env.new_calls() == []


def test_recovery_replies_in_the_thread_and_updates_the_root_and_failing_again_is_a_new_post(env):
    w, posted, fp, root = one_cv_alert(env)

    env.scenario["cv-prod"] = []
    report = w.cycle()
    calls = env.new_calls()
    assert report.recovered == 1
    assert paths(calls) == [POST, UPDATE]
    reply, update = calls[0][1], calls[1][1]
    assert (reply["channel"], reply["thread_ts"]) == ("CALERTS", root)
    assert reply["text"] == ":white_check_mark: No longer failing: no longer listed as failed (retried and succeeded, or removed)."
    assert (update["channel"], update["ts"]) == ("CALERTS", root)
    assert ":large_green_circle: recovered: no longer listed as failed (retried and succeeded, or removed)" in sections(update)
    assert "<!subteam^" not in sections(update)  # nobody is paged about a recovery
    assert buttons(update) == {"draft_ticket": {"alert": fp}}
    assert w.cycle().recovered == 0 and env.new_calls() == []

    env.scenario["cv-prod"] = [cv_failure()]  # the same iteration fails again
    report = w.cycle()
    calls = env.new_calls()
    assert report.new == 1 and paths(calls) == [POST]
    assert "thread_ts" not in calls[0][1]
    assert sections(calls[0][1]).startswith("<!subteam^SONCALL> *Custom Vision training failed*")
    assert ":red_circle: failing" in sections(calls[0][1])
    new_root = w.alert(fp)["message_ts"]
    assert new_root != root and [m["ts"] for m in env.slack.messages["CALERTS"]] == [root, new_root]


def test_acknowledge_through_note_replies_and_updates_the_root_with_who(env):
    w, posted, fp, root = one_cv_alert(env)

    app_side = env.watcher()  # the Slack app's own Watcher, beside the running one
    at = "2024-05-01T10:00:00+00:00"
    app_side.note(fp, f":eyes: Acknowledged by {{user}} at {at}.", user="U0ONCALL", state="acked", acked_by="U0ONCALL", acked_at=at)
    calls = env.new_calls()
    assert paths(calls) == [POST, UPDATE]
    assert (calls[0][1]["thread_ts"], calls[0][1]["text"]) == (root, f":eyes: Acknowledged by <@U0ONCALL> at {at}.")
    assert calls[1][1]["ts"] == root
    text = sections(calls[1][1])
    assert f":large_yellow_circle: acknowledged by <@U0ONCALL> at {at}" in text
    assert "<!subteam^" not in text and "acknowledge" not in buttons(calls[1][1])

    report = w.cycle()  # the watcher neither resends the note nor calls an acknowledged failure new
    assert (report.new, report.posted) == (0, 0) and env.new_calls() == []
    env.scenario["cv-prod"] = []
    assert w.cycle().recovered == 1 and paths(env.new_calls()) == [POST, UPDATE]


def test_the_acknowledge_button_in_the_slack_app_acks_once_and_a_late_click_does_not_reopen(env):
    w, posted, fp, root = one_cv_alert(env)
    app = slack_app(env)

    def click() -> None:
        value = json.dumps(buttons(posted)["acknowledge"])
        payload = {"type": "block_actions", "user": {"id": "U0ONCALL"}, "team": {"id": "T1"}, "channel": {"id": "CALERTS"},
                   "trigger_id": "t1", "container": {"type": "message", "message_ts": root},
                   "response_url": f"{env.slack.base}/response_url/act",
                   "actions": [{"type": "button", "action_id": "acknowledge", "value": value, "action_ts": str(time.time_ns())}]}
        assert app.dispatch(signed(interactive(payload))).status == 200

    click()
    env.slack.wait_for(UPDATE)
    calls = [c for c in env.new_calls() if c[0] in (POST, UPDATE)]
    assert paths(calls) == [POST, UPDATE]
    assert calls[0][1]["thread_ts"] == root and calls[0][1]["text"].startswith(":eyes: Acknowledged by <@U0ONCALL> at ")
    assert ":large_yellow_circle: acknowledged by <@U0ONCALL>" in sections(calls[1][1])
    assert w.alert(fp)["state"] == "acked"

    env.scenario["cv-prod"] = []
    assert w.cycle().recovered == 1 and paths(env.new_calls()) == [POST, UPDATE]
    click()  # a late click on the stale button, after the recovery
    env.slack.wait_for(UPDATE, count=3)
    env.new_calls()
    assert w.alert(fp)["state"] == "recovered"
    assert w.cycle().recovered == 0 and env.new_calls() == []  # not reopened, so not "recovered" a second time


def test_a_note_before_the_root_is_posted_goes_back_to_the_watcher_in_order(env):
    w = started_clean(env)
    env.slack.throttle[POST] = 4  # the first post and the client's 3 retries
    env.scenario["cv-prod"] = [cv_failure()]
    w.cycle()
    env.new_calls()
    fp = cv_failure().fingerprint

    env.watcher().note(fp, ":eyes: Acknowledged by <@U0ONCALL>.", state="acked", acked_by="U0ONCALL", acked_at="now")
    assert env.new_calls() == []  # nothing to reply to yet; not dropped either
    assert [(e["op"], e["posted_at"], e["claimed_until"]) for e in env.outbox()] == [("post", None, None), ("reply", None, None),
                                                                                     ("update", None, None)]
    w.cycle()
    calls = env.new_calls()
    assert paths(calls) == [HISTORY, POST, POST, UPDATE]
    root = env.slack.messages["CALERTS"][0]["ts"]
    assert calls[2][1]["thread_ts"] == root and "Acknowledged" in calls[2][1]["text"]
    assert len(env.slack.messages["CALERTS"]) == 1


def test_the_watcher_leaves_a_note_in_flight_alone_until_its_claim_expires(env):
    w, _, fp, root = one_cv_alert(env)
    with env.store.transaction() as db:  # the Slack app recorded a note, then died before sending it
        enqueue(db, fp, "reply", "CALERTS", {"text": ":eyes: Acknowledged by <@U0ONCALL>."}, env.clock() + 60)

    assert w.cycle().posted == 0 and env.new_calls() == []  # the app may still be sending it: not twice
    env.clock.now += 61
    assert w.cycle().posted == 1
    calls = env.new_calls()
    assert paths(calls) == [POST] and calls[0][1]["thread_ts"] == root


# ---- targets that do not answer ------------------------------------------------------------------


def test_a_target_failing_to_answer_is_reported_once_and_once_more_when_it_answers(env):
    w = started_clean(env)
    env.scenario["rek-prod"] = CloudError("Rekognition did not answer within 30 s (DescribeProjects)")
    for _ in range(3):
        report = w.cycle()
        assert report.unreachable == ["rek-prod"]
    calls = env.new_calls()
    assert paths(calls) == [POST]
    assert calls[0][1]["channel"] == "CALERTS" and "thread_ts" not in calls[0][1]
    assert calls[0][1]["text"].startswith(":warning: triage cannot read target `rek-prod`: Rekognition did not answer within 30 s")

    env.scenario["rek-prod"] = []
    assert w.cycle().unreachable == []
    calls = env.new_calls()
    assert paths(calls) == [POST] and calls[0][1]["text"].startswith(":white_check_mark: target `rek-prod` answers again")
    w.cycle()
    assert env.new_calls() == []


def test_a_target_whose_poll_raises_does_not_stop_the_others_nor_recover_its_alerts(env):
    w = started_clean(env)
    env.scenario["cv-prod"] = [cv_failure()]
    w.cycle()
    env.new_calls()

    env.scenario["cv-prod"] = KeyError("status")  # a provider bug, not a named error
    env.scenario["aml-prod"] = [aml_failure()]
    report = w.cycle()
    calls = env.new_calls()
    assert (report.new, report.recovered, report.unreachable) == (1, 0, ["cv-prod"])
    assert paths(calls) == [POST, POST]
    assert calls[0][1]["channel"] == "CALERTS" and "cannot read target `cv-prod`: KeyError" in calls[0][1]["text"]
    assert calls[1][1]["channel"] == "CMLOPS" and sections(calls[1][1]).startswith("<!subteam^SONCALL> *Job ran out of memory*")
    assert w.alert(cv_failure().fingerprint)["state"] == "open"


# ---- back-pressure --------------------------------------------------------------------------------


def test_slack_429_beyond_the_client_retries_keeps_the_alert_and_posts_it_next_cycle(env):
    w = started_clean(env)
    env.slack.throttle[POST] = 4  # one post and the client's 3 retries (Retry-After: 0)
    env.scenario["cv-prod"] = [cv_failure()]
    report = w.cycle()
    assert (report.new, report.posted, report.pending) == (1, 0, 1)
    assert paths(env.new_calls()) == [POST] * 4 and env.slack.messages == {}
    (entry,) = env.outbox()
    assert (entry["op"], entry["posted_at"], entry["attempts"]) == ("post", None, 1)
    assert entry["last_error"] == "throttled, retry after 0 s"
    assert env.clock.sleeps == [0.0]  # Retry-After honoured by the drain too

    report = w.cycle()
    assert (report.new, report.posted, report.pending) == (0, 1, 0)
    assert paths(env.new_calls()) == [HISTORY, POST]  # asks whether the post landed before posting it
    assert len(env.slack.messages["CALERTS"]) == 1 and env.outbox()[0]["posted_at"]
    w.cycle()
    assert env.new_calls() == []


def test_retry_after_stops_the_drain_and_nothing_is_dropped(env):
    bare = WebClient(token="xoxb-test", base_url=f"{env.slack.base}/api/")  # no client retries: the sink sees the 429
    w = started_clean(env, client=bare)
    env.slack.retry_after = "7"
    env.slack.throttle[POST] = 1
    env.scenario["cv-prod"] = [cv_failure()]
    env.scenario["aml-prod"] = [aml_failure()]
    report = w.cycle()
    assert (report.new, report.posted, report.pending) == (2, 0, 2)
    assert paths(env.new_calls()) == [POST]  # stopped at the first 429, waited, the second one untouched
    assert env.clock.sleeps == [7.0]

    report = w.cycle()
    assert (report.posted, report.pending) == (2, 0)
    assert paths(env.new_calls()) == [HISTORY, POST, POST]
    assert [len(env.slack.messages[c]) for c in ("CALERTS", "CMLOPS")] == [1, 1]


def test_one_drain_sends_everything_pending_batch_after_batch(env):
    bare = WebClient(token="xoxb-test", base_url=f"{env.slack.base}/api/")
    w = started_clean(env, client=bare)
    env.slack.throttle[POST] = 1
    env.scenario["cv-prod"] = [cv_failure(f"it-{i}") for i in range(5)]
    assert w.cycle().pending == 5
    env.new_calls()
    assert w.drain(batch=2) == (5, 0)
    assert paths(env.new_calls()) == [HISTORY] + [POST] * 5 and len(env.slack.messages["CALERTS"]) == 5


def test_a_post_whose_answer_is_lost_is_not_posted_twice(env):
    w = started_clean(env)
    env.slack.hang[POST] = "drop"  # Slack posts it, the connection closes before the answer
    env.scenario["cv-prod"] = [cv_failure()]
    report = w.cycle()
    assert (report.new, report.posted) == (1, 0)
    assert paths(env.new_calls()) == [POST]  # not retried blindly by the client
    assert env.outbox()[0]["last_error"].startswith("Slack chat_postMessage did not answer")

    env.slack.hang.clear()
    report = w.cycle()
    assert report.posted == 1 and paths(env.new_calls()) == [HISTORY]  # found in the channel: marked, not reposted
    (message,) = env.slack.messages["CALERTS"]
    assert w.alert(cv_failure().fingerprint)["message_ts"] == message["ts"]


def test_cloud_throttling_slows_the_loop_down_and_recovers(env):
    w = env.watcher()
    throttled = CloudThrottled("Rekognition kept throttling (ThrottlingException) after 4 attempts")
    env.scenario["rek-prod"] = throttled

    def on_poll(name: str) -> None:
        if name == "rek-prod" and len([n for n, _ in env.scenario.polls if n == "rek-prod"]) == 6:
            env.scenario["rek-prod"] = []  # throttled 5 times, answers on the 6th poll

    env.scenario.on_poll = on_poll
    w.run(stop=lambda: len([n for n, _ in env.scenario.polls if n == "rek-prod"]) >= 8)
    times = [t for n, t in env.scenario.polls if n == "rek-prod"]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps == [10.0, 20.0, 40.0, 40.0, 40.0, 5.0, 5.0]  # interval_s = 5, doubling up to 8 intervals, then back
    assert [b["text"][:10] for _, b in env.new_calls()] == [":warning: ", ":white_che"]


# ---- two watchers ---------------------------------------------------------------------------------


def test_two_watchers_only_the_lease_holder_records_and_posts(env):
    a, b = env.watcher(owner="a", post_baseline=True), env.watcher(owner="b", post_baseline=True)
    assert a.acquire() and not b.acquire()
    env.scenario["cv-prod"] = [cv_failure()]

    report = b.cycle()  # b polled, but a holds the lease: b records nothing, posts nothing
    assert report.lease_lost and report.new == 0 and env.outbox() == [] and env.new_calls() == []
    assert a.cycle().posted == 1 and paths(env.new_calls()) == [POST]

    env.clock.now += a.lease_ttl + 0.1  # a stops renewing: b takes over, and does not repost
    assert b.acquire() and not a.acquire()
    assert b.cycle().new == 0 and env.new_calls() == []
    assert a.cycle().lease_lost


def test_the_lease_holder_renews_while_it_sleeps_between_polls(store_location, slack):
    env = Env(store_location, slack, TOML.replace("interval_s = 5", "interval_s = 60\nlease_s = 6\nslack_timeout_s = 1\nslack_retry_wait_s = 0"))
    a, b = env.watcher(owner="a"), env.watcher(owner="b")
    refused: list[bool] = []
    env.clock.on_sleep = lambda: refused.append(not b.acquire())
    a.run(stop=lambda: len(env.scenario.polls) >= 3 * 3)  # three cycles over three targets
    assert a.lease_ttl == 6 and env.clock.sleeps == [2.0] * 60  # 2 x 60 s between the polls, in lease_s / 3 steps
    assert all(refused)  # b never got in, though the lease is 10 times shorter than the interval


def test_the_watcher_rides_out_a_postgresql_restart_and_posts_once(pg_server, slack, caplog):
    """Every connection dropped while the watcher sleeps (a restart or failover): it logs, waits, reconnects, goes on."""
    import psycopg

    url = pg_server.create_database()
    env = Env(url, slack)
    w = env.watcher(owner="a")
    dropped: list[int] = []

    def drop_connections() -> None:
        if len(env.scenario.polls) == 3 and not dropped:  # after the first cycle
            with psycopg.connect(pg_server.url(), autocommit=True) as admin:
                dropped.append(admin.execute("select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = %s",
                                             [url.rsplit("/", 1)[1]]).fetchone()[0])
            env.scenario["cv-prod"] = [cv_failure()]

    env.clock.on_sleep = drop_connections
    with caplog.at_level("WARNING", logger="triage.watch"):
        w.run(stop=lambda: len(env.scenario.polls) >= 3 * 3)
    assert dropped and dropped[0] >= 1
    assert "store fault, retrying" in caplog.text
    assert paths(env.new_calls()) == [POST]  # the failure that appeared meanwhile, posted once
    assert env.store.query("select count(*) as n from outbox where posted_at is null") == [{"n": 0}]
    env.store.close()


# ---- crashes, with real processes ---------------------------------------------------------------


@pytest.fixture
def cv():
    fake = FakeCustomVision().start()
    fake.seed_standard()  # project "widgets" with one Failed iteration
    yield fake
    fake.stop()


def write_config(tmp_path: Path, cv: FakeCustomVision, location: str | None, lease_s: float = 3, slack_timeout_s: float = 0.5) -> Path:
    """triage.toml in tmp_path; the store is [store] path or url, or (None) left to DATABASE_URL."""
    path = tmp_path / "triage.toml"
    key = "url" if location and location.startswith("postgresql://") else "path"
    store = f'[store]\n{key} = "{location}"' if location else ""
    path.write_text(f"""
{store}

[slack]
alert_channel = "CALERTS"
oncall_group = "SONCALL"

[watch]
interval_s = 5
lease_s = {lease_s}
slack_timeout_s = {slack_timeout_s}
slack_retry_wait_s = 0
post_baseline = true

[[customvision]]
name = "cv-prod"
endpoint = "{cv.endpoint}"
training_key_env = "CV_KEY"
resource_id = "{RESOURCE_ID}"
projects = ["widgets"]
""", encoding="utf-8")
    return path


def watch_process(config: Path, slack: FakeSlack, log: Path, *args: str, cwd: Path = ROOT,
                  extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": f"{slack.base}/api/", "CV_KEY": KEY,
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), **(extra_env or {})}
    env.pop("TRIAGE_CONFIG", None)
    if not extra_env or "DATABASE_URL" not in extra_env:
        env.pop("DATABASE_URL", None)
    out = log.open("w", encoding="utf-8")
    try:
        return subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "watch", *args], cwd=cwd, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def run_once(config: Path, slack: FakeSlack, log: Path) -> str:
    p = watch_process(config, slack, log, "--once")
    assert p.wait(timeout=60) == 0, log.read_text()
    return log.read_text()


def wait_until(check: Callable[[], Any], timeout: float, what: str, *logs: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n" + "\n".join(p.read_text() for p in logs if p.exists()))


def query(db: Store, sql: str, args: tuple = ()) -> list[tuple]:
    """What the watcher processes wrote, read through the same store interface."""
    return [tuple(r.values()) for r in db.query(sql, list(args))]


def lease_expired(db: Store) -> bool:
    return all(expires < time.time() for (expires,) in query(db, "select expires_at from leases"))


def kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=10)

def kill_once_posted(config: Path, slack: FakeSlack, log: Path, posted: Callable[[], Any], what: str) -> None:
    """Run one watch cycle whose Slack posts land but whose answers never come back; kill it
    with SIGKILL as soon as `posted()` sees the message: the outbox cannot know it was sent."""
    slack.hang[POST] = "after"
    p = watch_process(config, slack, log, "--once")
    try:
        wait_until(posted, 60, what, log)
        kill(p)
    finally:
        if p.poll() is None:
            kill(p)



def alert_messages(slack: FakeSlack, channel: str = "CALERTS") -> list[dict[str, Any]]:
    return [m for m in slack.messages.get(channel, []) if (m.get("metadata") or {}).get("event_type") == "triage_alert"]


def test_killed_between_record_and_post_the_restart_posts_exactly_once(tmp_path, slack, cv, store_location, store):
    config, db = write_config(tmp_path, cv, store_location), store
    slack.hang[POST] = "before"  # the request reaches Slack, which never posts nor answers
    p = watch_process(config, slack, tmp_path / "first.log", "--once")
    try:
        wait_until(lambda: slack.bodies(POST), 60, "the alert post to be in flight", tmp_path / "first.log")
        assert query(db, "select op, posted_at, attempts from outbox") == [("post", None, 1)]
        kill(p)
    finally:
        if p.poll() is None:
            kill(p)
    assert alert_messages(slack) == []
    slack.hang.clear()

    wait_until(lambda: lease_expired(db), 10, "the dead watcher's lease to expire")
    seen = len(slack.calls)
    run_once(config, slack, tmp_path / "restart.log")
    assert paths(slack.calls[seen:]) == [HISTORY, POST]  # not there yet: posted now
    (message,) = alert_messages(slack)
    assert f"iteration `{IT_FAILED}` · status `Failed`" in sections(slack.bodies(POST)[-1])
    assert query(db, "select op, posted_at is not null from outbox") == [("post", 1)]
    assert query(db, "select message_ts from alerts") == [(message["ts"],)]

    seen = len(slack.calls)
    run_once(config, slack, tmp_path / "again.log")  # and a further restart posts nothing
    assert paths(slack.calls[seen:]) == [] and len(alert_messages(slack)) == 1


def test_killed_between_post_and_mark_the_restart_finds_the_message_and_posts_nothing(tmp_path, slack, cv, store_location, store):
    config, db = write_config(tmp_path, cv, store_location), store
    # Slack posts the message, the answer never comes back
    kill_once_posted(config, slack, tmp_path / "first.log", lambda: alert_messages(slack), "the alert to be posted")
    assert query(db, "select op, posted_at, attempts from outbox") == [("post", None, 1)]
    slack.hang.clear()

    wait_until(lambda: lease_expired(db), 10, "the dead watcher's lease to expire")
    seen = len(slack.calls)
    run_once(config, slack, tmp_path / "restart.log")
    assert paths(slack.calls[seen:]) == [HISTORY]  # found by its metadata: marked, not reposted
    (message,) = alert_messages(slack)
    assert query(db, "select op, posted_at is not null from outbox") == [("post", 1)]
    assert query(db, "select message_ts from alerts") == [(message["ts"],)]


def test_two_watcher_processes_post_once_and_the_standby_takes_over(tmp_path, slack, cv, store_location, store):
    config, db = write_config(tmp_path, cv, store_location, lease_s=3), store
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [watch_process(config, slack, log) for log in logs]
    try:
        wait_until(lambda: alert_messages(slack), 60, "the first alert", *logs)
        owner = wait_until(lambda: query(db, "select owner from leases"), 10, "a lease")[0][0]
        holder = next(i for i, log in enumerate(logs) if f"watcher {owner} holds the lease" in log.read_text())
        standby = 1 - holder
        wait_until(lambda: "waits: another watcher holds the lease" in logs[standby].read_text(), 30, "the standby to wait", *logs)
        assert len(alert_messages(slack)) == 1 and len(slack.bodies(POST)) == 1

        kill(procs[holder])
        cv.iterations[WIDGETS].append(iteration("5b1c9d6e-7f80-4a1b-9c2d-3e4f5a6b7c8d", WIDGETS, "Iteration 3", "Failed",
                                                "2024-05-02T10:00:00Z"))
        messages = wait_until(lambda: len(alert_messages(slack)) >= 2 and alert_messages(slack), 40, "the standby to post", *logs)
        assert "holds the lease" in logs[standby].read_text()
        assert len(messages) == 2 and len(slack.bodies(POST)) == 2  # the new failure only; the first is not reposted
        fingerprints = {m["metadata"]["event_payload"]["fingerprint"] for m in messages}
        assert len(fingerprints) == 2

        procs[standby].send_signal(signal.SIGTERM)  # a clean stop hands the lease back at once
        assert procs[standby].wait(timeout=20) == 143
        assert query(db, "select owner from leases") == []
    finally:
        for p in procs:
            if p.poll() is None:
                kill(p)


def test_two_hosts_one_postgresql_database_the_leader_killed_every_alert_posted_exactly_once(tmp_path, slack, cv, pg_server):
    """Two watchers as two machines: separate working directories, no shared disk, one PostgreSQL database."""
    import uuid

    url = pg_server.create_database()
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    for h in hosts:
        h.mkdir()
    # host a names the database in its triage.toml; host b gets it from DATABASE_URL, as Procfile platforms do
    configs = [write_config(hosts[0], cv, url, lease_s=3), write_config(hosts[1], cv, None, lease_s=3)]
    logs = [h / "watch.log" for h in hosts]
    procs = [watch_process(configs[0], slack, logs[0], cwd=hosts[0]),
             watch_process(configs[1], slack, logs[1], cwd=hosts[1], extra_env={"DATABASE_URL": url})]
    db = open_store(url)

    def fail(n: int) -> None:
        for _ in range(n):
            cv.iterations[WIDGETS].append(iteration(str(uuid.uuid4()), WIDGETS, "Iteration n", "Failed", "2024-05-02T10:00:00Z"))

    try:
        wait_until(lambda: alert_messages(slack), 60, "the first alert", *logs)
        owner = wait_until(lambda: query(db, "select owner from leases"), 10, "a lease")[0][0]
        leader = next(i for i, log in enumerate(logs) if f"watcher {owner} holds the lease" in log.read_text())
        standby = 1 - leader
        wait_until(lambda: "waits: another watcher holds the lease" in logs[standby].read_text(), 30, "the standby to wait", *logs)

        fail(2)  # the leader may record or post these before it dies, or not: either way, once
        kill(procs[leader])
        fail(3)
        messages = wait_until(lambda: len(alert_messages(slack)) >= 6 and alert_messages(slack), 60, "the standby to post", *logs)
        assert "holds the lease" in logs[standby].read_text()
        wait_until(lambda: query(db, "select count(*) from outbox where posted_at is null") == [(0,)], 30, "the outbox to drain", *logs)

        fingerprints = [m["metadata"]["event_payload"]["fingerprint"] for m in alert_messages(slack)]
        assert len(fingerprints) == 6 and len(set(fingerprints)) == 6  # 1 + 2 + 3 failures, each posted exactly once
        assert len(slack.bodies(POST)) == 6
        stored = dict(query(db, "select fingerprint, message_ts from alerts"))
        assert stored == {m["metadata"]["event_payload"]["fingerprint"]: m["ts"] for m in messages}
        assert not list(tmp_path.rglob("*.db"))  # nothing on either host's disk
    finally:
        for p in procs:
            if p.poll() is None:
                kill(p)
        db.close()


# ---- how it is: refused posts, `triage watch status` --------------------------------------------


def watch_status(config: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("TRIAGE_CONFIG", None)
    env.pop("DATABASE_URL", None)
    p = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "watch", "status", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_posts_refused_with_not_in_channel_are_logged_once_kept_and_posted_once_when_invited(tmp_path, slack, cv, store_location, store):
    config, db = write_config(tmp_path, cv, store_location), store
    slack.refuse["CALERTS"] = "not_in_channel"  # the bot was never invited to the alert channel
    first = run_once(config, slack, tmp_path / "first.log")
    refusals = [line for line in first.splitlines() if "not_in_channel" in line]
    assert len(refusals) == 1 and "CALERTS" in refusals[0], first
    cycle = json.loads(first.split("cycle: ", 1)[1].splitlines()[0])
    assert (cycle["posted"], cycle["pending"], cycle["refused"]) == (0, 1, 1)
    assert alert_messages(slack) == []

    second = run_once(config, slack, tmp_path / "second.log")  # still refused: counted, not logged again
    assert "not_in_channel" not in second.split("cycle: ")[0]
    assert json.loads(second.split("cycle: ", 1)[1].splitlines()[0])["refused"] == 1

    code, out = watch_status(config, "--json", "--max-age", "3600")
    doc = json.loads(out)
    assert code == 0 and doc["healthy"] is True
    assert doc["outbox"]["pending"] == 1 and doc["outbox"]["failing"] == [
        {"channel": "CALERTS", "error": "Slack chat_postMessage failed: not_in_channel", "entries": 1}]
    (target,) = doc["targets"]
    assert target["target"] == "cv-prod" and target["last_ok"] and target["unreachable_since"] is None
    assert doc["lease"] is None  # --once released it

    # a backlog older than the threshold makes the health check fail (exit 1)
    code, out = wait_until(lambda: (r := watch_status(config, "--max-age", "1"))[0] == 1 and r, 30, "the backlog to age")
    assert "UNHEALTHY" in out and "oldest unsent outbox entry" in out and "not_in_channel" in out

    del slack.refuse["CALERTS"]  # the bot is invited: the alert goes out, once
    run_once(config, slack, tmp_path / "third.log")
    run_once(config, slack, tmp_path / "fourth.log")
    assert len(alert_messages(slack)) == 1
    assert query(db, "select count(*) from outbox where posted_at is null") == [(0,)]
    code, out = watch_status(config)
    assert code == 0 and "outbox: empty" in out and "cv-prod: last good poll" in out


def test_watch_status_names_the_lease_holder_while_a_watcher_runs(tmp_path, slack, cv, store_location, store):
    config = write_config(tmp_path, cv, store_location, lease_s=3)
    p = watch_process(config, slack, tmp_path / "w.log")
    try:
        wait_until(lambda: alert_messages(slack), 60, "the first alert", tmp_path / "w.log")
        owner = wait_until(lambda: query(store, "select owner from leases"), 10, "a lease")[0][0]
        code, out = watch_status(config, "--json")
        doc = json.loads(out)
        assert code == 0 and doc["lease"]["owner"] == owner and doc["lease"]["live"] is True
        assert doc["outbox"] == {"pending": 0, "oldest": None, "oldest_age_s": None, "failing": []}
    finally:
        kill(p)


# ---- recovery by retraining -----------------------------------------------------------------------


def thread_replies(slack: FakeSlack, ts: str) -> list[str]:
    return [b.get("text", "") for b in slack.bodies(POST) if b.get("thread_ts") == ts]


def test_a_later_completed_iteration_recovers_the_alert_in_its_thread_and_root_once(tmp_path, slack, cv, store_location, store):
    config, db = write_config(tmp_path, cv, store_location), store
    run_once(config, slack, tmp_path / "first.log")
    (root,) = alert_messages(slack)
    cv.iterations[WIDGETS].append(iteration("6c2d0e7f-8091-4b2c-8d3e-4f5a6b7c8d9e", WIDGETS, "Iteration 3", "Completed",
                                            "2024-05-02T08:00:00Z", "2024-05-02T08:45:00Z"))
    log = run_once(config, slack, tmp_path / "second.log")
    assert json.loads(log.split("cycle: ", 1)[1].splitlines()[0])["recovered"] == 1
    (reply,) = thread_replies(slack, root["ts"])
    assert reply == ":white_check_mark: Recovered: iteration 'Iteration 3' completed at 2024-05-02T08:45:00Z."
    (update,) = slack.bodies(UPDATE)
    assert update["ts"] == root["ts"]
    assert ":large_green_circle: recovered: iteration 'Iteration 3' completed at 2024-05-02T08:45:00Z" in sections(update)
    assert query(db, "select state from alerts") == [("recovered",)]

    run_once(config, slack, tmp_path / "third.log")  # the failed iteration is still listed: nothing more is said
    assert len(thread_replies(slack, root["ts"])) == 1 and len(slack.bodies(UPDATE)) == 1 and len(alert_messages(slack)) == 1


def test_an_iteration_already_retrained_before_triage_saw_it_is_not_posted(env):
    w = started_clean(env)
    f = cv_failure()
    f.details["recovered_by"] = "iteration 'Iteration 3' completed at 2024-05-02T08:45:00Z"
    env.scenario["cv-prod"] = [f]
    report = w.cycle()
    assert (report.new, report.posted) == (0, 0) and env.new_calls() == []


def aml_deployment(state: str | None = None) -> Failure:
    """The failed deployment, or (with `state`) the provider's marker for it once it is not failed any more."""
    f = Failure(service="azureml", target="aml-prod", kind="deployment", key="image-classifier/green", status="Failed",
                message="deployment image-classifier/green failed: ResourceNotReady", fields={"endpoint": "image-classifier", "deployment": "green"},
                matches=[diagnosis("azureml.endpoint.resource_not_ready", "Container crashed at start-up", "Read the container log")])
    if state == "Succeeded":
        return Failure(f.service, f.target, f.kind, f.key, f.status,
                       details={"recovered_by": "deployment image-classifier/green provisioned again (Succeeded) at 2024-05-20T09:15:00+00:00"})
    if state:
        return Failure(f.service, f.target, f.kind, f.key, f.status, details={"in_progress": state})
    return f


def test_a_deployment_being_provisioned_again_stays_failing_and_its_success_recovers_the_alert(env):
    w = started_clean(env)
    env.scenario["aml-prod"] = [aml_deployment()]
    assert w.cycle().new == 1 and paths(env.new_calls()) == [POST]
    fp, root = aml_deployment().fingerprint, env.slack.messages["CMLOPS"][0]["ts"]

    env.scenario["aml-prod"] = [aml_deployment("Updating")]  # `az ml online-deployment update` is running
    report = w.cycle()
    assert (report.new, report.recovered) == (0, 0) and env.new_calls() == []
    assert w.alert(fp)["state"] == "open"

    env.scenario["aml-prod"] = [aml_deployment("Succeeded")]
    report = w.cycle()
    calls = env.new_calls()
    assert report.recovered == 1 and paths(calls) == [POST, UPDATE]
    reply, update = calls[0][1], calls[1][1]
    assert reply["thread_ts"] == root
    assert reply["text"] == ":white_check_mark: Recovered: deployment image-classifier/green provisioned again (Succeeded) at 2024-05-20T09:15:00+00:00."
    assert update["ts"] == root and ":large_green_circle: recovered: deployment image-classifier/green provisioned again" in sections(update)
    assert set(buttons(update)) == {"show_logs", "draft_ticket"}  # nothing left to acknowledge, resolve or snooze

    env.scenario["aml-prod"] = [aml_deployment("Succeeded")]  # still fine: nothing more is said
    assert w.cycle().recovered == 0 and env.new_calls() == []


def test_a_deployment_marker_never_becomes_an_alert_of_its_own(env):
    w = started_clean(env)
    env.scenario["aml-prod"] = [aml_deployment("Succeeded"), aml_deployment("Creating")]
    report = w.cycle()
    assert (report.new, report.recovered) == (0, 0) and env.new_calls() == []


# ---- exactly once for every message -----------------------------------------------------------------


def test_killed_right_after_a_thread_reply_the_restart_finds_it_and_replies_once(tmp_path, slack, cv, store_location, store):
    config, db = write_config(tmp_path, cv, store_location), store
    run_once(config, slack, tmp_path / "first.log")
    (root,) = alert_messages(slack)
    cv.iterations[WIDGETS].append(iteration("6c2d0e7f-8091-4b2c-8d3e-4f5a6b7c8d9e", WIDGETS, "Iteration 3", "Completed",
                                            "2024-05-02T08:00:00Z", "2024-05-02T08:45:00Z"))
    # the recovery reply lands in the thread; its answer never comes back
    kill_once_posted(config, slack, tmp_path / "second.log", lambda: thread_replies(slack, root["ts"]), "the recovery reply")
    assert query(db, "select op, posted_at, attempts from outbox where op != 'post' order by id") == [("reply", None, 1), ("update", None, 0)]
    slack.hang.clear()

    wait_until(lambda: lease_expired(db), 10, "the dead watcher's lease to expire")
    seen = len(slack.calls)
    run_once(config, slack, tmp_path / "restart.log")
    assert paths(slack.calls[seen:]) == ["/api/conversations.replies", UPDATE]  # found by its metadata: not replied again
    assert len(slack.replies[("CALERTS", root["ts"])]) == 1 and len(alert_messages(slack)) == 1
    assert query(db, "select count(*) from outbox where posted_at is null") == [(0,)]


def test_the_restart_check_pages_through_a_busy_channel_back_to_the_alert(tmp_path, slack, cv, store_location, store):
    config, db = write_config(tmp_path, cv, store_location), store
    # posted, no answer, killed: the outbox does not know
    kill_once_posted(config, slack, tmp_path / "first.log", lambda: alert_messages(slack), "the alert to be posted")
    slack.hang.clear()
    for i in range(450):  # people talk in the channel meanwhile: the alert is far behind the first page
        slack.answer(POST, {"channel": "CALERTS", "text": f"chatter {i}"})
    slack.page_size = 100

    wait_until(lambda: lease_expired(db), 10, "the dead watcher's lease to expire")
    seen = len(slack.calls)
    run_once(config, slack, tmp_path / "restart.log")
    assert paths(slack.calls[seen:]) == [HISTORY] * 5  # five pages, the alert found on the last: not reposted
    assert len(alert_messages(slack)) == 1
    assert query(db, "select op, posted_at is not null from outbox") == [("post", 1)]


# ---- a lease that survives slow calls -------------------------------------------------------------


def test_a_slack_call_stalling_longer_than_the_lease_is_given_up_and_the_alert_posted_once(tmp_path, slack, cv, store_location, store):
    config, db = write_config(tmp_path, cv, store_location, lease_s=3), store
    slack.hang[POST] = "after"  # every post lands, and its answer stalls far longer than the 3 s lease
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [watch_process(config, slack, log) for log in logs]
    try:
        wait_until(lambda: alert_messages(slack), 60, "the alert to land", *logs)
        # the leader gives up on the call within its lease, keeps the lease, and finds the message next cycle
        wait_until(lambda: query(db, "select count(*) from outbox where posted_at is null") == [(0,)], 60, "the outbox to empty", *logs)
        assert len(slack.bodies(POST)) == 1 and len(alert_messages(slack)) == 1
        took = [line for log in logs for line in log.read_text().splitlines() if " holds the lease" in line and "another" not in line]
        assert len(took) == 1, took  # the standby never took over
    finally:
        for p in procs:
            if p.poll() is None:
                kill(p)
    assert query(db, "select message_ts from alerts") == [(alert_messages(slack)[0]["ts"],)]


def test_a_lease_shorter_than_a_slack_call_is_a_config_error_naming_the_minimum(tmp_path, slack, cv, store_location):
    config = write_config(tmp_path, cv, store_location, lease_s=10, slack_timeout_s=5)
    log = tmp_path / "w.log"
    p = watch_process(config, slack, log, "--once")
    assert p.wait(timeout=60) == 2
    out = log.read_text()
    assert "lease_s = 10 is below the minimum 21 s" in out and "Traceback" not in out
    assert slack.calls == []


# ---- faults weathered -------------------------------------------------------------------------------


def test_a_database_locked_past_its_timeout_is_named_waited_out_and_every_alert_posted_once(tmp_path, slack, cv):
    import sqlite3

    path = tmp_path / "state.db"
    config = write_config(tmp_path, cv, str(path))
    config.write_text(config.read_text().replace("[store]\n", "[store]\nbusy_timeout_s = 0.2\n"), encoding="utf-8")
    open_store(str(path)).close()  # the schema exists before the lock is taken
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # a backup, a migration, a stuck process: nobody else may read or write
    log = tmp_path / "w.log"
    p = watch_process(config, slack, log)
    try:
        wait_until(lambda: log.read_text().count("is locked by another process") >= 2, 60, "the watcher to name the fault twice", log)
        assert p.poll() is None, log.read_text()  # still running: it waits, it does not exit
        assert str(path) in log.read_text() and alert_messages(slack) == []
        locker.execute("ROLLBACK")
        locker.close()
        wait_until(lambda: alert_messages(slack), 60, "the alert once the lock is gone", log)
        db = open_store(str(path))
        wait_until(lambda: query(db, "select count(*) from outbox where posted_at is null") == [(0,)], 30, "the outbox to empty", log)
        db.close()
    finally:
        kill(p)
    assert len(alert_messages(slack)) == 1 and len(slack.bodies(POST)) == 1
    assert "Traceback" not in log.read_text()


def test_each_targets_provider_and_its_cloud_clients_are_built_once_and_reused(env, monkeypatch):
    import bot.providers

    built: list[str] = []

    class Provider:
        def __init__(self, target: Target) -> None:
            self.target = target

        def failures(self) -> list[Failure]:
            return []

    def get_provider(service: str, target: Target, settings: Settings) -> Provider:
        built.append(target.name)
        return Provider(target)

    monkeypatch.setattr(bot.providers, "get_provider", get_provider)
    w = Watcher(env.settings, env.store, SlackSink(alert_client("xoxb-test", base_url=f"{env.slack.base}/api/")),
                clock=env.clock, sleep=env.clock.sleep)
    for _ in range(3):
        assert w.cycle().failures == 0
    assert sorted(built) == ["aml-prod", "cv-prod", "rek-prod"]
