"""Look up IDs' project picker: signed block_suggestion requests into the Bolt app, the live list from the
Custom Vision stand-in on 127.0.0.1 (filtered, redacted, cut, bounded when the stand-in is slow, empty on a cloud error)."""

from __future__ import annotations

import json
import time

import pytest
from fake_customvision import KEY, RBAC_403, FakeCustomVision, project
from slack_bolt.authorization import AuthorizeResult

from bot.config import Settings, parse
from bot.slack.app import build_app, web_client
from bot.slack.listeners import options as options_mod
from bot.store import open_store
from tests.test_slack import SECRET, audited, command, interactive, signed, slack  # noqa: F401  (slack: fixture)

SUB = "6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40"
LONG = "00000000-0000-4000-8000-00000000a10e"
SECRETIVE = "00000000-0000-4000-8000-00000000f00d"


@pytest.fixture
def cv():
    fake = FakeCustomVision().start()
    fake.seed_standard()
    yield fake
    fake.answering.set()
    fake.stop()


def make(slack, cv, tmp_path, toml: str = ""):
    config = parse(f'[[customvision]]\nname = "cv-prod"\nendpoint = "{cv.endpoint}"\ntraining_key_env = "CV_KEY"\n'
                   f'resource_id = "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cv-prod"\n'
                   'timeout_s = 60\n' + toml)
    auth = lambda enterprise_id, team_id, user_id: AuthorizeResult(  # noqa: E731
        enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test-token", bot_id="B", bot_user_id="U")
    store = open_store(tmp_path / "s.db")
    app = build_app(Settings(config, {"SLACK_SIGNING_SECRET": SECRET, "CV_KEY": KEY}), store,
                    client=web_client("xoxb-test-token", f"{slack.base}/api/"), authorize=auth)
    return app, store


def modal(app, slack) -> dict:
    shortcut = {"type": "shortcut", "callback_id": "lookup_ids", "trigger_id": f"trig-{time.time_ns()}", "user": {"id": "U1"},
                "team": {"id": "T1"}}
    assert app.dispatch(signed(interactive(shortcut))).status == 200
    return slack.wait_for("/api/views.open")[-1]["view"]


def state(service: str | None = "customvision", target: str | None = "cv-prod", project: str | None = None) -> dict:
    values: dict = {"name": {"v": {"type": "plain_text_input", "value": None}}}
    if service:
        values["service"] = {"v": {"type": "static_select", "selected_option": {"value": service}}}
    if target:
        values["target"] = {"v": {"type": "static_select", "selected_option": {"value": target}}}
    values["project"] = {"ids_project": {"type": "external_select", "selected_option": {"value": project} if project else None}}
    return {"values": values}


def suggest(app, typed: str = "", user: str = "U1", **picked) -> tuple[int, dict]:
    """One block_suggestion as Slack sends it while the user types in the project picker."""
    payload = {"type": "block_suggestion", "user": {"id": user}, "team": {"id": "T1"}, "api_app_id": "A1",
               "action_id": "ids_project", "block_id": "project", "value": typed, "action_ts": str(time.time_ns()),
               "container": {"type": "view", "view_id": "V1"},
               "view": {"id": "V1", "type": "modal", "callback_id": "ids_modal", "state": state(**picked)}}
    r = app.dispatch(signed(interactive(payload)))
    return r.status, json.loads(r.body or "{}")


def names(answer: dict) -> list[str]:
    return [o["value"] for o in answer["options"]]


def until_listed(app, typed: str = "", timeout: float = 20.0) -> dict:
    """Suggestions until the list is known (the first fetch may outlast the listener's wait on a busy machine)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, answer = suggest(app, typed)
        assert status == 200
        if answer["options"]:
            return answer
        time.sleep(0.05)
    raise AssertionError("the project list never arrived")


def test_the_modal_has_a_live_project_picker(slack, cv, tmp_path):
    app, _ = make(slack, cv, tmp_path)
    view = modal(app, slack)
    picker = next(b for b in view["blocks"] if b["block_id"] == "project")
    assert picker["element"]["type"] == "external_select" and picker["element"]["action_id"] == "ids_project"
    assert picker["optional"] is True and "options" not in picker["element"]


def test_options_are_the_targets_projects_filtered_by_what_was_typed(slack, cv, tmp_path):
    app, _ = make(slack, cv, tmp_path)
    assert names(until_listed(app)) == ["defects", "widgets"]
    status, answer = suggest(app, "WID")
    assert status == 200 and names(answer) == ["widgets"]
    assert answer["options"][0]["text"] == {"type": "plain_text", "text": "widgets"}
    assert names(suggest(app, "nothing-like-it")[1]) == []
    listed = [p for _, p, _ in cv.requests if p.endswith("/projects")]
    assert len(listed) == 1  # kept for the next keystrokes, not fetched again


def test_option_texts_are_redacted_and_cut_to_75_characters(slack, cv, tmp_path):
    cv.projects[LONG] = project(LONG, "a-very-long-project-name-" + "x" * 100)
    cv.projects[SECRETIVE] = project(SECRETIVE, "copy token=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB")
    app, _ = make(slack, cv, tmp_path)
    options = until_listed(app)["options"]
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in options)
    texts = json.dumps([o["text"] for o in options])
    assert "ghp_0123456789" not in texts and "[REDACTED]" in texts
    long = next(o for o in options if o["value"].startswith("a-very-long"))
    assert long["text"]["text"].endswith("…") and len(long["value"]) == 125  # the value stays whole: it is what ids is asked


def test_a_slow_resource_gets_what_is_known_within_the_bound(slack, cv, tmp_path, monkeypatch):
    monkeypatch.setattr(options_mod, "OPTIONS_WAIT_S", 0.2)
    app, _ = make(slack, cv, tmp_path)
    cv.answering.clear()  # the resource answers nothing until set
    status, answer = suggest(app)
    assert status == 200 and answer == {"options": []}  # nothing known yet: an option-less answer, not a wait
    deadline = time.time() + 10
    while not any(p.endswith("/projects") for _, p, _ in cv.requests) and time.time() < deadline:
        time.sleep(0.02)
    assert any(p.endswith("/projects") for _, p, _ in cv.requests)  # the fetch is under way, held by the resource
    cv.answering.set()
    assert names(until_listed(app)) == ["defects", "widgets"]  # the fetch finished and filled the list
    monkeypatch.setattr(options_mod, "LIST_TTL_S", 0.0)  # every list is stale now: each suggestion fetches again
    cv.answering.clear()
    status, answer = suggest(app, "def")
    assert status == 200 and names(answer) == ["defects"]  # the last list, filtered, while the fetch hangs
    cv.answering.set()


def test_a_cloud_error_gives_an_empty_answer_not_a_500(slack, cv, tmp_path, caplog):
    app, _ = make(slack, cv, tmp_path)
    cv.queue(r"/projects$", 403, RBAC_403)
    status, answer = suggest(app)
    assert status == 200 and answer == {"options": []}
    assert names(until_listed(app)) == ["defects", "widgets"]  # an error is not kept: the next keystroke asks again
    said = [r.getMessage() for r in caplog.records if "listing the projects" in r.getMessage()]
    assert said and "not allowed to list projects" in said[0]  # the cloud's refusal is logged, named


def test_a_user_outside_slack_read_gets_no_options_and_no_cloud_call(slack, cv, tmp_path):
    app, _ = make(slack, cv, tmp_path, '[slack.read]\nusers = ["UOK"]\n')
    status, answer = suggest(app, user="UNOPE")
    assert status == 200 and answer == {"options": []}
    assert cv.requests == []


def test_no_target_picked_lists_every_target_of_the_service(slack, cv, tmp_path):
    app, _ = make(slack, cv, tmp_path)
    deadline = time.time() + 20
    while time.time() < deadline:
        status, answer = suggest(app, target=None)
        if answer.get("options"):
            break
        time.sleep(0.05)
    assert status == 200 and names(answer) == ["defects", "widgets"]
    assert names(suggest(app, service="rekognition", target=None)[1]) == []  # no rekognition target: nothing to list


def test_submitting_a_picked_project_answers_like_triage_ids(slack, cv, tmp_path):
    app, store = make(slack, cv, tmp_path)
    app.dispatch(signed(command(slack, "ids customvision widgets --target cv-prod")))
    (typed,) = slack.wait_for("/response_url/cmd")
    view = modal(app, slack)
    sub = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "trigger_id": "t",
           "view": {**view, "id": "V1", "state": state(project="widgets")}}
    assert app.dispatch(signed(interactive(sub))).status == 200
    (dm,) = slack.wait_for("/api/chat.postMessage")
    assert dm["channel"] == "U1"
    shown = [b for b in typed["blocks"] if b["type"] != "actions"]  # the command's answer, without its Share button
    blocks = json.loads(dm["blocks"]) if isinstance(dm["blocks"], str) else dm["blocks"]
    assert blocks == shown and blocks[0]["text"]["text"] == "IDs: customvision widgets"
    assert "widgets" in json.dumps(shown) and "defects" not in json.dumps(shown) and KEY not in json.dumps(dm)
    assert any(row["action"] == "shortcut:ids" and "widgets" in row["args"] for row in audited(store, 2))


def test_an_options_request_denied_by_slack_read_is_audited(slack, cv, tmp_path):
    app, store = make(slack, cv, tmp_path, '[slack.read]\nusers = ["UOK"]\n')
    assert suggest(app, "wid", user="UNOPE") == (200, {"options": []})
    (row,) = audited(store)
    assert row["actor"] == "UNOPE" and row["action"] == "options:ids_project" and row["result"] == "denied"


def test_a_user_group_slack_will_not_list_gives_no_options_not_a_500(slack, cv, tmp_path):
    app, store = make(slack, cv, tmp_path, '[slack.read]\ngroups = ["S0ONCALL"]\n')
    slack.throttle["/api/usergroups.users.list"] = 100  # rate limited past the client's retries
    assert suggest(app, user="U1") == (200, {"options": []})
    assert cv.requests == []  # not allowed is not known to be allowed: no cloud call
    (row,) = audited(store)
    assert row["action"] == "options:ids_project" and row["result"].startswith("error: ")
