"""Watcher scale: poll cycles over 1,000 simulated targets; time and memory per cycle.

    python bench/watch_scale.py                         # 1,000 targets, 20 ms per poll
    python bench/watch_scale.py --targets 5000 --latency 0.05 --failing 0.2
    python bench/watch_scale.py --store postgresql://postgres@127.0.0.1:5432/scratch   # PostgreSQL instead of SQLite

The targets (customvision, azureml and rekognition, in a 4:3:3 mix) are answered by an in-process
fake poll function that sleeps `--latency` seconds, like a cloud call; `--failing` of them report
`--per-target` failures each, diagnosed with real playbooks. The sink records posts in memory, so
the figures are the watcher's own cost (polling fan-out, SQLite state, outbox), not Slack's.

Cycles measured, on a fresh SQLite file (or, with --store URL, a scratch PostgreSQL database whose
triage tables are emptied first):
  1. first start: the existing failures are recorded as a baseline (nothing posted)
  2. steady state: the same failures again (nothing new)
  3. churn: 5% of targets fail anew (posts) and a tenth of the failing ones recover (baseline: silent)
  4. recovery: the targets that failed in 3 recover (a thread reply and an update each)
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bot import config  # noqa: E402
from bot.commands.diagnose import Evidence, engine, localize  # noqa: E402
from bot.failures import Failure  # noqa: E402
from bot.store import open_store  # noqa: E402
from bot.watch import Watcher  # noqa: E402

SUB = "11111111-2222-3333-4444-555555555555"
PLAYBOOK = {"customvision": "customvision.training_failed", "azureml": "azureml.job.out_of_memory",
            "rekognition": "rekognition.status.TRAINING_FAILED"}


def settings_for(n: int) -> config.Settings:
    cv, aml = n * 4 // 10, n * 3 // 10
    doc: dict[str, Any] = {
        "slack": {"alert_channel": "CALERTS", "oncall_group": "SONCALL"},
        "watch": {"interval_s": 60, "routes": {f"aml-{i}": "CMLOPS" for i in range(0, aml, 7)}},
        "customvision": [{"name": f"cv-{i}", "endpoint": f"https://cv-{i}.cognitiveservices.azure.com", "training_key_env": "CV_KEY",
                          "resource_id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cv-{i}"}
                         for i in range(cv)],
        "azureml": [{"name": f"aml-{i}", "subscription_id": SUB, "resource_group": "rg", "workspace": f"ws-{i}"} for i in range(aml)],
        "rekognition": [{"name": f"rek-{i}", "region": "us-east-1"} for i in range(n - cv - aml)],
    }
    return config.Settings(config.Config.model_validate(doc), {})


class Scenario:
    """Which targets fail, and with what; the fake poll reads it."""

    def __init__(self, settings: config.Settings, failing: float, per_target: int, latency: float) -> None:
        self.latency = latency
        self.per_target = per_target
        eng = engine(None)
        self.matches = {svc: localize(eng.playbooks[eng.by_id[pid]], score=90, lang="en",
                                      evidence=[Evidence(1, f"{svc} failure status line from the cloud")])
                        for svc, pid in PLAYBOOK.items()}
        names = [t.name for svc in PLAYBOOK for t in settings.config.targets(svc)]
        self.failing: dict[str, int] = {name: 0 for i, name in enumerate(names) if i % round(1 / failing) == 0} if failing else {}
        self.names = names
        self.calls = 0

    def poll(self, service: str, target: config.Target) -> list[Failure]:
        self.calls += 1
        time.sleep(self.latency)
        generation = self.failing.get(target.name)
        if generation is None:
            return []
        return [Failure(service=service, target=target.name, kind="job", key=f"{target.name}-job-{generation}-{k}", status="Failed",
                        message=f"job {k} failed: exit code 137 (OOMKilled) on node aks-{k}", fields={"job_name": f"job-{k}"},
                        matches=[self.matches[service]], log_excerpt="Killed\n" * 20)
                for k in range(self.per_target)]

    def churn(self) -> None:
        """5% of all targets fail anew (a new generation of jobs); a tenth of the failing ones recover."""
        failing = list(self.failing)
        for name in failing[: max(1, len(failing) // 10)]:
            del self.failing[name]
        for name in self.names[1::20]:
            self.failing[name] = self.failing.get(name, 0) + 1

    def recover(self) -> None:
        for name in self.names[1::20]:
            self.failing.pop(name, None)


class NullSink:
    """Records what would go to Slack; answers at once."""

    def __init__(self) -> None:
        self.posts = self.updates = self.replies = 0

    def post(self, channel: str, alert: dict[str, Any]) -> str:
        self.posts += 1
        return f"1700000000.{self.posts:06d}"

    def update(self, channel: str, ts: str, alert: dict[str, Any]) -> None:
        self.updates += 1

    def reply(self, channel: str, thread_ts: str, text: str) -> None:
        self.replies += 1

    def find_posted(self, channel: str, fingerprint: str, since: str) -> str | None:
        return None


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def run(args: argparse.Namespace, trace: bool) -> list[dict[str, Any]]:
    settings = settings_for(args.targets)
    scenario = Scenario(settings, args.failing, args.per_target, args.latency)
    sink = NullSink()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.store or Path(tmp) / "watch.db")
        if args.store:
            from bot.store.schema import TABLES

            with store.transaction() as tx:
                for table in ("leases", *reversed(TABLES)):
                    tx.execute(f"delete from {table}")
        watcher = Watcher(settings, store, sink, poll=scenario.poll, post_baseline=False)
        for name in ("first start", "steady state", "churn", "recovery"):
            if name == "churn":
                scenario.churn()
            if name == "recovery":
                scenario.recover()
            gc.collect()
            if trace:
                tracemalloc.start()
            posts_before = sink.posts + sink.replies + sink.updates
            t0 = time.perf_counter()
            report = watcher.cycle()
            seconds = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
            if trace:
                tracemalloc.stop()
            rows.append({"cycle": name, "targets": report.targets, "failures": report.failures, "new": report.new,
                         "baseline": report.baseline, "recovered": report.recovered,
                         "slack calls": sink.posts + sink.replies + sink.updates - posts_before,
                         "seconds": seconds, "peak MB": peak})
        store.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.02, help="seconds each simulated poll takes")
    ap.add_argument("--failing", type=float, default=0.1, help="share of targets with failures")
    ap.add_argument("--per-target", type=int, default=3, help="failures per failing target")
    ap.add_argument("--store", metavar="URL", help="a scratch PostgreSQL database (its triage tables are emptied), instead of SQLite")
    args = ap.parse_args()

    engine(None)  # load the playbooks once, outside the measured cycles
    timed = run(args, trace=False)
    rss = rss_mb()
    traced = run(args, trace=True)  # again under tracemalloc (slower), for the Python heap peak
    floor = args.targets / 32 * args.latency  # MAX_WORKERS polls at a time
    print(f"store: {'PostgreSQL' if args.store else 'SQLite'}")
    print(f"{args.targets} targets, {args.latency * 1000:.0f} ms per poll "
          f"(fan-out floor {floor:.2f} s), {args.failing:.0%} failing x {args.per_target}")
    print(f"{'cycle':<14}{'failures':>9}{'new':>6}{'baseline':>9}{'recov':>6}{'slack':>7}{'seconds':>9}{'heap peak MB':>14}")
    for t, m in zip(timed, traced):
        print(f"{t['cycle']:<14}{t['failures']:>9}{t['new']:>6}{t['baseline']:>9}{t['recovered']:>6}{t['slack calls']:>7}"
              f"{t['seconds']:>9.3f}{m['peak MB']:>14.1f}")
    print(f"peak RSS {rss:.0f} MB (whole process, playbooks loaded)")


if __name__ == "__main__":
    main()
