"""Load test of the web app: simulated people driving the JSON API of a real ``nextwatch serve``.

Run on demand (not in CI)::

    python benchmarks/web_load.py --model var/demo/model            # 16 people x 20 rounds
    python benchmarks/web_load.py --model M --people 4 --rounds 5   # a quick look

What it does, in this order:

1. starts ``nextwatch serve --port 0 --model MODEL --workers W`` in a child process, with a fresh
   instance folder (so a fresh profile store), and waits for the URL it prints;
2. **round page**: one person answers a few rounds, then ``GET /`` (the HTML round page) is fetched
   ``--page-requests`` times one after the other; the server-side time of each comes from the
   ``Server-Timing`` header (the app's own clock, from request start to response ready), and the
   issue's target is p99 <= 50 ms;
3. **load**: ``--people`` threads in *this* process (a second process from the server's), each a
   person with its own connection and cookie: CSRF token, first round, then ``--rounds`` feedback
   posts, each ticking 0-2 of the 5 movies (seeded per person), each answered with the next round;
   every request's client-side latency is kept, and requests/s is requests over wall time;
4. **nothing lost**: afterwards every person's likes are read back (``GET /api/v1/likes``) and must
   equal exactly the set of likes sent, with ``rounds_done`` equal to the rounds answered.

Writes ``benchmarks/results/web_load.json`` and ``web_load.md`` (hardware, model, settings, figures).
The client and the server share this machine's cores, so the throughput is a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _host import host_facts, load_average

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p90_ms": round(percentile(values, 90), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values), 2) if values else float("nan"),
        "mean_ms": round(statistics.fmean(values), 2) if values else float("nan"),
    }


class Client:
    """One simulated person: a keep-alive connection, the profile cookie and the CSRF token."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.client_ms: list[float] = []
        self.server_ms: list[float] = []
        self.cpu_ms: list[float] = []

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, dict[str, str]]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = self.cookie
        if method == "POST" and self.csrf:
            headers["X-CSRFToken"] = self.csrf
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        self.client_ms.append(1000 * (time.perf_counter() - started))
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if "set-cookie" in hdrs:
            self.cookie = hdrs["set-cookie"].split(";", 1)[0]
        timing = hdrs.get("server-timing", "")
        for name, into in (("app", self.server_ms), ("cpu", self.cpu_ms)):
            m = re.search(name + r";dur=([0-9.]+)", timing)
            if m:
                into.append(float(m.group(1)))
        return resp.status, payload, hdrs

    def json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        status, payload, _ = self.request(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path} -> {status}: {payload[:300]!r}")
        return json.loads(payload)

    def start(self) -> dict[str, Any]:
        self.csrf = self.json("GET", "/api/v1/csrf-token")["csrf_token"]
        return self.json("GET", "/api/v1/round")


@dataclass
class Person:
    number: int
    seed: int
    sent_likes: set[str] = field(default_factory=set)
    rounds: int = 0
    seen: list[str] = field(default_factory=list)
    repeats: int = 0
    error: str | None = None
    client: Client | None = None


def play(person: Person, host: str, port: int, rounds: int, barrier: threading.Barrier) -> None:
    """Answer ``rounds`` rounds through the API: tick 0-2 movies each round, chosen by a seeded RNG."""
    rng = random.Random(person.seed)
    client = Client(host, port)
    person.client = client
    try:
        barrier.wait()
        rnd = client.start()
        for _ in range(rounds):
            ids = [it["item_id"] for it in rnd["items"]]
            person.repeats += len(set(ids) & set(person.seen))
            person.seen.extend(ids)
            liked = rng.sample(ids, k=min(len(ids), rng.choice([0, 1, 1, 2])))
            out = client.json("POST", "/api/v1/feedback", {"round_token": rnd["round_token"], "liked": liked})
            if not out["recorded"]:
                raise RuntimeError("a fresh round was reported as already recorded")
            person.sent_likes.update(liked)
            person.rounds += 1
            rnd = out["next"]
    except Exception as e:  # reported in the results, not raised: the other people go on
        person.error = f"{type(e).__name__}: {e}"


