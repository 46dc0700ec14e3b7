#!/usr/bin/env python3
"""Runs every contender against one sandbox on 127.0.0.1 and writes the results.

Called by bench/run.sh (which installs and builds what this needs); standard
library only. Each contender runs as its own child process, so its CPU time and
peak resident memory (getrusage of the child, via os.wait4) are its own. The
contender reports the measured phase (requests, errors, wall time, its own CPU
time for that phase, latencies for sequential runs) as one JSON line.
"""

import argparse
import base64
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, ".work")
RESULTS = os.path.join(HERE, "results")

NIK, NAME, DOB = "3171014508900001", "SITI RAHAYU", "05-08-1990"
API_KEY, USERNAME, PASSWORD = "sandbox-api-key", "sandbox", "sandbox-password"
BOUNDARY = "glairbenchboundary7MA4YWxkTrZu0gW"
CONCURRENCY = 64


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def multipart_body():
    parts = []
    for k, v in (("nik", NIK), ("name", NAME), ("date_of_birth", DOB)):
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n')
    parts.append(f"--{BOUNDARY}--\r\n")
    return "".join(parts).encode()


def auth_headers():
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {basic}", "x-api-key": API_KEY}


def check_loopback(url):
    if not url.startswith("http://127.0.0.1:"):
        raise SystemExit(f"refusing to send load anywhere but 127.0.0.1 (got {url})")


