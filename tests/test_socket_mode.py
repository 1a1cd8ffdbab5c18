"""Socket Mode, the default, end to end: the real `triage serve` in a child process, its Web API
client on the fake Slack (SLACK_API_URL) and its WebSocket on the fake Socket Mode server that
apps.connections.open hands out. Envelopes go in as Slack sends them; the acks and the Web API
calls come out as in HTTP mode (tests/test_slack*.py drive the same listeners through signed requests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_slack import FakeSlack
from tests.fake_socket_mode import FakeSocketMode

ROOT = Path(__file__).resolve().parent.parent
SUB = "6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40"
OOM = "diagnose ERROR: (OutOfQuota) Not enough quota available for Standard_DS3_v2"


class Served:
    """`triage serve` (Socket Mode) as a child process, and the two stand-ins it talks to."""

    def __init__(self, tmp_path: Path, app_token: str = "xapp-test-token") -> None:
        self.slack, self.sm = FakeSlack(), FakeSocketMode()
        self.slack.socket_mode = self.sm
        config = tmp_path / "triage.toml"
        config.write_text(f'[defaults]\nsubscription_id = "{SUB}"\n[store]\npath = "{tmp_path / "triage.db"}"\n'
                          '[slack]\nsupport_channel = "CSUPPORT"\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items()  # loopback only: no proxy in between
               if not k.startswith(("TRIAGE_", "SLACK_", "CV_")) and not k.lower().endswith("_proxy")}
        env |= {"PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_APP_TOKEN": app_token,
                "SLACK_API_URL": f"{self.slack.base}/api"}
        self.log = tmp_path / "serve.log"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "serve"], cwd=tmp_path, env=env,
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT, start_new_session=True)

    def round_trip(self) -> dict:
        """`/triage help` in and its acknowledgement out: the app is connected and listening."""
        eid = self.sm.send("slash_commands", slash(self, "help"), accepts_response_payload=True)
        ack = self.sm.ack(eid, timeout=20)
        assert "/triage diagnose" in ack["payload"]["text"]
        return ack

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the app and nothing else
            self.proc.wait(10)
        finally:
            self.sm.close()
            self.slack.close()


@pytest.fixture
def served(tmp_path, request):
    s = Served(tmp_path)
    try:
        s.sm.wait_connected(1, timeout=60)  # the child imports Bolt and the playbooks first
        s.round_trip()
        yield s
    finally:
        s.close()
        request.node.add_report_section("teardown", "triage serve", s.stderr())  # shown when the test failed


def slash(s: Served, text: str) -> dict:
    """A slash command's payload as Socket Mode carries it: the form fields, as JSON."""
    return {"token": "x", "team_id": "T1", "team_domain": "t", "channel_id": "C1", "channel_name": "ops", "user_id": "U1",
            "user_name": "u", "command": "/triage", "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": f"{s.slack.base}/response_url/cmd", "trigger_id": "1.2.3"}


def test_slash_command_is_acked_by_envelope_and_answered_on_response_url(served):
    s = served
    assert len(s.slack.bodies("/api/apps.connections.open")) == 1 and s.sm.connections == 1  # one URL, one connection at start
    eid = s.sm.send("slash_commands", slash(s, "diagnose ResourceNotReady: User container has crashed or terminated: Liveness probe failed"),
                    accepts_response_payload=True)
    ack = s.sm.ack(eid)
    assert ack["payload"]["response_type"] == "ephemeral" and "Working on it" in ack["payload"]["text"]
    (answer,) = s.slack.wait_for("/response_url/cmd", timeout=30)
    assert answer["response_type"] == "in_channel"
    text = json.dumps(answer["blocks"])
    assert "azureml.endpoint.ERR_2200" in text and "draft_ticket" in text and "switch_lang" in text
    assert s.sm.acks_for(eid) == [ack] and s.sm.other == []


# Reconnecting takes well under a second here; 15 s is generous for that and still shorter than the
# SDK's built-in client needed (its monitor noticed a reset only after five failed pings).
RECONNECT_WAIT_S = 15


