"""A capture truncated or rewritten by another process while fastpkt has it mapped
(tcpdump restarting, logrotate's copytruncate) ends with a clear error or a clean end,
never a SIGBUS: while iterating, through kept packets and PacketLists, inside engines.

The reference is the file we generate here with struct: every packet delivered before
the error must be exactly the one we wrote. Each truncation is done by `truncate(1)`,
another process, run to completion at a chosen point (no timing windows).
"""
from __future__ import annotations

import io
import os
import struct
import subprocess
import sys

import pytest

import fastpkt as fp
from _fphelpers import indexed_udp_frame

N_PACKETS = 3000
PAYLOAD = 1200          # ~3.7 MB: the truncation drops hundreds of resident pages


def udp_frame(i: int) -> bytes:
    return indexed_udp_frame(i, PAYLOAD)


@pytest.fixture()
def capture(tmp_path):
    frames = [udp_frame(i) for i in range(N_PACKETS)]
    offsets, blob, pos = [], bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)), 24
    for i, f in enumerate(frames):
        offsets.append(pos)
        rec = struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f
        blob += rec
        pos += len(rec)
    path = tmp_path / "rotating.pcap"
    path.write_bytes(bytes(blob))
    return path, frames, offsets


# Lists of files larger than this give their pages back as they are read (PacketList.mapped_bytes
# 0); FASTPKT_KEEP_MAPPED_MAX lowers the bound (1 GiB, a quarter of RAM) so small files take
# that path.
ABOVE_BOUND = 64 << 10


@pytest.fixture(params=["kept", "above the bound"])
def keep_mode(request, monkeypatch):
    if request.param != "kept":
        monkeypatch.setenv("FASTPKT_KEEP_MAPPED_MAX", str(ABOVE_BOUND))
    return request.param


def truncate(path, size: int) -> None:
    subprocess.run(["truncate", "-s", str(size), str(path)], check=True)


def test_iteration_ends_with_truncated_error(capture):
    path, frames, offsets = capture
    got = []
    with pytest.raises(fp.TruncatedError) as ei:
        for i, pkt in enumerate(fp.open(path)):
            got.append(pkt.raw)
            if i == 99:
                truncate(path, offsets[1500] + 10)
    assert "truncated by another process" in str(ei.value)
    # Everything delivered is what was written; the lost part is never handed out.
    assert got == frames[:len(got)]
    assert 100 <= len(got) <= 1500
    assert ei.value.packet_index == len(got)


def test_on_error_stop_ends_cleanly(capture):
    path, frames, offsets = capture
    r = fp.open(path, on_error="stop")
    head = [next(r).raw for _ in range(10)]
    truncate(path, offsets[20])
    rest = [p.raw for p in r]
    assert head + rest == frames[:len(head) + len(rest)]
    assert isinstance(r.error, fp.TruncatedError)


def test_kept_packets_and_packetlist(capture, keep_mode):
    path, frames, offsets = capture
    pl = fp.read(path)
    assert (pl.mapped_bytes == 0) == (keep_mode != "kept")
    assert len(pl) == N_PACKETS
    kept = pl[N_PACKETS - 1]
    truncate(path, 24)
    # The vanished pages read as zeros: no signal, and the table refuses to pretend.
    assert kept.raw == bytes(len(frames[-1]))
    assert kept.summary()
    with pytest.raises(fp.TruncatedError, match="truncated by another process"):
        pl.to_pandas()


