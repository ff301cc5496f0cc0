"""One mapping of a file for several Readers (csrc/source/source.c fp_source_share_mapping,
Reader._share_mapping; fastpkt.parallel shares each file between its workers): the pages
fault in once for all of them and go back once every Reader is past them, or once they lie
64 MiB behind the furthest. Readers at any pace must still deliver exactly what was
written (the reference is the capture built here with struct: every frame carries its
index), the mapping's resident pages stay bounded (/proc/self/smaps), a truncation by
another process reaches every Reader, and the last Reader to close unmaps the file."""
from __future__ import annotations

import gzip
import os
import struct
import subprocess

import pytest

import fastpkt as fp
from _fphelpers import indexed_udp_frame

PAYLOAD = 1400
MIB = 1 << 20

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/smaps"),
                                reason="reads the mappings in /proc/self/smaps")


def frame(i: int) -> bytes:
    return indexed_udp_frame(i, PAYLOAD)


def write_capture(path, n: int) -> list[int]:
    """A pcap of n frames; returns each record's offset."""
    offsets, pos = [], 24
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            data = frame(i)
            f.write(struct.pack("<IIII", 1_700_000_000 + i // 100, (i % 100) * 10_000, len(data), len(data)))
            f.write(data)
            offsets.append(pos)
            pos += 16 + len(data)
    return offsets


def mappings(path) -> tuple[int, int]:
    """(mappings of path, their resident KiB) in this process."""
    count = rss = 0
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            if not line[0].isupper():
                inside = line.rstrip().endswith(str(path))
                count += inside
            elif inside and line.startswith("Rss:"):
                rss += int(line.split()[1])
    return count, rss


def index(pkt) -> int:
    return struct.unpack(">I", pkt.raw[42:46])[0]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """~130 MB: more than the 64 MiB a Reader may fall behind before the pages it has not
    read are given back under it."""
    path = tmp_path_factory.mktemp("shared") / "big.pcap"
    n = 130 * MIB // (16 + 42 + PAYLOAD)
    write_capture(path, n)
    return path, n


def test_one_mapping_and_every_packet(tmp_path):
    path = tmp_path / "small.pcap"
    n = 3000
    write_capture(path, n)
    a, b = fp.open(path), fp.open(path)
    assert mappings(path)[0] == 2
    assert b._share_mapping(a) is True
    assert b._share_mapping(a) is True  # already
    assert mappings(path)[0] == 1
    got_a, got_b = [], []
    for pa, pb in zip(a, b):  # in step
        got_a.append(pa.raw)
        got_b.append(pb.raw)
    want = [frame(i) for i in range(n)]
    assert got_a == want and got_b == want
    del pa, pb  # packets view the mapping until they go
    a.close()
    assert mappings(path)[0] == 1  # b still reads it
    b.close()
    assert mappings(path)[0] == 0


def test_what_cannot_share(tmp_path):
    path, other = tmp_path / "a.pcap", tmp_path / "b.pcap"
    write_capture(path, 50)
    write_capture(other, 50)
    gz = tmp_path / "a.pcap.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    a = fp.open(path)
    assert not fp.open(other)._share_mapping(a)            # another file (same size)
    assert not fp.open(gz)._share_mapping(a)               # a stream, no mapping
    assert not fp.open(bytearray(path.read_bytes()))._share_mapping(a)  # memory
    assert not a._share_mapping(a)
    read = fp.open(path)
    next(read)
    assert not read._share_mapping(a)                      # its packets view its own mapping
    with pytest.raises(TypeError, match="takes a Reader"):
        a._share_mapping(str(path))
    closed = fp.open(path)
    closed.close()
    with pytest.raises(ValueError, match="closed Reader"):
        closed._share_mapping(a)


def test_a_reader_far_behind_reads_everything_and_pages_stay_bounded(big):
    """One Reader reads the whole file while the other has not started: the pages more than
    64 MiB behind the first go back (the second faults them in again and gives them back
    itself); both deliver every frame, and the mapping never holds more than the window
    plus the release steps."""
    path, n = big
    ahead, behind = fp.open(path), fp.open(path)
    assert behind._share_mapping(ahead)
    peak = 0
    for i, pkt in enumerate(ahead):
        assert index(pkt) == i
        if i % 4096 == 0:
            peak = max(peak, mappings(path)[1])
    assert i == n - 1
    for i, pkt in enumerate(behind):
        assert pkt.raw == frame(i)
        if i % 4096 == 0:
            peak = max(peak, mappings(path)[1])
    assert i == n - 1
    assert peak <= (64 + 16 + 4 + 4) * 1024, "the shared mapping held %d KiB" % peak
    assert mappings(path)[1] <= 64  # both at their end: everything went back


def test_readers_in_step_give_pages_back(big):
    path, n = big
    readers = [fp.open(path) for _ in range(3)]
    for r in readers[1:]:
        assert r._share_mapping(readers[0])
    its = [iter(r) for r in readers]
    peak = 0
    for i in range(n):
        assert len({index(next(it)) for it in its}) == 1
        if i % 4096 == 0:
            peak = max(peak, mappings(path)[1])
    for it in its:
        assert next(it, None) is None
    # Three Readers of their own would each hold up to 32 MiB.
    assert peak <= (16 + 4 + 4) * 1024, "the shared mapping held %d KiB" % peak
    assert mappings(path) == (1, mappings(path)[1]) and mappings(path)[1] <= 64


def test_truncation_reaches_every_reader(tmp_path):
    path = tmp_path / "t.pcap"
    offsets = write_capture(path, 3000)
    a, b = fp.open(path), fp.open(path)
    assert b._share_mapping(a)
    got = [next(a).raw for _ in range(100)] + [next(b).raw for _ in range(10)]
    subprocess.run(["truncate", "-s", str(offsets[1500] + 10), str(path)], check=True)
    for r in (a, b):
        with pytest.raises(fp.TruncatedError, match="truncated by another process"):
            for pkt in r:
                got.append(pkt.raw)
    assert a.packets_read == b.packets_read == 1500
    assert got[:100] == [frame(i) for i in range(100)]


@pytest.mark.parametrize("engine", ["flows", "client_hellos", "streams"])
def test_workers_map_the_file_once(big, engine):
    """fastpkt.parallel shares every file between its workers; worker 0's progress callback
    runs while they read."""
    path, n = big
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(mappings(path)[0])

    out = getattr(fp, engine)(path, workers=2, progress=progress)
    got = len(out) if engine == "flows" else len(list(out))
    assert seen and set(seen) == {1}
    single = getattr(fp, engine)(path, workers=1)
    assert got == (len(single) if engine == "flows" else len(list(single)))
    if engine == "flows":
        assert got == 1000 and out.stats["packets"] == n
