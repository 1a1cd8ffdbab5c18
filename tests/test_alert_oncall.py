"""On-call buttons beside Acknowledge: Resolve and Snooze (1 h, 4 h, 1 day), and one reminder for an
alert nobody acknowledged. The watcher and the real Bolt app share one store; both talk to the local Slack stand-in."""

from __future__ import annotations

import json
import time

from freezegun import freeze_time

from tests.test_watch import POST, UPDATE, buttons, cv_failure, env, interactive, one_cv_alert, sections, signed, slack, slack_app, started_clean  # noqa: F401


def click(env, app, posted: dict, action: str, root: str) -> None:
    value = json.dumps(buttons(posted)[action])
    payload = {"type": "block_actions", "user": {"id": "U0ONCALL"}, "team": {"id": "T1"}, "channel": {"id": "CALERTS"},
               "trigger_id": "t1", "container": {"type": "message", "message_ts": root},
               "response_url": f"{env.slack.base}/response_url/act",
               "actions": [{"type": "button", "action_id": action, "value": value, "action_ts": str(time.time_ns())}]}
    assert app.dispatch(signed(interactive(payload))).status == 200


def test_resolve_closes_the_alert_and_the_thread_says_who(env):
    w, posted, fp, root = one_cv_alert(env)
    click(env, slack_app(env), posted, "resolve_alert", root)
    env.slack.wait_for(UPDATE)
    calls = [c for c in env.new_calls() if c[0] in (POST, UPDATE)]
    assert calls[0][1]["thread_ts"] == root and calls[0][1]["text"].startswith(":white_check_mark: Resolved by <@U0ONCALL> at ")
    assert ":white_check_mark: resolved by <@U0ONCALL>" in sections(calls[1][1])
    assert "resolve_alert" not in buttons(calls[1][1]) and "acknowledge" not in buttons(calls[1][1])
    assert w.alert(fp)["state"] == "resolved" and w.alert(fp)["resolved_by"] == "U0ONCALL"


def test_one_reminder_for_an_alert_nobody_acknowledged_and_snooze_delays_it(env):
    with freeze_time("2026-12-06 06:00:00") as frozen:
        w, posted, fp, root = one_cv_alert(env)

        frozen.tick(1700)
        w.cycle()
        assert env.new_calls() == []  # not yet: remind_after_s is 1800 by default
        frozen.tick(200)
        w.cycle()
        (path, reminder), = env.new_calls()
        assert path == POST and reminder["thread_ts"] == root
        assert reminder["text"].startswith("<!subteam^SONCALL> :alarm_clock: Still failing")
        frozen.tick(7200)
        w.cycle()
        assert env.new_calls() == []  # one reminder, not one per cycle

        # snoozed for 1 h: the reminder comes again once, when the snooze ends
        click(env, slack_app(env), posted, "snooze_alert_1h", root)
        env.slack.wait_for(UPDATE)
        notes = [b for p, b in env.new_calls() if p == POST]
        assert notes[0]["text"].startswith(":zzz: Snoozed by <@U0ONCALL> for 1h, until 2026-12-06T09:")
        frozen.tick(3500)
        w.cycle()
        assert env.new_calls() == []
        frozen.tick(200)
        w.cycle()
        (path, again), = env.new_calls()
        assert path == POST and "Still failing" in again["text"]


def test_an_acknowledged_alert_gets_no_reminder(env):
    with freeze_time("2026-12-06 06:00:00") as frozen:
        w = started_clean(env)
        env.scenario["cv-prod"] = [cv_failure()]
        w.cycle()
        (_, posted), = env.new_calls()
        root = w.alert(cv_failure().fingerprint)["message_ts"]
        click(env, slack_app(env), posted, "acknowledge", root)
        env.slack.wait_for(UPDATE)
        env.new_calls()
        frozen.tick(4000)
        w.cycle()
        assert env.new_calls() == []