def mapping_rss(path) -> int:
    """Resident bytes of this process's mappings of `path` (/proc/self/smaps, the kernel's count)."""
    rss, ours = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5:   # a mapping's first line: range perms offset dev inode [path]
                ours = len(head) >= 6 and head[5] == str(path)
            elif ours and head[0] == "Rss:":
                rss += int(head[1]) * 1024
    return rss


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc/self/smaps")
def test_packetlist_keeps_its_pages_between_read_and_export(capture):
    """A list of a mapped file small enough keeps its records' pages mapped (mapped_bytes, and
    the kernel's Rss of the mapping agrees), exports the rows the generated frames say, keeps
    them across exports and gives them back when it goes."""
    path, frames, offsets = capture
    size = os.path.getsize(path)
    pl = fp.read(path)
    assert pl.mapped_bytes == size - 24              # every record, from after the file header
    assert mapping_rss(path) >= size - 24 - 4096     # not given back behind the index pass
    for _ in range(2):
        df = pl.to_pandas()
        assert list(df["caplen"]) == [len(f) for f in frames]
        assert mapping_rss(path) >= size - 24 - 4096
    assert [p.raw for p in pl[:: 499]] == frames[:: 499]
    copy = fp.read(io.BytesIO(path.read_bytes()))    # a stream, copied: nothing kept, nothing mapped
    assert copy.mapped_bytes == 0
    assert df.equals(copy.to_pandas())
    assert pl[10:20].mapped_bytes == 0               # slices share the list's records, not its pages
    del pl, df
    assert mapping_rss(path) < 64 * 4096


def test_packetlist_keeps_pages_of_a_count(capture):
    path, frames, offsets = capture
    pl = fp.read(path, count=100)
    assert pl.mapped_bytes == offsets[100] - 24
    assert list(pl.to_pandas()["caplen"]) == [len(f) for f in frames[:100]]


