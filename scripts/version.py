#!/usr/bin/env python3
"""One version for every package: the workspace version in Cargo.toml.

    python3 scripts/version.py            propagate Cargo.toml's version to the npm files
    python3 scripts/version.py 0.2.0      set the workspace version, then propagate it
    python3 scripts/version.py --check    exit 1 if any file disagrees (run by the tests)
    python3 scripts/version.py --print    print the version

Where the version lives:
- Cargo.toml `[workspace.package] version` (the source), and the `version` of the
  workspace's path dependencies on glair-vision / glair-vision-sandbox;
- Python: none to write. pyproject.toml has `dynamic = ["version"]`, so maturin takes
  the binding crate's (= workspace) version, and `glair_vision.__version__` is the
  core's `glair_vision::VERSION`;
- the CLI's `--version` is the crate's (workspace) version;
- node/package.json and node/package-lock.json; the platform packages and the main
  package's optionalDependencies are generated from node/package.json at pack time
  (node/scripts/pack.js), so they cannot disagree.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARGO = ROOT / "Cargo.toml"
PACKAGE_JSON = ROOT / "node" / "package.json"
PACKAGE_LOCK = ROOT / "node" / "package-lock.json"
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
WS_VERSION = re.compile(r'(\[workspace\.package\][^\[]*?\nversion\s*=\s*")([^"]+)(")', re.S)
PATH_DEP = re.compile(r'^(glair-vision(?:-sandbox)?\s*=\s*\{[^}\n]*version\s*=\s*")([^"]+)(")', re.M)


def cargo_version() -> str:
    m = WS_VERSION.search(CARGO.read_text())
    if not m:
        sys.exit("scripts/version.py: no [workspace.package] version in Cargo.toml")
    return m.group(2)


def set_cargo_version(version: str) -> None:
    text = WS_VERSION.sub(lambda m: m.group(1) + version + m.group(3), CARGO.read_text(), count=1)
    text = PATH_DEP.sub(lambda m: m.group(1) + version + m.group(3), text)
    CARGO.write_text(text)
    # Cargo.lock records the workspace crates' versions.
    subprocess.run(["cargo", "update", "--workspace", "--offline"], cwd=ROOT, check=True)


def npm_files(version: str) -> dict:
    """The npm files' text with `version` written in (unchanged text when equal)."""
    out = {}
    pkg = json.loads(PACKAGE_JSON.read_text())
    pkg["version"] = version
    out[PACKAGE_JSON] = json.dumps(pkg, indent=2) + "\n"
    if PACKAGE_LOCK.exists():
        lock = json.loads(PACKAGE_LOCK.read_text())
        lock["version"] = version
        lock.setdefault("packages", {}).setdefault("", {})["version"] = version
        out[PACKAGE_LOCK] = json.dumps(lock, indent=2) + "\n"
    return out


def mismatches(version: str) -> list:
    bad = []
    for m in PATH_DEP.finditer(CARGO.read_text()):
        if m.group(2) != version:
            bad.append(f"Cargo.toml: {m.group(0).split('=')[0].strip()} path dependency has version {m.group(2)}")
    pkg = json.loads(PACKAGE_JSON.read_text())
    if pkg.get("version") != version:
        bad.append(f"node/package.json: version {pkg.get('version')}")
    if PACKAGE_LOCK.exists():
        lock = json.loads(PACKAGE_LOCK.read_text())
        for where, v in (("version", lock.get("version")), ('packages[""].version', lock.get("packages", {}).get("", {}).get("version"))):
            if v != version:
                bad.append(f"node/package-lock.json: {where} {v}")
    return bad


def main(argv: list) -> int:
    if argv == ["--print"]:
        print(cargo_version())
        return 0
    if argv == ["--check"]:
        version = cargo_version()
        bad = mismatches(version)
        for b in bad:
            print(f"version mismatch (workspace is {version}): {b}", file=sys.stderr)
        if bad:
            print("run: python3 scripts/version.py", file=sys.stderr)
            return 1
        print(f"all package versions are {version}")
        return 0
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print(__doc__, file=sys.stderr)
        return 2
    if argv:
        if not SEMVER.match(argv[0]):
            sys.exit(f"scripts/version.py: {argv[0]!r} is not a semver version")
        set_cargo_version(argv[0])
    version = cargo_version()
    for path, text in npm_files(version).items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}")
    print(f"version {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
