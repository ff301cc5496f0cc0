"""The split walk of workers=N (fastpkt.parallel, csrc/py/engine_split.c): one mapped capture
is cut into record-aligned chunks, each walked and keyed once by the shard that needs it
first, and every shard reads its own records and the declined ones in file order, the other
shards' records between them as runs that move its clock and counters. The results must be one
engine's (test_parallel.check_all: rows, order, flow ids, counters, Streams with their bytes
and gaps, ClientHellos, HTTP, DNS; one engine is checked against tshark and Zeek elsewhere)
with chunk boundaries everywhere: a chunk per record, or a few hundred bytes, so they fall
inside flows, inside a stream's segments and between the segments of a ClientHello, on pcap
and on pcapng with several interfaces (link types, timestamp resolutions). A walk that
cannot go on (an interface declared mid-file, a guessed boundary that is not one) gives the
per-shard reading's result; cut and corrupt captures give one engine's error after its
records."""
from __future__ import annotations

import os
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import fastpkt as fp
from fastpkt import parallel
from test_parallel import (FALLBACK, PER_WORKER, check_all, fixtures, generated, same_stats,  # noqa: F401
                           shuffled_hello_conns)
from test_source_chunks import ETH_IP_UDP, pcapng_file
from test_stream_reassembly import pcap
from _fphelpers import indexed_udp_frame

SPLIT_KEY = "split_walk_memory_peak_bytes"


@pytest.fixture
def chunks(monkeypatch):
    """chunks(n, window): cut files into chunks of about n bytes, at most `window` held."""
    def set_chunks(nbytes: int, window: int = 2) -> None:
        monkeypatch.setattr(parallel, "SPLIT_CHUNK_BYTES", nbytes)
        monkeypatch.setattr(parallel, "SPLIT_WINDOW", window)
    return set_chunks


