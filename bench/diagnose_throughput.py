"""Generate a large realistic log, diagnose it in a child process, print MB/s and peak memory.

    python bench/diagnose_throughput.py              # 10 MB and 100 MB, to show memory stays flat
    python bench/diagnose_throughput.py --sizes 1000 # one 1 GB run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINES = [
    "2024-05-01T10:00:{s:02d}.{ms:03d}Z INFO azureml-inference-server: 200 POST /score 12.{ms}ms request_id={rid}",
    "2024-05-01T10:00:{s:02d}.{ms:03d}Z DEBUG urllib3.connectionpool: https://storage.blob.core.windows.net:443 \"GET /models/model.pkl HTTP/1.1\" 206 {ms}",
    "2024-05-01T10:00:{s:02d}.{ms:03d}Z INFO root: batch {ms} processed in 0.{ms}s, items=64, loss=0.{s}{ms}",
    "  File \"/var/azureml-app/score.py\", line {s}, in run",
    "2024-05-01T10:00:{s:02d}.{ms:03d}Z WARNING gunicorn: worker {ms} timeout, restarting (pid:{rid})",
    "{{\"time\": \"2024-05-01T10:00:{s:02d}Z\", \"level\": \"info\", \"msg\": \"health check ok\", \"trace\": \"{rid}\"}}",
]
FAILURES = [
    "Liveness probe failed: HTTP probe failed with statuscode: 502",
    "(ResourceNotReady) User container has crashed or terminated",
    "ModuleNotFoundError: No module named 'sklearn'",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "ERR_1100: Not enough quota",
]


def generate(path: Path, size_mb: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    target = size_mb * 1_000_000
    written = 0
    with path.open("w", encoding="utf-8") as f:
        while written < target:
            block = []
            for _ in range(2000):
                if rng.random() < 0.0005:
                    line = rng.choice(FAILURES)
                else:
                    line = rng.choice(LINES).format(s=rng.randrange(60), ms=rng.randrange(1000), rid=rng.getrandbits(64))
                block.append(line)
            text = "\n".join(block) + "\n"
            f.write(text)
            written += len(text.encode("utf-8"))


def child(path: str) -> None:
    from bot.commands.diagnose import diagnose_stream, engine

    engine()  # compile outside the timed section, as a long-running bot would
    start = time.perf_counter()
    with open(path, "rb") as stream:
        result = diagnose_stream(stream)
    elapsed = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bytes": result.input_bytes, "lines": result.input_lines, "seconds": elapsed,
                      "peak_rss_mb": rss_mb, "matches": [m.id for m in result.matches]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="input sizes in MB")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    from bot.playbooks import cached

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {len(cached())} playbooks")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"log-{size}mb.log"
            generate(path, size)
            out = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            mb = r["bytes"] / 1e6
            print(f"{mb:8.1f} MB  {r['lines']:>10,} lines  {r['seconds']:6.2f} s  {mb / r['seconds']:7.1f} MB/s"
                  f"  peak RSS {r['peak_rss_mb']:6.1f} MB  matches: {len(r['matches'])}")
            path.unlink()


if __name__ == "__main__":
    main()
