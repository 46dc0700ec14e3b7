"""What a pacing store gives and costs, side by side in one run (issue 19).

Processes on separate state (a pacing directory each, as on separate hosts), no
rate given, the rows split between them, started together against one
`glair-vision sandbox` (50 ms mean latency, 15 ms spread) that models a gateway:
  - four CLI processes @16 (64 in flight in all) against a token bucket of
    200/s (burst 20) and against a fixed window of 200 per second, each
    pacing apart, sharing one host's pacing file (as four processes of one
    host do), sharing through a redis-server on 127.0.0.1, and the oracle
    (each told its share of the right rate: --rate-limit 47.5);
  - eight CLI processes @32 against a token bucket of 1,000/s (burst 100)
    through the store: what the store costs at that rate.
Reported per row: failed rows, attempts, 429s (share), the spread of the
processes' end times, the pace over the gateway's own whole seconds from 5 s
after the start until the first process ended (`GET /_sandbox/gateway`), and
with a store: its round trips per attempt (the store's count of script calls),
its own time per exchange (Redis `INFO commandstats`), and what it added to an
attempt at p99 (the worst of the processes' CLI summaries). Nothing is asserted.

python3 bench/pacing_store.py [--seconds 30] [--only token,fixed,fleet]
Needs target/release/glair-vision and redis-server; bash bench/pacing.sh
--store builds the CLI and runs it. Result: bench/results/pacing-store-latest.md.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gateways import LATENCY, SPREAD, start_sandbox, timeline  # noqa: E402
from pacing import CLI, CREDS, ROOT, RedisStore  # noqa: E402

GATEWAYS = {
    "token": ("token bucket 200/s, burst 20", "model=token-bucket,rate=200,burst=20", 200.0),
    "fixed": ("fixed window 200 per 1 s", "model=fixed-window,limit=200,window=1s", 200.0),
    "fleet": ("token bucket 1,000/s, burst 100", "model=token-bucket,rate=1000,burst=100", 1000.0),
}


def one_process(url, rows, concurrency, env, rate, t0, report):
    """One `glair-vision batch` started at the epoch t0; its summary's figures."""
    work = tempfile.mkdtemp(prefix="pacing-store-")
    src, out = os.path.join(work, "in.csv"), os.path.join(work, "out.jsonl")
    with open(src, "w") as f:
        f.write("nik,name,date_of_birth\n" + "3171014508900001,SITI RAHAYU,05-08-1990\n" * rows)
    args = [CLI, "batch", "--input", src, "--output", out, "--concurrency", str(concurrency),
            "--quiet", "--base-url", url, *CREDS]
    if rate:
        args += ["--rate-limit", str(rate)]
    time.sleep(max(0.0, t0 - time.time()))
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"a CLI process failed ({done.returncode}): {done.stderr[-500:]}")
    text = done.stderr
    with open(os.path.join(work, "stderr.txt"), "w") as f:
        f.write(text)
    fig = lambda label: int(re.search(label + r"\s+(\d+)", text).group(1))
    added = re.search(r"([\d.]+) ms added per attempt at p99", text)
    lines = [json.loads(line) for line in open(out)]
    report.update(ended=time.time(), failed=sum(line["outcome"] == "error" for line in lines),
                  attempts=fig("attempts"), throttled=fig("429s seen"),
                  added_p99_ms=float(added.group(1)) if added else None)


def gateway_pace(url, t0, first_end, limit):
    """Accepted per second over the gateway's whole seconds from t0 + 5 s to the
    first process's end, as a share of the limit."""
    seconds, start_unix_s = timeline(url)
    start, stop = int(t0 + 5 - start_unix_s) + 1, int(first_end - start_unix_s)
    span = seconds[start:stop]
    if not span:
        return None
    return sum(s[1] for s in span) / len(span) / limit


