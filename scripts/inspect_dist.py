#!/usr/bin/env python3
"""Inspects every native artifact in dist/ and checks it is what its name promises.

    python scripts/inspect_dist.py [--auditwheel] dist/

For each .so in a wheel, each .node in an npm tarball and each CLI binary, prints
the ELF machine, whether it is static or dynamic, the interpreter, the NEEDED
libraries and the highest GLIBC symbol version it requires, then checks:

- the machine matches the name (x86_64 / aarch64);
- manylinux_2_17 wheels and *-gnu npm packages: no GLIBC symbol above 2.17, every
  NEEDED library in the manylinux allow-list;
- musllinux wheels and *-musl npm packages: linked to musl (libc.musl-*.so.1 or
  libc.so), no GLIBC symbol versions, every NEEDED library in the musllinux
  allow-list;
- the CLIs: static (no interpreter, no NEEDED), so they run on any Linux;
- wheels: a cp39-abi3 tag and at least one native module; with --auditwheel,
  `auditwheel show --json` must find each Linux wheel consistent with the platform
  tag its name claims (or a more compatible one).

auditwheel resolves a wheel's libraries on the machine it runs on. For a musllinux
wheel on a glibc host that finds glibc's `libc.so`, which is a linker script (text)
wherever the C development files are installed, and auditwheel crashes on it. So
musllinux wheels are shown with an explicit, empty library path (`--ldpaths`), and
auditwheel still checks the architecture, the ISA level, the symbols and the
libraries needed. One difference is allowed: a zig-linked musl module names its
libc `libc.so`, which auditwheel's allow-list spells `libc.musl-<arch>.so.1`; musl's
loader maps either name to itself, so when `libc.so` is the only library auditwheel
objects to, its symbol tag decides. The checks above (machine, musl libc, no GLIBC
versions, NEEDED in the musllinux allow-list) stand beside it.

Every check runs; each result is printed as `ok` or `FAIL`, and the run ends with
the list of what failed (exit 1), so one broken artifact never hides another.
Mach-O and PE files (from the release workflow) are listed, not checked.
Needs pyelftools (scripts/dist.sh installs it, and auditwheel).
"""

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

# PEP 600 / auditwheel's manylinux allow-list (the libraries every manylinux system has).
MANYLINUX_LIBS = {
    "libgcc_s.so.1", "libstdc++.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libc.so.6",
    "libnsl.so.1", "libutil.so.1", "libpthread.so.0", "libresolv.so.2", "libX11.so.6",
    "libXext.so.6", "libXrender.so.1", "libICE.so.6", "libSM.so.6", "libGL.so.1",
    "libgobject-2.0.so.0", "libgthread-2.0.so.0", "libglib-2.0.so.0", "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}
# auditwheel's musllinux_1_2 allow-list, and musl's own names for its libc.
MUSLLINUX_LIBS = {"libc.so", "libz.so.1"}
MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}
GLIBC_FLOOR = (2, 17)


