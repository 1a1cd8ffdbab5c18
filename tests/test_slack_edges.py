"""The edges Slack users hit in their first week, driven as Slack drives them: signed requests into the
real Bolt app, its Web API client on the local stand-in that answers with Slack's real error codes."""

from __future__ import annotations

import json
import time

from tests.test_slack import SECRET, audited, command, interactive, make_app, signed, slack  # noqa: F401  (slack: fixture)

OOM = "diagnose ERROR: (OutOfQuota) Not enough quota available for Standard_DS3_v2"


def click(slack, action: str, value: str, *, user: str = "U1", trigger: str = "trig-1", response_url: bool = True) -> str:
    payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "T1"}, "trigger_id": trigger,
               "actions": [{"type": "button", "action_id": action, "value": value, "action_ts": str(time.time_ns())}]}
    if response_url:
        payload |= {"channel": {"id": "C1"}, "container": {"type": "message", "message_ts": "1.1"},
                    "response_url": f"{slack.base}/response_url/act"}
    else:  # a click in App Home: no channel, no response_url
        payload |= {"container": {"type": "view", "view_id": "VHOME"}, "view": {"id": "VHOME", "type": "home"}}
    return interactive(payload)


def button(answer: dict, action: str) -> dict:
    return next(e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action)

def review_modal(app, slack) -> dict:
    """A diagnosis answered, then its Review button: the ticket modal as views.update filled it."""
    app.dispatch(signed(command(slack, OOM)))
    (answer,) = slack.wait_for("/response_url/cmd")
    app.dispatch(signed(click(slack, "draft_ticket", button(answer, "draft_ticket")["value"])))
    return slack.wait_for("/api/views.update")[0]["view"]


def submit(app, view: dict):
    """The modal submitted by U1 with its fields as they are."""
    sub = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "trigger_id": "t",
           "view": {**view, "id": "V1", "state": {"values": {}}}}
    return app.dispatch(signed(interactive(sub)))