def walk_bound(chunk: int, window: int) -> int:
    """The split walk's state at most: `window` chunks' records (a time, room for two 32-byte
    entries, a time reversal: 76 bytes; a record 16 bytes at least) and 8 bytes per chunk bound
    kept. Written out rather than taken from parallel._split_reserve, which it checks."""
    return window * (chunk // 16 + 1) * (8 + 2 * 32 + 4) + (2 * window + 2) * 8


def walked(source, n: int = 2, **kw) -> dict:
    fl = fp.flows(source, workers=n, **kw)
    fl.to_pandas()
    return dict(fl.stats)


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name)
def test_every_capture_with_boundaries_everywhere(path, chunks):
    """A chunk per record on small captures (about 3,000 chunks on the larger ones)."""
    chunks(max(1, os.path.getsize(path) // 3000))
    check_all(str(path), workers=(2, 3), expect_merge=path.name not in FALLBACK)
    try:
        st = walked(str(path))
    except fp.Error:
        return
    if path.suffix == ".pcap" and st["packets"] >= 2 and path.name not in FALLBACK:  # a pcap of 2 records splits
        assert st[SPLIT_KEY] > 0


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name)
def test_every_capture_with_every_shard_waiting_for_the_consumer(path, chunks, monkeypatch):
    """Chunks of a few records and every live shard waiting for the consumer after each batch
    that left records it cannot take yet (parallel.LIVE_QUEUE_BYTES, a test hook): a shard
    ahead waits in the split walk for the slowest, which waits for the consumer, which needs
    the first one's bound. It publishes its records and bound before it waits, so the merge
    goes on: no fallback (check_all's stats carry "workers"), one engine's result."""
    chunks(max(1, os.path.getsize(path) // 300))
    monkeypatch.setattr(parallel, "LIVE_QUEUE_BYTES", 1)
    check_all(str(path), workers=(2, 3), expect_merge=path.name not in FALLBACK)


def test_generated_capture_in_small_chunks(generated, chunks, monkeypatch):  # noqa: F811
    """gen_pcap's capture (30,000 packets, 400 concurrent flows) in chunks of 600 bytes to
    64 KiB: the split walk runs to the end (its entries counted) and gives one engine's
    result and the per-shard reading's counters (key_pass_skips included)."""
    src = str(generated)
    monkeypatch.setattr(parallel, "SPLIT_WALK", False)
    whole = walked(src, 3)
    monkeypatch.setattr(parallel, "SPLIT_WALK", True)
    for nbytes in (600, 5000, 64 << 10):
        chunks(nbytes)
        st = walked(src, 3)
        assert st[SPLIT_KEY] > 0 and "workers" in st
        same_stats({k: v for k, v in whole.items() if k not in ("workers", "worker_memory_peak_bytes")}, st)
        assert st["key_pass_skips"] == whole["key_pass_skips"] > 0
    chunks(600)
    check_all(src, workers=(2, 3))


def test_memory_of_the_entries_is_bounded(generated, chunks):  # noqa: F811
    """At most `window` chunks' entries (parallel.SPLIT_RECORD_BYTES a record) are held, whatever the file's size;
    with max_memory too small to hold them the workers read the file whole each."""
    chunks(4096, window=2)  # window: max(2, 4 x workers) = 8 chunks of ~4 KiB
    st = walked(str(generated), 2)
    assert 0 < st[SPLIT_KEY] <= walk_bound(4096, 8)
    chunks(512 << 10, window=32)
    assert SPLIT_KEY not in walked(str(generated), 2, max_memory=8 << 20)  # 8 MiB: no room for them


def test_walk_state_does_not_grow_with_the_chunks(tmp_path, chunks):
    """The same chunk size and window over 100 and 10,000 chunks: the walk keeps the bounds of
    the chunks from the slowest shard's on (not one per chunk of the file), so its peak,
    entries and bounds, has the same bound; the flows are one engine's."""
    chunks(1024, window=2)  # window: 4 x 2 workers = 8 chunks
    peaks = []
    for n in (100, 10_000):
        path = tmp_path / ("c%d.pcap" % n)
        path.write_bytes(pcap([indexed_udp_frame(i, 970) for i in range(n)]))  # ~1 KiB a record
        st = walked(str(path), 2)
        assert "workers" in st and st["packets"] == n
        peaks.append(st[SPLIT_KEY])
        assert fp.flows(str(path), workers=2).to_pandas().equals(fp.flows(str(path), workers=1).to_pandas())
    assert 0 < peaks[1] <= walk_bound(1024, 8), peaks
    assert peaks[1] <= max(2 * peaks[0], walk_bound(1024, 8)), peaks


def _malloc_held() -> int | None:
    """Bytes malloc holds for the process (glibc's mallinfo2: every arena, mmapped blocks
    included); None without glibc's mallinfo2 or under ASan (its own allocator)."""
    import ctypes

    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None

    class Info(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                    "fsmblks", "uordblks", "fordblks", "keepcost")]

    mallinfo2.restype = Info
    m = mallinfo2()
    return int(m.uordblks + m.hblkhd)


def test_walk_state_measured_by_malloc(tmp_path, chunks):
    """The same, measured by the C allocator rather than our counter: after a split walk
    over 200,000 one-record chunks, the process holds no more than after one over 2,000 (it
    held 9 bytes a possible chunk: 11 MB here)."""
    if _malloc_held() is None:
        pytest.skip("needs glibc's mallinfo2, and not under ASan")
    chunks(1)
    frame = indexed_udp_frame(0, 40)  # one flow: the table is the same size at any length
    held = []
    for n in (2000, 200_000):
        path = tmp_path / ("m%d.pcap" % n)
        path.write_bytes(pcap([frame] * n))
        base = _malloc_held()
        fl = fp.flows(str(path), workers=2, progress=False)
        assert len(fl) == 1 and fl.stats["workers"] == 2 and SPLIT_KEY in fl.stats
        held.append(_malloc_held() - base)  # the walk's state lives as long as its engines
        del fl
    assert held[1] - held[0] < 1 << 20, held


def test_a_held_worker_holds_the_walk(generated, chunks):  # noqa: F811
    """Worker 0 stops in its progress callback for a second: worker 1 cannot walk more than
    the window ahead (it waits, its entries bounded), and the run goes on when worker 0 does."""
    chunks(4096, window=2)
    held = []

    def progress(pos: int, total: int) -> None:
        if not held:
            held.append(time.monotonic())
            time.sleep(1.0)

    fl = fp.flows(str(generated), workers=2, progress=progress)
    df = fl.to_pandas()
    assert held and df.equals(fp.flows(str(generated), workers=1).to_pandas())
    assert 0 < fl.stats[SPLIT_KEY] <= walk_bound(4096, 8)


def test_hellos_and_streams_with_a_chunk_per_record(tmp_path, chunks):
    """ClientHellos over hundreds of shuffled segments interleaved across 12 connections, with
    a chunk boundary between every two records."""
    path = tmp_path / "hellos.pcap"
    path.write_bytes(pcap(shuffled_hello_conns(12, seed=9)))
    data = path.read_bytes()
    starts, off = set(), 24
    while off < len(data):
        starts.add(off)
        off += 16 + struct.unpack("<I", data[off + 8:off + 12])[0]
    r = fp.Reader(str(path))
    guesses = {r._sync(o) for o in range(24, len(data), 7)}
    assert guesses - starts - {len(data)}  # zero-filled payloads chain like records: wrong guesses to repair
    chunks(1)
    assert SPLIT_KEY in walked(str(path), 3)
    hellos = list(fp.client_hellos(str(path), workers=3))
    assert sorted(h.sni for h in hellos) == sorted("c%d.interleaved.example" % i for i in range(12))
    check_all(str(path), workers=(2, 3, 5))


def timed_pcap(packets: list[tuple[float, bytes]]) -> bytes:
    """A microsecond pcap of (seconds, frame) records, in the order given."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, f in packets:
        us = round(t * 1e6)
        out.append(struct.pack("<IIII", us // 1000000, us % 1000000, len(f), len(f)) + f)
    return b"".join(out)


def deadline_runs(reversal: bool) -> list[tuple[float, bytes]]:
    """Flows 1-7 send once, 1 ms apart; then flow 0 alone sends a long run that passes each
    one's idle deadline (120 s) a microsecond before it and exactly at it, so every shard that
    owns some of them but not flow 0 reaches their expiry inside a run of flow 0's packets
    (and, in chunks of a few records, inside runs cut by chunk boundaries). `reversal`: the
    run also steps a microsecond back in time, well before the deadlines (so short that no
    expiry walk's cut falls inside it: a sharded table would call that a risk, and the run
    would fall back to one engine)."""
    pkts = [(1.0, indexed_udp_frame(0, 8))]
    pkts += [(1.0 + i / 1000, indexed_udp_frame(i, 8)) for i in range(1, 8)]
    times = [2.0 + k * 0.25 for k in range(470)]  # up to 119.25 s
    if reversal:
        times[190:190] = [49.5, 49.5 - 1e-6]  # then 49.5 again: earlier than the clock once
    for i in range(1, 8):
        times += [121.0 + i / 1000 - 1e-6, 121.0 + i / 1000]
    times += [121.5 + k * 0.25 for k in range(40)]
    pkts += [(t, indexed_udp_frame(0, 8)) for t in times]
    pkts += [(135.0 + i, indexed_udp_frame(i, 8)) for i in range(1, 8)]  # their new flows
    return pkts


@pytest.mark.parametrize("reversal", [False, True], ids=["in_order", "reversal"])
@pytest.mark.parametrize("chunk", [1, 200, 4096])
def test_expiry_at_a_deadline_inside_a_run_of_other_shards_packets(tmp_path, chunks, reversal, chunk):
    """A shard skips the other shards' packets as runs, in O(1) only when none of them can
    expire a flow or reverse time: an idle deadline reached exactly inside a run, runs across
    chunk boundaries (a chunk per record, a few records, the whole file in two) and a time
    reversal inside a run give one engine's flows, order, end times and counters."""
    path = tmp_path / "deadlines.pcap"
    path.write_bytes(timed_pcap(deadline_runs(reversal)))
    chunks(chunk)
    st = walked(str(path), 2)
    assert SPLIT_KEY in st and st["key_pass_skips"] > 0
    assert st["time_reversals"] == int(reversal) and "fallback" not in st
    one = fp.flows(str(path), workers=1).to_pandas()
    assert (one["expiration"] == "idle").sum() == 7  # flows 1-7, at their deadlines
    check_all(str(path), workers=(2, 3, 5))


def pcapng_interfaces(frames: list[tuple[int, bytes]]) -> bytes:
    """A pcapng file with three interfaces: Ethernet in microseconds (the default), raw IP in
    nanoseconds (if_tsresol 9) and Ethernet in 2^-20 s (if_tsresol 0x94); frame i goes to
    interface i % 3 (its Ethernet header dropped on the raw IP one)."""
    def block(kind: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    def idb(linktype: int, tsresol: int | None) -> bytes:
        opts = b"" if tsresol is None else struct.pack("<HHB3x", 9, 1, tsresol) + b"\0" * 4
        return block(1, struct.pack("<HHI", linktype, 0, 65535) + opts)

    out = bytearray(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    out += idb(1, None) + idb(101, 9) + idb(1, 0x94)
    for i, (ts_ns, frame) in enumerate(frames):
        iface = i % 3
        if iface == 1:
            frame = frame[14:]
        ts = ts_ns // 1000 if iface == 0 else ts_ns if iface == 1 else (ts_ns << 20) // 10**9
        out += block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    return bytes(out)


def test_pcapng_with_several_interfaces(generated, tmp_path, chunks, tshark):  # noqa: F811
    """gen_pcap's first 6,000 packets spread over three interfaces of other link types and
    timestamp resolutions (tshark reads the file back: frames per interface), in chunks of
    a few hundred bytes."""
    frames = [(p.time_ns, bytes(p.raw)) for p in fp.read(str(generated), count=6000)]
    path = tmp_path / "ifaces.pcapng"
    path.write_bytes(pcapng_interfaces(frames))
    out = subprocess.run([tshark, "-r", str(path), "-T", "fields", "-e", "frame.interface_id"],
                         check=True, capture_output=True, text=True).stdout.split()
    assert [out.count(str(i)) for i in range(3)] == [2000, 2000, 2000]
    chunks(700)
    st = walked(str(path), 3)
    assert st[SPLIT_KEY] > 0 and st["packets"] == 6000
    check_all(str(path), workers=(2, 3))


def test_interface_declared_mid_file_reads_whole_file_per_worker(tmp_path, chunks):
    """A chunk that declares an interface abandons the walk (the chunks after it could not be
    read alone): the workers read the file whole each and still give one engine's result."""
    pkts = [ETH_IP_UDP[:-8] + struct.pack(">HHHH", 1000 + i % 50, 2000, 8, 0) for i in range(2000)]
    path = tmp_path / "mid.pcapng"
    path.write_bytes(pcapng_file(pkts, 300))
    chunks(1000)
    one = fp.flows(str(path), workers=1).to_pandas()
    fl = fp.flows(str(path), workers=2)
    assert fl.to_pandas().equals(one) and len(one) == 50
    assert "workers" in fl.stats and SPLIT_KEY not in fl.stats and fl.stats["key_pass_skips"] > 0
    st = fp.streams(str(path), workers=2)
    assert [s.stream_id for s in st] == [s.stream_id for s in fp.streams(str(path), workers=1)]
    path.write_bytes(pcapng_file(pkts, 0))
    assert SPLIT_KEY in walked(str(path), 2)


def error_of(fn) -> tuple[type, str] | None:
    try:
        fn()
    except fp.Error as e:
        return type(e), str(e)
    return None


@pytest.mark.parametrize("damage", ["cut", "caplen", "pcapng_cut"])
def test_cut_and_corrupt_captures_fail_like_one_engine(generated, tmp_path, chunks, damage):  # noqa: F811
    """The same error (type and message: offset, packet index) as one engine, and under
    on_error='stop' the same records before it."""
    data = bytearray(Path(generated).read_bytes())
    path = tmp_path / ("bad.pcapng" if damage == "pcapng_cut" else "bad.pcap")
    if damage == "cut":
        data = data[: len(data) // 2 + 7]
    elif damage == "caplen":  # a record header in the middle says 0xFFFFFF00 bytes follow
        r = fp.Reader(str(generated))
        at = r._sync(len(data) // 2)
        data[at + 8:at + 12] = struct.pack("<I", 0xFFFFFF00)
    else:
        frames = [(p.time_ns, bytes(p.raw)) for p in fp.read(str(generated), count=3000)]
        data = bytearray(pcapng_interfaces(frames))
        data = data[: len(data) * 2 // 3 + 5]
    path.write_bytes(bytes(data))
    chunks(4096)
    for engine in (fp.flows, fp.client_hellos, fp.streams):
        def run(n, **kw):
            out = engine(str(path), workers=n, **kw)
            return out.to_pandas() if engine is fp.flows else [repr(x) for x in out]
        one = error_of(lambda: run(1))
        assert one is not None
        assert error_of(lambda: run(2)) == one and error_of(lambda: run(3)) == one
        want = run(1, on_error="stop")
        got = run(2, on_error="stop")
        assert got.equals(want) if engine is fp.flows else got == want


def test_ctrl_c_in_a_worker_stops_the_walk(generated, chunks):  # noqa: F811
    """KeyboardInterrupt in worker 0's progress callback: the others, waiting for its chunks or
    for the window, stop too (no thread left behind), and the next run is whole."""
    chunks(4096)

    def progress(pos: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fp.flows(str(generated), workers=2, progress=progress).to_pandas()
    end = time.monotonic() + 30
    while time.monotonic() < end and any(t.name.startswith("fastpkt-worker") for t in threading.enumerate()):
        time.sleep(0.01)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("fastpkt-worker")]
    assert SPLIT_KEY in walked(str(generated), 2)


def engine_results(path: str, n: int, on_error: str = "raise") -> dict:
    """Every engine's rows (flows with ids, Streams with hashes of their bytes, ClientHellos,
    HTTP, DNS) and counters, or the error (type and message) it raised."""
    import hashlib

    def streams(st):
        return [(s.stream_id, s.client_ip, s.client_port, s.server_ip, s.server_port, s.state,
                 hashlib.sha256(s.client_data).hexdigest(), hashlib.sha256(s.server_data).hexdigest(),
                 tuple(s.client_gaps), tuple(s.server_gaps), s.anomalies) for s in st]

    runs = {
        "flows": (lambda: fp.flows(path, workers=n, on_error=on_error), lambda t: t.to_pandas()),
        "streams": (lambda: fp.streams(path, workers=n, on_error=on_error), streams),
        "hellos": (lambda: fp.client_hellos(path, workers=n, on_error=on_error), lambda t: [repr(tuple(h)) for h in t]),
        "http": (lambda: fp.http(path, workers=n, on_error=on_error), lambda t: [repr(m) for m in t]),
        "dns": (lambda: fp.dns(path, workers=n, on_error=on_error), lambda t: [repr(tuple(x)) for x in t]),
    }
    out = {}
    for name, (make, rows) in runs.items():
        try:
            t = make()
            out[name] = (rows(t), dict(getattr(t, "stats", None) or {}))
        except fp.Error as e:
            out[name] = (type(e), str(e))
    return out


def counters(st: dict) -> dict:
    """A run's counters without its memory figures (peaks of state held by whichever engine
    ran, as in same_stats) and without the note of a fallback to one engine."""
    peaks = ("state_peak_bytes", "buffered_peak_bytes")
    return {k: {a: b for a, b in v.items() if a not in peaks} if isinstance(v, dict) and k != "memory" else v
            for k, v in st.items() if k != "fallback" and k not in PER_WORKER}


def same_results(one: dict, got: dict, what: str) -> None:
    """`got` (engine_results of a sharded run) is `one`'s; `what` names the run on failure."""
    for name, want in one.items():
        have = got[name]
        if name == "flows" and not isinstance(want[0], type):
            assert not isinstance(have[0], type) and have[0].equals(want[0]), (what, name, have)
        else:
            assert have[0] == want[0], (what, name)
        if not isinstance(want[1], dict):
            assert have[1] == want[1], (what, name)
        elif want[1] and "workers" in have[1]:
            same_stats(dict(want[1]), dict(have[1]))
        else:  # a run that fell back to one engine says so (and why); memory is its own
            assert counters(have[1]) == counters(want[1]), (what, name)


def record_headers(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each record's header, pcap or pcapng, as far as they chain."""
    out = []
    if data[:4] == b"\n\r\r\n":
        order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off = 0
        while off + 12 <= len(data):
            size = struct.unpack(order + "I", data[off + 4:off + 8])[0]
            if size < 12:
                break
            out.append((off, 28))
            off += size
        return out
    magic = data[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        out.append((off, 16))
        off += 16 + struct.unpack(order + "I", data[off + 8:off + 12])[0]
    return out


SEED = int(os.environ.get("FASTPKT_SPLIT_SEED", "17"))


@pytest.mark.parametrize("path", fixtures(), ids=lambda p: p.name)
def test_differential_random_chunks_cuts_and_flips(path, chunks, tmp_path):
    """Seeded (FASTPKT_SPLIT_SEED): every engine with 2-4 workers, chunks of 1 byte to a 20th
    of the file and windows of 2-5 chunks equals one engine (rows, ids, order, counters), on
    the capture as it is, cut at a random offset, and with random bits of a record header
    flipped: the same error (type, message) under on_error='raise', the same records and
    counters before it under 'stop'. One engine is checked against tshark and Zeek elsewhere."""
    import random

    rnd = random.Random("%d:%s" % (SEED, path.name))
    data = path.read_bytes()
    heads = record_headers(data)
    variants = [("whole", data), ("cut", data[:rnd.randrange(1, len(data))])]
    if heads:
        bad = bytearray(data)
        off, hlen = heads[rnd.randrange(len(heads))]
        for _ in range(rnd.randint(1, 3)):
            at = off + rnd.randrange(min(hlen, len(data) - off))
            bad[at] ^= 1 << rnd.randrange(8)
        variants.append(("flip@%d" % off, bytes(bad)))
    for what, body in variants:
        src = tmp_path / (what.split("@")[0] + path.suffix)
        src.write_bytes(body)
        policies = ("raise",) if what == "whole" else ("raise", "stop")
        for policy in policies:
            one = engine_results(str(src), 1, policy)
            nbytes, window, n = rnd.randint(1, max(2, len(body) // 20)), rnd.randint(2, 5), rnd.randint(2, 4)
            chunks(nbytes, window)
            same_results(one, engine_results(str(src), n, policy),
                         "%s %s chunk=%d window=%d workers=%d" % (what, policy, nbytes, window, n))
