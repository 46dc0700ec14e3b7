"""The pacing scenario's Python contender: this SDK's batch over N rows, no rate
given (``rate_limit="auto"``, the default) or a fixed one, through
``verification_batch_iter`` so that the completion times give the pace.

python pacing_python.py --url U --rows 20000 --concurrency 64 [--rate-limit 190] [--t0 EPOCH]
Prints one JSON line: rows, failed rows, attempts, 429s (the client's pacing
counts), elapsed, pace after 5 s; with --t0 (a shared start, for several
processes at once) also the rows done from t0 + 5 s on and the end, as epochs.
"""

import argparse
import json
import time

from glair_vision import GlairVisionError, Vision

API_KEY = "sandbox-api-key"
USERNAME = "sandbox"
PASSWORD = "sandbox-password"
RECORD = {"nik": "3171014508900001", "name": "SITI RAHAYU", "date_of_birth": "05-08-1990"}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rate-limit", default="auto")
    p.add_argument("--t0", type=float, default=None)
    args = p.parse_args()
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise SystemExit("refusing a non-local URL")
    rate = args.rate_limit if args.rate_limit == "auto" else float(args.rate_limit)
    vision = Vision(api_key=API_KEY, username=USERNAME, password=PASSWORD, base_url=args.url)
    if args.t0 is not None:
        time.sleep(max(0.0, args.t0 - time.time()))
    started_wall, started = time.time(), time.monotonic()
    t0 = args.t0 if args.t0 is not None else started_wall
    failed = 0
    done_at = []
    records = (RECORD for _ in range(args.rows))
    for _, outcome in vision.identity.verification_batch_iter(records, concurrency=args.concurrency, rate_limit=rate):
        if isinstance(outcome, GlairVisionError):
            failed += 1
        done_at.append(time.time())
    elapsed = time.monotonic() - started
    ended = time.time()
    pacing = vision.pacing()
    after = sum(1 for t in done_at if t - t0 >= 5.0)
    pace = after / (ended - t0 - 5.0) if ended - t0 > 5.0 else None
    print(json.dumps({
        "rows": args.rows,
        "failed": failed,
        "attempts": pacing.sent,
        "throttled": pacing.throttled,
        "elapsed_s": round(elapsed, 2),
        "pace_after_5s": pace and round(pace, 1),
        "done_after_5s": after,
        "ended": ended,
        "rate_now": pacing.rate and round(pacing.rate, 1),
    }))


main()
