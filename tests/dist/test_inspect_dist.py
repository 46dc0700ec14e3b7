"""scripts/inspect_dist.py over artifacts of every kind dist.sh makes.

The cross-built artifacts (aarch64 and musl wheels and npm packages, the static
CLIs) take half an hour to build, so they are stood in for by small fixtures: real
ELF files that `zig cc` (the compiler dist.sh cross-builds with) makes here for each
target, packed and named as dist.sh packs and names the real ones. A good set must
pass; a set with one broken artifact of each kind must fail, naming every one of
them, while the good artifacts beside them are still inspected and pass.

Run by scripts/test.sh with dist.sh's tool venv (pyelftools, auditwheel, ziglang):
    target/dist-tools/bin/python -m pytest tests/dist
"""

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSPECT = ROOT / "scripts" / "inspect_dist.py"
V = "0.1.0"

# auditwheel audits Python extensions: a module exports PyInit_<name>.
LIBRARY = "#include <unistd.h>\nvoid *PyInit__native(void) { return (void *)(long)getpid(); }\n"
# getrandom is versioned GLIBC_2.25: above the manylinux_2_17 floor.
NEWER_GLIBC = (
    "#include <sys/random.h>\nvoid *PyInit__native(void) { char b[4]; return (void *)(long)getrandom(b, 4, 0); }\n"
)
PROGRAM = "#include <unistd.h>\nint main(void) { return getpid() < 0; }\n"


