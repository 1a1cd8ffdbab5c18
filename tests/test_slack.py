"""The Slack app: signed requests into a real Bolt App, its Web API client on a fake Slack on 127.0.0.1."""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlencode

import pytest
from slack_bolt import BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.signature import SignatureVerifier

from bot.config import Settings, parse
from bot.slack.app import build_app, web_client
from bot.store import open_store
from tests.fake_slack import FakeSlack

SECRET = "test-signing-secret-0123456789"
SUB = "6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40"


@pytest.fixture
def slack():
    fake = FakeSlack()
    yield fake
    fake.close()


def make_app(slack: FakeSlack, tmp_path, toml: str = ""):
    config = parse(toml or f'[defaults]\nsubscription_id = "{SUB}"\n[slack]\nsupport_channel = "CSUPPORT"\n')
    settings = Settings(config, {"SLACK_SIGNING_SECRET": SECRET})
    store = open_store(tmp_path / "slack.db")
    client = web_client("xoxb-test-token", base_url=f"{slack.base}/api/")

    def authorize(enterprise_id, team_id, user_id):
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test-token", bot_id="BBOT", bot_user_id="UBOT")

    return build_app(settings, store, client=client, authorize=authorize), store


def signed(raw: str, *, ts: int | None = None, content_type: str = "application/x-www-form-urlencoded", bad: bool = False) -> BoltRequest:
    stamp = str(int(time.time()) if ts is None else ts)
    sig = "v0=" + "0" * 64 if bad else SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=raw)
    return BoltRequest(body=raw, headers={"content-type": [content_type], "x-slack-request-timestamp": [stamp], "x-slack-signature": [sig]})


def command(slack: FakeSlack, text: str, user: str = "U1", channel: str = "C1") -> str:
    return urlencode({"command": "/triage", "text": text, "team_id": "T1", "user_id": user, "channel_id": channel,
                      "response_url": f"{slack.base}/response_url/cmd", "trigger_id": "1.2.3", "api_app_id": "A1"})