@pytest.mark.parametrize("abrupt", [False, True], ids=["close-frame", "abrupt"])
def test_a_dropped_connection_is_opened_again_and_the_next_envelope_handled(served, abrupt):
    s = served
    opened = len(s.slack.bodies("/api/apps.connections.open"))
    connected = s.sm.connections
    s.sm.drop(abrupt=abrupt)
    s.sm.wait_connected(connected + 1, timeout=RECONNECT_WAIT_S)
    assert len(s.slack.bodies("/api/apps.connections.open")) > opened  # a new URL, not the old one again
    s.round_trip()
    assert s.proc.poll() is None


def test_a_failed_reconnect_is_tried_again_and_serve_keeps_running(served):
    s = served
    connected, opened = s.sm.connections, len(s.slack.bodies("/api/apps.connections.open"))
    s.slack.open_errors.append("internal_error")  # Slack fails the first apps.connections.open after the drop
    s.sm.drop()
    s.sm.wait_connected(connected + 1, timeout=RECONNECT_WAIT_S)  # the next try comes within the 5 s ping interval
    assert len(s.slack.bodies("/api/apps.connections.open")) >= opened + 2 and s.slack.open_errors == []
    s.round_trip()
    assert s.proc.poll() is None


def test_a_connection_gone_silent_is_given_up_and_opened_again(served):
    """Half-open (a NAT that forgot the connection): no close, no reset, only pings without pongs."""
    s = served
    connected = s.sm.connections
    s.sm.go_silent()
    s.sm.wait_connected(connected + 1, timeout=RECONNECT_WAIT_S)  # a pong is due within 3 s of a ping sent every 5 s
    s.round_trip()


def test_a_refused_app_token_ends_serve_with_one_line_naming_slack_and_exit_2(tmp_path):
    s = Served(tmp_path, app_token="xapp-revoked")
    try:
        code = s.proc.wait(60)
        err = s.stderr()
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 2, err
        assert len(lines) == 1 and f"Slack at {s.slack.base}/api/ refused SLACK_APP_TOKEN: invalid_auth" in lines[0], err
        assert "Traceback" not in err and s.sm.connections == 0
        assert "will be unused" not in err, err  # Bolt's warning about the client we give on purpose
        assert [b["token"] for b in s.slack.bodies("/api/apps.connections.open")] == ["xapp-revoked"]
    finally:
        s.close()


def block_actions(s: Served, action: str, value: str, trigger: str = "trig-1") -> dict:
    return {"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"}, "api_app_id": "A1", "trigger_id": trigger,
            "channel": {"id": "C1"}, "container": {"type": "message", "message_ts": "1.1"},
            "response_url": f"{s.slack.base}/response_url/act",
            "actions": [{"type": "button", "action_id": action, "block_id": "diagnosis_actions", "value": value,
                         "action_ts": str(time.time())}]}


def button(answer: dict, action: str) -> dict:
    return next(e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action)


def test_message_shortcut_is_acked_and_answered_in_the_thread(served):
    s = served
    payload = {"type": "message_action", "callback_id": "diagnose_message", "trigger_id": "1.2.3", "user": {"id": "U1"},
               "team": {"id": "T1"}, "channel": {"id": "C9"}, "response_url": f"{s.slack.base}/response_url/sc",
               "message_ts": "1699999999.000200", "message": {"type": "message", "ts": "1699999999.000200",
                                                              "text": "OOM? no: ERR_1100: Not enough quota"}}
    eid = s.sm.send("interactive", payload)
    assert "payload" not in s.sm.ack(eid)  # an empty ack: the answer is a thread reply
    (post,) = s.slack.wait_for("/api/chat.postMessage", timeout=30)
    assert post["channel"] == "C9" and post["thread_ts"] == "1699999999.000200"
    assert "ERR_1100" in json.dumps(post["blocks"])


