"""The gateways matrix (issue 18), side by side in one run.

Each model of the sandbox's gateway (`glair-vision sandbox --gateway`: token
buckets with and without `Retry-After`, fixed windows of 1 s and 10 s, a sliding
window, a leaky queue, a trial account, limits that halve and double mid-run,
rate-limit headers) fronts its own sandbox (50 ms mean latency, 15 ms spread);
against it, no rate given, 64 in flight:
  - the CLI batch, the Python batch and the Node batch (bench/pacing.py's contenders)
  - the oracle: the CLI told the exact limit (--rate-limit at 97% of it; for a
    limit that moves, of the lower one)
Each run's pace is what the gateway accepted from 5 s on (for a window of 10 s,
from its second window) over what it allowed then, and its share of attempts
refused; the sandbox counts both (`GET /_sandbox/gateway`). Nothing is asserted.
Writes bench/results/gateways-latest.md, the same table into bench/README.md
(between its `gateways` markers), and one SVG per contender
(bench/results/gateways-<contender>.svg): calls accepted and refused per second,
one panel per model, the allowed rate drawn over them.

python3 bench/gateways.py [--seconds 25] [--only cli,python,node,oracle] [--models fixed-1s,trial]
Needs what bash bench/pacing.sh prepares (bash bench/pacing.sh --gateways runs this).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pacing  # noqa: E402  (its contenders and builds)

ROOT = pacing.ROOT
LATENCY, SPREAD = 50, 15

# name, --gateway spec, the rate it allows (calls/s; the lower one for a moving
# limit), the window of a windowed model (pace counted from its first end after 5 s)
MODELS = [
    ("bucket-ra1", "token bucket, Retry-After: 1", "model=token-bucket,rate=150,burst=150,retry-after=1", 150, 0),
    ("bucket-no-ra", "token bucket, no Retry-After", "model=token-bucket,rate=150,burst=300,retry-after=absent", 150, 0),
    ("fixed-1s", "fixed window, 1 s", "model=fixed-window,limit=150,window=1s", 150, 1),
    ("fixed-10s", "fixed window, 10 s", "model=fixed-window,limit=1500,window=10s,retry-after=date", 150, 10),
    ("sliding-1s", "sliding window, 1 s", "model=sliding-window,limit=150,window=1s,retry-after=absent", 150, 1),
    ("queue", "leaky queue", "model=leaky-queue,rate=150,depth=75", 150, 0),
    ("trial", "trial account (4/s, burst 2)", "model=token-bucket,rate=4,burst=2", 4, 0),
    ("halves", "limit halves at 15 s", "model=token-bucket,rate=150,burst=150,change=15s:0.5", 75, 0),
    ("doubles", "limit doubles at 15 s", "model=token-bucket,rate=100,burst=100,change=15s:2", 100, 0),
    ("headers", "fixed window 1 s, IETF headers", "model=fixed-window,limit=150,window=1s,headers=ietf", 150, 1),
]


def start_sandbox(spec):
    p = subprocess.Popen(
        [pacing.CLI, "sandbox", "--port", "0", "--gateway", spec, "--latency-ms", str(LATENCY),
         "--latency-spread-ms", str(SPREAD), "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = p.stdout.readline().strip().removeprefix("listening on ")
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, url


def timeline(url):
    """Second by second of the wall clock, and the Unix second the first one began."""
    with urllib.request.urlopen(url + "/_sandbox/gateway") as r:
        t = json.load(r)
    return t["seconds"], t["start_unix_s"]


def rows_for(spec, allowed, seconds):
    # A limit that moves: rows for `seconds` at the rate after the change.
    m = re.search(r"change=([\d.]+)s:([\d.]+)", spec)
    rate = float(re.search(r"(?:rate|limit)=([\d.]+)", spec).group(1))
    window = re.search(r"window=(\d+)s", spec)
    if window and "limit=" in spec:
        rate /= float(window.group(1))
        # Two whole windows at least after the first 5 s, whatever their alignment.
        seconds = max(seconds, 5 + 3 * float(window.group(1)))
    if m:
        # At least 10 s past the change, so the run sees the limit move.
        at, factor = float(m.group(1)), float(m.group(2))
        return int(rate * at + rate * factor * max(10.0, seconds - at))
    return max(100, int(rate * seconds))


def contender(name, url, rows, oracle_rate):
    if name == "cli":
        return pacing.cli(url, rows, None)
    if name == "oracle":
        return pacing.cli(url, rows, oracle_rate)
    return getattr(pacing, name)(url, rows, None)


def measure(seconds_rows, window, start_unix_s=0):
    """Pace (accepted over allowed, from 5 s on, to the last whole second; for a
    window, over the gateway's whole windows from the first that starts 5 s or
    more into the run to the last that ends before the run's last second: a
    window's quota is spent when the client likes within it) and the share of
    attempts refused over the run."""
    end = len(seconds_rows) - 1
    if window:
        # The gateway's windows start at multiples of their length from the epoch.
        start = 5 + (-(start_unix_s + 5)) % window
        end = start + window * max(0, (end - start) // window)
    else:
        start = 5
    body = seconds_rows[start:end] if end > start else []
    allowed = sum(s[0] for s in body)
    accepted = sum(s[1] for s in body)
    total_acc = sum(s[1] for s in seconds_rows)
    total_ref = sum(s[2] for s in seconds_rows)
    pace = accepted / allowed if allowed else None
    share = total_ref / (total_acc + total_ref) if total_acc + total_ref else 0.0
    return pace, share


def svg(contender_name, runs):
    """One panel per model: accepted (grey) and refused (red) calls per second, the allowed rate (blue)."""
    width, panel_h, gap, left = 900, 110, 34, 50
    height = len(runs) * (panel_h + gap) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<text x="{left}" y="16" font-size="13">{contender_name}: calls accepted (grey) and refused (red) per second; allowed rate (blue)</text>']
    for i, (label, seconds) in enumerate(runs):
        top = 30 + i * (panel_h + gap)
        peak = max([1.0] + [max(s[0], s[1] + s[2]) for s in seconds])
        n = max(1, len(seconds))
        bar = (width - left - 10) / n
        y = lambda v: top + panel_h - panel_h * v / peak  # noqa: E731
        out.append(f'<text x="{left}" y="{top - 6}">{label}</text>')
        out.append(f'<line x1="{left}" y1="{top + panel_h}" x2="{width - 10}" y2="{top + panel_h}" stroke="#999"/>')
        out.append(f'<text x="4" y="{top + 10}">{peak:.0f}/s</text><text x="4" y="{top + panel_h}">0</text>')
        for k, (allowed, acc, ref) in enumerate(seconds):
            x = left + k * bar
            out.append(f'<rect x="{x:.1f}" y="{y(acc):.1f}" width="{max(bar - 1, 0.5):.1f}" height="{top + panel_h - y(acc):.1f}" fill="#bbb"/>')
            if ref:
                out.append(f'<rect x="{x:.1f}" y="{y(acc + ref):.1f}" width="{max(bar - 1, 0.5):.1f}" height="{y(acc) - y(acc + ref):.1f}" fill="#d33"/>')
        pts = " ".join(f"{left + (k + 0.5) * bar:.1f},{y(s[0]):.1f}" for k, s in enumerate(seconds))
        out.append(f'<polyline points="{pts}" fill="none" stroke="#36c" stroke-width="1.5"/>')
        out.append(f'<text x="{width - 60}" y="{top + panel_h + 14}">{n} s</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=25.0)
    p.add_argument("--only", default="cli,python,node,oracle")
    p.add_argument("--models", default=",".join(m[0] for m in MODELS))
    args = p.parse_args()
    contenders = args.only.split(",")
    models = [m for m in MODELS if m[0] in args.models.split(",")]
    results = {}
    timelines = {c: [] for c in contenders}
    for key, label, spec, allowed, window in models:
        rows = rows_for(spec, allowed, args.seconds)
        for c in contenders:
            sandbox, url = start_sandbox(spec)
            try:
                report = contender(c, url, rows, round(0.97 * allowed, 2))
                seconds, start_unix_s = timeline(url)
            finally:
                sandbox.terminate()
                sandbox.wait()
            pace, share = measure(seconds, window, start_unix_s)
            results[(key, c)] = (pace, share, report.get("failed", 0))
            timelines[c].append((label, seconds))
            print(f"{label} / {c}: pace {pace and round(pace, 3)}, 429s {100 * share:.1f}%, "
                  f"failed {report.get('failed', 0)}", file=sys.stderr, flush=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    head = "| gateway | " + " | ".join(contenders) + " |\n|---|" + "---|" * len(contenders) + "\n"
    lines = []
    for key, label, *_ in models:
        cells = []
        for c in contenders:
            pace, share, failed = results[(key, c)]
            cell = f"{pace:.2f}, {100 * share:.1f}%" if pace is not None else f"-, {100 * share:.1f}%"
            cells.append(cell + (f", **{failed} failed**" if failed else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    md = (f"Gateways run {stamp} (source {rev}), {os.cpu_count()} cores: each cell is the pace (accepted "
          f"over allowed, from 5 s on) and the share of attempts throttled; no rate given, 64 in flight, "
          f"about {args.seconds:.0f} s of rows each; `oracle` is the CLI told 97% of the limit.\n\n"
          + head + "\n".join(lines) + "\n")
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/gateways-latest.md"), "w") as f:
        f.write(md)
    for c in contenders:
        with open(os.path.join(ROOT, f"bench/results/gateways-{c}.svg"), "w") as f:
            f.write(svg(c, timelines[c]))
    readme = os.path.join(ROOT, "bench/README.md")
    text = open(readme).read()
    begin, end = "<!-- gateways: begin -->", "<!-- gateways: end -->"
    block = (f"{begin}\n{md}\nPictures: " + ", ".join(f"[{c}](results/gateways-{c}.svg)" for c in contenders)
             + f"\n{end}")
    if begin in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n## Gateways (issue 18)\n\n" + block + "\n"
    with open(readme, "w") as f:
        f.write(text)
    print(md)


if __name__ == "__main__":
    main()
