"""Issue 11's table targets, side by side in one run against one sandbox.

One `glair-vision sandbox` (release, no limit, 127.0.0.1, ephemeral port) serves:
  - verify_table: `vision.identity.verify_table(reader, keep=["id"], concurrency=64)`
    over a Parquet file streamed as a RecordBatchReader
    (`pyarrow.parquet.ParquetFile.iter_batches`), every output batch read;
  - rust-batch: the Rust core's `verification_batch` at 64 (bench-rust --mode sdk-batch);
  - pandas-apply: what a data engineer writes today, `df.apply(call, axis=1)` with
    `requests.Session` posting each row (results turned into a column);
  - threads-64: `ThreadPoolExecutor(64)` over the rows, one `requests.Session` per thread;
  - cli-parquet: `glair-vision batch` from the Parquet file to a Parquet file at 64,
    keeping `id` (issue 11's CLI target: peak RSS under 96 MiB);
  - cli-parquet-s3: the same from an S3 object to an S3 object, on a local
    S3-compatible server (moto, in this driver's process; issue 22's target: the
    local run's, under 96 MiB).
Each contender is its own process: rows/s and CPU (user+system, getrusage) over
the measured phase, peak RSS over the whole process (wait4). The slow contenders
run fewer rows (rates are compared). Every row is the same record (the fixture
person, as in bench/run.sh) with its own id.

python3 bench/tables.py [--rows 1000000] [--slow-rows 3000] [--thread-rows 20000] [--only ...]
Needs target/release/{glair-vision,bench-rust} and a Python with pyarrow, pandas,
requests, moto[server], boto3 and the glair-vision wheel (bash bench/tables.sh sets all of it up).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "target/release/glair-vision")
BENCH_RUST = os.path.join(ROOT, "target/release/bench-rust")
WORK = os.path.join(ROOT, "bench/.work")
API_KEY, USERNAME, PASSWORD = "sandbox-api-key", "sandbox", "sandbox-password"
RECORD = {"nik": "3171014508900001", "name": "SITI RAHAYU", "date_of_birth": "05-08-1990"}
CONCURRENCY = 64
WARMUP = 2000


# --- the contenders (run as `tables.py --worker MODE`) -----------------------------


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def report(rows: int, errors: int, started: float, cpu0: float, **extra) -> None:
    print(json.dumps({"rows": rows, "errors": errors, "elapsed_s": time.perf_counter() - started,
                      "cpu_s": cpu_seconds() - cpu0, **extra}), flush=True)


def worker_verify_table(url: str, path: str, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from glair_vision import Vision

    vision = Vision(base_url=url, api_key=API_KEY, username=USERNAME, password=PASSWORD)
    source = pq.ParquetFile(path)
    # Warm-up (connections): a small table first.
    vision.identity.verify_table(pa.Table.from_batches([next(source.iter_batches(batch_size=WARMUP))]), keep=["id"])
    started, cpu0 = time.perf_counter(), cpu_seconds()
    batches = source.iter_batches(batch_size=10_000)
    reader = pa.RecordBatchReader.from_batches(source.schema_arrow, batches)
    done = verified = 0
    for batch in vision.identity.verify_table(reader, keep=["id"], concurrency=CONCURRENCY):
        done += batch.num_rows
        verified += pc.sum(pc.equal(batch.column("outcome"), "verified")).as_py() or 0
    report(done, done - verified, started, cpu0)


def _requests_call(session, endpoint: str, record: dict) -> bool:
    try:
        r = session.post(endpoint, files={k: (None, str(v)) for k, v in record.items() if v is not None})
        return r.json().get("verification_status") is True
    except Exception:
        return False


def _session(url: str):
    import requests

    s = requests.Session()
    s.auth = (USERNAME, PASSWORD)
    s.headers["x-api-key"] = API_KEY
    return s


def _frame(path: str, rows: int):
    import pyarrow.parquet as pq

    return next(pq.ParquetFile(path).iter_batches(batch_size=rows)).to_pandas()


def worker_pandas_apply(url: str, path: str, rows: int) -> None:
    endpoint = url + "/identity/v1/verification"
    df = _frame(path, rows + 200)
    session = _session(url)
    warm, df = df.iloc[:200], df.iloc[200:]
    warm.apply(lambda r: _requests_call(session, endpoint, r[["nik", "name", "date_of_birth"]].to_dict()), axis=1)
    started, cpu0 = time.perf_counter(), cpu_seconds()
    df = df.assign(verification_status=df.apply(
        lambda r: _requests_call(session, endpoint, r[["nik", "name", "date_of_birth"]].to_dict()), axis=1))
    report(len(df), int((~df["verification_status"]).sum()), started, cpu0)


def worker_threads(url: str, path: str, rows: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    endpoint = url + "/identity/v1/verification"
    df = _frame(path, rows + WARMUP)
    records = df[["nik", "name", "date_of_birth"]].to_dict("records")
    local = threading.local()

    def call(record: dict) -> bool:
        if not hasattr(local, "session"):
            local.session = _session(url)
        return _requests_call(local.session, endpoint, record)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(call, records[:WARMUP]))
        started, cpu0 = time.perf_counter(), cpu_seconds()
        ok = list(pool.map(call, records[WARMUP:]))
    report(len(ok), ok.count(False), started, cpu0)


# --- the driver -------------------------------------------------------------------


def parquet(rows: int) -> str:
    """The input file, made once by a child process: the driver stays small, and a
    contender forked from it does not inherit a large peak RSS (Linux carries
    ru_maxrss across exec)."""
    path = os.path.join(WORK, f"tables-{rows}.parquet")
    if not os.path.exists(path):
        os.makedirs(WORK, exist_ok=True)
        subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", "make-parquet", "--url",
                        "http://127.0.0.1:0", "--file", path, "--rows", str(rows)], check=True)
    return path


def worker_make_parquet(_url: str, path: str, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetWriter(path + ".tmp", pa.schema([("id", pa.string())] + [(k, pa.string()) for k in RECORD])) as w:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            ids = pa.array([f"row-{i:07d}" for i in range(start, start + n)])
            w.write_table(pa.table({"id": ids, **{k: pa.array([v] * n) for k, v in RECORD.items()}}), row_group_size=65_536)
    os.replace(path + ".tmp", path)


WORKERS = {"make-parquet": worker_make_parquet, "verify_table": worker_verify_table,
           "pandas-apply": worker_pandas_apply, "threads-64": worker_threads}


def start_sandbox():
    p = subprocess.Popen([CLI, "sandbox", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = p.stdout.readline().strip().removeprefix("listening on ")
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    assert url.startswith("http://127.0.0.1:"), url
    return p, url


def measured(argv: list) -> dict:
    """Runs one contender; its JSON line plus its peak RSS (wait4, whole life)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {p.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["rss_mib"] = usage.ru_maxrss / 1024
    return result


class LocalS3:
    """A moto S3 server on 127.0.0.1 (ephemeral port) in this driver, with one bucket."""

    def __init__(self) -> None:
        import boto3
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        self.env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.server._server.server_port}",
                    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        self.client = boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                   aws_access_key_id="bench", aws_secret_access_key="bench")
        self.client.create_bucket(Bucket="bench")

    def stop(self) -> None:
        self.server.stop()


