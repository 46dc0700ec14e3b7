#!/usr/bin/env python3
"""Inspects every native binary in dist/ and checks it is what its name promises.

    python scripts/inspect_dist.py dist/

For each .so in a wheel, each .node in an npm tarball and each CLI binary, prints
the ELF machine, whether it is static or dynamic, the interpreter, the NEEDED
libraries and the highest GLIBC symbol version it requires, then checks:

- the machine matches the name (x86_64 / aarch64);
- manylinux_2_17 wheels and *-gnu npm packages: no GLIBC symbol above 2.17, every
  NEEDED library in the manylinux allow-list;
- musllinux wheels and *-musl npm packages: linked to musl (libc.musl-*.so.1 or
  libc.so), no GLIBC symbol versions;
- the CLIs: static (no interpreter, no NEEDED), so they run on any Linux.

Mach-O and PE files (from the release workflow) are listed, not checked.
Needs pyelftools (scripts/dist.sh installs it). Exits 1 on any failure.
"""

import io
import re
import sys
import tarfile
import zipfile
from pathlib import Path

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
MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64"}
GLIBC_FLOOR = (2, 17)


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


def check(label: str, name: str, data: bytes, kind: str) -> list:
    """kind: 'gnu' (glibc 2.17 floor), 'musl' (dynamic musl) or 'static'."""
    if data[:4] != b"\x7fELF":
        print(f"{label}: not ELF (Mach-O or PE from the release workflow), {len(data)} bytes")
        return []
    f = elf_facts(data)
    glibc = ".".join(map(str, f["glibc"])) if f["glibc"] else "none"
    print(
        f"{label}: {len(data) / 1e6:.1f} MB, {f['machine']}, {f['type']}, {f['linking']}, "
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
    elif kind == "static":
        if f["linking"] != "static":
            problems.append(f"not static: interpreter {f['interp']}, NEEDED {f['needed']}")
    return [f"{label}: {p}" for p in problems]


def wheel_kind(name: str) -> str:
    if "musllinux" in name:
        return "musl"
    if "manylinux" in name:
        return "gnu"
    return "other"


def main(dist: Path) -> int:
    problems = []
    seen = 0
    for path in sorted(dist.iterdir()):
        name = path.name
        if name.endswith(".whl"):
            if "-cp39-abi3-" not in name:
                problems.append(f"{name}: not a cp39-abi3 wheel")
            with zipfile.ZipFile(path) as z:
                libs = [n for n in z.namelist() if n.endswith((".so", ".pyd", ".dylib")) or ".so." in n]
                if not libs:
                    problems.append(f"{name}: no native module")
                for n in libs:
                    seen += 1
                    problems += check(f"{name}!{n}", name, z.read(n), wheel_kind(name))
        elif name.endswith(".tgz"):
            with tarfile.open(path) as t:
                for m in t.getmembers():
                    if m.name.endswith(".node"):
                        seen += 1
                        kind = "musl" if "musl" in name else "gnu" if "-gnu-" in name else "other"
                        problems += check(f"{name}!{m.name}", name, t.extractfile(m).read(), kind)
        elif name.startswith("glair-vision-") and not name.endswith((".crate", ".tgz", ".tar.gz")):
            seen += 1
            kind = "static" if "linux-musl" in name else "other"
            problems += check(name, name, path.read_bytes(), kind)
    print(f"{seen} native binaries inspected")
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    if seen == 0:
        print("FAIL no native binary found", file=sys.stderr)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
