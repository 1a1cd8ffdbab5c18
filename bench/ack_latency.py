"""Fire concurrent signed /triage commands at HTTP mode on loopback; print acknowledgement latency.

The app runs exactly as `triage serve --http` does (waitress + Bolt), its Slack Web API pointed at
a fake on 127.0.0.1, and every command triggers a cloud call that takes --cloud-delay seconds
(a slow fake Custom Vision server), so the numbers show the ack is independent of cloud latency.

    python bench/ack_latency.py                 # 50 concurrent, cloud calls take 2 s
    python bench/ack_latency.py --concurrency 100 --rounds 3
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECRET = "bench-signing-secret"


def slow_cloud(delay: float) -> str:
    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            time.sleep(delay)
            data = b"[]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}"


def run_fakes(delay: float, ports, stop) -> None:
    """Process 1: the fake Slack Web API and the slow fake cloud."""
    from tests.fake_slack import FakeSlack

    fake = FakeSlack()
    ports.put((fake.base, slow_cloud(delay)))
    stop.wait()
    ports.put(len(fake.bodies("/response_url/")))


def run_app(slack_base: str, cloud: str, ports, stop) -> None:
    """Process 2: the app exactly as `triage serve --http` runs it."""
    import waitress
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_bolt.authorization import AuthorizeResult

    from bot.config import Settings, parse
    from bot.slack.app import build_app, healthz, web_client
    from bot.store import open_store

    config = parse(f"""
[[customvision]]
name = "cv-bench"
endpoint = "{cloud}"
training_key_env = "CV_KEY"
resource_id = "/subscriptions/6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cv"
""")
    settings = Settings(config, {"SLACK_SIGNING_SECRET": SECRET, "CV_KEY": "k" * 32})
    auth = lambda enterprise_id, team_id, user_id: AuthorizeResult(  # noqa: E731
        enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-bench", bot_id="B", bot_user_id="U")
    app = build_app(settings, open_store(Path(tempfile.mkdtemp()) / "bench.db"), client=web_client("xoxb-bench", f"{slack_base}/api/"), authorize=auth)
    server = waitress.create_server(healthz(SlackRequestHandler(app)), host="127.0.0.1", port=0, threads=8)
    ports.put(server.effective_port)
    threading.Thread(target=server.run, daemon=True).start()
    stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cloud-delay", type=float, default=2.0)
    args = ap.parse_args()

    import multiprocessing as mp

    from slack_sdk.signature import SignatureVerifier

    ctx = mp.get_context("spawn")
    stop, fake_q, app_q = ctx.Event(), ctx.Queue(), ctx.Queue()
    fakes = ctx.Process(target=run_fakes, args=(args.cloud_delay, fake_q, stop), daemon=True)
    fakes.start()
    slack_base, cloud = fake_q.get(timeout=60)
    server = ctx.Process(target=run_app, args=(slack_base, cloud, app_q, stop), daemon=True)
    server.start()
    port = app_q.get(timeout=60)
    verifier = SignatureVerifier(SECRET)

    def fire(i: int) -> float:
        body = urlencode({"command": "/triage", "text": "status customvision", "team_id": "T1", "user_id": f"U{i}",
                          "channel_id": "C1", "response_url": f"{slack_base}/response_url/{i}", "trigger_id": "t"})
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                   "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body)}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start = time.perf_counter()
        conn.request("POST", "/slack/events", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        elapsed = time.perf_counter() - start
        conn.close()
        if resp.status != 200:
            raise SystemExit(f"status {resp.status}")
        return elapsed

    fire(-1)  # warm-up: the first request loads the playbooks
    samples: list[float] = []
    for _ in range(args.rounds):
        barrier = threading.Barrier(args.concurrency)

        def together(i: int) -> float:
            barrier.wait()
            return fire(i)

        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            samples += list(pool.map(together, range(args.concurrency)))
        time.sleep(0.5)
    samples.sort()
    p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000  # noqa: E731
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {args.concurrency} concurrent x {args.rounds} rounds,"
          f" each command makes a cloud call taking {args.cloud_delay:.1f} s")
    print(f"ack latency: p50 {p(0.50):.1f} ms  p90 {p(0.90):.1f} ms  p99 {p(0.99):.1f} ms  max {samples[-1] * 1000:.1f} ms"
          f"  mean {statistics.mean(samples) * 1000:.1f} ms  (n={len(samples)})")
    expected = args.concurrency * args.rounds + 1
    time.sleep(args.cloud_delay * expected / 8 + 2)
    stop.set()
    print(f"answers delivered to response_url afterwards: {fake_q.get(timeout=60)} of {expected}")


if __name__ == "__main__":
    main()