def zig_cc(tmp: Path, name: str, target: str, source: str, *flags: str) -> bytes:
    src = tmp / f"{name}.c"
    src.write_text(source)
    out = tmp / name
    subprocess.run(
        [sys.executable, "-m", "ziglang", "cc", "-target", target, "-O1", *flags, "-o", str(out), str(src)],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def wheel(path: Path, tag: str, module: bytes = None) -> None:
    """A wheel as maturin lays it out: the extension module and a dist-info."""
    info = f"glair_vision-{V}.dist-info"
    files = {
        "glair_vision/__init__.py": b"",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: glair-vision\nVersion: {V}\n".encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n".encode(),
    }
    if module is not None:
        files["glair_vision/_native.abi3.so"] = module
    # auditwheel reads the files a wheel holds from its RECORD.
    record = "".join(f"{name},," + "\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr(f"{info}/RECORD", record)


def npm_package(path: Path, key: str, addon: bytes = None) -> None:
    with tarfile.open(path, "w:gz") as t:
        files = {"package/package.json": b'{"name": "glair-vision"}'}
        if addon is not None:
            files[f"package/glair-vision.{key}.node"] = addon
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    """One of each binary kind, built once for the module."""
    tmp = tmp_path_factory.mktemp("elf")
    lib = ("-shared", "-fPIC")
    return {
        "gnu-x86_64": zig_cc(tmp, "gnu-x86_64.so", "x86_64-linux-gnu.2.17", LIBRARY, *lib),
        "gnu-aarch64": zig_cc(tmp, "gnu-aarch64.so", "aarch64-linux-gnu.2.17", LIBRARY, *lib),
        "musl-x86_64": zig_cc(tmp, "musl-x86_64.so", "x86_64-linux-musl", LIBRARY, *lib),
        "musl-aarch64": zig_cc(tmp, "musl-aarch64.so", "aarch64-linux-musl", LIBRARY, *lib),
        "gnu-x86_64-2.28": zig_cc(tmp, "gnu-new.so", "x86_64-linux-gnu.2.28", NEWER_GLIBC, *lib),
        "static-x86_64": zig_cc(tmp, "cli-x86_64", "x86_64-linux-musl", PROGRAM, "-static"),
        "static-aarch64": zig_cc(tmp, "cli-aarch64", "aarch64-linux-musl", PROGRAM, "-static"),
        "dynamic-x86_64": zig_cc(tmp, "cli-dynamic", "x86_64-linux-gnu.2.17", PROGRAM),
    }


def good_set(dist: Path, elf: dict) -> None:
    dist.mkdir(exist_ok=True)
    for arch in ("x86_64", "aarch64"):
        wheel(
            dist / f"glair_vision-{V}-cp39-abi3-manylinux_2_17_{arch}.manylinux2014_{arch}.whl",
            f"cp39-abi3-manylinux_2_17_{arch}",
            elf[f"gnu-{arch}"],
        )
        wheel(dist / f"glair_vision-{V}-cp39-abi3-musllinux_1_2_{arch}.whl", f"cp39-abi3-musllinux_1_2_{arch}", elf[f"musl-{arch}"])
        cpu = "x64" if arch == "x86_64" else "arm64"
        for libc in ("gnu", "musl"):
            key = f"linux-{cpu}-{libc}"
            npm_package(dist / f"glair-vision-{key}-{V}.tgz", key, elf[f"{libc}-{arch}"])
        (dist / f"glair-vision-{V}-{arch}-unknown-linux-musl").write_bytes(elf[f"static-{arch}"])
    npm_package(dist / f"glair-vision-{V}.tgz", "main")
    # The release workflow's macOS CLI: listed, not checked.
    (dist / f"glair-vision-{V}-aarch64-apple-darwin").write_bytes(b"\xcf\xfa\xed\xfe" + bytes(60))
    (dist / f"glair-vision-{V}.crate").write_bytes(b"not inspected")
    (dist / f"glair_vision-{V}.tar.gz").write_bytes(b"not inspected")


def inspect(dist: Path):
    return subprocess.run(
        [sys.executable, str(INSPECT), "--auditwheel", str(dist)], capture_output=True, text=True
    )


def test_every_kind_of_artifact_passes_with_auditwheel_on_musl_wheels_too(tmp_path, elf):
    dist = tmp_path / "dist"
    good_set(dist, elf)
    run = inspect(dist)
    assert run.returncode == 0, run.stdout + run.stderr
    ok = [line for line in run.stdout.splitlines() if line.startswith("ok ")]
    for name in (p.name for p in dist.iterdir() if not p.name.endswith((".crate", ".tar.gz", f"{V}.tgz"))):
        assert any(name in line for line in ok), f"{name} not inspected:\n{run.stdout}"
    # Each Linux wheel went through auditwheel, the musl ones included.
    audited = [line for line in ok if "(auditwheel show)" in line]
    assert len(audited) == 4, run.stdout
    assert sum("consistent with musllinux_1_" in line for line in audited) == 2, run.stdout
    assert sum("consistent with manylinux_2_" in line for line in audited) == 2, run.stdout
    assert "FAIL" not in run.stdout + run.stderr
    assert "11 native binaries inspected" in run.stdout


def test_every_broken_artifact_is_named_and_none_hides_the_others(tmp_path, elf):
    dist = tmp_path / "dist"
    good_set(dist, elf)
    broken = {
        # Needs GLIBC 2.25 yet claims manylinux_2_17 (auditwheel agrees).
        f"glair_vision-{V}-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl": elf["gnu-x86_64-2.28"],
        # An x86_64 module in an aarch64 wheel.
        f"glair_vision-{V}-cp39-abi3-musllinux_1_2_aarch64.whl": elf["musl-x86_64"],
    }
    for name, module in broken.items():
        tag = name.split("-", 2)[2][: -len(".whl")].split(".")[0]
        wheel(dist / name, tag, module)
    wheel(dist / f"glair_vision-{V}-cp311-cp311-manylinux_2_17_x86_64.whl", "cp311-cp311-manylinux_2_17_x86_64", elf["gnu-x86_64"])
    # A glibc addon in the arm64 musl package; a dynamic CLI named static.
    npm_package(dist / f"glair-vision-linux-arm64-musl-{V}.tgz", "linux-arm64-musl", elf["gnu-aarch64"])
    (dist / f"glair-vision-{V}-x86_64-unknown-linux-musl").write_bytes(elf["dynamic-x86_64"])

    run = inspect(dist)
    assert run.returncode == 1, run.stdout + run.stderr
    summary = run.stderr[run.stderr.index("checks failed:") :]
    expected = {
        f"glair_vision-{V}-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl!": "needs GLIBC 2.25 > 2.17",
        f"glair_vision-{V}-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (auditwheel show)": "claims manylinux_2_17",
        f"glair_vision-{V}-cp39-abi3-musllinux_1_2_aarch64.whl!": "machine x86_64, expected aarch64",
        f"glair_vision-{V}-cp311-cp311-manylinux_2_17_x86_64.whl": "not a cp39-abi3 wheel",
        f"glair-vision-linux-arm64-musl-{V}.tgz!": "not linked to musl libc",
        f"glair-vision-{V}-x86_64-unknown-linux-musl": "not static",
    }
    for label, why in expected.items():
        assert any(label in line and why in line for line in summary.splitlines()), f"{label}: {why}\n{summary}"
    # The sound artifacts beside them were inspected and passed.
    for name in (
        f"glair_vision-{V}-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl (auditwheel show)",
        f"glair_vision-{V}-cp39-abi3-musllinux_1_2_x86_64.whl (auditwheel show)",
        f"glair-vision-linux-x64-musl-{V}.tgz!",
        f"glair-vision-{V}-aarch64-unknown-linux-musl",
    ):
        assert any(line.startswith("ok ") and name in line for line in run.stdout.splitlines()), f"{name}\n{run.stdout}"


def test_an_empty_or_unreadable_dist_fails_clearly(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = inspect(empty)
    assert run.returncode == 1 and "no native binary found" in run.stderr
    (empty / f"glair_vision-{V}-cp39-abi3-musllinux_1_2_x86_64.whl").write_bytes(b"not a zip")
    (empty / f"glair-vision-linux-x64-gnu-{V}.tgz").write_bytes(b"not a tarball")
    run = inspect(empty)
    assert run.returncode == 1
    assert "not a zip archive" in run.stderr and "not a tar archive" in run.stderr
