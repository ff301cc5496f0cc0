"""Writing over a file being read (csrc/write/out.c, source/file_registry.c): the output is
what tcpdump selects from a copy of the original, packets read before stay valid (no SIGBUS:
each scenario runs in a child process), an exception leaves the target as it was, and the
replaced file keeps its permissions and owner.

References: tcpdump -r COPY -w - FILTER (byte for byte: the same header and records)."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import tool_env

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "data" / "sample.pcap"
FILTER = "tcp port 80"
TOOL_ENV = tool_env()


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:   # a failure under FASTPKT_REQUIRE_REFS=1 (conftest)
        pytest.skip("%s is not installed" % tool)
    return path


def _tcpdump_select(src: Path, expr: str) -> bytes:
    """What tcpdump writes for the packets of src matching expr (read from a copy)."""
    return subprocess.run([_require("tcpdump"), "-r", str(src), "-w", "-", expr], check=True,
                          capture_output=True, env=TOOL_ENV).stdout


@pytest.fixture
def capture(tmp_path: Path) -> tuple[Path, bytes, bytes]:
    """(the capture to overwrite, its original bytes, tcpdump's selection from a copy)."""
    target = tmp_path / "t.pcap"
    shutil.copyfile(SAMPLE, target)
    copy = tmp_path / "copy.pcap"
    shutil.copyfile(SAMPLE, copy)
    return target, target.read_bytes(), _tcpdump_select(copy, FILTER)


def _run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run code in a child interpreter (a SIGBUS must fail the test, not kill pytest)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def _assert_clean(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, "child died (%d): %s" % (proc.returncode, proc.stderr[-2000:])


def _no_leftovers(directory: Path) -> None:
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


# Every scenario reads the packets (keeping them), writes the selection over the file being
# read, then touches every kept packet again and checks its bytes.
KEEP_AND_CHECK = """
import sys, fastpkt as fp
path, write_to = sys.argv[1], sys.argv[2]
kept = fp.read(path)
before = [p.raw for p in kept]
{write}
assert [p.raw for p in kept] == before
assert sum(len(bytes(p)) for p in kept) == sum(len(b) for b in before)
"""

WRITERS = {
    "fp.write": "fp.write(write_to, fp.read(path, filter='tcp port 80'))",
    "Writer": """
with fp.Writer(write_to) as w:
    assert w.replacing
    for p in fp.open(path, filter='tcp port 80'):
        w.write(p)""",
    "sniff": "fp.sniff(offline=path, filter='tcp port 80', write=write_to, store=False)",
    "RotatingWriter": """
with fp.RotatingWriter(write_to, linktype=1) as w:
    for p in fp.open(path, filter='tcp port 80'):
        w.write(p)""",
}


@pytest.mark.parametrize("how", sorted(WRITERS))
def test_overwrite_the_file_being_read(capture, how):
    target, _, expected = capture
    _assert_clean(_run_child(KEEP_AND_CHECK.format(write=WRITERS[how]), str(target), str(target)))
    got = target.read_bytes()
    if how == "sniff":  # sniff writes microsecond pcap with its own header fields
        assert [(p.raw, p.time_ns, p.wirelen) for p in fp.read(str(target))] == \
            [(p.raw, p.time_ns, p.wirelen) for p in fp.read(memoryview(expected))]
    else:
        assert got == expected
    _no_leftovers(target.parent)


def test_overwrite_through_a_hard_link(capture):
    """The hard link's name gets the new file; the other name keeps the inode being read."""
    target, original, expected = capture
    link = target.parent / "link.pcap"
    os.link(target, link)
    _assert_clean(_run_child(KEEP_AND_CHECK.format(write=WRITERS["fp.write"]), str(target), str(link)))
    assert link.read_bytes() == expected
    assert target.read_bytes() == original


def test_overwrite_through_a_symlink(capture):
    """The file the link points to is replaced; the link stays a link."""
    target, _, expected = capture
    link = target.parent / "sym.pcap"
    link.symlink_to(target.name)
    _assert_clean(_run_child(KEEP_AND_CHECK.format(write=WRITERS["Writer"]), str(target), str(link)))
    assert link.is_symlink() and target.read_bytes() == expected


def test_cli_writes_over_its_input(capture):
    target, _, expected = capture
    proc = subprocess.run([sys.executable, "-m", "fastpkt.cli", "read", str(target), "--filter", FILTER,
                           "-w", str(target)], cwd=REPO, capture_output=True, text=True, timeout=120)
    _assert_clean(proc)
    assert target.read_bytes() == expected
    _no_leftovers(target.parent)
    # a table is never written over the capture it comes from
    proc = subprocess.run([sys.executable, "-m", "fastpkt.cli", "flows", str(target), "--csv", str(target)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "is the input capture" in proc.stderr
    assert target.read_bytes() == expected


def test_packets_alive_after_reader_close_still_protect(capture):
    target, original, _ = capture
    reader = fp.open(str(target))
    pkt = next(iter(reader))
    reader.close()
    with fp.Writer(str(target)) as w:   # the packet still points into the mapping
        assert w.replacing
        w.write(pkt)
    assert pkt.raw == original[40:40 + pkt.caplen]
    del pkt, reader
    with fp.Writer(str(target)) as w:   # nothing maps it any more: written in place
        assert not w.replacing


def test_stream_reader_of_the_file_protects_it(capture):
    """A file object read as a stream: truncating it would lose the unread packets."""
    target, _, expected = capture
    with open(target, "rb") as f:
        reader = fp.open(f, filter=FILTER)
        with fp.Writer(str(target)) as w:
            assert w.replacing
            for p in reader:
                w.write(p)
    assert target.read_bytes() == expected


class Boom(Exception):
    pass


def _failing(packets, after):
    for i, p in enumerate(packets):
        if i == after:
            raise Boom
        yield p


def test_exception_mid_write_leaves_the_target_unchanged(capture):
    target, original, _ = capture
    pl = fp.read(str(target))
    with pytest.raises(Boom):
        fp.write(str(target), _failing(pl, 10))          # being read
    assert target.read_bytes() == original
    other = target.parent / "other.pcap"
    other.write_bytes(b"keep me")
    with pytest.raises(Boom):
        fp.write(str(other), _failing(pl, 10))           # not read: fp.write is atomic anyway
    assert other.read_bytes() == b"keep me"
    two = fp.read(str(REPO / "tests" / "data" / "two_if.pcapng"))  # Ethernet, then raw IP
    with pytest.raises(ValueError, match="one link type per file"):
        fp.write(str(other), two)                        # a value pcap cannot hold, mid-write
    assert other.read_bytes() == b"keep me"
    with pytest.raises(ValueError, match="smaller than the captured length"):
        with fp.Writer(str(other), atomic=True) as w:
            w.write(pl[0])
            w.write(pl[1], wirelen=1)
    assert other.read_bytes() == b"keep me"
    with pytest.raises(Boom):
        with fp.Writer(str(target)) as w:                # being read: a temporary file
            for p in _failing(pl, 5):
                w.write(p)
    assert target.read_bytes() == original
    _no_leftovers(target.parent)


def test_new_file_with_atomic_appears_only_complete(tmp_path):
    out = tmp_path / "new.pcap"
    w = fp.Writer(str(out), atomic=True)
    w.write(b"\0" * 60, time=1.0)
    w.flush()
    assert not out.exists()
    w.close()
    assert len(fp.read(str(out))) == 1
    with pytest.raises(Boom):
        with fp.Writer(str(tmp_path / "never.pcap"), atomic=True) as w:
            raise Boom
    assert not (tmp_path / "never.pcap").exists()
    _no_leftovers(tmp_path)


def test_replaced_file_keeps_mode_and_owner(capture):
    target, _, expected = capture
    os.chmod(target, 0o640)
    if os.geteuid() == 0:
        os.chown(target, 65534, 65534)
    keep = fp.read(str(target))
    fp.write(str(target), fp.read(str(target), filter=FILTER))
    st = target.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (65534, 65534)
    assert target.read_bytes() == expected and len(keep) > 0


def test_non_regular_targets_are_written_in_place(tmp_path):
    """A FIFO cannot be replaced by rename: it is written to (atomic only for files)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, env=TOOL_ENV)
    fp.write(str(fifo), [b"\0" * 60], linktype=1)
    data = reader.communicate(timeout=30)[0]
    assert len(fp.read(memoryview(data))) == 1 and fifo.exists()


def test_overwrite_a_multi_interface_pcapng(tmp_path):
    """A pcapng (mergecap: three interfaces, µs and ns) filtered over itself keeps exactly
    the packets tshark selects from a copy, with their interfaces and times."""
    merged = tmp_path / "m.pcapng"
    subprocess.run([_require("mergecap"), "-F", "pcapng", "-w", str(merged),
                    str(REPO / "tests/data/le_usec.pcap"), str(REPO / "tests/data/ns_le.pcap"),
                    str(REPO / "tests/data/raw.pcap")], check=True, capture_output=True, env=TOOL_ENV)
    copy = tmp_path / "copy.pcapng"
    shutil.copyfile(merged, copy)
    fields = ["-T", "fields", "-e", "frame.interface_id", "-e", "frame.time_epoch", "-e", "frame.len",
              "-e", "frame.cap_len", "-e", "ip.id"]
    want = subprocess.run([_require("tshark"), "-r", str(copy), "-Y", "udp", *fields], check=True,
                          capture_output=True, text=True, env=TOOL_ENV).stdout
    _assert_clean(_run_child(KEEP_AND_CHECK.format(write="fp.write(write_to, fp.read(path, filter='udp'))"),
                             str(merged), str(merged)))
    got = subprocess.run([_require("tshark"), "-r", str(merged), *fields], check=True,
                         capture_output=True, text=True, env=TOOL_ENV).stdout
    assert got == want and len(want.splitlines()) > 3


def test_cli_writes_to_stdout(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastpkt.cli", "read", str(SAMPLE), "--filter", FILTER,
                           "-w", "-"], cwd=REPO, capture_output=True, timeout=120)
    _assert_clean(proc)
    copy = tmp_path / "copy.pcap"
    shutil.copyfile(SAMPLE, copy)
    assert proc.stdout == _tcpdump_select(copy, FILTER)


def test_write_errors_are_oserrors_with_errno(tmp_path):
    """A full device: the buffered write fails at flush/close with ENOSPC, said once."""
    import errno

    pl = fp.read(str(SAMPLE))
    with pytest.raises(OSError) as info:
        fp.write("/dev/full", pl)
    assert info.value.errno == errno.ENOSPC and "No space left" in str(info.value)
    with pytest.raises(OSError, match="cannot open") as info:
        fp.Writer(str(tmp_path / "missing" / "x.pcap"))
    assert info.value.errno == errno.ENOENT
