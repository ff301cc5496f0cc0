"""The wheel as a user gets it (root only): `make wheel`'s self-contained manylinux wheel,
installed with pip in a fresh virtualenv inside a fresh mount and network namespace where
the system's libpcap and libcrypto, pcap.h and the C compiler are hidden (empty files
bind-mounted over them). There it must run `fastpkt summary` on the sample, the offline
tests and a live capture on the namespace's own loopback.

The wheel is built once per source state (packaging/build_wheel.sh, ~1-3 min) and cached in
build/wheel-check/<hash of what goes into it>. pip installs it with --no-index: numpy,
pandas, pyarrow and the test tools are the ones this environment has, made visible to the
fresh virtualenv through a .pth file (a machine without a network would have them the same
way, or from a local wheelhouse); only fastpkt comes from the wheel.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "wheel-check"
SAMPLE = ROOT / "examples" / "data" / "sample.pcap"
# Tests that need neither tshark/tcpdump (they link the hidden libpcap) nor the in-place test
# extension (built against the system's libcrypto) nor root.
OFFLINE_TESTS = ("test_dissect_ip.py", "test_dissect_tcp.py", "test_dissect_udp.py",
                 "test_dissect_icmp.py", "test_dissect_link.py", "test_source_formats.py",
                 "test_flow_engine.py", "test_stream_reassembly.py", "test_http_stream.py",
                 "test_summary.py", "test_writer.py", "test_packet_api.py", "test_tables.py",
                 "test_build_layers.py")
# pyarrow's filesystem layer (Parquet files) imports Python's ssl module, whose _ssl needs
# the hidden libcrypto: CPython's dependency, not fastpkt's.
DESELECT = ("test_tables.py::test_parquet_and_csv_round_trip",)
LIVE_PACKETS = 25

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the wheel check needs root (a mount namespace "
                       "hides the system's libpcap, libcrypto, pcap.h and compiler)"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="manylinux wheels are Linux's"),
]


def source_hash() -> str:
    """What the wheel is made of: build scripts, pins, C sources, the Python package."""
    h = hashlib.sha256()
    files = [ROOT / n for n in ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md")]
    files += sorted((ROOT / "packaging").iterdir())
    files += sorted(p for p in (ROOT / "csrc").rglob("*") if p.suffix in (".c", ".h"))
    files += sorted(p for p in (ROOT / "fastpkt").iterdir() if p.suffix in (".py", ".pyi", ".typed"))
    for f in files:
        if f.is_file():
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def wheel() -> Path:
    key = source_hash()
    out = CACHE / key
    found = sorted(out.glob("fastpkt-*-manylinux*.whl"))
    if not found:
        missing = [t for t in ("flex", "bison", "pkg-config", "make") if not shutil.which(t)]
        missing += [m for m in ("build", "auditwheel") if not _has_module(m)]
        if missing:
            pytest.skip("building the wheel needs %s (make sysdeps; pip install -e '.[test]')"
                        % ", ".join(missing))
        for old in CACHE.glob("*"):  # earlier source states
            shutil.rmtree(old, ignore_errors=True)
        # A release build: no sanitizer flags or runtime from `make sanitize` reach it.
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FASTPKT_SANITIZE")}
        r = subprocess.run(["packaging/build_wheel.sh", str(out), sys.executable], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=3600)
        assert r.returncode == 0, r.stderr[-3000:]
        found = sorted(out.glob("fastpkt-*-manylinux*.whl"))
    assert len(found) == 1, found
    return found[0]


def _has_module(name: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(name) is not None


def dependency_dirs(dest: Path) -> None:
    """Symlinks in dest to every installed distribution fastpkt and its tests need (the
    closure of pyproject's dependencies and test extra), never fastpkt itself."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r).name for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    seen: set[str] = set()
    dest.mkdir()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen or name == "fastpkt":
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for req in map(Requirement, dist.requires or ()):
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
        base = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in dist.files or () if not str(f).startswith("..")}
        for top in tops:
            if (base / top).exists() and not (dest / top).exists():
                (dest / top).symlink_to(base / top)


def hidden_paths() -> list[str]:
    """What a machine without libpcap, OpenSSL, their headers and a compiler lacks."""
    libdirs = ["/usr/lib", "/lib", "/usr/local/lib", "/usr/lib64", "/lib64"]
    found: set[str] = set()
    for d in libdirs:
        for dirpath, _, names in os.walk(d):
            for n in names:
                if re.match(r"lib(pcap|crypto)\.(so|a)", n):
                    found.add(os.path.realpath(os.path.join(dirpath, n)))
    for header in ("/usr/include/pcap.h", "/usr/include/pcap/pcap.h", "/usr/local/include/pcap.h"):
        if os.path.exists(header):
            found.add(os.path.realpath(header))
    for tool in ("cc", "gcc", "c89", "c99", "clang", "tcc"):
        path = shutil.which(tool)
        if path:
            found.add(os.path.realpath(path))
    found.update(str(p) for p in Path("/usr/lib/gcc").rglob("cc1") if p.is_file())
    return sorted(p for p in found if os.path.isfile(p))


LIVE = r"""
import socket, sys, threading
import fastpkt as fp
n, out = int(sys.argv[1]), sys.argv[2]
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))
port = sink.getsockname()[1]
cap = fp.Capture("lo", filter="udp dst port %d" % port, count=n, duration=60)
got = []
t = threading.Thread(target=lambda: got.append(cap.read_all()))
t.start()
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    for i in range(n):
        s.sendto(b"wheel %d" % i, ("127.0.0.1", port))
t.join(90)
fp.write(out, got[0])
print(port, len(got[0]))
"""

