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
OOM = "diagnose ERROR: (OutOfQuota) Not enough quota available for Standard_DS3_v2"


class Served:
    """`triage serve` (Socket Mode) as a child process, and the two stand-ins it talks to."""

    def __init__(self, tmp_path: Path, app_token: str = "xapp-test-token") -> None:
        self.slack, self.sm = FakeSlack(), FakeSocketMode()
        self.slack.socket_mode = self.sm
        config = tmp_path / "triage.toml"
        config.write_text(f'[store]\npath = "{tmp_path / "triage.db"}"\n[slack]\nsupport_channel = "CSUPPORT"\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "SLACK_", "CV_"))}
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
def served(tmp_path):
    s = Served(tmp_path)
    try:
        s.sm.wait_connected(1, timeout=60)  # the child imports Bolt and the playbooks first
        s.round_trip()
        yield s
    except BaseException:
        print(s.stderr())
        raise
    finally:
        s.close()


def slash(s: Served, text: str) -> dict:
    """A slash command's payload as Socket Mode carries it: the form fields, as JSON."""
    return {"token": "x", "team_id": "T1", "team_domain": "t", "channel_id": "C1", "channel_name": "ops", "user_id": "U1",
            "user_name": "u", "command": "/triage", "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
            "response_url": f"{s.slack.base}/response_url/cmd", "trigger_id": "1.2.3"}


def test_slash_command_is_acked_by_envelope_and_answered_on_response_url(served):
    s = served
    eid = s.sm.send("slash_commands", slash(s, "diagnose ResourceNotReady: User container has crashed or terminated: Liveness probe failed"),
                    accepts_response_payload=True)
    ack = s.sm.ack(eid)
    assert ack["payload"]["response_type"] == "ephemeral" and "Working on it" in ack["payload"]["text"]
    (answer,) = s.slack.wait_for("/response_url/cmd", timeout=30)
    assert answer["response_type"] == "in_channel"
    text = json.dumps(answer["blocks"])
    assert "azureml.endpoint.ERR_2200" in text and "draft_ticket" in text and "switch_lang" in text
    assert s.sm.acks_for(eid) == [ack] and s.sm.other == []


@pytest.mark.parametrize("abrupt", [False, True], ids=["close-frame", "abrupt"])
def test_a_dropped_connection_is_opened_again_and_the_next_envelope_handled(served, abrupt):
    s = served
    opened = len(s.slack.bodies("/api/apps.connections.open"))
    connected = s.sm.connections
    s.sm.drop(abrupt=abrupt)
    s.sm.wait_connected(connected + 1, timeout=30)
    assert len(s.slack.bodies("/api/apps.connections.open")) > opened  # a new URL, not the old one again
    s.round_trip()
    assert s.proc.poll() is None


def test_a_refused_app_token_ends_serve_with_one_line_naming_slack_and_exit_2(tmp_path):
    s = Served(tmp_path, app_token="xapp-revoked")
    try:
        code = s.proc.wait(60)
        err = s.stderr()
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 2, err
        assert len(lines) == 1 and f"Slack at {s.slack.base}/api/ refused SLACK_APP_TOKEN: invalid_auth" in lines[0], err
        assert "Traceback" not in err and s.sm.connections == 0
        assert [b["token"] for b in s.slack.bodies("/api/apps.connections.open")] == ["xapp-revoked"]
    finally:
        s.close()