def test_button_clicks_and_view_submissions_over_the_socket(served):
    """The diagnosis' buttons (switch language, draft ticket) and the ticket modal's submission, as in
    test_slack.py's HTTP tests: the same response_url answers, views.open then views.update, field errors
    in the acknowledgement's payload, the ready ticket posted to the support channel."""
    s = served
    text = (OOM + f" in SubscriptionId {SUB}"
            "\n$ az ml online-deployment create --endpoint-name fraud-scoring --name blue -g rg-ml -w ws-prod")
    s.sm.ack(s.sm.send("slash_commands", slash(s, text), accepts_response_payload=True))
    (answer,) = s.slack.wait_for("/response_url/cmd", timeout=30)

    eid = s.sm.send("interactive", block_actions(s, "switch_lang", button(answer, "switch_lang")["value"]))
    assert "payload" not in s.sm.ack(eid)
    (switched,) = s.slack.wait_for("/response_url/act", timeout=30)
    assert switched["replace_original"] is True and "対処手順" in json.dumps(switched["blocks"], ensure_ascii=False)

    eid = s.sm.send("interactive", block_actions(s, "draft_ticket", button(answer, "draft_ticket")["value"], trigger="trig-9"))
    s.sm.ack(eid)
    (opened,) = s.slack.wait_for("/api/views.open", timeout=30)
    assert opened["trigger_id"] == "trig-9"
    (updated,) = s.slack.wait_for("/api/views.update", timeout=30)
    view = updated["view"]
    assert updated["view_id"] == "V1" and view["callback_id"] == "ticket_modal"
    prefilled = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"}
    assert prefilled["f_endpoint"] == "fraud-scoring"

    def submit(values: dict[str, str]) -> dict:
        state = {bid: {"v": {"type": "plain_text_input", "value": values.get(bid[2:], prefilled.get(bid))}} for bid in prefilled}
        payload = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "api_app_id": "A1", "trigger_id": "t",
                   "view": {**view, "id": "V1", "state": {"values": state}}}
        return s.sm.ack(s.sm.send("interactive", payload, accepts_response_payload=True))

    first = submit({})
    assert first["payload"]["response_action"] == "errors" and "f_instance_count" in first["payload"]["errors"]
    second = submit({"region": "japaneast", "instance_count": "1", "workspace": "ws-prod", "resource_group": "rg-ml",
                     "deployment": "blue", "error_code": "OutOfQuota", "log_excerpt": "see above"})
    assert not second.get("payload")  # the modal closes
    (posted,) = s.slack.wait_for("/api/chat.postMessage", timeout=30)
    assert posted["channel"] == "CSUPPORT" and "fraud-scoring" in json.dumps(posted["blocks"])


def test_global_shortcut_opens_the_look_up_ids_modal(served):
    s = served
    payload = {"type": "shortcut", "callback_id": "lookup_ids", "trigger_id": "trig-ids", "user": {"id": "U1"},
               "team": {"id": "T1"}, "api_app_id": "A1", "action_ts": str(time.time())}
    s.sm.ack(s.sm.send("interactive", payload))
    (opened,) = s.slack.wait_for("/api/views.open", timeout=30)
    assert opened["trigger_id"] == "trig-ids" and opened["view"]["callback_id"] == "ids_modal"


def test_events_api_envelope_runs_once_even_when_slack_retries_it(served):
    s = served
    event = {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "Ev1",
             "event_time": int(time.time()), "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}}
    first = s.sm.send("events_api", event)
    assert "payload" not in s.sm.ack(first)
    (home,) = s.slack.wait_for("/api/views.publish", timeout=30)
    assert home["user_id"] == "U1"
    again = s.sm.send("events_api", event, retry_attempt=1)  # Slack did not see the first ack in time
    s.sm.ack(again)
    s.round_trip()  # anything the retry started has had its turn
    assert len(s.slack.bodies("/api/views.publish")) == 1


def test_slack_asking_the_app_to_reconnect_is_followed(served):
    """Slack's `disconnect` message (refresh_requested) comes before it closes a link: the app moves to a new one."""
    s = served
    connected, opened = s.sm.connections, len(s.slack.bodies("/api/apps.connections.open"))
    s.sm.refresh()
    s.sm.wait_connected(connected + 1, timeout=RECONNECT_WAIT_S)
    assert len(s.slack.bodies("/api/apps.connections.open")) > opened
    s.round_trip()
