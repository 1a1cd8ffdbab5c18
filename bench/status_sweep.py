"""Status sweep: wall time of `triage status` against the slowest single call, at 20 and 100 targets.

    python bench/status_sweep.py                                  # 20 and 100 targets, 100 ms per request
    python bench/status_sweep.py --targets 50 --delay 0.2 --projects 4 --repeat 3

Each target is its own stand-in Custom Vision resource (its own port of 127.0.0.1) that waits
`--delay` seconds before every answer; each has `--projects` projects, one with a failed iteration.
The stand-ins (bench/cv_standin.py: the test fake's routes and bodies on one asyncio loop) run in
a child process, as a cloud runs elsewhere: their CPU does not queue behind the sweep's for the
GIL, and at well under a millisecond a request they leave the second core mostly to the sweep.
Nothing is cached between sweeps: each builds new providers, sessions and connections.

Two configurations: every project of the resource (GetProjects first: two rounds of calls; when the
same process sweeps again, the projects it found are read beside the listing: one round, printed
as "again"), and projects named by Project Id in triage.toml (one round). Printed for each: the slowest single
call (median of a few, timed alone through the provider), the sweep (min / median / max of
`--repeat` runs), their ratio (the goal: 2 or less), the CPU the sweep used, and the sequential
baseline (`status(max_workers=1)`: every call one after another, timed on up to 20 targets and
scaled to all of them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bot import config  # noqa: E402
from bot.commands.status import status  # noqa: E402
from bot.pool import CALL_WORKERS  # noqa: E402
from bot.providers import get_provider  # noqa: E402
from bot.providers.customvision import forget_selections  # noqa: E402

SUB = "11111111-2222-3333-4444-555555555555"
KEY = "k123-training-key"
SEQUENTIAL_SAMPLE = 20


def pid_of(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def serve(targets: int, projects: int, delay: float, conn) -> None:
    """Child process: the stand-in resources on one event loop; answers 'count' with requests served, stops on 'stop'."""
    from cv_standin import Resource, Standin
    from fake_customvision import iteration, project, tag

    resources = []
    for _ in range(targets):
        r = Resource()
        for i in range(projects):
            r.projects[pid_of(i)] = project(pid_of(i), f"project-{i}")
            status_ = "Failed" if i == 0 else "Completed"
            r.iterations[pid_of(i)] = [iteration(f"10000000-0000-4000-8000-{i:012d}", pid_of(i), "Iteration 1",
                                                 status_, "2024-05-01T10:00:00Z")]
            r.tags[pid_of(i)] = [tag("ok", 60), tag("few", 3)]
        resources.append(r)
    standin = Standin(resources, KEY, delay)
    conn.send(standin.endpoints)

    def command() -> None:
        msg = conn.recv()
        if msg == "count":
            conn.send(standin.requests())
        elif msg == "stop":
            conn.send("stopped")
            standin.loop.stop()

    standin.loop.add_reader(conn.fileno(), command)
    standin.loop.run_forever()


@contextlib.contextmanager
def standins(targets: int, projects: int, delay: float) -> Iterator[tuple[list[str], Any]]:
    """The stand-in resources in a child process: (their endpoints, the pipe that asks it for 'count')."""
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(targets, projects, delay, child), daemon=True)
    server.start()
    try:
        yield parent.recv(), parent
    finally:
        parent.send("stop")
        parent.recv()
        server.join(5)


def toml_for(endpoints: list[str], project_ids: list[str] | None) -> str:
    projects = f"projects = [{', '.join(repr(p).replace(chr(39), chr(34)) for p in project_ids)}]\n" if project_ids else ""
    return "".join(
        f'[[customvision]]\nname = "cv-{i}"\nendpoint = "{e}"\ntraining_key_env = "CV_KEY"\n'
        f'resource_id = "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cv-{i}"\n'
        + projects
        for i, e in enumerate(endpoints)
    )


def settings_for(endpoints: list[str], project_ids: list[str] | None) -> config.Settings:
    return config.Settings(config.parse(toml_for(endpoints, project_ids)), {"CV_KEY": KEY})


def whole_process(endpoints: list[str], project_ids: list[str] | None, repeat: int) -> list[float]:
    """`triage status --json` as a user runs it: a new process (start-up, imports, the first engine
    build) that makes its own connections; wall times of `repeat` runs."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "triage.toml"
        cfg.write_text(toml_for(endpoints, project_ids) + f'[store]\npath = "{Path(tmp) / "triage.db"}"\n', encoding="utf-8")
        env = {**os.environ, "CV_KEY": KEY, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "bot", "--config", str(cfg), "status", "--json"],
                                 env=env, capture_output=True, cwd=ROOT)
            times.append(time.perf_counter() - t0)
            doc = json.loads(run.stdout)
            assert run.returncode == 0 and doc["error_count"] == 0 and doc["failure_count"] == len(endpoints), run.stderr[-500:]
    return times


