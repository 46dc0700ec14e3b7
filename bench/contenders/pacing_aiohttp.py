"""The pacing scenario's baseline: what users write today, an aiohttp loop with N
concurrent tasks over a list of rows, honouring Retry-After on a 429 for up to
two retries (as a careful user would), no pacing.

python pacing_aiohttp.py --url U --rows 20000 --concurrency 64
Prints one JSON line: rows, failed rows, attempts, 429s, elapsed, pace after 5 s.
"""

import argparse
import asyncio
import base64
import json
import time

API_KEY = "sandbox-api-key"
USERNAME = "sandbox"
PASSWORD = "sandbox-password"
FIELDS = {"nik": "3171014508900001", "name": "SITI RAHAYU", "date_of_birth": "05-08-1990"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--retries", type=int, default=2)
    args = p.parse_args()
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit("refusing a non-local URL")
    import aiohttp

    endpoint = args.url.rstrip("/") + "/identity/v1/verification"
    done_at = []
    stats = {"attempts": 0, "throttled": 0, "failed": 0}

    async def go():
        basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "x-api-key": API_KEY}
        next_row = iter(range(args.rows))
        async with aiohttp.ClientSession(headers=headers) as session:

            async def one():
                for attempt in range(args.retries + 1):
                    form = aiohttp.FormData(default_to_multipart=True)
                    for k, v in FIELDS.items():
                        form.add_field(k, v)
                    stats["attempts"] += 1
                    try:
                        async with session.post(endpoint, data=form) as r:
                            await r.read()
                            if r.status == 429:
                                stats["throttled"] += 1
                                if attempt < args.retries:
                                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                                continue
                            return r.status == 200
                    except aiohttp.ClientError:
                        return False
                return False

            async def worker():
                for _ in next_row:
                    if await one():
                        # The pace counts rows verified, not rows given up on.
                        done_at.append(time.monotonic())
                    else:
                        stats["failed"] += 1

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    started = time.monotonic()
    asyncio.run(go())
    elapsed = time.monotonic() - started
    after = [t for t in done_at if t - started >= 5.0]
    pace = len(after) / (elapsed - 5.0) if elapsed > 5.0 else None
    print(json.dumps({"rows": args.rows, **stats, "elapsed_s": round(elapsed, 2),
                      "pace_after_5s": pace and round(pace, 1)}))


main()
