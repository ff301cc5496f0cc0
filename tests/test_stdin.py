"""Streams: stdin (`fp.open("-")`) in a subprocess, pipes fed in small chunks, file
objects. A stream must give the same packets as the file, and report truncation the
same way."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import DATA

REPO = Path(__file__).resolve().parents[1]
# A deadlock shows as a child that never exits: this guard bounds that failure, generously
# (the child needs well under a second; the machine may be busy).
DEADLOCK_GUARD_S = 60

CHILD = r"""
import hashlib, json, sys
import fastpkt as fp
out = {"packets": [], "error": None}
try:
    with fp.open("-", on_error=sys.argv[1]) as r:
        for p in r:
            out["packets"].append([p.time_ns, p.caplen, p.wirelen, p.linktype, p.interface,
                                   hashlib.sha1(p.raw).hexdigest()])
        out["format"] = r.format
        out["size"] = r.size
        out["stop_error"] = type(r.error).__name__ if r.error is not None else None
except fp.Error as e:
    out["error"] = type(e).__name__
    out["packet_index"] = e.packet_index
print(json.dumps(out))
"""


def run_child(stdin_bytes: bytes, on_error: str = "raise") -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", CHILD, on_error], input=stdin_bytes,
                       capture_output=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return json.loads(r.stdout)


def summary(path: Path) -> list:
    import hashlib

    return [[p.time_ns, p.caplen, p.wirelen, p.linktype, p.interface,
             hashlib.sha1(p.raw).hexdigest()] for p in fp.read(str(path))]


@pytest.mark.parametrize("name", ["le_usec.pcap", "be_usec.pcap", "ns_be.pcap",
                                  "two_if.pcapng", "ipv6_ext_frag.pcap"])
def test_stdin_equals_file(name):
    got = run_child((DATA / name).read_bytes())
    assert got["error"] is None
    assert got["packets"] == summary(DATA / name)
    assert got["format"] == ("pcapng" if name.endswith("pcapng") else "pcap")
    assert got["size"] == 0


def test_stdin_truncated():
    blob = (DATA / "be_usec.pcap").read_bytes()[:-3]
    got = run_child(blob)
    assert got["error"] == "TruncatedError" and got["packet_index"] == 3
    assert len(got["packets"]) == 3
    got = run_child(blob, "stop")
    assert got["error"] is None and got["stop_error"] == "TruncatedError"
    assert len(got["packets"]) == 3


def test_stdin_empty_and_garbage():
    assert run_child(b"")["error"] in ("FormatError", "TruncatedError")
    assert run_child(b"GET / HTTP/1.1\r\n\r\n" * 4)["error"] == "FormatError"


FEEDER = r"""
import sys, time
data = open(sys.argv[1], "rb").read()[: int(sys.argv[3])]
chunk = int(sys.argv[2])
out = sys.stdout.buffer
for i in range(0, len(data), chunk):
    out.write(data[i:i + chunk])
    out.flush()
    if i % (chunk * 16) == 0:
        time.sleep(0.001)  # traffic shaping: the reader finds the pipe empty now and then
"""


def _pipe_reader(path: Path, chunk: int, limit: int | None = None) -> subprocess.Popen:
    """A separate process writing the capture into a pipe in small chunks."""
    size = path.stat().st_size if limit is None else limit
    return subprocess.Popen([sys.executable, "-c", FEEDER, str(path), str(chunk), str(size)],
                            stdout=subprocess.PIPE)


@pytest.mark.parametrize("name,chunk", [("two_if.pcapng", 7), ("ns_le.pcap", 1),
                                        ("dns.pcap", 100)])
def test_pipe_in_small_chunks(name, chunk):
    blob = (DATA / name).read_bytes()
    proc = _pipe_reader(DATA / name, chunk)
    with proc.stdout as f:
        with fp.open(f) as r:
            got = [(p.time_ns, p.raw) for p in r]
            assert r.size == 0
            assert r.position == len(blob)
    proc.wait(30)
    assert got == [(p.time_ns, p.raw) for p in fp.read(str(DATA / name))]


def test_pipe_truncated_pcapng():
    path = DATA / "two_if.pcapng"
    proc = _pipe_reader(path, 64, path.stat().st_size - 10)
    got = []
    with proc.stdout as f, pytest.raises(fp.TruncatedError) as ei:
        for p in fp.open(f):
            got.append(p)
    proc.wait(30)
    assert len(got) == 6 and ei.value.packet_index == 6


def test_filter_on_stream():
    proc = _pipe_reader(DATA / "be_usec.pcap", 50)
    with proc.stdout as f:
        got = fp.read(f, filter="udp")
    proc.wait(30)
    assert len(got) == 2


GIL_CHILD = r"""
import os, sys, threading
import fastpkt as fp
data = open(sys.argv[1], "rb").read()
rfd, wfd = os.pipe()
def feed():
    with os.fdopen(wfd, "wb", buffering=0) as w:
        for i in range(0, len(data), 5):
            w.write(data[i:i + 5])
t = threading.Thread(target=feed, daemon=True)
t.start()
with os.fdopen(rfd, "rb", buffering=0) as f:
    n = len(fp.read(f))
