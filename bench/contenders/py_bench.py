"""The Python contenders: this SDK (sync loop; AsyncVision with C concurrent
tasks; verification_batch at C) and the peers (requests.Session loop,
httpx.Client loop, aiohttp with C concurrent tasks).

python py_bench.py --mode M --url U --duration S --max N --concurrency C --warmup W
Prints one JSON line (see bench/src/lib.rs for the protocol).
"""

import argparse
import asyncio
import base64
import json
import math
import resource
import sys
import time

NIK = "3171014508900001"
NAME = "SITI RAHAYU"
DATE_OF_BIRTH = "05-08-1990"
API_KEY = "sandbox-api-key"
USERNAME = "sandbox"
PASSWORD = "sandbox-password"
FIELDS = {"nik": NIK, "name": NAME, "date_of_birth": DATE_OF_BIRTH}

versions = {"python": sys.version.split()[0]}


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--max", type=int, default=1_000_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warmup", type=int, default=200)
    a = p.parse_args()
    a.url = a.url.rstrip("/")
    if not a.url.startswith("http://127.0.0.1:"):
        sys.exit("load is only ever sent to 127.0.0.1")
    return a


args = parse_args()
ENDPOINT = args.url + "/identity/v1/verification"


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def percentile(s, q):
    rank = min(max(math.ceil(q * len(s)), 1), len(s))
    return s[rank - 1]


def report(start, cpu0, requests, errors, latencies=None):
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    p50 = p99 = None
    if latencies:
        s = sorted(latencies)
        p50, p99 = percentile(s, 0.5) * 1e3, percentile(s, 0.99) * 1e3
    print(json.dumps({
        "mode": args.mode, "concurrency": args.concurrency, "requests": requests, "errors": errors,
        "elapsed_s": elapsed, "cpu_s": cpu, "p50_ms": p50, "p99_ms": p99, "versions": versions,
    }), flush=True)


def sequential(call):
    for _ in range(args.warmup):
        call()
    latencies = []
    errors = 0
    cpu0 = cpu_seconds()
    start = time.perf_counter()
    deadline = start + args.duration
    now = start
    while len(latencies) < args.max and now < deadline:
        ok = call()
        t = time.perf_counter()
        latencies.append(t - now)
        now = t
        if not ok:
            errors += 1
    report(start, cpu0, len(latencies), errors, latencies)


async def concurrent(call):
    async def run(budget, deadline):
        state = {"taken": 0, "failed": 0}

        async def worker():
            while time.perf_counter() < deadline and state["taken"] < budget:
                state["taken"] += 1
                if not await call():
                    state["failed"] += 1

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        return state["taken"], state["failed"]

    await run(args.warmup, math.inf)
    cpu0 = cpu_seconds()
    start = time.perf_counter()
    n, errors = await run(args.max, start + args.duration)
    report(start, cpu0, n, errors)


# Batch APIs take a list: one warm-up batch, then batches of BATCH_CHUNK records
# back to back until the duration (or request budget) is used up, as a user going
# through a large file page by page would. The chunk bounds what the ordered result
# list holds at once (memory), and costs one drain of the in-flight calls per chunk
# (under 1% at these rates).
BATCH_CHUNK = 10_000


def chunked_batch(run_batch):
    run_batch(max(args.warmup, args.concurrency * 4))
    cpu0 = cpu_seconds()
    start = time.perf_counter()
    deadline = start + args.duration
    n = errors = 0
    while True:
        size = min(BATCH_CHUNK, args.max - n)
        errors += run_batch(size)
        n += size
        if time.perf_counter() >= deadline or n >= args.max:
            break
    report(start, cpu0, n, errors)


def sdk_client(cls_name):
    import glair_vision

    versions["glair-vision (Python)"] = glair_vision.__version__
    cls = getattr(glair_vision, cls_name)
    return cls(api_key=API_KEY, username=USERNAME, password=PASSWORD, base_url=args.url)


def main():
    mode = args.mode
    if mode == "sdk-sync":
        identity = sdk_client("Vision").identity

        def call():
            try:
                return identity.verification(NIK, name=NAME, date_of_birth=DATE_OF_BIRTH).verification_status is True
            except Exception:
                return False

        sequential(call)
    elif mode == "sdk-async":
        async def go():
            identity = sdk_client("AsyncVision").identity

            async def call():
                try:
                    r = await identity.verification(NIK, name=NAME, date_of_birth=DATE_OF_BIRTH)
                    return r.verification_status is True
                except Exception:
                    return False

            await concurrent(call)

        asyncio.run(go())
    elif mode == "sdk-batch":
        identity = sdk_client("Vision").identity

        def run_batch(n):
            outcomes = identity.verification_batch([FIELDS] * n, concurrency=args.concurrency)
            return sum(1 for o in outcomes if getattr(o, "verification_status", None) is not True)

        chunked_batch(run_batch)
    elif mode == "requests":
        import requests

        versions["requests"] = requests.__version__
        session = requests.Session()
        session.auth = (USERNAME, PASSWORD)
        session.headers["x-api-key"] = API_KEY
        # requests sends multipart for `files`; (None, value) makes a plain text part.
        parts = {k: (None, v) for k, v in FIELDS.items()}

        def call():
            try:
                r = session.post(ENDPOINT, files=parts)
                return r.json().get("verification_status") is True
            except Exception:
                return False

        sequential(call)
    elif mode == "httpx":
        import httpx

        versions["httpx"] = httpx.__version__
        client = httpx.Client(auth=(USERNAME, PASSWORD), headers={"x-api-key": API_KEY})
        parts = {k: (None, v) for k, v in FIELDS.items()}

        def call():
            try:
                r = client.post(ENDPOINT, files=parts)
                return r.json().get("verification_status") is True
            except Exception:
                return False

        sequential(call)
    elif mode == "aiohttp":
        import aiohttp

        versions["aiohttp"] = aiohttp.__version__

        async def go():
            basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            headers = {"Authorization": f"Basic {basic}", "x-api-key": API_KEY}
            # The default connector allows 100 connections: 64 workers fit.
            async with aiohttp.ClientSession(headers=headers) as session:
                async def call():
                    try:
                        form = aiohttp.FormData(default_to_multipart=True)
                        for k, v in FIELDS.items():
                            form.add_field(k, v)
                        async with session.post(ENDPOINT, data=form) as r:
                            return (await r.json()).get("verification_status") is True
                    except Exception:
                        return False

                await concurrent(call)

        asyncio.run(go())
    else:
        sys.exit(f"unknown mode {mode}")


main()