def test_diagnosis_shows_what_was_read_the_decisive_line_and_context(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    app.dispatch(signed(command(slack, OOM + " in SubscriptionId 6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40\n"
                                "$ az ml online-deployment create --endpoint-name fraud-scoring --name blue")))
    (answer,) = slack.wait_for("/response_url/cmd")
    text = json.dumps(answer["blocks"], ensure_ascii=False)
    assert "What we read" in text and "Standard_DS3_v2" in text
    assert "▶ line" in text


def test_unmatched_input_shows_closest_playbooks_not_a_diagnosis(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    app.dispatch(signed(command(slack, "diagnose the online deployment liveness readiness probe container keeps restarting scoring")))
    (answer,) = slack.wait_for("/response_url/cmd")
    text = json.dumps(answer["blocks"])
    assert "No playbook explains this text" in text
    if "Closest playbooks" in text:  # only when something is close enough: never presented as a diagnosis
        assert "not a diagnosis" in text and "draft_ticket" not in text


def test_stored_match_keeps_role_and_facts_when_relocalized(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    app.dispatch(signed(command(slack, OOM)))
    (answer,) = slack.wait_for("/response_url/cmd")
    app.dispatch(signed(click(slack, "switch_lang", button(answer, "switch_lang")["value"])))
    (switched,) = slack.wait_for("/response_url/act")
    text = json.dumps(switched["blocks"], ensure_ascii=False)
    assert "テキストから読み取った値" in text and "Standard_DS3_v2" in text and "▶" in text


def test_modal_opens_before_anything_slow_even_when_users_info_is_throttled(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    app.dispatch(signed(command(slack, OOM)))
    (answer,) = slack.wait_for("/response_url/cmd")
    slack.calls.clear()
    slack.users_retry_after = "2"  # a fresh user: users.info answers 429 with Retry-After 2
    r = app.dispatch(signed(click(slack, "draft_ticket", button(answer, "draft_ticket")["value"], user="UNEW")))
    assert r.status == 200
    (updated,) = slack.wait_for("/api/views.update")
    order = slack.calls_in_order()
    assert order.index("views.open") < order.index("users.info"), order
    assert updated["view"]["callback_id"] == "ticket_modal"


def test_expired_trigger_still_answers_and_is_audited(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    app.dispatch(signed(command(slack, OOM)))
    (answer,) = slack.wait_for("/response_url/cmd")
    slack.expired_triggers.add("late")
    r = app.dispatch(signed(click(slack, "draft_ticket", button(answer, "draft_ticket")["value"], trigger="late")))
    assert r.status == 200
    (said,) = slack.wait_for("/response_url/act")
    assert "/triage ticket show 1" in said["text"]
    assert any("expired_trigger_id" in row["result"] for row in audited(store, 3))


def test_review_click_by_someone_not_allowed_gets_a_denial_not_a_500(slack, tmp_path):
    app, store = make_app(slack, tmp_path, '[slack.tickets]\nusers = ["UOWNER"]\n')
    app.dispatch(signed(command(slack, "ticket draft ERR_2200: User container has crashed", user="UOWNER")))
    slack.wait_for("/response_url/cmd")
    r = app.dispatch(signed(click(slack, "draft_ticket", '{"ticket":1}', user="UOTHER", response_url=False)))
    assert r.status == 200
    (updated,) = slack.wait_for("/api/views.update")
    assert "not allowed" in json.dumps(updated["view"])
    (dm,) = slack.wait_for("/api/chat.postMessage")
    assert dm["channel"] == "UOTHER" and "not allowed" in dm["text"]
    assert any(row["actor"] == "UOTHER" and row["result"] == "denied" for row in audited(store, 2))


def test_app_home_shows_failures_and_drafts_only_to_allowed_users(slack, tmp_path):
    app, store = make_app(slack, tmp_path, '[slack.read]\nusers = ["UREAD"]\n[slack.tickets]\nusers = ["UTIX"]\n')
    app.dispatch(signed(command(slack, "ticket draft ERR_2200: User container has crashed", user="UTIX")))
    slack.wait_for("/response_url/cmd")

    def home(user: str) -> str:
        slack.calls.clear()
        event = {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": f"Ev{user}",
                 "event_time": int(time.time()), "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}}
        assert app.dispatch(signed(json.dumps(event), content_type="application/json")).status == 200
        (published,) = slack.wait_for("/api/views.publish")
        return json.dumps(published["view"])

    tix, read, nobody = home("UTIX"), home("UREAD"), home("UNOBODY")
    assert "#1" in tix and "draft_ticket" in tix
    assert "#1" not in read and "draft_ticket" not in read and "Recent failures" in read
    assert "Recent failures" not in nobody and "#1" not in nobody and "not allowed" in nobody


def test_shortcut_in_a_channel_without_the_bot_answers_ephemerally_with_how_to_invite(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    slack.not_member.add("CPRIVATE")
    payload = {"type": "message_action", "callback_id": "diagnose_message", "trigger_id": "1.2.3", "user": {"id": "U1"},
               "team": {"id": "T1"}, "channel": {"id": "CPRIVATE"}, "response_url": f"{slack.base}/response_url/sc",
               "message": {"ts": "1699999999.000200", "text": "ERR_1100: Not enough quota"}}
    assert app.dispatch(signed(interactive(payload))).status == 200
    (answer,) = slack.wait_for("/response_url/sc")
    text = json.dumps(answer["blocks"])
    assert answer["response_type"] == "ephemeral" and "/invite @triage" in text and "ERR_1100" in text
    assert "not in channel" in audited(store)[0]["result"]


def test_long_output_stays_ephemeral_with_share_in_channel(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    long = "\n".join(f"project-{i} Failed " + "x" * 120 for i in range(400))
    answered: list[dict] = []
    # drive the rendering path the commands use, then the Share button through the real app
    from bot.slack import answer

    answer.post_text(app._triage_deps, lambda **kw: answered.append(kw), None, "C1", "Status", long, lang="en")  # type: ignore[attr-defined]
    (reply,) = answered
    assert reply["response_type"] == "ephemeral" and len(reply["blocks"]) <= 50
    share = button(reply, "share_result")
    assert "more lines" in json.dumps(reply["blocks"])
    app.dispatch(signed(click(slack, "share_result", share["value"])))
    slack.wait_for("/api/files.completeUploadExternal")
    assert answer.SHARE_TTL_S > 0
    slack.not_member.add("C1")
    app.dispatch(signed(click(slack, "share_result", share["value"])))
    (said,) = slack.wait_for("/response_url/act", 2)[1:]
    assert "/invite @triage" in said["text"]
    assert any(row["action"] == "button:share" and row["result"] == "not in channel" for row in audited(store, 2))


def test_a_replayed_signed_request_is_refused_and_nothing_runs_twice(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    request = signed(command(slack, "diagnose ERR_2200"))
    again = signed(command(slack, "diagnose ERR_2200"), ts=int(request.headers["x-slack-request-timestamp"][0]))
    assert app.dispatch(request).status == 200
    slack.wait_for("/response_url/cmd")
    assert app.dispatch(again).status == 401
    time.sleep(0.3)
    assert len(slack.bodies("/response_url/cmd")) == 1 and len(audited(store)) == 1


def test_an_event_slack_retries_is_handled_once(slack, tmp_path):
    from slack_bolt import BoltRequest
    from slack_sdk.signature import SignatureVerifier

    app, store = make_app(slack, tmp_path)
    event = json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "EvRETRY",
                        "event_time": int(time.time()), "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}})
    for retry in (None, "1", "2"):
        stamp = str(int(time.time()) + (int(retry) if retry else 0))  # each delivery is signed anew
        headers = {"content-type": ["application/json"], "x-slack-request-timestamp": [stamp],
                   "x-slack-signature": [SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=event)]}
        if retry:
            headers |= {"x-slack-retry-num": [retry], "x-slack-retry-reason": ["http_timeout"]}
        assert app.dispatch(BoltRequest(body=event, headers=headers)).status == 200
    slack.wait_for("/api/views.publish")
    time.sleep(0.3)
    assert len(slack.bodies("/api/views.publish")) == 1 and len(audited(store)) == 1


def test_help_rejected_input_and_language_switches_are_audited(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    app.dispatch(signed(command(slack, "help")))
    app.dispatch(signed(command(slack, "frobnicate token=xoxb-1234567890-abcdefghijkl")))
    app.dispatch(signed(command(slack, OOM)))
    (answer,) = slack.wait_for("/response_url/cmd")
    app.dispatch(signed(click(slack, "switch_lang", button(answer, "switch_lang")["value"])))
    rows = audited(store, 4)
    actions = {row["action"]: row for row in rows}
    assert set(actions) >= {"help", "rejected", "diagnose", "button:switch_lang"}
    assert actions["rejected"]["result"].startswith("rejected: unknown subcommand")
    assert "abcdefghijkl" not in json.dumps(rows)


def test_acknowledgement_follows_the_users_language_once_known(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    slack.locale = "ja-JP"
    app.dispatch(signed(command(slack, OOM)))
    slack.wait_for("/response_url/cmd")
    r = app.dispatch(signed(command(slack, OOM + " (again)")))
    assert "処理中です" in json.loads(r.body)["text"]


def file_shortcut(slack, name: str, size: int, *, channel: str = "C9") -> str:
    return interactive({"type": "message_action", "callback_id": "diagnose_message", "trigger_id": "1.2.3", "user": {"id": "U1"},
                        "team": {"id": "T1"}, "channel": {"id": channel}, "response_url": f"{slack.base}/response_url/sc",
                        "message": {"ts": "1699999999.000300", "text": "",
                                    "files": [{"id": "F9", "name": name, "mimetype": "text/plain", "filetype": "text", "size": size,
                                               "url_private_download": f"{slack.base}/files/{name}"}]}})


def test_message_shortcut_downloads_an_attached_log_and_diagnoses_it(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    log = ("INFO starting\n" * 5000 + "ERROR: (OutOfQuota) Not enough quota available for Standard_NC6s_v3\n" + "INFO done\n" * 3000).encode()
    assert len(log) > 40_000  # more than a slash command takes: the refusal points here
    slack.files["/files/driver.log"] = log
    assert app.dispatch(signed(file_shortcut(slack, "driver.log", len(log)))).status == 200
    (posted,) = slack.wait_for("/api/chat.postMessage")
    text = json.dumps(posted["blocks"])
    assert posted["thread_ts"] == "1699999999.000300" and "OutOfQuota" in text and "Standard_NC6s_v3" in text
    (download,) = slack.bodies("/files/driver.log")
    assert download["authorization"] == "Bearer xoxb-test-token"
    assert "driver.log" in audited(store)[0]["args"]


def test_an_attached_file_over_the_cap_is_refused_plainly(slack, tmp_path):
    app, store = make_app(slack, tmp_path, "[slack]\nfile_max_bytes = 1000\n")
    slack.files["/files/big.log"] = b"x\n" * 5000
    app.dispatch(signed(file_shortcut(slack, "big.log", 10_000)))
    (said,) = slack.wait_for("/response_url/sc")
    assert said["response_type"] == "ephemeral" and "10,000 bytes" in said["text"] and "triage diagnose FILE" in said["text"]
    # a file that lies about its size is cut off while streaming
    slack.files["/files/liar.log"] = b"y\n" * 5000
    app.dispatch(signed(file_shortcut(slack, "liar.log", 10)))
    said = slack.wait_for("/response_url/sc", 2)[1]
    assert "larger than 1,000 bytes" in said["text"]
    assert slack.bodies("/api/chat.postMessage") == []


def test_a_file_slack_will_not_hand_over_names_the_missing_scope(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    app.dispatch(signed(file_shortcut(slack, "missing.log", 100)))  # the stand-in serves its sign-in page
    (said,) = slack.wait_for("/response_url/sc")
    assert "files:read" in said["text"]


def test_slack_api_url_works_with_or_without_its_trailing_slash(slack):
    from bot.slack.alerts import alert_client
    from bot.slack.app import check_slack, web_client

    for url in (f"{slack.base}/api", f"{slack.base}/api/"):
        check_slack(web_client("xoxb-test-token", url))
        alert_client("xoxb-test-token", url).chat_postMessage(channel="C1", text="hi")
    assert slack.paths().count("/api/auth.test") == 2 and slack.paths().count("/api/chat.postMessage") == 2


def test_serve_that_cannot_reach_slack_says_so_plainly(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    (tmp_path / "triage.toml").write_text(f'[store]\npath = "{tmp_path / "s.db"}"\n')
    for mode, env in (("--http", {"SLACK_SIGNING_SECRET": SECRET}), (None, {"SLACK_APP_TOKEN": "xapp-1-test"})):
        proc = subprocess.run([sys.executable, "-m", "bot", "--config", str(tmp_path / "triage.toml"), "serve", *([mode, "--port", str(port)] if mode else [])],
                              env={**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": url, **env},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode in (1, 2), proc.stderr
        assert f"cannot reach Slack at {url}/" in proc.stderr and "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_look_up_ids_shortcut_picks_instead_of_typing(slack, tmp_path):
    from fake_customvision import KEY, FakeCustomVision
    from slack_bolt.authorization import AuthorizeResult

    from bot.config import Settings, parse
    from bot.slack.app import build_app, web_client
    from bot.store import open_store

    cv = FakeCustomVision().start()
    cv.seed_standard()
    try:
        config = parse(f'[[customvision]]\nname = "cv-prod"\nendpoint = "{cv.endpoint}"\ntraining_key_env = "CV_KEY"\n'
                       'resource_id = "/subscriptions/6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40/resourceGroups/rg/providers/'
                       'Microsoft.CognitiveServices/accounts/cv-prod"\n')
        auth = lambda enterprise_id, team_id, user_id: AuthorizeResult(  # noqa: E731
            enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test-token", bot_id="B", bot_user_id="U")
        store = open_store(tmp_path / "s.db")
        app = build_app(Settings(config, {"SLACK_SIGNING_SECRET": SECRET, "CV_KEY": KEY}), store,
                        client=web_client("xoxb-test-token", f"{slack.base}/api/"), authorize=auth)
        shortcut = {"type": "shortcut", "callback_id": "lookup_ids", "trigger_id": "trig-ids", "user": {"id": "U1"}, "team": {"id": "T1"}}
        assert app.dispatch(signed(interactive(shortcut))).status == 200
        (opened,) = slack.wait_for("/api/views.open")
        view = opened["view"]
        selects = {b["block_id"]: [o["value"] for o in b["element"].get("options", [])] for b in view["blocks"]}
        assert selects["service"] == ["customvision", "azureml", "rekognition"] and selects["target"] == ["cv-prod"]
        values = {"service": {"v": {"type": "static_select", "selected_option": {"value": "customvision"}}},
                  "target": {"v": {"type": "static_select", "selected_option": {"value": "cv-prod"}}},
                  "name": {"v": {"type": "plain_text_input", "value": None}}}
        sub = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "trigger_id": "t",
               "view": {**view, "id": "V1", "state": {"values": values}}}
        assert app.dispatch(signed(interactive(sub))).status == 200
        (dm,) = slack.wait_for("/api/chat.postMessage")
        assert dm["channel"] == "U1" and "Resource ID" in json.dumps(dm["blocks"]) and KEY not in json.dumps(dm)
        assert audited(store)[0]["action"] == "shortcut:ids"
    finally:
        cv.stop()


def test_look_up_ids_with_an_expired_trigger_is_not_a_500_and_is_audited(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    slack.expired_triggers.add("trig-old")
    shortcut = {"type": "shortcut", "callback_id": "lookup_ids", "trigger_id": "trig-old", "user": {"id": "U1"}, "team": {"id": "T1"}}
    assert app.dispatch(signed(interactive(shortcut))).status == 200
    (row,) = audited(store)
    assert row["action"] == "shortcut:ids" and row["result"] == "error: expired_trigger_id"


def test_app_home_that_slack_will_not_publish_is_acknowledged_not_a_500(slack, tmp_path, caplog):
    app, _ = make_app(slack, tmp_path)
    slack.throttle["/api/views.publish"] = 100  # rate limited past the client's retries
    event = {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "EvHOME",
             "event_time": int(time.time()), "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}}
    assert app.dispatch(signed(json.dumps(event), content_type="application/json")).status == 200
    slack.wait_for("/api/views.publish", 4)
    assert not any("in a Slack listener" in r.getMessage() for r in caplog.records)


def test_submitting_a_ticket_sent_meanwhile_says_so_on_the_modal(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    view = review_modal(app, slack)
    store.execute("update tickets set status = 'sent' where id = 1")  # sent from the CLI while the modal was open
    r = submit(app, view)
    errors = json.loads(r.body)["errors"]
    assert r.status == 200 and any("already sent" in e for e in errors.values()), errors


def test_a_signature_is_remembered_for_as_long_as_bolt_would_accept_it(slack, tmp_path):
    """Bolt accepts a timestamp up to 5 minutes either side of our clock (Slack's clock ahead of ours, say):
    the claim must outlast the signature's acceptance, or a replay late in that window gets through."""
    app, store = make_app(slack, tmp_path)
    ahead = int(time.time()) + 240
    assert app.dispatch(signed(command(slack, "help"), ts=ahead)).status == 200
    (row,) = store.query("select expires_at from seen_requests where key like 'sig:%'")
    assert row["expires_at"] >= ahead + 300


def test_submitting_a_ticket_the_store_no_longer_has_is_said_on_the_modal_not_a_500(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    view = review_modal(app, slack)
    store.execute("delete from tickets where id = 1")
    r = submit(app, view)
    assert r.status == 200
    assert any("no ticket #1" in e for e in json.loads(r.body)["errors"].values())
    rows = audited(store, 3)  # the diagnosis, the Review click, then this submission (audited after the ack)
    assert any(row["action"] == "modal:ticket" and row["result"].startswith("error: no ticket #1") for row in rows)


def test_a_user_group_slack_will_not_list_is_said_on_the_ticket_modal_not_a_500(slack, tmp_path):
    app, store = make_app(slack, tmp_path, '[slack.tickets]\ngroups = ["S0SUPPORT"]\n')
    slack.groups["S0SUPPORT"] = ["U1"]
    view = review_modal(app, slack)
    app._triage_deps.access._cache.clear()  # the group's members are read again at the submission
    slack.throttle["/api/usergroups.users.list"] = 100  # rate limited past the client's retries
    r = submit(app, view)
    assert r.status == 200
    errors = json.loads(r.body)["errors"]
    assert any("S0SUPPORT" in e and "cannot be checked" in e for e in errors.values()), errors
    assert all(len(e) <= 150 for e in errors.values())
    rows = audited(store, 3)
    assert any(row["action"] == "modal:ticket" and row["result"].startswith("error: Slack would not list") for row in rows)
    assert store.query("select status from tickets where id = 1")[0]["status"] == "draft"


def test_a_command_whose_user_group_slack_will_not_list_is_answered_and_audited(slack, tmp_path):
    app, store = make_app(slack, tmp_path, '[slack.read]\ngroups = ["S0ONCALL"]\n')
    slack.throttle["/api/usergroups.users.list"] = 100
    assert app.dispatch(signed(command(slack, OOM))).status == 200
    (said,) = slack.wait_for("/response_url/cmd")
    assert said["response_type"] == "ephemeral" and "S0ONCALL" in said["text"] and "cannot be checked now" in said["text"]
    (row,) = audited(store)
    assert row["result"].startswith("error: Slack would not list the members of user group S0ONCALL")