t.join()
print(n)
"""


GIL_FIFO_CHILD = r"""
import os, sys, tempfile, threading, time
import fastpkt as fp
data = open(sys.argv[1], "rb").read()
d = tempfile.mkdtemp()
fifo = os.path.join(d, "capture.fifo")
os.mkfifo(fifo)
def feed():
    with open(fifo, "wb", buffering=0) as w:
        for i in range(0, len(data), 5):
            w.write(data[i:i + 5])
            time.sleep(0.001)  # traffic shaping: the reader must wait for data, GIL released
t = threading.Thread(target=feed, daemon=True)
t.start()
with fp.open(fifo) as r:  # the lazy iterator: each next() may wait for the producer
    n = sum(1 for _ in r)
t.join()
os.unlink(fifo)
os.rmdir(d)
print(n)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_path_read_releases_the_gil():
    """Same as below for a named pipe given by path (read as a stream, not mmap'd)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    try:
        r = subprocess.run([sys.executable, "-c", GIL_FIFO_CHILD, str(DATA / "two_if.pcapng")],
                           capture_output=True, text=True, env=env, timeout=DEADLOCK_GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: iterating fp.open(<fifo path>) blocks in read() holding the "
                    "GIL, so the producer thread never runs", pytrace=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "7"


def test_blocking_read_releases_the_gil():
    """A Python thread producing into a pipe that fp.open() consumes in the same process:
    if the reader blocks in read(2) while holding the GIL, the producer can never run
    and the process deadlocks. Run in a child with a time limit so a deadlock is a
    failure, not a hung test suite."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    try:
        r = subprocess.run([sys.executable, "-c", GIL_CHILD, str(DATA / "two_if.pcapng")],
                           capture_output=True, text=True, env=env, timeout=DEADLOCK_GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: fp.open(pipe) blocks in read() holding the GIL, so the "
                    "producer thread never runs (release the GIL around blocking reads)",
                    pytrace=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "7"


def test_file_object_keeps_working_after_reader(tmp_path):
    with open(DATA / "le_usec.pcap", "rb") as f:
        n = len(fp.read(f))
        assert not f.closed
    assert n == 5


# ---- claimed lengths are judged before buffering (csrc/source/pcap.c, pcapng.c) ----

def _pcapng_block(btype: int, body: bytes, claim: int | None = None) -> bytes:
    import struct

    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, claim or n) + body + struct.pack("<I", n)


def _pcapng_head(snaplen: int = 65535) -> bytes:
    import struct

    shb = _pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    return shb + _pcapng_block(1, struct.pack("<HHI", 1, 0, snaplen))


def _epb(data: bytes, claim: int | None = None) -> bytes:
    import struct

    return _pcapng_block(6, struct.pack("<IIIII", 0, 0, 1000, len(data), len(data)) + data, claim)


def _pcap_head_and_records(n: int) -> bytes:
    import struct

    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i in range(n):
        out += struct.pack("<IIII", 1000 + i, 0, 60, 60) + bytes(60)
    return out


LIMIT_CHILD = r"""
import json, resource
import fastpkt as fp
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
got, err = 0, None
try:
    for p in fp.open("-"):
        got += 1
except fp.Error as e:
    err = [type(e).__name__, e.packet_index, str(e)]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"packets": got, "error": err, "grew_kib": after - before}))
"""


def _claim_on_stdin(head: bytes) -> dict:
    """Send `head`, then zeros (up to 300 MiB) for as long as the child keeps reading."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-c", LIMIT_CHILD], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    zeros = bytes(1 << 20)
    try:
        proc.stdin.write(head)
        for _ in range(300):
            proc.stdin.write(zeros)
    except BrokenPipeError:
        pass
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    out = proc.stdout.read()
    assert proc.wait(60) == 0
    return json.loads(out)


@pytest.mark.parametrize("kind", ["pcapng", "pcap"])
def test_huge_claim_on_stdin_fails_before_buffering(kind):
    """A pcapng block claiming 256 MiB (or a pcap record claiming 200 MiB) on a pipe: the
    packets before it, then FormatError, with the claim never buffered (RSS stays small)."""
    import struct

    if kind == "pcapng":
        head = _pcapng_head() + b"".join(_epb(bytes(60)) for _ in range(3))
        head += _epb(bytes(60), claim=256 << 20)
    else:
        head = _pcap_head_and_records(3) + struct.pack("<IIII", 2000, 0, 200 << 20, 200 << 20)
    got = _claim_on_stdin(head)
    assert got["grew_kib"] < 32 * 1024, got   # the stream buffer, not the claim
    assert got["packets"] == 3
    assert got["error"][:2] == ["FormatError", 3], got["error"]
    assert "more than" in got["error"][2]


def test_block_limits_follow_the_interface_snaplen():
    """A packet above 256 KiB is fine when the interface's snaplen allows it (as libpcap
    raises its limit per IDB); a non-packet block over 16 MiB is not."""
    big = bytes(400_000)   # above 256 KiB + 128 KiB of options
    ok = _pcapng_head(snaplen=1 << 20) + _epb(big)
    assert [p.caplen for p in fp.read(memoryview(ok))] == [len(big)]
    with pytest.raises(fp.FormatError, match="more than"):
        fp.read(memoryview(_pcapng_head() + _epb(big)))
    import struct

    nrb_claim = _pcapng_head() + struct.pack("<II", 4, (16 << 20) + 4)
    with pytest.raises(fp.FormatError, match="more than"):
        fp.read(memoryview(nrb_claim))