def slowest_call(s: config.Settings, repeat: int = 5) -> tuple[float, str]:
    """The slowest kind of call a sweep makes, each timed alone (median of `repeat`), client included."""
    provider = get_provider("customvision", s.config.customvision[0], s)
    pid = pid_of(0)
    kinds = {
        "GetProjects": "/projects",
        "GetDomains": "/domains",
        "GetProject": f"/projects/{pid}",
        "GetIterations": f"/projects/{pid}/iterations",
        "GetTags": f"/projects/{pid}/tags",
    }
    times = {}
    for name, path in kinds.items():
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            provider._get(path, name)
            samples.append(time.perf_counter() - t0)
        times[name] = statistics.median(samples)
    name = max(times, key=times.get)
    return times[name], name


def measure(endpoints: list[str], args: argparse.Namespace, project_ids: list[str] | None, conn) -> dict:
    s = settings_for(endpoints, project_ids)
    status(s)  # warm up: playbook engine, imports
    single, kind = slowest_call(s)

    conn.send("count")
    before = conn.recv()
    sweeps, cpus, again = [], [], []
    for _ in range(args.repeat):
        forget_selections()  # as in a new process: the project list is read before the projects
        c0 = time.process_time()
        result = status(s, call_workers=args.call_workers)
        cpus.append(time.process_time() - c0)
        sweeps.append(result.elapsed_s)
        assert not result.errors, [t.error for t in result.errors]
        assert len(result.failures) == len(endpoints)
    conn.send("count")
    calls = (conn.recv() - before) / args.repeat / len(endpoints)
    for _ in range(args.repeat):  # a Slack server or watcher sweeping again: the selection is remembered
        repeat = status(s, call_workers=args.call_workers)
        assert not repeat.errors and len(repeat.failures) == len(endpoints)
        again.append(repeat.elapsed_s)

    sample = settings_for(endpoints[:SEQUENTIAL_SAMPLE], project_ids)
    seq = status(sample, max_workers=1)
    assert [f.key for f in seq.failures] == [f.key for f in result.failures][: len(seq.failures)]
    sequential = seq.elapsed_s * len(endpoints) / len(sample.config.customvision)
    return {"single": single, "kind": kind, "sweeps": sweeps, "again": sorted(again), "cpu": statistics.median(cpus), "calls": calls,
            "sequential": sequential, "scaled": len(endpoints) > SEQUENTIAL_SAMPLE,
            "process": sorted(whole_process(endpoints, project_ids, args.repeat))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--projects", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.1, help="seconds each fake request takes")
    ap.add_argument("--repeat", type=int, default=5, help="sweeps timed per configuration")
    ap.add_argument("--call-workers", type=int, default=CALL_WORKERS, help="the sweep's thread pool (triage's default)")
    args = ap.parse_args()

    print(f"{args.projects} projects per target, {args.delay * 1000:.0f} ms per request, pool of {args.call_workers} threads; "
          "goal: sweep ≤ 2 × slowest call")
    for n in args.targets:
        with standins(n, args.projects, args.delay) as (endpoints, parent):
            for label, ids in (("all projects (GetProjects first)", None),
                               ("projects by Project Id", [pid_of(i) for i in range(args.projects)])):
                r = measure(endpoints, args, ids, parent)
                sw = sorted(r["sweeps"])
                med = statistics.median(sw)
                seq_note = f"{SEQUENTIAL_SAMPLE} measured, scaled" if r["scaled"] else "measured"
                print(f"\n{n} targets, {label}: {r['calls']:.0f} requests per target")
                print(f"  slowest single call ({r['kind']}, alone):  {r['single'] * 1000:6.0f} ms")
                print(f"  sweep (status), {len(sw)} runs:            {sw[0]:6.2f} / {med:.2f} / {sw[-1]:.2f} s  (min / median / max)")
                print(f"  sweep / slowest call:                {sw[0] / r['single']:6.2f} / {med / r['single']:.2f} / "
                      f"{sw[-1] / r['single']:.2f}   {'meets' if med <= 2 * r['single'] else 'misses'} the 2× goal (median)")
                ag = r["again"]
                if ids is None:
                    print(f"  again in the same process:           {ag[0]:6.2f} / {statistics.median(ag):.2f} / {ag[-1]:.2f} s  "
                          f"= {ag[0] / r['single']:.2f} / {statistics.median(ag) / r['single']:.2f} / {ag[-1] / r['single']:.2f}×  "
                          "(remembered projects read beside the listing)")
                print(f"  CPU used by one sweep (this process): {r['cpu']:6.2f} s")
                print(f"  sequential, one call after another:  {r['sequential']:6.1f} s  ({seq_note})")
                pr = r["process"]
                print(f"  whole `triage status` process:       {pr[0]:6.2f} / {statistics.median(pr):.2f} / {pr[-1]:.2f} s  "
                      "(start-up and first diagnosis included)")


if __name__ == "__main__":
    main()
