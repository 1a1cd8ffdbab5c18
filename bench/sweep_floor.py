"""The floor under a status sweep: the same GETs a sweep makes, with nothing of triage, through each kind of client.

    python bench/sweep_floor.py                 # 20 and 100 targets, 100 ms per request
    python bench/sweep_floor.py --targets 100 --repeat 5

The stand-ins of bench/status_sweep.py (2 projects per target, in a child process); for each target
the 7 calls a sweep by Project Id makes (GetDomains, and GetProject, GetIterations, GetTags of each
project), all at once, new connections every run. Clients: `requests` and urllib3 (what
bot/providers/http.py uses) on a thread per call, as the sweep runs them; aiohttp on one asyncio
loop, when it is installed (it is not a dependency of triage); and bare asyncio sockets writing the
request by hand and reading Content-Length bytes: no HTTP library at all, the floor for CPython
here. Printed: wall time (min / median of `--repeat`), CPU of this process, and wall / the delay.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from status_sweep import KEY, pid_of, standins  # noqa: E402

API = "/customvision/v3.3/training"
HEADERS = {"Training-Key": KEY, "Accept": "application/json"}


def calls(endpoints: list[str], projects: int) -> list[tuple[str, str]]:
    paths = [f"{API}/domains"]
    for i in range(projects):
        pid = pid_of(i)
        paths += [f"{API}/projects/{pid}", f"{API}/projects/{pid}/iterations", f"{API}/projects/{pid}/tags"]
    return [(e, p) for e in endpoints for p in paths]


def with_requests(work: list[tuple[str, str]]) -> list:
    import requests

    sessions = {e: requests.Session() for e in dict.fromkeys(e for e, _ in work)}
    with ThreadPoolExecutor(len(work)) as ex:
        return list(ex.map(lambda w: sessions[w[0]].get(w[0] + w[1], headers=HEADERS, timeout=10).json(), work))


def with_urllib3(work: list[tuple[str, str]]) -> list:
    import urllib3

    managers = {e: urllib3.PoolManager(maxsize=8) for e in dict.fromkeys(e for e, _ in work)}
    timeout = urllib3.Timeout(connect=10, read=10)

    def get(w: tuple[str, str]):
        r = managers[w[0]].request("GET", w[0] + w[1], headers=HEADERS, timeout=timeout, retries=False, redirect=False)
        return json.loads(r.data)

    with ThreadPoolExecutor(len(work)) as ex:
        return list(ex.map(get, work))


def with_aiohttp(work: list[tuple[str, str]]) -> list:
    import aiohttp

    async def main() -> list:
        sessions = {e: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) for e in dict.fromkeys(e for e, _ in work)}

        async def get(e: str, p: str):
            async with sessions[e].get(e + p, headers=HEADERS, timeout=aiohttp.ClientTimeout(total=10)) as r:
                return json.loads(await r.read())

        try:
            return await asyncio.gather(*(get(e, p) for e, p in work))
        finally:
            for s in sessions.values():
                await s.close()

    return asyncio.run(main())


def with_sockets(work: list[tuple[str, str]]) -> list:
    async def get(e: str, p: str):
        port = int(e.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTraining-Key: {KEY}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        body = await reader.readexactly(length)
        writer.close()
        return json.loads(body)

    async def main() -> list:
        return await asyncio.gather(*(get(e, p) for e, p in work))

    return asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--projects", type=int, default=2)
    ap.add_argument("--delay", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    clients = {"requests, a thread per call": with_requests, "urllib3, a thread per call": with_urllib3}
    if importlib.util.find_spec("aiohttp"):
        clients["aiohttp, one asyncio loop"] = with_aiohttp
    else:
        print("aiohttp not installed: its row is skipped (pip install aiohttp)")
    clients["bare asyncio sockets, no HTTP library"] = with_sockets
    print(f"{args.projects} projects per target, {args.delay * 1000:.0f} ms per request, every call at once, new connections each run")
    for n in args.targets:
        with standins(n, args.projects, args.delay) as (endpoints, _):
            work = calls(endpoints, args.projects)
            print(f"\n{n} targets, {len(work)} requests:")
            for name, fn in clients.items():
                walls, cpus = [], []
                for _ in range(args.repeat):
                    c0, t0 = time.process_time(), time.perf_counter()
                    answers = fn(work)
                    walls.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)
                    assert len(answers) == len(work) and all(a is not None for a in answers)
                med = statistics.median(walls)
                print(f"  {name:40} {min(walls):5.2f} / {med:.2f} s  CPU {statistics.median(cpus):5.2f} s  "
                      f"{med / args.delay:4.1f}× the delay")


if __name__ == "__main__":
    main()