def run(gateway_key, processes, concurrency, seconds, mode):
    """`processes` CLI batches sized for `seconds` at the gateway's limit; mode
    is "apart", "file" (one pacing directory for all), "store" or "oracle"."""
    title, gateway, limit = GATEWAYS[gateway_key]
    rows = int(limit * seconds / processes)
    sandbox, url = start_sandbox(gateway)
    redis = RedisStore().__enter__() if mode == "store" else None
    try:
        t0 = time.time() + 2.0
        reports = [{} for _ in range(processes)]
        threads = []
        one_host = tempfile.mkdtemp(prefix="pacing-host-")
        for report in reports:
            host = one_host if mode == "file" else tempfile.mkdtemp(prefix="pacing-host-")
            env = {**os.environ, "GLAIR_VISION_PACING_DIR": host}
            env.pop("GLAIR_VISION_PACING_URL", None)
            env.pop("GLAIR_VISION_SHARED_PACING", None)
            if redis:
                env["GLAIR_VISION_PACING_URL"] = redis.url
            rate = round(0.95 * limit / processes, 2) if mode == "oracle" else None
            threads.append(threading.Thread(target=one_process,
                                            args=(url, rows, concurrency, env, rate, t0, report)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if any("ended" not in r for r in reports):
            raise SystemExit("a CLI process failed")
        ends = [r["ended"] for r in reports]
        result = {
            "gateway": title, "processes": processes, "mode": mode, "rows": rows * processes,
            "failed": sum(r["failed"] for r in reports), "attempts": sum(r["attempts"] for r in reports),
            "throttled": sum(r["throttled"] for r in reports), "elapsed_s": round(max(ends) - t0, 1),
            "end_spread_s": round(max(ends) - min(ends), 1), "pace": gateway_pace(url, t0, min(ends), limit),
        }
        if redis:
            exchanges, usec = redis.scripts_run()
            result["round_trips_per_attempt"] = round(exchanges / max(result["attempts"], 1), 3)
            result["store_usec_per_exchange"] = round(usec, 1)
            result["added_p99_ms"] = max(r["added_p99_ms"] or 0.0 for r in reports)
        return result
    finally:
        if redis:
            redis.__exit__(None, None, None)
        sandbox.terminate()
        sandbox.wait()


PLAN = {
    "token": [("token", 4, 16, mode) for mode in ("apart", "file", "store", "oracle")],
    "fixed": [("fixed", 4, 16, mode) for mode in ("apart", "file", "store", "oracle")],
    "fleet": [("fleet", 8, 32, "store")],
}
NAMES = {"apart": "pacing apart", "file": "on one host, sharing its pacing file",
         "store": "through a pacing store (Redis)", "oracle": "oracle: each told 0.95 / N"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0, help="rows for about this long at the limit")
    ap.add_argument("--only", default="token,fixed,fleet")
    ap.add_argument("--out", default="pacing-store-latest.md", help="file name under bench/results/")
    args = ap.parse_args()
    rows_md = []
    for key in args.only.split(","):
        for gateway_key, processes, concurrency, mode in PLAN[key]:
            r = run(gateway_key, processes, concurrency, args.seconds, mode)
            share = 100.0 * r["throttled"] / max(r["attempts"], 1)
            pace = f"{r['pace']:.2f}" if r["pace"] is not None else "-"
            cost = "-"
            if "round_trips_per_attempt" in r:
                cost = (f"{r['round_trips_per_attempt']} round trips per attempt, {r['store_usec_per_exchange']} us "
                        f"of store time each, {r['added_p99_ms']:.2f} ms added per attempt at p99")
            rows_md.append(f"| {r['gateway']} | {processes} CLI processes @{concurrency}, {NAMES[mode]} | "
                           f"{r['failed']} | {r['attempts']} | {r['throttled']} ({share:.1f}%) | {r['elapsed_s']} | "
                           f"{r['end_spread_s']} | {pace} | {cost} |")
            print(rows_md[-1], file=sys.stderr, flush=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=ROOT).stdout.strip()
    md = (f"Pacing store run {stamp} (source {rev}): processes on separate state, no rate given, started together; "
          f"sandbox latency {LATENCY} ms mean ({SPREAD} ms spread); rows for about {args.seconds:.0f} s at the "
          f"limit; {os.cpu_count()} cores shared by every process, the sandbox and redis-server.\n\n"
          "| gateway | contender | failed rows | attempts | 429s | elapsed s | ends spread s "
          "| pace after 5 s (of the limit) | store cost |\n|---|---|---|---|---|---|---|---|---|\n"
          + "\n".join(rows_md) + "\n")
    with open(os.path.join(ROOT, "bench/results", os.path.basename(args.out)), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