def test_kept_pages_of_a_file_appended_to_then_truncated(capture, keep_mode):
    """Kept pages do not outlive the file: appended bytes stay out of the list, and after a
    truncation the export refuses (as test_kept_packets_and_packetlist) instead of faulting.
    A list above the keep bound, which maps its pages again at each export, does the same."""
    path, frames, offsets = capture
    pl = fp.read(path)
    assert (pl.mapped_bytes == 0) == (keep_mode != "kept")
    before = pl.to_pandas()
    with open(path, "ab") as f:
        f.write(struct.pack("<IIII", 1_800_000_000, 0, len(frames[0]), len(frames[0])) + frames[0])
    assert len(pl) == N_PACKETS and pl.to_pandas().equals(before)
    truncate(path, offsets[N_PACKETS // 2])
    assert pl[0].raw == frames[0]                     # still in the file
    with pytest.raises(fp.TruncatedError, match="truncated by another process"):
        pl.to_pandas()
    with pytest.raises(OSError, match="truncated by another process"):   # through pyarrow's stream
        pl.to_arrow()
    assert pl[N_PACKETS - 1].raw == bytes(len(frames[-1]))


# A window of pages the reader has read but not yet given back, per walking thread (the index
# pass's FP_ADVISE_EVERY, the split walk's SPLIT_RELEASE_BYTES), plus its read-ahead.
RELEASE_WINDOW = 32 << 20
# The export maps and gives back 8192 rows at a time on two threads; where the page cache holds
# the file in large folios (2 MiB), one mapped by a chunk's fault after its neighbour gave its
# part back stays until a later release covers it: a few folios, however large the file.
EXPORT_LEFT = 8 << 20


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc/self/smaps")
def test_packetlist_above_the_keep_bound(tmp_path, monkeypatch):
    """Above the keep bound a list keeps none of its file mapped (mapped_bytes 0): the kernel's
    Rss of the mapping stays within the reader's release windows while it is read (sampled at
    each progress call, every 65536 packets, on a file of five windows), is nothing once read
    and within a few large folios after each exported batch (the file is 160 MiB), and the list
    exports the same table as one that keeps its pages. One frame, the records numbered by
    their timestamps, written with numpy."""
    np = pytest.importorskip("numpy")
    frame = indexed_udp_frame(7, 160)
    rec = np.dtype([("sec", "<u4"), ("usec", "<u4"), ("caplen", "<u4"), ("wirelen", "<u4"), ("frame", f"V{len(frame)}")])
    n = (5 * RELEASE_WINDOW) // rec.itemsize
    recs = np.zeros(n, dtype=rec)
    recs["sec"] = 1_700_000_000 + np.arange(n, dtype=np.uint32) // 1000
    recs["usec"] = np.arange(n, dtype=np.uint32) % 1000 * 1000
    recs["caplen"] = recs["wirelen"] = len(frame)
    recs["frame"] = np.frombuffer(frame, dtype=rec["frame"])[0]
    path = tmp_path / "big.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        recs.tofile(f)
    del recs
    size = os.path.getsize(path)

    kept = fp.read(path)
    assert kept.mapped_bytes == size - 24
    expected, expected_arrow = kept.to_pandas(), kept.to_arrow()
    del kept
    assert mapping_rss(path) < 64 * 4096

    monkeypatch.setenv("FASTPKT_KEEP_MAPPED_MAX", str(size - 25))   # one byte short of the records
    seen = []
    pl = fp.read(path, progress=lambda done, total: seen.append((done, mapping_rss(path))))
    assert pl.mapped_bytes == 0
    assert len(seen) >= 5 and seen[-1][0] == size
    assert max(rss for _, rss in seen) <= 2 * RELEASE_WINDOW + (1 << 20), seen
    assert mapping_rss(path) < 64 * 4096
    assert len(pl) == n
    after_batches = [mapping_rss(path) for _ in pl.record_batches(100_000)]
    assert len(after_batches) == -(-n // 100_000) and max(after_batches) <= EXPORT_LEFT, after_batches
    df = pl.to_pandas()
    i = np.arange(n, dtype=np.int64)
    assert (df["time"].astype("int64").to_numpy() == (1_700_000_000 + i // 1000) * 10**9 + i % 1000 * 10**6).all()
    assert (df["caplen"] == len(frame)).all() and (df["dport"] == 9000).all()
    assert df.equals(expected)
    assert pl.to_arrow().equals(expected_arrow)
    assert mapping_rss(path) <= EXPORT_LEFT
    assert [p.raw for p in pl[:: n // 7]] == [frame] * len(range(0, n, n // 7))


def test_read_on_two_threads_of_a_shrinking_file(tmp_path):
    """fp.read walks a file of 8 MiB or more on two threads (tests/test_source_chunks.py): the
    second half meeting the lost part stops and drops its records, the first half's end (which,
    as any range's end, asks the file system for the whole mapping) reports the truncation."""
    frames = [udp_frame(i) for i in range(8000)]
    offsets, blob = [], bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, f in enumerate(frames):
        offsets.append(len(blob))
        blob += struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f
    path = tmp_path / "big_rotating.pcap"
    path.write_bytes(bytes(blob))
    assert len(blob) > 8 << 20
    with fp.open(path) as r:
        head = [next(r).raw for _ in range(10)]
        truncate(path, offsets[6000] + 10)
        with pytest.raises(fp.TruncatedError, match="truncated by another process") as ei:
            r.read_all()
    got = head + [p.raw for p in ei.value.packets]
    assert got == frames[:len(got)] and 10 < len(got) <= 6000


def test_engines_over_a_shrinking_file(capture):
    path, frames, offsets = capture
    r = fp.open(path)
    for _ in range(50):
        next(r)
    truncate(path, offsets[700])
    with pytest.raises(fp.TruncatedError):
        for _ in fp.flows(r):
            pass


def test_rewritten_file_is_read_without_a_signal(capture):
    path, frames, offsets = capture
    r = fp.open(path, on_error="stop")
    next(r)
    # copytruncate then new data: the old length is gone, new bytes appear at its start.
    truncate(path, 0)
    with open(path, "ab") as f:
        f.write(os.urandom(offsets[10]))
    list(r)
    assert r.error is None or isinstance(r.error, fp.FormatError)


def test_unrelated_sigbus_still_kills(tmp_path):
    """Our handler chains: a bus error outside our mappings keeps its default action."""
    code = ("import fastpkt, mmap, os, sys\n"
            "fastpkt.read(sys.argv[1])\n"
            "f = open(sys.argv[2], 'w+b'); f.write(b'x' * 8192); f.flush()\n"
            "m = mmap.mmap(f.fileno(), 8192)\n"
            "os.truncate(sys.argv[2], 0)\n"
            "m[5000]\n")
    other = tmp_path / "other.bin"
    sample = os.path.join(os.path.dirname(__file__), "data", "le_usec.pcap")
    r = subprocess.run([sys.executable, "-c", code, sample, str(other)], capture_output=True)
    assert r.returncode == -7, r   # SIGBUS

