"""`triage serve --http --workers 2`: the real command (gunicorn and its workers) on a loopback port,
its Web API client on the local Slack stand-in. A request is steered to one worker by stopping the
others (SIGSTOP) while it is sent: the listening socket is shared, so only a running worker accepts."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.test_slack import SECRET, command, signed, slack  # noqa: F401  (slack: fixture)

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> set[int]:
    """The live processes whose parent is `pid` (gunicorn's workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


class Served:
    """One `triage serve --http --workers 2` process group and ways to talk to it."""

    def __init__(self, proc: subprocess.Popen, port: int, store: Path, log: Path) -> None:
        self.proc, self.port, self.store, self.log = proc, port, store, log

    def request(self, method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body.encode(), headers={"Connection": "close", **(headers or {})})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def healthz(self) -> dict:
        status, body = self.request("GET", "/healthz")
        assert status == 200, body
        return json.loads(body)

    def post(self, body: str, *, ts: int | None = None, secret: str = SECRET, content_type: str = "application/x-www-form-urlencoded",
             extra: dict[str, str] | None = None) -> tuple[int, str]:
        stamp = str(int(time.time()) if ts is None else ts)
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body), **(extra or {})}
        return self.request("POST", "/slack/events", body, headers)

    def workers(self) -> set[int]:
        return children(self.proc.pid)

    def wait_for_workers(self, count: int = 2, *, gone: set[int] = frozenset(), timeout: float = 60.0) -> set[int]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            pids = self.workers()
            if len(pids) == count and not pids & gone:
                return pids
            time.sleep(0.1)
        raise AssertionError(f"workers {self.workers()}, wanted {count} without {gone}; log:\n{self.log.read_text()[-3000:]}")

    @contextmanager
    def only(self, pid: int) -> Iterator[None]:
        """Requests sent inside the block are accepted by worker `pid`: the others are stopped meanwhile."""
        others = self.workers() - {pid}
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            yield
        finally:
            for other in others:
                os.kill(other, signal.SIGCONT)


@pytest.fixture
def served(slack, tmp_path) -> Iterator[Served]:
    port, store, log = free_port(), tmp_path / "s.db", tmp_path / "serve.log"
    (tmp_path / "triage.toml").write_text(f'[store]\npath = "{store}"\n')
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": f"{slack.base}/api"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(tmp_path / "triage.toml"), "serve", "--http",
                                 "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    s = Served(proc, port, store, log)
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                s.healthz()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        s.wait_for_workers(2)
        yield s
    finally:
        seen = s.workers()
        os.killpg(proc.pid, signal.SIGCONT)  # a worker left stopped by a failed test must be able to exit
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        for pid in seen | s.workers():  # workers exit with their master; a straggler is ended here, by its id
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def answers(slack, count: int) -> list[dict]:
    """The response_url answers once `count` arrived, and a moment more for any that should not."""
    slack.wait_for("/response_url/cmd", count, timeout=30)
    time.sleep(0.5)
    return slack.bodies("/response_url/cmd")


def test_each_worker_answers_healthz_with_its_pid_and_a_signed_command(served, slack):
    workers = sorted(served.workers())
    assert len(workers) == 2 and served.proc.pid not in workers
    for i, pid in enumerate(workers):
        with served.only(pid):
            assert served.healthz() == {"ok": True, "pid": pid}
            status, body = served.post(command(slack, f"diagnose ERR_2200 from worker {i}"))
        assert status == 200 and "Working on it" in json.loads(body)["text"]
    got = answers(slack, 2)  # each worker's own pool answered after its fork
    assert len(got) == 2 and all("azureml.endpoint.ERR_2200" in json.dumps(a["blocks"]) for a in got)


def test_a_request_one_worker_accepted_is_refused_by_the_other(served, slack):
    first, second = sorted(served.workers())
    body, ts = command(slack, "diagnose ERR_2200"), int(time.time())
    with served.only(first):
        assert served.post(body, ts=ts)[0] == 200
    with served.only(second):
        assert served.post(body, ts=ts) == (401, "replayed request")
    with served.only(first):
        assert served.post(body, ts=ts)[0] == 401
    assert len(answers(slack, 1)) == 1