SCRIPT = r"""
set -eu
cd "$WORK"
# Hidden: empty files over the libraries, headers and compilers; build/deps holds our own
# static libpcap, so it goes too.
for f in $HIDE; do mount --bind /dev/null "$f"; done
mount -t tmpfs none "$REPO/build/deps" 2>/dev/null || true
if cc --version >/dev/null 2>&1 || gcc --version >/dev/null 2>&1; then echo "a compiler still runs" >&2; exit 1; fi
"$BASEPY" -c 'import ctypes, sys
for lib in ("libpcap.so.0.8", "libpcap.so.1", "libcrypto.so.3"):
    try:
        ctypes.CDLL(lib)
    except OSError:
        continue
    sys.exit("%s still loads" % lib)'
ip link set lo up  # the namespace's own loopback: the tests route to it, the capture uses it
"$BASEPY" -m venv venv
echo "$DEPS" > "$(venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_deps.pth"
venv/bin/python -m pip install --no-index --no-cache-dir --disable-pip-version-check -q "$WHEEL"
venv/bin/fastpkt --version > version.txt
venv/bin/fastpkt summary sample.pcap > summary.txt
venv/bin/python -c 'import fastpkt, sys; print(fastpkt.__file__)' > where.txt
(cd tests && ../venv/bin/python -m pytest -q -p no:cacheprovider --tb=short -rfE $TESTS $DESELECT) > pytest.txt 2>&1
venv/bin/python -c "$LIVE" "$LIVE_N" live.pcap > live.txt
"""


def test_wheel_runs_without_system_libraries_headers_or_compiler(wheel, tmp_path):
    if not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs unshare and ip (util-linux, iproute2)")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(SAMPLE, work / "sample.pcap")
    (work / "examples" / "data").mkdir(parents=True)  # where the tests find the sample
    shutil.copy(SAMPLE, work / "examples" / "data" / "sample.pcap")
    shutil.copytree(ROOT / "tests", work / "tests",
                    ignore=shutil.ignore_patterns("_fptest*", "__pycache__", "*.so"))
    dependency_dirs(tmp_path / "deps")
    (ROOT / "build" / "deps").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "FASTPKT_REQUIRE_REFS", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(WORK=str(work), REPO=str(ROOT), WHEEL=str(wheel), DEPS=str(tmp_path / "deps"),
               HIDE=" ".join(hidden_paths()), BASEPY=getattr(sys, "_base_executable", sys.executable),
               TESTS=" ".join(OFFLINE_TESTS), DESELECT=" ".join("--deselect=" + t for t in DESELECT), LIVE=LIVE, LIVE_N=str(LIVE_PACKETS),
               PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    r = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", "bash", "-c", SCRIPT],
                       env=env, capture_output=True, text=True, timeout=1800)
    pytest_out = (work / "pytest.txt").read_text() if (work / "pytest.txt").exists() else ""
    assert r.returncode == 0, (r.stderr[-3000:], pytest_out[-6000:])

    # The package imported there is the wheel's, at the version this tree declares.
    from fastpkt import _version
    assert (work / "version.txt").read_text().strip() == "fastpkt " + _version.__version__
    assert "/venv/lib/" in (work / "where.txt").read_text()
    # The wheel's summary is the development build's (same code, different build and libraries).
    here = subprocess.run([sys.executable, "-m", "fastpkt", "summary", str(SAMPLE)], capture_output=True,
                          text=True, check=True).stdout
    assert (work / "summary.txt").read_text().replace(str(work / "sample.pcap"), "X") == \
        here.replace(str(SAMPLE), "X")
    assert re.search(r"\d+ passed", pytest_out) and "failed" not in pytest_out, pytest_out[-3000:]

    # The live capture, read back by Scapy: every datagram sent on the namespace's loopback.
    scapy_all = pytest.importorskip("scapy.all")
    port, captured = map(int, (work / "live.txt").read_text().split())
    pkts = scapy_all.rdpcap(str(work / "live.pcap"))
    assert captured == len(pkts) == LIVE_PACKETS
    assert [bytes(p[scapy_all.UDP].payload) for p in pkts] == [b"wheel %d" % i for i in range(LIVE_PACKETS)]
    assert {p[scapy_all.UDP].dport for p in pkts} == {port}


def test_wheel_bundles_libraries_and_carries_a_manylinux_tag(wheel):
    """auditwheel's own reading of the wheel: a manylinux tag, and no external library but
    glibc's and zlib (both in every manylinux policy)."""
    r = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True,
                       text=True, check=True)
    text = " ".join(r.stdout.split())
    assert re.search(r'consistent with the following platform tag: "manylinux_2_\d+_\w+"', text), text
    import zipfile
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if "fastpkt.libs/libpcap" in n]  # linked statically,
    assert [n for n in names if n.endswith("licenses/packaging/licenses/libpcap-LICENSE")]  # with its notice
    assert [n for n in names if re.search(r"fastpkt\.libs/libcrypto-\w+\.so", n)]
    assert not [n for n in names if "_fptest" in n or n.startswith("tests/")]
    sdist = sorted(wheel.parent.glob("fastpkt-*.tar.gz"))
    assert len(sdist) == 1 and _version_in(sdist[0].name)


def _version_in(name: str) -> bool:
    from fastpkt import _version
    return ("-%s." % _version.__version__) in name or ("-%s-" % _version.__version__) in name
