"""Diagnose a large varied log in a child process and compare with ripgrep on the same expressions.

    python bench/diagnose_throughput.py               # 10 MB and 100 MB
    python bench/diagnose_throughput.py --sizes 1000  # one 1 GB run

The log mixes thirty-odd line shapes (ISO and syslog timestamps, Kubernetes JSON, az CLI output,
pip and conda, docker build steps, access logs, progress bars, tracebacks, Japanese lines) with a
failure line from the real-text corpus every ~2,000 lines. Every expression of every playbook and
of the product context is exported to a file (named groups made plain: ripgrep joins them into one
expression) and given to `rg -c -f`, which counts the lines any of them matches: the same work
triage does before it ranks. Both are timed as whole processes, start-up included, and with
start-up subtracted (a 1-line input). grep is not compared: `grep -P` takes one expression and
`grep -E` knows neither (?i), \\d nor \\x{...}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = [
    "{ts} INFO azureml-inference-server: 200 POST /score {ms}.{d}ms request_id={guid}",
    "{ts} DEBUG urllib3.connectionpool: https://{acct}.blob.core.windows.net:443 \"GET /models/model.pkl HTTP/1.1\" 206 {n}",
    "{ts} INFO root: batch {n} processed in 0.{ms}s, items=64, loss=0.{d}{ms}",
    "  File \"/var/azureml-app/score.py\", line {d}, in run",
    "{ts} WARNING gunicorn: worker {n} timeout, restarting (pid:{pid})",
    "{{\"time\": \"{iso}\", \"level\": \"info\", \"msg\": \"health check ok\", \"trace\": \"{hex}\"}}",
    "{syslog} kubelet[{pid}]: I1205 {clock}.{us} {pid} kubelet.go:{d}] \"SyncLoop (PLEG): event for pod\" pod=\"default/web-{hex6}\"",
    "{{\"kind\":\"Event\",\"reason\":\"Scheduled\",\"message\":\"Successfully assigned default/api-{hex6} to aks-nodepool1-{n}-vmss00000{d}\"}}",
    "Collecting numpy==1.26.{d} (from -r requirements.txt (line {d}))",
    "  Downloading pandas-2.2.{d}-cp311-cp311-manylinux_2_17_x86_64.whl ({d}.{d} MB)",
    "     |████████████████████████████████| {n} kB {ms} kB/s eta 0:00:0{d}",
    "Successfully installed joblib-1.4.{d} scikit-learn-1.5.{d} threadpoolctl-3.5.0",
    "#{d} {d}.{ms} Step {d}/15 : RUN pip install --no-cache-dir -r requirements.txt",
    " ---> Running in {hex}",
    "Preparing transaction: ...working... done",
    "Epoch {d}/20: {pct}%|██████    | {n}/2000 [04:12<02:41,  4.83it/s, loss=0.{ms}]",
    "{ip} - - [05/Dec/2026:{clock} +0000] \"GET /api/v1/items/{n} HTTP/1.1\" 200 {n} \"-\" \"python-requests/2.31\"",
    "{iso} [info] Ping from {ip}: latency {ms}ms",
    "[{clock}] {{\"status\": \"Running\", \"progress\": {pct}, \"run_id\": \"{guid}\"}}",
    "Command group 'ml' is experimental and under development. Reference and support levels: https://aka.ms/CLI_refstatus",
    "{{\n  \"id\": \"/subscriptions/{guid}/resourceGroups/rg-{n}/providers/Microsoft.Storage/storageAccounts/st{hex6}\",",
    "Traceback (most recent call last):",
    "  File \"/usr/lib/python3.11/threading.py\", line 1045, in _bootstrap_inner",
    "    self.run()",
    "{ts} 処理を開始しました: ジョブ {n} (入力 {n} 件)",
    "{ts} バッチ {n} を処理しました。所要時間 0.{ms} 秒",
    "time=\"{iso}\" level=info msg=\"pulling image\" image=\"mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:{date}\"",
    "    at Microsoft.Extensions.Hosting.Internal.Host.StartAsync(CancellationToken cancellationToken) +{n}",
    "npm WARN deprecated glob@7.2.{d}: Glob versions prior to v9 are no longer supported",
    "{date} {clock} | INFO | mlflow.tracking: logged metric accuracy=0.9{ms} step={n}",
    "::group::Run python -m pytest -q tests/test_{hex6}.py",
    "[{pid}] {clock} sqlalchemy.engine.Engine SELECT id, name FROM runs WHERE id = ? ({n},)",
]


def _corpus_failure_lines() -> list[str]:
    """Failure lines from the real-text corpus (the lines its playbooks match)."""
    import yaml

    lines = []
    for path in sorted((ROOT / "tests" / "corpus").rglob("*.yaml")):
        text = yaml.safe_load(path.read_text(encoding="utf-8"))["text"]
        lines += [line for line in text.splitlines() if 20 < len(line) < 400]
    return lines


def generate(path: Path, size_mb: float, seed: int = 7, japanese: bool = True) -> None:
    """A log of about size_mb MB; japanese=False leaves out every line with a non-ASCII character."""
    rng = random.Random(seed)
    failures = [f for f in _corpus_failure_lines() if japanese or f.isascii()]
    shapes = [s for s in SHAPES if japanese or s.isascii()]

    def fill(shape: str) -> str:
        return shape.format(
            ts=f"2026-12-05T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z",
            iso=f"2026-12-05T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
            syslog=f"Dec  5 {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d} aks-node",
            clock=f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}",
            date=f"2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}", us=rng.randrange(10**6),
            ms=rng.randrange(1000), d=rng.randrange(10), n=rng.randrange(100000), pid=rng.randrange(1, 65536),
            pct=rng.randrange(100), hex=f"{rng.getrandbits(64):016x}", hex6=f"{rng.getrandbits(24):06x}",
            guid=f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-a{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}",
            acct=f"st{rng.getrandbits(24):06x}", ip=f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        )

    target, written = int(size_mb * 1_000_000), 0
    with path.open("w", encoding="utf-8") as f:
        while written < target:
            block = [rng.choice(failures) if rng.random() < 0.0005 else fill(rng.choice(shapes)) for _ in range(2000)]
            text = "\n".join(block) + "\n"
            f.write(text)
            written += len(text.encode("utf-8"))


def export_expressions(path: Path) -> int:
    """Every expression the engine puts in its set, as ripgrep takes them (one per line)."""
    from bot.commands.diagnose import engine

    expressions = [re.sub(r"\(\?P<\w+>", "(?:", spec.regex) for spec in engine().specs]
    path.write_text("\n".join(expressions) + "\n", encoding="utf-8")
    return len(expressions)


def timed(cmd: list[str], limit: float | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS of this child in MB (wait4), stdout; past `limit` seconds the child
    is killed and the time returned is the limit (a lower bound)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if limit is not None and time.perf_counter() - start > limit:
                proc.kill()
                os.wait4(proc.pid, 0)
                return limit, 0.0, ""
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed: {err.read()[:500]!r}")
        return elapsed, usage.ru_maxrss / 1024, out.read().decode("utf-8", "replace")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="input sizes in MB")
    ap.add_argument("--rg-limit", type=float, default=120.0, help="seconds after which a ripgrep run is stopped")
    args = ap.parse_args()
    from bot.playbooks import cached

    triage = [sys.executable, "-m", "bot", "diagnose", "--json"]
    rg = shutil.which("rg")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {len(cached())} playbooks")
    with tempfile.TemporaryDirectory() as tmp:
        pats = Path(tmp) / "expressions.txt"
        print(f"{export_expressions(pats)} expressions; ripgrep: {rg or 'not installed (apt-get install ripgrep)'}")
        one = Path(tmp) / "one.log"
        one.write_text("hello\n")
        base_t = min(timed(triage + [str(one)])[0] for _ in range(3))
        base_rg = min(timed([rg, "-c", "-f", str(pats), str(one)])[0] for _ in range(3)) if rg else 0.0
        print(f"start-up on a 1-line input: triage {base_t:.2f} s" + (f", rg {base_rg:.2f} s (compiling the expressions)" if rg else ""))
        for size in args.sizes:
            for japanese in (False, True):
                path = Path(tmp) / f"log-{size}mb.log"
                generate(path, size, japanese=japanese)
                mb = path.stat().st_size / 1e6
                t, t_rss, out = timed(triage + [str(path)])
                result = json.loads(out)
                kind = "varied log with Japanese lines" if japanese else "varied ASCII log"
                print(f"{mb:8.1f} MB {kind}: triage {t:6.2f} s  {mb / t:6.1f} MB/s ({mb / max(t - base_t, 1e-9):6.1f} without start-up)"
                      f"  peak RSS {t_rss:5.1f} MB  {len(result['matches'])} matches")
                if rg:
                    # ripgrep's fast engines give up on Unicode word boundaries next to non-ASCII
                    # text; its fallback is so slow that the run is capped and timed on 1 MB.
                    sample = path
                    if japanese:
                        sample = Path(tmp) / "sample-1mb.log"
                        generate(sample, 1, japanese=True)
                    smb = sample.stat().st_size / 1e6
                    r, r_rss, _ = timed([rg, "-c", "-f", str(pats), str(sample)], limit=args.rg_limit)
                    capped = "≥ " if r >= args.rg_limit else ""
                    rate = smb / max(r - base_rg, 1e-9)
                    print(f"{'':9}rg on {smb:.0f} MB: {capped}{r:6.2f} s, {'≤ ' if capped else ''}{rate:6.2f} MB/s without start-up"
                          f"{f'  peak RSS {r_rss:5.1f} MB' if r_rss else ''}"
                          f"  → triage is {'≥ ' if capped else ''}{(mb / max(t - base_t, 1e-9)) / rate:.1f}x rg's throughput")
                path.unlink()


if __name__ == "__main__":
    main()