class Server:
    """A server child that prints `listening on URL` as its first line."""

    def __init__(self, argv, name):
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            self.stop()
            raise SystemExit(f"{name} did not print its URL (got {line!r})")
        self.url = m.group(1).rstrip("/")
        check_loopback(self.url)
        # Drain the rest of its banner so it never blocks on a full pipe.
        self.proc.stdout.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def post_once(url):
    req = urllib.request.Request(
        url + "/identity/v1/verification",
        data=multipart_body(),
        method="POST",
        headers={**auth_headers(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


def run_child(argv, env=None, timeout=600):
    """Runs a child; returns (stdout, stderr, rc, rusage) with the child's own rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return out.read().decode(errors="replace"), err.read().decode(errors="replace"), proc.returncode, ru


class Contender:
    def __init__(self, key, label, lang, argv_fn, sequential, concurrency=1, env=None):
        self.key, self.label, self.lang = key, label, lang
        self.argv_fn, self.sequential, self.concurrency = argv_fn, sequential, concurrency
        self.env = env
        self.runs = []
        self.failure = None


def contender_args(mode, url, cfg, concurrency):
    return [
        "--mode", mode, "--url", url,
        "--duration", str(cfg.duration), "--max", str(cfg.max_requests),
        "--concurrency", str(concurrency), "--warmup", str(cfg.warmup),
    ]


def build_contenders(cfg, tools):
    py, node = tools["python"], tools["node"]
    pyc = os.path.join(HERE, "contenders", "py_bench.py")
    nodec = os.path.join(HERE, "contenders", "node_bench.mjs")
    rust = tools["bench_rust"]
    env = dict(os.environ)
    env["BENCH_NODE_PKG"] = tools["node_pkg"]
    env["BENCH_NPM_DIR"] = os.path.join(WORK, "npm")
    for k in list(env):
        if k.startswith("GLAIR_") or k in ("RUST_LOG",):
            env.pop(k)  # no logging, no stray credentials: every contender gets the same settings

    def mk(key, label, lang, prog, mode, sequential):
        conc = 1 if sequential else CONCURRENCY
        argv_fn = lambda url: prog + contender_args(mode, url, cfg, conc)  # noqa: E731
        return Contender(key, label, lang, argv_fn, sequential, conc, env)

    return [
        mk("rust-sdk-seq", "glair-vision (Rust) single calls, sequential", "rust", [rust], "sdk-seq", True),
        mk("rust-reqwest-seq", "plain reqwest, sequential", "rust", [rust], "reqwest-seq", True),
        mk("rust-sdk-batch", "glair-vision (Rust) verification_batch @64", "rust", [rust], "sdk-batch", False),
        mk("rust-sdk-stream", "glair-vision (Rust) verification_stream @64", "rust", [rust], "sdk-stream", False),
        mk("rust-sdk-64", "glair-vision (Rust) single calls, 64 tasks", "rust", [rust], "sdk-conc", False),
        mk("rust-reqwest-64", "plain reqwest, 64 tasks", "rust", [rust], "reqwest-conc", False),
        mk("py-sdk-sync", "glair-vision (Python) Vision, sync loop", "python", [py, pyc], "sdk-sync", True),
        mk("py-requests", "requests.Session, sync loop", "python", [py, pyc], "requests", True),
        mk("py-httpx", "httpx.Client, sync loop", "python", [py, pyc], "httpx", True),
        mk("py-sdk-async-64", "glair-vision (Python) AsyncVision, 64 tasks", "python", [py, pyc], "sdk-async", False),
        mk("py-sdk-batch-64", "glair-vision (Python) verification_batch @64", "python", [py, pyc], "sdk-batch", False),
        mk("py-aiohttp-64", "aiohttp, 64 tasks", "python", [py, pyc], "aiohttp", False),
        mk("node-sdk-seq", "glair-vision (Node) sequential awaits", "node", [node, nodec], "sdk-seq", True),
        mk("node-fetch-seq", "fetch + FormData, sequential", "node", [node, nodec], "fetch-seq", True),
        mk("node-glair-seq", "@glair/vision, sequential", "node", [node, nodec], "glair-seq", True),
        mk("node-sdk-64", "glair-vision (Node) 64 promises", "node", [node, nodec], "sdk-conc", False),
        mk("node-sdk-batch-64", "glair-vision (Node) verificationBatch @64", "node", [node, nodec], "sdk-batch", False),
        mk("node-fetch-64", "fetch + FormData, 64 promises", "node", [node, nodec], "fetch-conc", False),
        mk("node-glair-64", "@glair/vision, 64 promises", "node", [node, nodec], "glair-conc", False),
    ]


def run_contender(c, url, timeout):
    out, err, rc, ru = run_child(c.argv_fn(url), env=c.env, timeout=timeout)
    line = next((ln for ln in reversed(out.strip().splitlines()) if ln.startswith("{")), None)
    if rc != 0 or line is None:
        tail = (err.strip().splitlines() or ["(no stderr)"])[-1][:300]
        return None, f"exit {rc}: {tail}"
    r = json.loads(line)
    r["rss_mib"] = ru.ru_maxrss / 1024.0
    r["process_cpu_s"] = ru.ru_utime + ru.ru_stime
    r["rps"] = r["requests"] / r["elapsed_s"] if r["elapsed_s"] > 0 else 0.0
    r["cpu_per_1k"] = r["cpu_s"] / r["requests"] * 1000 if r["requests"] else None
    return r, None


# --- load generator ---------------------------------------------------------


def load_generator_argv(tools, url, cfg, body_file):
    target = url + "/identity/v1/verification"
    ctype = f"multipart/form-data; boundary={BOUNDARY}"
    h = auth_headers()
    if tools.get("oha"):
        return "oha", [
            tools["oha"], "-z", f"{cfg.duration}s", "-c", str(CONCURRENCY), "-m", "POST",
            "-T", ctype, "-D", body_file,
            "-H", f"Authorization: {h['Authorization']}", "-H", f"x-api-key: {h['x-api-key']}",
            "--no-tui", "--output-format", "json", target,
        ]
    if tools.get("wrk"):
        script = os.path.join(WORK, "wrk-post.lua")
        body = multipart_body().decode().replace("\r\n", "\\r\\n")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\n')
            f.write(f'wrk.body = "{body}"\n')
            f.write(f'wrk.headers["Content-Type"] = "{ctype}"\n')
            for k, v in h.items():
                f.write(f'wrk.headers["{k}"] = "{v}"\n')
        secs = max(1, round(cfg.duration))
        return "wrk", [tools["wrk"], "-t2", f"-c{CONCURRENCY}", f"-d{secs}s", "-s", script, target]
    return None, None


def parse_load_generator(kind, out):
    if kind == "oha":
        j = json.loads(out)
        s = j["summary"]
        codes = j.get("statusCodeDistribution", {})
        non200 = sum(v for k, v in codes.items() if k != "200")
        return {"rps": s["requestsPerSec"], "non_200": non200, "success_rate": s.get("successRate")}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": float(m.group(1)), "non_200": int(non2xx.group(1)) if non2xx else 0}


# --- CLI batch memory --------------------------------------------------------


def cli_batch_memory(tools, url, rows, records):
    path = os.path.join(WORK, f"batch-{rows}.csv")
    if not os.path.exists(path):
        log(f"generating {rows:,} rows")
        pool = [r for r in records if r.get("name") and r.get("date_of_birth")] or [
            {"nik": NIK, "name": NAME, "date_of_birth": DOB}
        ]
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("nik,name,date_of_birth\n")
            for i in range(rows):
                r = pool[i % len(pool)]
                f.write(f"{r['nik']},\"{r['name']}\",{r['date_of_birth']}\n")
        os.replace(tmp, path)
    output = os.path.join(WORK, f"batch-{rows}.out.jsonl")
    if os.path.exists(output):
        os.remove(output)  # a fresh run, not a resume
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLAIR_")}
    env.update(GLAIR_BASE_URL=url, GLAIR_API_KEY=API_KEY, GLAIR_USERNAME=USERNAME, GLAIR_PASSWORD=PASSWORD)
    argv = [tools["cli"], "batch", "--input", path, "--output", output, "--concurrency", str(CONCURRENCY), "--quiet"]
    t = time.perf_counter()
    out, err, rc, ru = run_child(argv, env=env, timeout=1800)
    elapsed = time.perf_counter() - t
    lines = 0
    with open(output, "rb") as f:
        for _ in f:
            lines += 1
    os.remove(output)
    return {
        "rows": rows,
        "exit_code": rc,
        "output_lines": lines,
        "elapsed_s": elapsed,
        "rows_per_s": rows / elapsed,
        "rss_mib": ru.ru_maxrss / 1024.0,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "summary": (err.strip().splitlines() or [""])[-6:],
    }


# --- aggregation -------------------------------------------------------------


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize(c):
    runs = c.runs
    s = {
        "key": c.key, "label": c.label, "lang": c.lang, "concurrency": c.concurrency,
        "sequential": c.sequential, "failure": c.failure, "runs": runs,
    }
    if runs:
        s["rps"] = spread([r["rps"] for r in runs])
        s["p50_ms"] = spread([r["p50_ms"] for r in runs]) if c.sequential else None
        s["p99_ms"] = spread([r["p99_ms"] for r in runs]) if c.sequential else None
        s["cpu_per_1k"] = spread([r["cpu_per_1k"] for r in runs])
        s["rss_mib"] = spread([r["rss_mib"] for r in runs])
        s["errors"] = sum(r["errors"] for r in runs)
        s["requests"] = sum(r["requests"] for r in runs)
        vers = {}
        for r in runs:
            vers.update(r.get("versions") or {})
        s["versions"] = vers
    return s


def med(summary, key, metric="rps"):
    s = summary.get(key)
    if not s or not s.get(metric):
        return None
    return s[metric]["median"]


def targets(summary, loadgen, memory, memory_limit_rows):
    def ratio(a, b):
        return a / b if a is not None and b else None

    t = []

    def add(issue, name, value, goal, cmp, detail):
        met = None if value is None else (value >= goal if cmp == ">=" else value < goal)
        t.append({"issue": issue, "target": name, "value": value, "goal": goal, "cmp": cmp,
                  "met": met, "detail": detail})

    add(5, "Python sync loop vs requests.Session", ratio(med(summary, "py-sdk-sync"), med(summary, "py-requests")),
        2.5, ">=", "req/s ratio")
    add(5, "Python verification_batch@64 vs aiohttp@64",
        ratio(med(summary, "py-sdk-batch-64"), med(summary, "py-aiohttp-64")), 10, ">=", "req/s ratio")
    add(5, "Python AsyncVision@64 vs aiohttp@64",
        ratio(med(summary, "py-sdk-async-64"), med(summary, "py-aiohttp-64")), 3, ">=", "req/s ratio")
    add(5, "Node sequential vs @glair/vision sequential",
        ratio(med(summary, "node-sdk-seq"), med(summary, "node-glair-seq")), 2, ">=", "req/s ratio")
    add(5, "Node verificationBatch@64 vs @glair/vision@64",
        ratio(med(summary, "node-sdk-batch-64"), med(summary, "node-glair-64")), 10, ">=", "req/s ratio")
    # Resident memory: each of our Node runs against @glair/vision's run of the same shape.
    pairs = [("node-sdk-seq", "node-glair-seq"), ("node-sdk-64", "node-glair-64"), ("node-sdk-batch-64", "node-glair-64")]
    rss = [ratio(med(summary, a, "rss_mib"), med(summary, b, "rss_mib")) for a, b in pairs]
    worst = max(rss) if rss and all(r is not None for r in rss) else None
    add(5, "Node peak RSS vs @glair/vision (worst of seq, @64, batch@64)", worst, 1.0, "<", "RSS ratio, below 1 = smaller")
    add(5, "Rust single calls vs plain reqwest loop (within 10%)",
        ratio(med(summary, "rust-sdk-seq"), med(summary, "rust-reqwest-seq")), 0.9, ">=", "req/s ratio")
    add(5, "Rust batch@64 vs plain reqwest@64 (within 10%; issue 6: >= 90%)",
        ratio(med(summary, "rust-sdk-batch"), med(summary, "rust-reqwest-64")), 0.9, ">=", "req/s ratio")
    sb = (loadgen.get("sandbox") or {}).get("rps")
    ax = (loadgen.get("axum") or {}).get("rps")
    add(5, "sandbox vs minimal axum handler (load generator @64)",
        ratio(sb and sb["median"], ax and ax["median"]), 0.7, ">=", "req/s ratio")
    add(6, "Python verification_batch@64 vs aiohttp@64", t[1]["value"], 10, ">=", "req/s ratio (same as issue 5)")
    add(6, "Node verificationBatch@64 vs @glair/vision@64", t[4]["value"], 10, ">=", "req/s ratio (same as issue 5)")
    add(6, "Rust batch@64 vs plain reqwest@64", t[7]["value"], 0.9, ">=", "req/s ratio (same as issue 5)")
    mem_value = memory["rss_mib"] if memory and memory.get("exit_code") == 0 else None
    rows = memory["rows"] if memory else memory_limit_rows
    add(6, f"glair-vision batch over {rows:,} CSV rows: peak RSS < 64 MiB", mem_value, 64, "<", "MiB")
    return t


# --- reporting ---------------------------------------------------------------


def fmt(v, digits=0):
    if v is None:
        return "-"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def fmt_spread(s, digits=0):
    if not s:
        return "-"
    return f"{fmt(s['median'], digits)} ({fmt(s['min'], digits)}-{fmt(s['max'], digits)})"


def markdown(result):
    m = result["machine"]
    lines = []
    lines.append(f"Run {result['started']} ({result['mode']} mode, command: `{result['command']}`, "
                 f"source {result.get('revision', 'unknown')}), "
                 f"{m['cores']} cores ({m['cpu']}), {m['os']}.")
    lines.append(f"Each figure is the median of {result['repetitions']} repetitions, with the spread (min-max); "
                 f"{result['duration_s']} s measured per repetition after a warm-up; concurrency {CONCURRENCY} where noted. "
                 "CPU is the client process's own user+system time in the measured phase, per 1,000 requests; "
                 "RSS is the client process's peak resident set (whole life). One sandbox serves every run.")
    lines.append("")
    lines.append("| contender | req/s | p50 ms | p99 ms | CPU s / 1k req | peak RSS MiB | errors |")
    lines.append("|---|---|---|---|---|---|---|")
    for s in result["contenders"]:
        if not s.get("runs"):
            lines.append(f"| {s['label']} | not run: {s.get('failure') or 'skipped'} | | | | | |")
            continue
        lines.append(
            f"| {s['label']} | {fmt_spread(s['rps'])} | {fmt_spread(s['p50_ms'], 2)} | {fmt_spread(s['p99_ms'], 2)} "
            f"| {fmt_spread(s['cpu_per_1k'], 3)} | {fmt_spread(s['rss_mib'], 1)} | {s['errors']} |"
        )
    lg = result["load_generator"]
    if lg.get("tool"):
        for key, label in (("sandbox", "sandbox"), ("axum", "minimal axum handler (same response bytes)")):
            e = lg.get(key)
            if e:
                lines.append(f"| {lg['tool']} @{CONCURRENCY} -> {label} | {fmt_spread(e['rps'])} | | | | | {e['non_200']} |")
    lines.append("")
    mem = result.get("cli_batch_memory")
    if mem:
        lines.append(
            f"`glair-vision batch` over {mem['rows']:,} CSV rows at concurrency {CONCURRENCY} against the sandbox: "
            f"peak RSS {mem['rss_mib']:.1f} MiB, {mem['rows_per_s']:,.0f} rows/s, {mem['elapsed_s']:.1f} s, "
            f"{mem['output_lines']:,} output lines, exit code {mem['exit_code']}."
        )
        lines.append("")
    lines.append("| issue | target | value | goal | met |")
    lines.append("|---|---|---|---|---|")
    for t in result["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        met = "not measured" if t["met"] is None else ("met" if t["met"] else "**missed**")
        lines.append(f"| {t['issue']} | {t['target']} | {value} | {t['cmp']} {t['goal']} | {met} |")
    lines.append("")
    lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(result["versions"].items())) + ".")
    return "\n".join(lines) + "\n"


def update_readme(md):
    path = os.path.join(HERE, "README.md")
    if not os.path.exists(path):
        return
    text = open(path).read()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        return
    before = text.split(start)[0]
    after = text.split(end)[1]
    with open(path, "w") as f:
        f.write(before + start + "\n" + md + end + after)


def source_revision():
    """The commit the binaries were built from, and whether the tree differed from it."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--", "crates", "bindings", "python", "node", "bench"],
            capture_output=True, text=True,
        ).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "os": f"{platform.system()} {platform.release()}"}