def test_an_event_slack_sends_again_runs_once_whichever_worker_gets_it(served, slack):
    first, second = sorted(served.workers())
    event = json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "EvTWICE",
                        "event_time": int(time.time()), "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}})
    with served.only(first):
        assert served.post(event, content_type="application/json")[0] == 200
    with served.only(second):  # Slack's retry is signed anew: only the event ID says it is the same
        assert served.post(event, ts=int(time.time()) + 1, content_type="application/json",
                           extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
    slack.wait_for("/api/views.publish", timeout=30)
    time.sleep(0.5)
    assert len(slack.bodies("/api/views.publish")) == 1


def test_a_request_signed_with_another_secret_is_refused_and_nothing_runs(served, slack):
    status, _ = served.post(command(slack, "diagnose ERR_2200"), secret="not-the-signing-secret")
    assert status == 401
    assert served.post(command(slack, "help"))[0] == 200  # the port still answers signed requests
    time.sleep(0.5)
    assert slack.bodies("/response_url/cmd") == []


def test_a_worker_killed_with_kill_9_is_replaced_and_the_port_keeps_answering(served, slack):
    victim, survivor = sorted(served.workers())
    os.kill(victim, signal.SIGKILL)
    assert served.healthz()["pid"] in served.workers() | {survivor}  # answered while the master replaces it
    workers = served.wait_for_workers(2, gone={victim})
    (new,) = workers - {survivor}
    with served.only(new):
        assert served.healthz() == {"ok": True, "pid": new}
        assert served.post(command(slack, "diagnose ERR_2200"))[0] == 200
    assert len(answers(slack, 1)) == 1
    assert served.proc.poll() is None


def test_slack_unreachable_at_start_is_one_line_and_exit_2_before_any_worker(tmp_path):
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}/api"
    (tmp_path / "triage.toml").write_text(f'[store]\npath = "{tmp_path / "s.db"}"\n')
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": url}
    proc = subprocess.run([sys.executable, "-m", "bot", "--config", str(tmp_path / "triage.toml"), "serve", "--http",
                           "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: cannot reach Slack at {url}/"), proc.stderr
    assert "Traceback" not in proc.stderr and "gunicorn" not in proc.stderr and "Booting worker" not in proc.stderr


def test_workers_and_threads_need_http_mode(tmp_path):
    from click.testing import CliRunner

    from bot.cli import cli

    r = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert r.exit_code == 2 and "--workers and --threads are for HTTP mode" in r.output


def test_two_workers_on_one_store_refuse_each_others_replays(slack, tmp_path, store_location):
    """The same in-process on both backends: two apps (two workers) with their own connections to one store."""
    from slack_bolt import BoltRequest
    from slack_bolt.authorization import AuthorizeResult

    from bot.config import Settings, parse
    from bot.slack.app import build_app, web_client
    from bot.store import open_store

    def authorize(enterprise_id, team_id, user_id):
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test-token", bot_id="BBOT", bot_user_id="UBOT")

    settings = Settings(parse(""), {"SLACK_SIGNING_SECRET": SECRET})
    stores = [open_store(store_location) for _ in range(2)]
    try:
        a, b = (build_app(settings, s, client=web_client("xoxb-test-token", f"{slack.base}/api/"), authorize=authorize) for s in stores)
        request = signed(command(slack, "help"))
        assert a.dispatch(request).status == 200
        assert b.dispatch(BoltRequest(body=request.raw_body, headers=request.headers)).status == 401
        event = json.dumps({"token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": "EvSHARED",
                            "event_time": int(time.time()), "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}})
        assert b.dispatch(signed(event, content_type="application/json")).status == 200
        again = a.dispatch(signed(event, ts=int(time.time()) + 1, content_type="application/json"))  # Slack's retry, signed anew
        assert (again.status, again.body) == (200, "")
        slack.wait_for("/api/views.publish")
        time.sleep(0.3)
        assert len(slack.bodies("/api/views.publish")) == 1
        keys = {r["key"] for r in stores[0].query("select key from seen_requests")}
        assert "event:EvSHARED" in keys and sum(k.startswith("sig:") for k in keys) == 3
    finally:
        for s in stores:
            s.close()


def test_a_read_only_postgresql_refuses_slack_requests_with_503_not_500(slack, pg_server):
    """A failover to a standby (or default_transaction_read_only): the replay check cannot be written, so 503."""
    import psycopg
    from slack_bolt.authorization import AuthorizeResult

    from bot.config import Settings, parse
    from bot.slack.app import build_app, web_client
    from bot.store import StoreFault, open_store

    url = pg_server.create_database()
    open_store(url).close()  # the schema, created while writable
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"alter database {url.rsplit('/', 1)[1]} set default_transaction_read_only = on")
    store = open_store(url)
    try:
        with pytest.raises(StoreFault):
            store.tx().claim_once("sig:x", now=1.0, ttl=1.0)
        app = build_app(Settings(parse(""), {"SLACK_SIGNING_SECRET": SECRET}), store,
                        client=web_client("xoxb-test-token", f"{slack.base}/api/"),
                        authorize=lambda enterprise_id, team_id, user_id: AuthorizeResult(
                            enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-test-token", bot_id="B", bot_user_id="U"))
        r = app.dispatch(signed(command(slack, "help")))
        assert (r.status, r.body) == (503, "state store unavailable")
    finally:
        store.close()