def audited(store, count: int = 1, timeout: float = 10.0) -> list[dict]:
    """The audit rows once `count` are there (the audit is written after the answer is sent)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = store.audit_rows()
        if len(rows) >= count:
            return rows
        time.sleep(0.02)
    raise AssertionError(f"{len(store.audit_rows())} audit rows, wanted {count}")


def interactive(payload: dict) -> str:
    return "payload=" + quote(json.dumps(payload))


def test_slash_diagnose_acks_fast_then_answers_on_response_url(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    r = app.dispatch(signed(command(slack, "diagnose ResourceNotReady: User container has crashed or terminated: Liveness probe failed")))
    assert r.status == 200
    assert json.loads(r.body)["response_type"] == "ephemeral" and "Working on it" in r.body
    (answer,) = slack.wait_for("/response_url/cmd")
    assert answer["response_type"] == "in_channel"
    text = json.dumps(answer["blocks"])
    assert "azureml.endpoint.ERR_2200" in text and "draft_ticket" in text and "switch_lang" in text
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in answer["blocks"])
    assert audited(store)[0]["action"] == "diagnose"


@pytest.mark.parametrize("kind", ["bad", "stale"])
def test_bad_and_stale_signatures_are_rejected_and_nothing_runs(slack, tmp_path, kind):
    app, store = make_app(slack, tmp_path)
    body = command(slack, "diagnose ERR_2200")
    req = signed(body, bad=True) if kind == "bad" else signed(body, ts=int(time.time()) - 301)
    assert app.dispatch(req).status == 401
    time.sleep(0.3)
    assert slack.paths() == [] and store.audit_rows() == []


def test_unknown_subcommand_gets_usage_ephemeral(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    r = app.dispatch(signed(command(slack, "frobnicate now")))
    doc = json.loads(r.body)
    assert r.status == 200 and doc["response_type"] == "ephemeral"
    assert "unknown subcommand `frobnicate`" in doc["text"] and "/triage diagnose" in doc["text"]
    time.sleep(0.2)
    assert slack.bodies("/response_url/") == []


@pytest.mark.parametrize("text,expected", [
    ("", "/triage diagnose"),
    ("help", "/triage status"),
    ("diagnose", "nothing to diagnose"),
    ('ids "customvision', "cannot read that"),
    ("logs azureml --lines", "--lines needs a value"),
    ("x" * 50_000, "paste at most"),
])
def test_malformed_and_hostile_input_get_a_clear_message(slack, tmp_path, text, expected):
    app, _ = make_app(slack, tmp_path)
    r = app.dispatch(signed(command(slack, text)))
    assert r.status == 200 and expected in json.loads(r.body)["text"]
    assert "Traceback" not in r.body


def test_unauthorized_user_is_told_and_audited(slack, tmp_path):
    toml = '[slack.read]\nusers = ["UOK"]\ngroups = ["S0ONCALL"]\n'
    app, store = make_app(slack, tmp_path, toml)
    slack.groups["S0ONCALL"] = ["UGROUPIE"]
    app.dispatch(signed(command(slack, "diagnose ERR_2200", user="UNOPE")))
    (answer,) = slack.wait_for("/response_url/cmd")
    assert answer["response_type"] == "ephemeral" and "not allowed" in answer["text"]
    assert audited(store)[0]["result"] == "denied"
    # a member of an allowed user group may
    app.dispatch(signed(command(slack, "diagnose ERR_2200", user="UGROUPIE")))
    answers = slack.wait_for("/response_url/cmd", 2)
    assert "ERR_2200" in json.dumps(answers[1])


def test_message_shortcut_replies_in_thread_and_survives_a_429(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    slack.throttle["/api/chat.postMessage"] = 1
    payload = {"type": "message_action", "callback_id": "diagnose_message", "trigger_id": "1.2.3", "user": {"id": "U1"},
               "team": {"id": "T1"}, "channel": {"id": "C9"}, "response_url": f"{slack.base}/response_url/sc",
               "message": {"ts": "1699999999.000200", "text": "OOM? no: ERR_1100: Not enough quota"}}
    assert app.dispatch(signed(interactive(payload))).status == 200
    posts = slack.wait_for("/api/chat.postMessage", 2)
    assert len(posts) == 2  # the 429, then the retry honouring Retry-After
    assert posts[1]["thread_ts"] == "1699999999.000200" and "ERR_1100" in json.dumps(posts[1]["blocks"])


def test_japanese_locale_and_switch_language_button(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    slack.locale = "ja-JP"
    app.dispatch(signed(command(slack, "diagnose ERR_2200")))
    (answer,) = slack.wait_for("/response_url/cmd")
    assert "対処手順" in json.dumps(answer["blocks"], ensure_ascii=False)
    switch = next(e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "switch_lang")
    payload = {"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"}, "channel": {"id": "C1"}, "trigger_id": "t",
               "container": {"type": "message", "message_ts": "1.1"}, "response_url": f"{slack.base}/response_url/act",
               "actions": [{"type": "button", "action_id": "switch_lang", "block_id": "diagnosis_actions", "value": switch["value"], "action_ts": "1"}]}
    app.dispatch(signed(interactive(payload)))
    (switched,) = slack.wait_for("/response_url/act")
    assert switched["replace_original"] is True and "What to do" in json.dumps(switched["blocks"])


def test_draft_ticket_modal_review_and_submit(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    text = ("diagnose ERROR: (OutOfQuota) Not enough quota available for Standard_DS3_v2 in SubscriptionId " + SUB +
            "\n$ az ml online-deployment create --endpoint-name fraud-scoring --name blue -g rg-ml -w ws-prod")
    app.dispatch(signed(command(slack, text)))
    (answer,) = slack.wait_for("/response_url/cmd")
    draft = next(e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "draft_ticket")
    payload = {"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"}, "channel": {"id": "C1"}, "trigger_id": "trig-1",
               "container": {"type": "message", "message_ts": "1.1"}, "response_url": f"{slack.base}/response_url/act",
               "actions": [{"type": "button", "action_id": "draft_ticket", "value": draft["value"], "action_ts": "1"}]}
    app.dispatch(signed(interactive(payload)))
    (opened,) = slack.wait_for("/api/views.open")
    assert opened["trigger_id"] == "trig-1"  # a loading view at once, then the ticket
    (updated,) = slack.wait_for("/api/views.update")
    view = updated["view"]
    assert updated["view_id"] == "V1" and view["callback_id"] == "ticket_modal"
    prefilled = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"}
    assert prefilled["f_endpoint"] == "fraud-scoring" and prefilled["f_subscription_id"] == SUB

    def submit(values: dict[str, str]) -> dict:
        state = {bid: {"v": {"type": "plain_text_input", "value": values.get(bid[2:], prefilled.get(bid))}} for bid in prefilled}
        sub = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "trigger_id": "t",
               "view": {**view, "id": "V1", "state": {"values": state}}}
        return json.loads(app.dispatch(signed(interactive(sub))).body or "{}")

    first = submit({})
    assert first["response_action"] == "errors" and "f_instance_count" in first["errors"]
    second = submit({"region": "japaneast", "instance_count": "1", "workspace": "ws-prod", "resource_group": "rg-ml",
                     "deployment": "blue", "error_code": "OutOfQuota", "log_excerpt": "see above"})
    assert second == {}
    (posted,) = slack.wait_for("/api/chat.postMessage")
    assert posted["channel"] == "CSUPPORT" and "fraud-scoring" in json.dumps(posted["blocks"])
    from bot.tickets import TicketStore

    assert TicketStore(store).list()[0].status == "ready"


def test_app_home_lists_open_drafts(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    app.dispatch(signed(command(slack, "ticket draft ERR_2200: User container has crashed\\terminated")))
    slack.wait_for("/response_url/cmd")
    event = {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "Ev1", "event_time": int(time.time()),
             "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}}
    assert app.dispatch(signed(json.dumps(event), content_type="application/json")).status == 200
    (home,) = slack.wait_for("/api/views.publish")
    assert home["user_id"] == "U1" and "#1" in json.dumps(home["view"])


def test_long_results_go_to_a_file():
    from bot.slack.blocks import fits, text_message

    long = "\n".join(f"line {i} " + "x" * 200 for i in range(200))
    assert not fits(long)
    blocks = text_message("t", "\n".join(f"l{i}" for i in range(3000)))
    assert len(blocks) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")


def test_status_and_ids_through_slack_against_the_custom_vision_fake(slack, tmp_path):
    from fake_customvision import KEY, FakeCustomVision

    cv = FakeCustomVision().start()
    cv.seed_standard()
    try:
        toml = f"""
[[customvision]]
name = "cv-prod"
endpoint = "{cv.endpoint}"
training_key_env = "CV_KEY"
resource_id = "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cv-prod"
"""
        config = parse(toml)
        settings = Settings(config, {"SLACK_SIGNING_SECRET": SECRET, "CV_KEY": KEY})
        client = web_client("xoxb-test-token", base_url=f"{slack.base}/api/")
        auth = lambda enterprise_id, team_id, user_id: AuthorizeResult(  # noqa: E731
            enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test-token", bot_id="B", bot_user_id="U")
        app = build_app(settings, open_store(tmp_path / "s.db"), client=client, authorize=auth)
        app.dispatch(signed(command(slack, "status customvision")))
        app.dispatch(signed(command(slack, "ids customvision")))
        answers = slack.wait_for("/response_url/cmd", 2)
        text = json.dumps(answers)
        assert "Failed" in text and "customvision.insufficient_training_images" in text
        assert "Resource ID" in text and KEY not in text
        app.dispatch(signed(command(slack, "ids customvision 12345")))
        errors = slack.wait_for("/response_url/cmd", 3)
        assert errors[2]["response_type"] == "ephemeral" and ":warning:" in errors[2]["text"]
    finally:
        cv.stop()