def measured_cli(url: str, path: str, rows: int, s3: "LocalS3 | None" = None) -> dict:
    """The CLI from Parquet to Parquet (local files, or S3 objects when `s3` is
    given): elapsed, its CPU and peak RSS (wait4), and the output's outcomes read
    back (by this driver, whose memory is not measured)."""
    import io
    import tempfile

    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="tables-cli-") as work:
        source, out, env = path, os.path.join(work, "out.parquet"), None
        if s3 is not None:
            s3.client.upload_file(path, "bench", "in.parquet")
            source, out, env = "s3://bench/in.parquet", "s3://bench/out.parquet", s3.env
        argv = [CLI, "batch", "--input", source, "--output", out, "--keep", "id", "--concurrency", str(CONCURRENCY),
                "--quiet", "--base-url", url, "--api-key", API_KEY, "--username", USERNAME,
                "--password", PASSWORD, "--staging-dir", os.path.join(work, "staging")]
        usage = spawned(argv, env)
        if usage["code"] != 0:
            raise RuntimeError(f"glair-vision batch exited {usage['code']}")
        if s3 is not None:
            out = io.BytesIO(s3.client.get_object(Bucket="bench", Key="out.parquet")["Body"].read())
        outcomes = pq.read_table(out, columns=["outcome"]).column("outcome").to_pylist()
    if len(outcomes) != rows:
        raise RuntimeError(f"the CLI wrote {len(outcomes)} rows for {rows}")
    return {"rows": rows, "errors": sum(o == "error" for o in outcomes), "elapsed_s": usage["elapsed_s"],
            "cpu_s": usage["cpu_s"], "rss_mib": usage["rss_kib"] / 1024}


# Forks and execs argv from a fresh, small interpreter and reports its rusage. A
# process forked from this driver would start with the driver's peak RSS (Linux
# keeps ru_maxrss across exec), and the driver holds pyarrow, boto3 and moto.
_SPAWN = """
import json, os, sys, time
argv = json.loads(sys.argv[1])
started = time.monotonic()
pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "elapsed_s": time.monotonic() - started,
                  "cpu_s": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}))
"""


