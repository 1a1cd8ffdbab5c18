"""Status sweep: sequential sum vs concurrent wall time against loopback fake Custom Vision servers.

    python bench/status_sweep.py                      # 20 targets, 100 ms per request
    python bench/status_sweep.py --targets 50 --delay 0.2 --projects 4

Each target is its own fake resource (http.server on 127.0.0.1:0) that sleeps `--delay` seconds
before every answer; each has `--projects` projects, one with a failed iteration. The bar: the
concurrent sweep takes about as long as the slowest target, not the sum of all of them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bot import config  # noqa: E402
from bot.commands.status import status  # noqa: E402
from bot.providers import get_provider  # noqa: E402
from fake_customvision import KEY, FakeCustomVision, iteration, project, tag  # noqa: E402

SUB = "11111111-2222-3333-4444-555555555555"


def make_fake(delay: float, projects: int) -> FakeCustomVision:
    fake = FakeCustomVision(delay=delay).start()
    for i in range(projects):
        pid = f"00000000-0000-4000-8000-{i:012d}"
        fake.projects[pid] = project(pid, f"project-{i}")
        status = "Failed" if i == 0 else "Completed"
        fake.iterations[pid] = [iteration(f"10000000-0000-4000-8000-{i:012d}", pid, "Iteration 1", status, "2024-05-01T10:00:00Z")]
        fake.tags[pid] = [tag("ok", 60), tag("few", 3)]
    return fake


def settings_for(fakes: list[FakeCustomVision]) -> config.Settings:
    toml = "".join(
        f'[[customvision]]\nname = "cv-{i}"\nendpoint = "{f.endpoint}"\ntraining_key_env = "CV_KEY"\n'
        f'resource_id = "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cv-{i}"\n'
        for i, f in enumerate(fakes)
    )
    return config.Settings(config.parse(toml), {"CV_KEY": KEY})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--projects", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.1, help="seconds each fake request takes")
    args = ap.parse_args()

    fakes = [make_fake(args.delay, args.projects) for _ in range(args.targets)]
    s = settings_for(fakes)
    try:
        status(s)  # warm up: playbook engine, imports, connection pools
        requests_before = sum(len(f.requests) for f in fakes)

        t0 = time.perf_counter()
        per_target = []
        for target in s.config.customvision:
            t1 = time.perf_counter()
            get_provider("customvision", target, s).failures()
            per_target.append(time.perf_counter() - t1)
        sequential = time.perf_counter() - t0
        calls = (sum(len(f.requests) for f in fakes) - requests_before) // args.targets

        result = status(s)
        concurrent = result.elapsed_s
        slowest = max(t.elapsed_s for t in result.targets)
        assert not result.errors, [t.error for t in result.errors]
        assert len(result.failures) == args.targets
    finally:
        for f in fakes:
            f.stop()

    print(f"{args.targets} targets × {args.projects} projects, {args.delay * 1000:.0f} ms per request, "
          f"{calls} requests per target")
    print(f"  sequential (sum of targets):  {sequential:7.2f} s   (one target: {min(per_target):.2f}–{max(per_target):.2f} s)")
    print(f"  concurrent sweep (status):    {concurrent:7.2f} s   (slowest target inside it: {slowest:.2f} s)")
    print(f"  speed-up: {sequential / concurrent:.1f}×; concurrent / slowest = {concurrent / slowest:.2f}")


if __name__ == "__main__":
    main()