class Report:
    """Every check's result, printed as it is recorded."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.checks = 0

    def ok(self, label: str, detail: str) -> None:
        self.checks += 1
        print(f"ok   {label}: {detail}")

    def fail(self, label: str, detail: str) -> None:
        self.checks += 1
        self.failed.append(f"{label}: {detail}")
        print(f"FAIL {label}: {detail}")

    def result(self, label: str, detail: str, problems: list) -> None:
        if problems:
            self.fail(label, f"{detail}; " + "; ".join(problems))
        else:
            self.ok(label, detail)


def elf_facts(data: bytes) -> dict:
    elf = ELFFile(io.BytesIO(data))
    facts = {"machine": MACHINES.get(elf["e_machine"], elf["e_machine"]), "interp": None, "needed": [], "glibc": None}
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_INTERP":
            facts["interp"] = seg.get_interp_name()
    for sec in elf.iter_sections():
        if isinstance(sec, DynamicSection):
            facts["needed"] = [t.needed for t in sec.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
        if isinstance(sec, GNUVerNeedSection):
            versions = []
            for _, auxes in sec.iter_versions():
                for aux in auxes:
                    m = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.(\d+))?", aux.name)
                    if m:
                        versions.append(tuple(int(x) for x in m.groups() if x is not None))
            if versions:
                facts["glibc"] = max(versions)
    facts["linking"] = "dynamic" if (facts["interp"] or facts["needed"]) else "static"
    facts["type"] = elf["e_type"]
    return facts


def expected_machine(name: str) -> str:
    if "aarch64" in name or "arm64" in name:
        return "aarch64"
    return "x86_64"


def check_binary(report: Report, label: str, name: str, data: bytes, kind: str) -> None:
    """kind: 'gnu' (glibc 2.17 floor), 'musl' (dynamic musl), 'static' or 'other'."""
    if data[:4] != b"\x7fELF":
        if kind == "other":
            report.ok(label, f"not ELF (Mach-O or PE from the release workflow), {len(data)} bytes, listed only")
        else:
            report.fail(label, f"not an ELF file, but its name says Linux ({len(data)} bytes)")
        return
    try:
        f = elf_facts(data)
    except ELFError as e:
        report.fail(label, f"unreadable ELF: {e}")
        return
    glibc = ".".join(map(str, f["glibc"])) if f["glibc"] else "none"
    detail = (
        f"{len(data) / 1e6:.1f} MB, {f['machine']}, {f['type']}, {f['linking']}, "
        f"interpreter {f['interp'] or 'none'}, NEEDED {', '.join(f['needed']) or 'none'}, highest GLIBC symbol {glibc}"
    )
    problems = []
    if f["machine"] != expected_machine(name):
        problems.append(f"machine {f['machine']}, expected {expected_machine(name)}")
    if kind == "gnu":
        if f["glibc"] and f["glibc"] > GLIBC_FLOOR:
            problems.append(f"needs GLIBC {glibc} > 2.17")
        outside = [n for n in f["needed"] if n not in MANYLINUX_LIBS]
        if outside:
            problems.append(f"NEEDED outside the manylinux allow-list: {outside}")
    elif kind == "musl":
        if f["glibc"]:
            problems.append(f"requires GLIBC {glibc} symbols but is a musl build")
        if not any(n.startswith("libc.musl-") or n == "libc.so" for n in f["needed"]):
            problems.append(f"not linked to musl libc (NEEDED {f['needed']})")
        outside = [n for n in f["needed"] if n not in MUSLLINUX_LIBS and not n.startswith("libc.musl-")]
        if outside:
            problems.append(f"NEEDED outside the musllinux allow-list: {outside}")
    elif kind == "static":
        if f["linking"] != "static":
            problems.append(f"not static: interpreter {f['interp']}, NEEDED {f['needed']}")
    report.result(label, detail, problems)


def wheel_kind(name: str) -> str:
    if "musllinux" in name:
        return "musl"
    if "manylinux" in name:
        return "gnu"
    return "other"


def claimed_policies(name: str) -> list:
    """The (family, major, minor) of each Linux platform tag in a wheel's name."""
    platforms = name[: -len(".whl")].split("-")[-1]
    # manylinux2014 is PEP 600's manylinux_2_17.
    tags = (t.replace("manylinux2014_", "manylinux_2_17_", 1) for t in platforms.split("."))
    return [p for p in map(policy_of, tags) if p]


def policy_of(tag: str):
    """('manylinux', 2, 17) of 'manylinux_2_17_x86_64'; None for 'linux_x86_64'."""
    m = re.match(r"(manylinux|musllinux)_(\d+)_(\d+)_", tag or "")
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


