"""One Reader, several consumers (csrc/py/reader.c fp_readers_claim): engines and threads
pulling from one Reader get each packet exactly once overall, never a duplicate, never a
spurious FormatError. The reference is the capture the test writes itself: every packet
carries its index (IP id and TCP sequence number), so duplicates and losses are visible.
Threads start together on Barriers; nothing sleeps."""
from __future__ import annotations

import io
import os
import struct
import threading

import pytest

import fastpkt as fp

N = 140_000   # more than two engine batches (65,536 records each): claims interleave


def tcp_packet(i: int) -> bytes:
    """A SYN of its own connection (so the flow engines see N packets), index i inside."""
    tcp = struct.pack(">HHIIBBHHH", 1024 + i % 60000, 80, i, 0, 0x50, 0x02, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0, 64, 6, 0,
                     bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF]),
                     bytes([10, 255, 0, 1])) + tcp
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip


def capture(n: int) -> bytes:
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i in range(n):
        data = tcp_packet(i)
        parts.append(struct.pack("<IIII", 1_700_000_000 + i // 1000, (i % 1000) * 1000,
                                 len(data), len(data)) + data)
    return b"".join(parts)


BLOB = capture(N)


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    p = tmp_path_factory.mktemp("share") / "share.pcap"
    p.write_bytes(BLOB)
    return p


def index_of(pkt) -> int:
    return pkt.tcp.seq


def run_threads(targets):
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(fn):
        try:
            barrier.wait()
            fn()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def drain(reader, engines: dict) -> dict:
    """Each engine drains the Reader in its own thread: the packets each one was fed."""
    fed = {}

    def engine(name, make):
        def run():
            e = make(reader)
            for _ in e:
                pass
            fed[name] = e.stats["packets"]
        return run

    run_threads([engine(name, make) for name, make in engines.items()])
    return fed


def three_engines(reader) -> dict:
    return drain(reader, {"flows": fp.flows, "streams": fp.streams, "hellos": fp.client_hellos})


def test_three_engines_share_one_reader(path):
    """flows + streams + client_hellos in three threads, many runs: the packets they were
    fed add up to the file's, every run (was up to 168,572 of 100,000).
    benchmarks/stress_shared_reader.py runs this 1,000 times."""
    for _ in range(12):
        reader = fp.open(str(path))
        fed = three_engines(reader)
        assert sum(fed.values()) == N, fed
        assert reader.packets_read == N


def test_engines_and_python_iteration_share_one_reader(path):
    reader = fp.open(str(path))
    seen = []
    fed = {}

    def iterate():
        seen.extend(index_of(p) for p in reader)

    def flows():
        e = fp.flows(reader)
        e.to_pandas()
        fed["flows"] = e.stats["packets"]

    def count():
        fed["count"] = reader.count()

    run_threads([iterate, flows, count])
    assert len(seen) == len(set(seen))
    assert len(seen) + fed["flows"] + fed["count"] == N


def _pipe_reader(blob: bytes, how: str):
    """A Reader over a pipe fed by a thread: through a file object, or a FIFO path."""
    rfd, wfd = os.pipe()

    def feed():
        with os.fdopen(wfd, "wb") as w:
            for i in range(0, len(blob), 65536):
                w.write(blob[i:i + 65536])

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    if how == "file object":
        return fp.open(os.fdopen(rfd, "rb")), feeder
    reader = fp.open("/dev/fd/%d" % rfd)   # a descriptor of its own
    os.close(rfd)
    return reader, feeder


@pytest.mark.parametrize("how", ["file object", "fd path"])
def test_two_threads_over_one_pipe(how):
    """Was a spurious FormatError or an early stop: two threads raced on the buffer."""
    for _ in range(4):
        reader, feeder = _pipe_reader(BLOB, how)
        got = [[], []]

        def consume(k):
            return lambda: got[k].extend(index_of(p) for p in reader)

        run_threads([consume(0), consume(1)])
        feeder.join()
        both = got[0] + got[1]
        assert len(both) == N and set(both) == set(range(N))
        reader.close()


def test_engines_over_one_pipe():
    reader, feeder = _pipe_reader(BLOB, "file object")
    fed = drain(reader, {"flows": fp.flows, "hellos": fp.client_hellos})
    feeder.join()
    assert sum(fed.values()) == N, fed


def test_merge_of_shared_pipe_readers_keeps_its_held_record():
    """fp.flows([a, b]) holds one record of each between batches; another thread pulling
    from b meanwhile must not change the held record's bytes."""
    half = capture(N // 2)
    a = fp.open(io.BytesIO(half))
    b, feeder = _pipe_reader(half, "file object")
    stolen = []
    e = fp.flows([a, b])

    def engine():
        e.to_pandas()

    def thief():
        stolen.extend(index_of(p) for p in b)

    run_threads([engine, thief])
    feeder.join()
    assert e.stats["packets"] + len(stolen) == N
    assert e.stats["bad_transport"] == 0 and e.stats["non_ip_packets"] == 0


def test_same_reader_twice_in_a_merge_is_refused(path):
    r = fp.open(str(path))
    with pytest.raises(ValueError, match="listed twice"):
        fp.flows([r, r]).to_pandas()


def test_reading_a_reader_from_its_own_file_object_is_refused():
    """A file object whose read() iterates the Reader it feeds: a clear error, not a hang."""
    class Reentrant(io.RawIOBase):
        def __init__(self):
            self.f = io.BytesIO(BLOB)
            self.reader = None

        def readable(self):
            return True

        def readinto(self, b):
            if self.reader is not None:
                next(self.reader)
            return self.f.readinto(b)

    src = Reentrant()
    reader = fp.open(src)
    src.reader = reader
    with pytest.raises(RuntimeError, match="already being read by this thread"):
        reader.count()


def test_closing_one_reader_of_a_merge_between_batches(path):
    """fp.flows([a, b]) holds a record of b between batches; b.close() may unmap b's file
    then: the held record is dropped, not read (this was a segmentation fault)."""
    a, b = fp.open(str(path)), fp.open(str(path))
    flows = iter(fp.flows([a, b], idle_timeout=1))
    next(flows)                      # stops mid-merge, a record of each Reader held
    b.close()
    rest = sum(1 for _ in flows)
    assert rest > 0 and a.packets_read == N