def lockfile_versions(names=("reqwest", "hyper", "tokio", "axum", "multer")):
    """Versions of the Rust crates that matter here, from the workspace's Cargo.lock."""
    found = {}
    try:
        text = open(os.path.join(ROOT, "Cargo.lock")).read()
    except OSError:
        return found
    for block in text.split("[[package]]"):
        m = re.search(r'name = "([^"]+)"\s*\nversion = "([^"]+)"', block)
        if m and m.group(1) in names:
            found.setdefault(m.group(1), []).append(m.group(2))
    return {f"{k} (Rust)": ", ".join(v) for k, v in found.items()}


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", help="comma-separated contender keys (for investigation; results not published)")
    ap.add_argument("--tools", required=True, help="JSON file of tool paths written by run.sh")
    ap.add_argument("--command", default="bash bench/run.sh")
    ap.add_argument("--no-publish", action="store_true")
    cfg = ap.parse_args()
    tools = json.load(open(cfg.tools))
    if cfg.quick:
        cfg.duration, cfg.repetitions, cfg.warmup, cfg.max_requests = 1.2, 3, 100, 200_000
        cfg.batch_rows = 50_000
    else:
        cfg.duration, cfg.repetitions, cfg.warmup, cfg.max_requests = 3.0, 5, 300, 2_000_000
        cfg.batch_rows = 1_000_000
    started = dt.datetime.now(dt.timezone.utc)
    cfg.revision = os.environ.get("BENCH_REVISION") or source_revision()
    t0 = time.monotonic()

    sandbox = Server([tools["cli"], "sandbox", "--port", "0"], "sandbox")
    servers = [sandbox]
    try:
        log(f"sandbox at {sandbox.url}")
        status, body = post_once(sandbox.url)
        parsed = json.loads(body)
        if status != 200 or parsed.get("verification_status") is not True:
            raise SystemExit(f"the sandbox did not verify the benchmark request: {status} {body[:200]!r}")
        body_file = os.path.join(WORK, "sandbox-response.json")
        with open(body_file, "wb") as f:
            f.write(body)
        request_file = os.path.join(WORK, "request-body.bin")
        with open(request_file, "wb") as f:
            f.write(multipart_body())
        axum = Server([tools["bench_axum"], body_file], "bench-axum")
        servers.append(axum)
        status2, body2 = post_once(axum.url)
        assert status2 == 200 and body2 == body, "the axum handler answers the sandbox's bytes"

        contenders = build_contenders(cfg, tools)
        if cfg.only:
            keep = set(cfg.only.split(","))
            contenders = [c for c in contenders if c.key in keep]
        lg_kind, _ = load_generator_argv(tools, sandbox.url, cfg, request_file)
        lg_runs = {"sandbox": [], "axum": []}
        run_lg = not cfg.only or "loadgen" in cfg.only.split(",")
        timeout = cfg.duration * 20 + 60
        # Repetitions are interleaved (every contender once, then again) so that a
        # slow patch of the machine does not land on one contender only.
        for rep in range(cfg.repetitions):
            log(f"repetition {rep + 1}/{cfg.repetitions}")
            for c in contenders:
                if c.failure:
                    continue
                for server in servers:
                    if server.proc.poll() is not None:
                        raise SystemExit(f"the {server.name} exited (code {server.proc.returncode}) mid-run: results discarded")
                r, failure = run_contender(c, sandbox.url, timeout)
                if failure:
                    c.failure = failure
                    log(f"  {c.key}: FAILED {failure}")
                    continue
                c.runs.append(r)
                log(f"  {c.key}: {r['rps']:,.0f} req/s, cpu {r['cpu_per_1k'] or 0:.3f} s/1k, "
                    f"rss {r['rss_mib']:.1f} MiB, errors {r['errors']}")
            if lg_kind and run_lg:
                for key, server in (("sandbox", sandbox), ("axum", axum)):
                    _, argv = load_generator_argv(tools, server.url, cfg, request_file)
                    out, err, rc, _ru = run_child(argv, timeout=timeout)
                    if rc != 0:
                        log(f"  {lg_kind} -> {key}: FAILED {err.strip()[-300:]}")
                        continue
                    r = parse_load_generator(lg_kind, out)
                    lg_runs[key].append(r)
                    log(f"  {lg_kind} -> {key}: {r['rps']:,.0f} req/s (non-200: {r['non_200']})")
        loadgen = {"tool": lg_kind}
        for key, runs in lg_runs.items():
            if runs:
                loadgen[key] = {"rps": spread([r["rps"] for r in runs]), "non_200": sum(r["non_200"] for r in runs)}

        memory = None
        if not cfg.only or "cli-batch" in cfg.only.split(","):
            records = json.loads(urllib.request.urlopen(sandbox.url + "/_sandbox/records?offset=0&limit=1000").read())
            log(f"CLI batch over {cfg.batch_rows:,} rows")
            memory = cli_batch_memory(tools, sandbox.url, cfg.batch_rows, records)
            log(f"  peak RSS {memory['rss_mib']:.1f} MiB, {memory['rows_per_s']:,.0f} rows/s, exit {memory['exit_code']}")
    finally:
        for s in servers:
            s.stop()

    summary = {c.key: summarize(c) for c in contenders}
    versions = {"cores": os.cpu_count()}
    for s in summary.values():
        versions.update(s.get("versions") or {})
    versions.pop("cores", None)
    versions.update({k: v for k, v in tools.get("versions", {}).items() if v})
    versions.update(lockfile_versions())
    result = {
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": "quick" if cfg.quick else "full",
        "command": cfg.command,
        "wall_s": None,
        "duration_s": cfg.duration,
        "repetitions": cfg.repetitions,
        "concurrency": CONCURRENCY,
        "machine": machine(),
        "revision": cfg.revision,
        "versions": versions,
        "contenders": list(summary.values()),
        "load_generator": loadgen,
        "cli_batch_memory": memory,
        "targets": targets(summary, loadgen, memory, cfg.batch_rows),
    }
    result["wall_s"] = time.monotonic() - t0
    md = markdown(result)
    print(md)
    if cfg.only or cfg.no_publish:
        log("investigation run: results not written")
        return
    os.makedirs(RESULTS, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if cfg.quick else "-full")
    for name in (stamp, "latest"):
        with open(os.path.join(RESULTS, name + ".json"), "w") as f:
            json.dump(result, f, indent=1)
        with open(os.path.join(RESULTS, name + ".md"), "w") as f:
            f.write(md)
    update_readme(md)
    log(f"done in {result['wall_s']:.0f} s; results in bench/results/{stamp}.md and latest.md")


if __name__ == "__main__":
    main()
