"""Fire concurrent signed /triage commands at `triage serve --http --workers N`; print acknowledgement latency.

The real command runs (gunicorn, its workers, Bolt) on a loopback port, its Slack Web API pointed
at a fake on 127.0.0.1 (SLACK_API_URL), and every command triggers a cloud call that takes
--cloud-delay seconds (a slow fake Custom Vision server), so the numbers show the ack is
independent of cloud latency. One uncounted round first warms every worker.

    python bench/ack_latency.py                          # 1 worker, 50 concurrent, cloud calls take 2 s
    python bench/ack_latency.py --workers 2 --threads 8
    python bench/ack_latency.py --concurrency 100 --rounds 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}"


def run_fakes(delay: float, out, commands) -> None:
    """Its own process: the fake Slack Web API and the slow fake cloud; answers "count" with the answers delivered."""
    from tests.fake_slack import FakeSlack

    fake = FakeSlack()
    out.put((fake.base, slow_cloud(delay)))
    while commands.get() == "count":
        out.put(len(fake.bodies("/response_url/")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(slack_base: str, cloud: str, workers: int, threads: int | None, workdir: Path) -> tuple[subprocess.Popen, int]:
    """`triage serve --http` exactly as deployed, in its own process group."""
    config = workdir / "triage.toml"
    config.write_text(f"""
[store]
path = "{workdir / 'bench.db'}"

[[customvision]]
name = "cv-bench"
endpoint = "{cloud}"
training_key_env = "CV_KEY"
resource_id = "/subscriptions/6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cv"
""")
    port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": f"{slack_base}/api",
           "CV_KEY": "k" * 32}
    argv = [sys.executable, "-m", "bot", "--config", str(config), "serve", "--http", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)] + (["--threads", str(threads)] if threads else [])
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(workdir / "serve.log").open("w"),
                            start_new_session=True)
    deadline = time.time() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"triage serve exited {proc.returncode}:\n{(workdir / 'serve.log').read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, port
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def stop_serve(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=1, help="triage serve --workers")
    ap.add_argument("--threads", type=int, help="triage serve --threads (default: its own)")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cloud-delay", type=float, default=2.0)
    args = ap.parse_args()

    import multiprocessing as mp

    from slack_sdk.signature import SignatureVerifier

    ctx = mp.get_context("spawn")
    out, commands = ctx.Queue(), ctx.Queue()
    fakes = ctx.Process(target=run_fakes, args=(args.cloud_delay, out, commands), daemon=True)
    fakes.start()
    slack_base, cloud = out.get(timeout=60)
    workdir = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    proc, port = start_serve(slack_base, cloud, args.workers, args.threads, workdir)
    verifier = SignatureVerifier(SECRET)
    sent = 0

    def fire(i: int) -> tuple[float, int]:
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
        return elapsed, i

    def burst(first: int) -> list[float]:
        nonlocal sent
        barrier = threading.Barrier(args.concurrency)

        def together(i: int) -> float:
            barrier.wait()
            return fire(i)[0]

        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            got = list(pool.map(together, range(first, first + args.concurrency)))
        sent += args.concurrency
        return got

    try:
        burst(0)  # warm-up, not counted: every worker loads what the first command needs
        time.sleep(0.5)
        samples: list[float] = []
        for r in range(args.rounds):
            samples += burst((r + 1) * args.concurrency)
            time.sleep(0.5)
        samples.sort()
        p = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000  # noqa: E731
        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {load:.2f}; "
              f"triage serve --http --workers {args.workers}" + (f" --threads {args.threads}" if args.threads else "")
              + f"; {args.concurrency} concurrent x {args.rounds} rounds, each command makes a cloud call taking {args.cloud_delay:.1f} s")
        print(f"ack latency: p50 {p(0.50):.1f} ms  p90 {p(0.90):.1f} ms  p99 {p(0.99):.1f} ms  max {samples[-1] * 1000:.1f} ms"
              f"  mean {statistics.mean(samples) * 1000:.1f} ms  (n={len(samples)})")
        print(json.dumps({"workers": args.workers, "threads": args.threads, "p50_ms": round(p(0.5), 1), "p99_ms": round(p(0.99), 1),
                          "max_ms": round(samples[-1] * 1000, 1), "n": len(samples)}))
        deadline = time.time() + args.cloud_delay * sent / (8 * args.workers) + 30
        delivered = 0
        while time.time() < deadline:
            commands.put("count")
            delivered = out.get(timeout=60)
            if delivered >= sent:
                break
            time.sleep(0.5)
        print(f"answers delivered to response_url afterwards: {delivered} of {sent}")
    finally:
        stop_serve(proc)
        commands.put("stop")
        fakes.join(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