def auditwheel_show(report: Report, path: Path, empty_dir: str) -> None:
    """`auditwheel show --json`: the wheel must be consistent with every tag it claims."""
    name = path.name
    label = f"{name} (auditwheel show)"
    claims = claimed_policies(name)
    if not claims:
        report.ok(label, "not a Linux wheel, not audited")
        return
    musl = wheel_kind(name) == "musl"
    cmd = [sys.executable, "-m", "auditwheel", "show", "--json"]
    if musl:
        cmd += ["--ldpaths", empty_dir]
    run = subprocess.run([*cmd, str(path)], capture_output=True, text=True)
    if run.returncode != 0:
        tail = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
        report.fail(label, f"auditwheel exited {run.returncode}: {tail}")
        return
    try:
        shown = json.loads(run.stdout)
    except ValueError:
        report.fail(label, f"auditwheel printed no JSON: {run.stdout[:200]!r}")
        return
    overall = shown.get("overall_tag", "")
    found = policy_of(overall)
    detail = f"consistent with {overall or '?'}"
    if musl and found is None:
        # A zig-linked musl module names its libc `libc.so`, where auditwheel's
        # musllinux allow-list spells it `libc.musl-<arch>.so.1` (Alpine's soname);
        # musl's loader maps either name to itself. So when libc.so is the one
        # library auditwheel would have removed, the symbols decide.
        upgrades = [u for tag, u in shown.get("policy_upgrades", {}).items() if tag.startswith("musllinux_")]
        if upgrades and all(u == {"libs_to_eliminate": ["libc.so"]} for u in upgrades):
            found = policy_of(shown.get("sym_tag", ""))
            detail = f"consistent with {shown.get('sym_tag')} (its one external library, libc.so, is musl itself)"
    problems = []
    if found is None:
        problems.append(f"auditwheel finds no {claims[0][0]} tag it is consistent with: {shown.get('policy_upgrades')}")
    else:
        for claim in claims:
            if claim[0] != found[0] or found[1:] > claim[1:]:
                problems.append(f"its name claims {claim[0]}_{claim[1]}_{claim[2]}")
    if shown.get("unsupported_isa"):
        problems.append("uses an instruction set above the architecture's baseline")
    report.result(label, detail, problems)


def inspect(dist: Path, audit: bool) -> Report:
    report = Report()
    binaries = 0
    with tempfile.TemporaryDirectory() as empty_dir:
        for path in sorted(dist.iterdir()):
            name = path.name
            if name.endswith(".whl"):
                if "-cp39-abi3-" not in name:
                    report.fail(name, "not a cp39-abi3 wheel")
                try:
                    with zipfile.ZipFile(path) as z:
                        libs = [n for n in z.namelist() if n.endswith((".so", ".pyd", ".dylib")) or ".so." in n]
                        if not libs:
                            report.fail(name, "no native module")
                        for n in libs:
                            binaries += 1
                            check_binary(report, f"{name}!{n}", name, z.read(n), wheel_kind(name))
                except zipfile.BadZipFile as e:
                    report.fail(name, f"not a zip archive: {e}")
                    continue
                if audit:
                    auditwheel_show(report, path, empty_dir)
            elif name.endswith(".tgz"):
                try:
                    with tarfile.open(path) as t:
                        for m in t.getmembers():
                            if m.name.endswith(".node"):
                                binaries += 1
                                kind = "musl" if "musl" in name else "gnu" if "-gnu-" in name else "other"
                                check_binary(report, f"{name}!{m.name}", name, t.extractfile(m).read(), kind)
                except tarfile.TarError as e:
                    report.fail(name, f"not a tar archive: {e}")
            elif name.startswith("glair-vision-") and not name.endswith((".crate", ".tar.gz")):
                binaries += 1
                kind = "static" if "linux-musl" in name else "other"
                check_binary(report, name, name, path.read_bytes(), kind)
    if binaries == 0:
        report.fail(str(dist), "no native binary found")
    print(f"{binaries} native binaries inspected, {report.checks} checks")
    return report


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auditwheel", action="store_true", help="also run `auditwheel show` on each Linux wheel")
    parser.add_argument("dist", nargs="?", default="dist", type=Path)
    args = parser.parse_args(argv)
    report = inspect(args.dist, args.auditwheel)
    if report.failed:
        print(f"\n{len(report.failed)} of {report.checks} checks failed:", file=sys.stderr)
        for line in report.failed:
            print(f"  FAIL {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
