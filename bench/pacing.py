"""The pacing scenario of issue 10, side by side in one run.

One `glair-vision sandbox` limits the account to 200 requests/s (burst 20) with
50 ms mean latency (15 ms spread); 20,000 rows at concurrency 64, no rate given:
  - CLI batch (`glair-vision batch`, --rate-limit auto, the default)
  - Rust batch (`verification_batch`, bench-rust --mode sdk-pacing)
  - Python batch (`verification_batch_iter`, contenders/pacing_python.py)
  - Node batch (`verificationStream`, contenders/pacing_node.js)
  - four processes sharing the account, concurrency 32 each, the rows split
    between them (four Python, four Node and four CLI processes), which share
    the account's pacing as processes of one host do; four CLI processes
    pacing apart, as on separate hosts; and four CLI, Python and Node processes
    on separate state sharing the account through a pacing store (a
    redis-server on 127.0.0.1), as on separate hosts with one store
  - an aiohttp loop at 64 (contenders/pacing_aiohttp.py: what users write today)
  - the oracle: this SDK told the right fixed rate (CLI --rate-limit 190, Rust 190)
Reported per contender: failed rows, attempts, 429s (share), elapsed, and the
sustained pace after the first 5 s (for the four processes: their combined pace
from 5 s after their common start). Nothing is asserted.

python3 bench/pacing.py [--rows 20000] [--only cli,rust,python,node,python-x4,node-x4,cli-x4,cli-x4-apart,
    cli-x4-store,python-x4-store,node-x4-store,aiohttp,cli-fixed,rust-fixed]
Needs target/release/{glair-vision,bench-rust}, glair_vision installed in
bench/.work/venv and the Node package built in bench/.work/node-pkg (or node/):
bash bench/pacing.sh prepares them all.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "target/release/glair-vision")
BENCH_RUST = os.path.join(ROOT, "target/release/bench-rust")
LIMIT, BURST, LATENCY, SPREAD, ORACLE = 200, 20, 50, 15, 190
CREDS = ["--api-key", "sandbox-api-key", "--username", "sandbox", "--password", "sandbox-password"]


def start_sandbox():
    p = subprocess.Popen(
        [CLI, "sandbox", "--port", "0", "--rate-limit", str(LIMIT), "--burst", str(BURST),
         "--latency-ms", str(LATENCY), "--latency-spread-ms", str(SPREAD), "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = p.stdout.readline().strip().removeprefix("listening on ")
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, url


def run_cli(url, rows, rate, concurrency, on_progress, start_at=None, env=None):
    """`glair-vision batch` over `rows` copies of one record at `concurrency`,
    started at the epoch `start_at` (or now). Calls `on_progress(seconds since it
    started, rows done)` at each once-a-second progress line; returns the failed
    rows, attempts and 429s (from its output and summary), the lines it wrote and
    its run time in seconds."""
    work = tempfile.mkdtemp(prefix="pacing-")
    src, out = os.path.join(work, "in.csv"), os.path.join(work, "out.jsonl")
    with open(src, "w") as f:
        f.write("nik,name,date_of_birth\n" + "3171014508900001,SITI RAHAYU,05-08-1990\n" * rows)
    args = [CLI, "batch", "--input", src, "--output", out, "--concurrency", str(concurrency),
            "--progress-interval", "1", "--base-url", url, *CREDS]
    if rate:
        args += ["--rate-limit", str(rate)]
    if start_at is not None:
        time.sleep(max(0.0, start_at - time.time()))
    started = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    summary = []
    for line in p.stderr:
        m = re.match(r"progress: (\d+)/", line)
        if m:
            on_progress(time.monotonic() - started, int(m.group(1)))
        else:
            summary.append(line)
    if p.wait() != 0:
        raise SystemExit(f"a CLI process failed ({p.returncode})")
    elapsed = time.monotonic() - started
    text = "".join(summary)
    fig = lambda label: int(re.search(label + r"\s+(\d+)", text).group(1))
    lines = [json.loads(l) for l in open(out)]
    counts = {"failed": sum(l["outcome"] == "error" for l in lines),
              "attempts": fig("attempts"), "throttled": fig("429s seen")}
    return counts, len(lines), elapsed


def cli(url, rows, rate):
    at_5s = []

    def progress(seconds, done):
        if not at_5s and seconds >= 5.0:
            at_5s.append((seconds, done))

    counts, written, elapsed = run_cli(url, rows, rate, 64, progress)
    pace = None
    if at_5s:
        pace = (written - at_5s[0][1]) / (elapsed - at_5s[0][0])
    return {"rows": rows, **counts, "elapsed_s": round(elapsed, 2), "pace_after_5s": pace and round(pace)}


def rust(url, rows, rate):
    env = dict(os.environ)
    mode = "sdk-pacing"
    if rate:
        mode, env["BENCH_RATE"] = "sdk-pacing-fixed", str(rate)
    out = subprocess.run([BENCH_RUST, "--mode", mode, "--url", url, "--max", str(rows),
                          "--concurrency", "64"], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_python():
    py = os.path.join(ROOT, "bench/.work/venv/bin/python")
    return py if os.path.exists(py) else sys.executable


def node_pkg():
    """The Node package pacing.sh built (a copy of node/), else node/ itself."""
    pkg = os.path.join(ROOT, "bench/.work/node-pkg")
    built = os.path.isdir(pkg) and any(f.endswith(".node") for f in os.listdir(pkg))
    return pkg if built else os.path.join(ROOT, "node")


def sdk_command(lang, url, rows, rate, concurrency=64, t0=None):
    if lang == "python":
        argv = [bench_python(), os.path.join(ROOT, "bench/contenders/pacing_python.py")]
    else:
        argv = ["node", os.path.join(ROOT, "bench/contenders/pacing_node.js"), "--pkg", node_pkg()]
    argv += ["--url", url, "--rows", str(rows), "--concurrency", str(concurrency),
             "--rate-limit", str(rate or "auto")]
    if t0 is not None:
        argv += ["--t0", repr(t0)]
    return argv


def python(url, rows, rate):
    out = subprocess.run(sdk_command("python", url, rows, rate), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def node(url, rows, rate):
    out = subprocess.run(sdk_command("node", url, rows, rate), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_process(url, rows, rate, t0, env=None):
    """One `glair-vision batch` at 32 started at the epoch `t0`, reported as the SDK
    contenders report with --t0 (rows done per second from t0, read off its
    once-a-second progress lines)."""
    seen = [(t0, 0)]
    counts, _, _ = run_cli(url, rows, rate, 32, lambda _s, done: seen.append((time.time(), done)), start_at=t0,
                           env=env)
    ended = time.time()
    seen.append((ended, rows))
    per_second = [0] * (int(ended - t0) + 1)
    for (_, n), (b, m) in zip(seen, seen[1:]):
        per_second[min(len(per_second) - 1, max(0, int(b - t0)))] += m - n
    return {**counts, "ended": ended, "done_per_s": per_second, "done_after_5s": sum(per_second[5:])}


class RedisStore:
    """A redis-server on 127.0.0.1 (ephemeral port, a password) as the pacing store."""

    PASSWORD = "bench-store-pass"

    def __enter__(self):
        if shutil.which("redis-server") is None:
            raise SystemExit("redis-server is not on the PATH (bash scripts/ensure-redis.sh installs it)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="pacing-redis-")
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--requirepass", self.PASSWORD,
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        self.url = f"redis://:{self.PASSWORD}@127.0.0.1:{self.port}/0"
        return self

    def scripts_run(self):
        """Exchanges the clients made (the store's count of script calls), and the
        store's own time per exchange in microseconds."""
        out = subprocess.run(["redis-cli", "-p", str(self.port), "-a", self.PASSWORD, "--no-auth-warning",
                              "INFO", "commandstats"], capture_output=True, text=True, check=True).stdout
        stats = re.findall(r"cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)", out)
        calls, usec = sum(int(c) for c, _ in stats), sum(int(u) for _, u in stats)
        return calls, usec / max(calls, 1)

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def four_processes(lang, share_pacing=True, store=False):
    """Four processes sharing the account (one API key), concurrency 32 each, the
    rows split between them, started together: their combined figures. With
    `share_pacing` off (GLAIR_VISION_SHARED_PACING=0) each paces alone, as
    processes on separate hosts do; with `store`, each keeps its own state (a
    pacing directory of its own) and shares the account through a redis-server."""
    base = dict(os.environ)
    if not share_pacing:
        base["GLAIR_VISION_SHARED_PACING"] = "0"

    def run(url, rows, rate):
        if not store:
            return run_four(url, rows, rate, [base] * 4)
        with RedisStore() as redis:
            envs = [{**base, "GLAIR_VISION_PACING_URL": redis.url,
                     "GLAIR_VISION_PACING_DIR": tempfile.mkdtemp(prefix="pacing-host-")} for _ in range(4)]
            result = run_four(url, rows, rate, envs)
            exchanges, usec = redis.scripts_run()
            result["store_round_trips_per_call"] = round(exchanges / max(result["attempts"], 1), 3)
            result["store_usec_per_exchange"] = round(usec, 1)
            return result

    def run_four(url, rows, rate, envs):
        # A common start a little ahead, so that interpreter start-up is not raced.
        t0 = time.time() + 3.0
        share = [rows // 4 + (1 if i < rows % 4 else 0) for i in range(4)]
        if lang == "cli":
            reports = [None] * 4

            def one(i):
                reports[i] = cli_process(url, share[i], rate, t0, envs[i])

            threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if any(r is None for r in reports):
                raise SystemExit("a CLI process failed")
        else:
            procs = [subprocess.Popen(sdk_command(lang, url, n, rate, concurrency=32, t0=t0),
                                      stdout=subprocess.PIPE, text=True, env=env) for n, env in zip(share, envs)]
            reports = []
            for p in procs:
                out, _ = p.communicate()
                if p.returncode != 0:
                    raise SystemExit(f"a {lang} process failed ({p.returncode})")
                reports.append(json.loads(out.strip().splitlines()[-1]))
        ended = max(r["ended"] for r in reports)
        after = sum(r["done_after_5s"] for r in reports)
        # While all four run (from 5 s to the whole second before the first ends):
        # the tail after that is one process's own pace, not the shared account's.
        together = int(min(r["ended"] for r in reports) - t0)
        shared = sum(sum(r["done_per_s"][5:together]) for r in reports)
        return {"rows": rows, "failed": sum(r["failed"] for r in reports),
                "attempts": sum(r["attempts"] for r in reports),
                "throttled": sum(r["throttled"] for r in reports),
                "elapsed_s": round(ended - t0, 2),
                "pace_after_5s": round(after / (ended - t0 - 5.0), 1) if ended - t0 > 5.0 else None,
                "pace_all_four": round(shared / (together - 5), 1) if together > 5 else None,
                "first_ended_s": together}

    return run


def aiohttp(url, rows, _rate):
    py = bench_python()
    out = subprocess.run([py, os.path.join(ROOT, "bench/contenders/pacing_aiohttp.py"), "--url", url,
                          "--rows", str(rows), "--concurrency", "64"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


CONTENDERS = {
    "cli": ("CLI batch, no rate given", cli, None),
    "rust": ("Rust verification_batch, no rate given", rust, None),
    "python": ("Python verification_batch_iter, no rate given", python, None),
    "node": ("Node verificationStream, no rate given", node, None),
    "python-x4": ("4 Python processes @32 sharing the account, no rate given", four_processes("python"), None),
    "node-x4": ("4 Node processes @32 sharing the account, no rate given", four_processes("node"), None),
    "cli-x4": ("4 CLI processes @32 sharing the account, no rate given", four_processes("cli"), None),
    "cli-x4-apart": ("4 CLI processes @32 sharing the account, pacing apart (GLAIR_VISION_SHARED_PACING=0)",
                     four_processes("cli", share_pacing=False), None),
    "cli-x4-store": ("4 CLI processes @32 on separate state, sharing through a pacing store (Redis)",
                     four_processes("cli", store=True), None),
    "python-x4-store": ("4 Python processes @32 on separate state, sharing through a pacing store (Redis)",
                        four_processes("python", store=True), None),
    "node-x4-store": ("4 Node processes @32 on separate state, sharing through a pacing store (Redis)",
                      four_processes("node", store=True), None),
    "aiohttp": ("aiohttp loop @64, Retry-After honoured, 2 retries", aiohttp, None),
    "cli-fixed": (f"oracle: CLI --rate-limit {ORACLE}", cli, ORACLE),
    "rust-fixed": (f"oracle: Rust rate_limit({ORACLE})", rust, ORACLE),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--only", default=",".join(CONTENDERS))
    ap.add_argument("--out", default="pacing-latest.md", help="file name under bench/results/")
    args = ap.parse_args()
    rows_md = []
    for key in args.only.split(","):
        name, run, rate = CONTENDERS[key]
        # A sandbox of its own per contender: every run starts with a full bucket.
        sandbox, url = start_sandbox()
        try:
            r = run(url, args.rows, rate)
        except (subprocess.CalledProcessError, SystemExit, OSError, ValueError) as e:
            # One contender failing (a missing tool, say) does not lose the others' rows.
            print(f"{key}: failed: {e}", file=sys.stderr, flush=True)
            rows_md.append(f"| {name} | did not run: {type(e).__name__} | | | | |")
            continue
        finally:
            sandbox.terminate()
            sandbox.wait()
        share = 100.0 * r["throttled"] / max(r["attempts"], 1)
        pace = r.get("pace_after_5s")
        pct = f"{100.0 * pace / LIMIT:.0f}%" if pace else "-"
        shared = r.get("pace_all_four")
        if shared:
            pct += (f"; while all four ran (5-{r['first_ended_s']} s): {shared} "
                    f"({100.0 * shared / LIMIT:.0f}%)")
        if "store_round_trips_per_call" in r:
            pct += (f"; {r['store_round_trips_per_call']} store round trips per attempt, "
                    f"{r['store_usec_per_exchange']} us of store time each")
        rows_md.append(f"| {name} | {r['failed']} | {r['attempts']} | {r['throttled']} ({share:.1f}%) "
                       f"| {r['elapsed_s']} | {pace or '-'} ({pct}) |")
        print(rows_md[-1], file=sys.stderr, flush=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    md = (f"Pacing run {stamp} (source {rev}): sandbox limiting the account to {LIMIT}/s (burst {BURST}), "
          f"{LATENCY} ms mean latency ({SPREAD} ms spread), {args.rows} rows, concurrency 64 "
          f"(32 in each of the four processes), {os.cpu_count()} cores.\n\n"
          "| contender | failed rows | attempts | 429s | elapsed s | pace after 5 s, rows/s (of the limit) |\n"
          "|---|---|---|---|---|---|\n" + "\n".join(rows_md) + "\n")
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results", os.path.basename(args.out)), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