def spawned(argv: list, env) -> dict:
    out = subprocess.run([sys.executable, "-c", _SPAWN, json.dumps(argv)], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows for verify_table and the Rust batch")
    ap.add_argument("--slow-rows", type=int, default=3000, help="rows for pandas apply")
    ap.add_argument("--thread-rows", type=int, default=20_000, help="rows for the thread pool")
    ap.add_argument("--only", default="rust-batch,verify_table,pandas-apply,threads-64,cli-parquet,cli-parquet-s3")
    ap.add_argument("--worker")
    ap.add_argument("--url")
    ap.add_argument("--file")
    args = ap.parse_args()
    if args.worker:
        assert args.url.startswith("http://127.0.0.1:"), "load is only ever sent to 127.0.0.1"
        WORKERS[args.worker](args.url, args.file, args.rows)
        return

    path = parquet(args.rows)
    me = [sys.executable, os.path.abspath(__file__)]
    plans = {
        "rust-batch": ("Rust `verification_batch` @64 (bench-rust)", lambda url: [
            BENCH_RUST, "--mode", "sdk-batch", "--url", url, "--max", str(args.rows), "--duration", "100000",
            "--concurrency", str(CONCURRENCY), "--warmup", str(WARMUP)]),
        "verify_table": ("Python `verify_table` @64, Parquet streamed (RecordBatchReader)", lambda url: [
            *me, "--worker", "verify_table", "--url", url, "--file", path, "--rows", str(args.rows)]),
        "pandas-apply": ("pandas `DataFrame.apply` + `requests`", lambda url: [
            *me, "--worker", "pandas-apply", "--url", url, "--file", path, "--rows", str(args.slow_rows)]),
        "threads-64": ("`ThreadPoolExecutor(64)` + `requests`", lambda url: [
            *me, "--worker", "threads-64", "--url", url, "--file", path, "--rows", str(args.thread_rows)]),
        "cli-parquet": ("CLI `batch` Parquet to Parquet @64, `--keep id`", None),
        "cli-parquet-s3": ("CLI `batch` Parquet to Parquet @64, `--keep id`, S3 object to S3 object", None),
    }
    sandbox, url = start_sandbox()
    s3 = None  # started when its contender comes: moto and boto3 would swell this driver
    results = {}
    try:
        for key in args.only.split(","):
            if key == "cli-parquet":
                r = measured_cli(url, path, args.rows)
            elif key == "cli-parquet-s3":
                s3 = s3 or LocalS3()
                r = measured_cli(url, path, args.rows, s3)
            else:
                r = measured(plans[key][1](url))
            rows = r.get("rows", r.get("requests"))
            results[key] = {"rows": rows, "errors": r["errors"], "rate": rows / r["elapsed_s"],
                            "cpu_ms_per_1k": r["cpu_s"] * 1e6 / rows, "rss_mib": r["rss_mib"],
                            "elapsed_s": r["elapsed_s"]}
            print(key, json.dumps(results[key]), file=sys.stderr, flush=True)
    finally:
        sandbox.terminate()
        sandbox.wait()
        if s3 is not None:
            s3.stop()

    base = results.get("rust-batch", {}).get("rate")
    lines = []
    for key, r in results.items():
        vs = f"{r['rate'] / base:.2f}x" if base else "-"
        lines.append(f"| {plans[key][0]} | {r['rows']:,} | {r['rate']:,.0f} | {vs} | {r['cpu_ms_per_1k']:.1f} "
                     f"| {r['rss_mib']:.1f} | {r['errors']} |")
    vt = results.get("verify_table")
    verdicts = []
    if vt and base:
        verdicts.append(f"- verify_table / Rust batch pace: {vt['rate'] / base:.2f}x (target >= 0.8x); "
                        f"peak RSS {vt['rss_mib']:.0f} MiB (target < 256 MiB)")
    cli = results.get("cli-parquet")
    if cli:
        verdicts.append(f"- CLI Parquet to Parquet: peak RSS {cli['rss_mib']:.0f} MiB (target < 96 MiB)"
                        + (f", {cli['rate'] / base:.2f}x the Rust batch pace" if base else ""))
    on_s3 = results.get("cli-parquet-s3")
    if on_s3:
        verdicts.append(f"- CLI Parquet on S3: peak RSS {on_s3['rss_mib']:.0f} MiB"
                        + " (target < 96 MiB, as local)"
                        + (f", {on_s3['rss_mib'] / cli['rss_mib']:.2f}x the local run's" if cli else "")
                        + (f"; {on_s3['rate'] / cli['rate']:.2f}x its pace" if cli else ""))
    for peer in ("pandas-apply", "threads-64"):
        if vt and peer in results:
            p = results[peer]
            verdicts.append(f"- verify_table vs {peer}: {vt['rate'] / p['rate']:.1f}x the rows/s (target >= 10x), "
                            f"{p['cpu_ms_per_1k'] / vt['cpu_ms_per_1k']:.1f}x less CPU per row")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = os.environ.get("BENCH_COMMAND") or " ".join(["python3 bench/tables.py", *sys.argv[1:]])
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    md = (f"Tables run {stamp} (source {rev}, command `{command}`), "
          f"{os.cpu_count()} cores; one sandbox (no limit) serves every contender in turn; CPU is the contender's own "
          "user+system time in the measured phase; RSS its peak over its whole life.\n\n"
          "| contender | rows | rows/s | vs Rust batch | CPU ms / 1k rows | peak RSS MiB | errors |\n"
          "|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n\n" + "\n".join(verdicts) + "\n")
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/tables-latest.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