def start_server(model: Path, workers: int, instance: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    exe = shutil.which("nextwatch") or str(Path(sys.executable).parent / "nextwatch")
    env = {**os.environ, "NEXTWATCH_INSTANCE_PATH": str(instance), "PYTHONUNBUFFERED": "1"}
    env.pop("NEXTWATCH_PROFILE_STORE", None)
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process below
    command = [exe, "serve", "--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
    proc = subprocess.Popen(
        [*command, "--model", str(model)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 600
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"serving on (http://\S+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise SystemExit(f"the server did not start; its log:\n{log_path.read_text()}")


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process ``pid`` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def round_page_timing(
    host: str, port: int, warm_rounds: int, requests: int, server_pid: int
) -> dict[str, Any]:
    """Server-side and client-side time of ``GET /`` for one person with ``warm_rounds`` of history.

    Besides the per-request headers, the server process's total CPU time over the sequential
    requests (all its threads, library thread pools included) gives a mean CPU cost per request.
    """
    c = Client(host, port)
    rnd = c.start()
    for i in range(warm_rounds):
        liked = [rnd["items"][i % len(rnd["items"])]["item_id"]] if rnd["items"] else []
        rnd = c.json("POST", "/api/v1/feedback", {"round_token": rnd["round_token"], "liked": liked})["next"]
    c.client_ms.clear()
    c.server_ms.clear()
    c.cpu_ms.clear()
    cpu0 = process_cpu_s(server_pid)
    for _ in range(requests):
        status, body, _ = c.request("GET", "/")
        if status != 200 or b'class="card"' not in body:
            raise RuntimeError(f"GET / -> {status}")
    process_ms = 1000 * (process_cpu_s(server_pid) - cpu0) / requests
    return {
        "server_process_cpu_mean_ms": round(process_ms, 2),
        "server": summary(c.server_ms),
        "server_cpu": summary(c.cpu_ms),
        "client": summary(c.client_ms),
        "history_rounds": warm_rounds,
    }


def markdown(result: dict[str, Any]) -> str:
    page = result["round_page"]
    load = result["load"]
    lines = [
        "# Web load benchmark (`benchmarks/web_load.py`)",
        "",
        f"Hardware: {result['hardware']['cpu']} ({result['hardware']['cores']} cores), Python "
        f"{result['hardware']['python']}; load average (1, 5, 15 min) before the run "
        f"{result['hardware']['load_average']}, after {result['load_average_after']}. "
        f"Model `{result['model']}` "
        f"(dataset {result['health'].get('dataset_fingerprint', '?')}, "
        f"{result['health'].get('items', '?')} items). "
        f"Server: `nextwatch serve --workers {result['settings']['workers']}` (waitress, one process); the "
        "clients run as threads of a second process on the same machine.",
        "",
        f"## Round page (`GET /`), one client, {page['server']['n']} requests after "
        f"{page['history_rounds']} rounds of history",
        "",
        "| clock | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| server (Server-Timing) | {page['server']['p50_ms']} | {page['server']['p90_ms']} | "
        f"{page['server']['p99_ms']} | {page['server']['max_ms']} |",
        f"| server CPU (thread time) | {page['server_cpu']['p50_ms']} | {page['server_cpu']['p90_ms']} | "
        f"{page['server_cpu']['p99_ms']} | {page['server_cpu']['max_ms']} |",
        f"| client (round trip) | {page['client']['p50_ms']} | {page['client']['p90_ms']} | "
        f"{page['client']['p99_ms']} | {page['client']['max_ms']} |",
        "",
        f"Server process CPU over these requests, all threads: {page['server_process_cpu_mean_ms']} ms "
        "per request (mean).",
        "",
        f"Target: server-side p99 <= 50 ms: **{'met' if page['server']['p99_ms'] <= 50 else 'NOT met'}** "
        f"(wall clock). The CPU row is the serving thread's own CPU time, which other processes "
        "competing for the cores do not inflate (work in library worker threads is not in it).",
        "",
        f"## JSON API under load: {result['settings']['people']} people x "
        f"{result['settings']['rounds']} rounds",
        "",
        f"{load['requests']} requests in {load['wall_s']} s: **{load['requests_per_s']} requests/s**.",
        "",
        "| clock | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| client (round trip) | {load['client']['p50_ms']} | {load['client']['p90_ms']} | "
        f"{load['client']['p99_ms']} | {load['client']['max_ms']} |",
        f"| server (Server-Timing) | {load['server']['p50_ms']} | {load['server']['p90_ms']} | "
        f"{load['server']['p99_ms']} | {load['server']['max_ms']} |",
        f"| server CPU (thread time) | {load['server_cpu']['p50_ms']} | {load['server_cpu']['p90_ms']} | "
        f"{load['server_cpu']['p99_ms']} | {load['server_cpu']['max_ms']} |",
        "",
        f"Likes sent {load['likes_sent']}, stored {load['likes_stored']}, lost {load['likes_lost']}, "
        f"unexpected {load['likes_unexpected']}; rounds recorded {load['rounds_stored']} of "
        f"{load['rounds_sent']}; movies shown twice to one person: {load['repeats']}; "
        f"errors: {load['errors']}. "
        f"**{'Nothing lost.' if result['ok'] else 'CHECK FAILED.'}**",
        "",
        f"Run {result['started']} with `{result['command']}`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=os.environ.get("NEXTWATCH_MODEL_DIR"), help="model folder")
    ap.add_argument("--people", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=8, help="server threads")
    ap.add_argument("--page-requests", type=int, default=300, help="sequential GET / for the page timing")
    ap.add_argument("--page-history", type=int, default=10, help="rounds answered before the page timing")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.model is None:
        ap.error("give --model MODEL_DIR (or set NEXTWATCH_MODEL_DIR)")
    started = time.strftime("%Y-%m-%d %H:%M:%S %z")
    machine = host_facts()
    with tempfile.TemporaryDirectory(prefix="nextwatch-web-load-") as tmp:
        log_path = Path(tmp) / "server.log"
        t0 = time.perf_counter()
        proc, url = start_server(args.model, args.workers, Path(tmp) / "instance", log_path)
        startup_s = time.perf_counter() - t0
        u = urlsplit(url)
        host, port = u.hostname or "127.0.0.1", int(u.port or 80)
        try:
            health = Client(host, port).json("GET", "/healthz")
            print(f"server up at {url} in {startup_s:.1f} s; {health}", file=sys.stderr)
            page = round_page_timing(host, port, args.page_history, args.page_requests, proc.pid)
            print(f"round page server-side p99 {page['server']['p99_ms']} ms", file=sys.stderr)

            people = [Person(number=i, seed=args.seed + i) for i in range(args.people)]
            barrier = threading.Barrier(args.people + 1)
            threads = [
                threading.Thread(target=play, args=(p, host, port, args.rounds, barrier), daemon=True)
                for p in people
            ]
            for t in threads:
                t.start()
            barrier.wait()
            t_load = time.perf_counter()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t_load

            client_ms = [x for p in people if p.client for x in p.client.client_ms]
            server_ms = [x for p in people if p.client for x in p.client.server_ms]
            cpu_ms = [x for p in people if p.client for x in p.client.cpu_ms]
            lost = unexpected = stored_total = rounds_stored = 0
            for p in people:
                assert p.client is not None
                back = p.client.json("GET", "/api/v1/likes")
                stored = {it["item_id"] for it in back["likes"]}
                lost += len(p.sent_likes - stored)
                unexpected += len(stored - p.sent_likes)
                stored_total += len(stored)
                rounds_stored += int(back["rounds_done"])
            errors = [f"person {p.number}: {p.error}" for p in people if p.error]
            load = {
                "requests": len(client_ms),
                "wall_s": round(wall, 3),
                "requests_per_s": round(len(client_ms) / wall, 1) if wall > 0 else float("nan"),
                "client": summary(client_ms),
                "server": summary(server_ms),
                "server_cpu": summary(cpu_ms),
                "likes_sent": sum(len(p.sent_likes) for p in people),
                "likes_stored": stored_total,
                "likes_lost": lost,
                "likes_unexpected": unexpected,
                "rounds_sent": sum(p.rounds for p in people),
                "rounds_stored": rounds_stored,
                "repeats": sum(p.repeats for p in people),
                "errors": errors,
            }
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    ok = (
        not load["errors"]
        and load["likes_lost"] == 0
        and load["likes_unexpected"] == 0
        and load["rounds_stored"] == load["rounds_sent"] == args.people * args.rounds
        and load["repeats"] == 0
    )
    result = {
        "benchmark": "web_load",
        "started": started,
        "command": "python benchmarks/web_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "hardware": machine,
        "model": str(args.model),
        "health": health,
        "server_startup_s": round(startup_s, 2),
        "settings": {
            "people": args.people,
            "rounds": args.rounds,
            "workers": args.workers,
            "page_requests": args.page_requests,
            "page_history": args.page_history,
            "seed": args.seed,
        },
        "round_page": page,
        "load": load,
        "load_average_after": load_average(),
        "ok": ok,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "web_load.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "web_load.md").write_text(markdown(result))
    print(markdown(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
