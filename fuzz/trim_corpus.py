#!/usr/bin/env python3
"""Picks at most N inputs of a corpus that cover the most code edges, greedily,
from a libFuzzer merge control file (`-merge=1 -merge_control_file=FILE`), and
copies them to OUT. Inputs under SEEDS (the documented samples) are picked first:
all of them when they are few (at most N/4), else each that adds an edge. Usage: trim_corpus.py CONTROL_FILE OUT N [SEEDS]"""

import os
import shutil
import sys


def main():
    control, out, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seeds = os.path.abspath(sys.argv[4]) + os.sep if len(sys.argv) > 4 else None
    with open(control) as f:
        lines = f.read().splitlines()
    count = int(lines[0])
    paths = lines[2:2 + count]
    edges = {}
    for line in lines[2 + count:]:
        kind, _, rest = line.partition(" ")
        if kind == "COV":
            index, *cov = rest.split()
            edges[int(index)] = set(cov)
    reached = set().union(*edges.values()) if edges else set()
    covered, chosen = set(), []

    def pick(candidates, keep_all=False):
        while len(chosen) < limit:
            # Most new edges first; the smaller file on a tie.
            best = max(candidates, default=None,
                       key=lambda i: (len(edges[i] - covered), -os.path.getsize(paths[i])))
            if best is None or not (keep_all or edges[best] - covered):
                return
            covered.update(edges.pop(best))
            candidates.remove(best)
            chosen.append(paths[best])

    if seeds:
        seeded = [i for i in edges if os.path.abspath(paths[i]).startswith(seeds)]
        pick(seeded, keep_all=len(seeded) <= limit // 4)
    pick(list(edges))
    os.makedirs(out, exist_ok=True)
    for path in chosen:
        shutil.copy(path, out)
    print(f"kept {len(chosen)} inputs covering {len(covered)} of {len(reached)} edges")


if __name__ == "__main__":
    main()
