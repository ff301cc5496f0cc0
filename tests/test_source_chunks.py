"""Record-aligned byte ranges (csrc/source/chunk.c): a capture read as several ranges, each by
its own Reader, gives exactly the records of one sequential read (the reference: the same
file read front to back; Scapy's rdpcap agrees on the crafted files), whatever offset a split
is asked for, and however much the payloads imitate record headers."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

import fastpkt as fp
from test_parallel import fixtures


def rows(reader: fp.Reader) -> list[tuple]:
    return [(p.time_ns, p.wirelen, p.interface, p.linktype, p.raw) for p in reader]


def sequential(path: Path) -> list[tuple] | None:
    try:
        return rows(fp.Reader(str(path)))
    except fp.Error:
        return None


def chunked(path: Path, bounds: list[int]) -> tuple[list[tuple], int]:
    """The consumers' protocol: range i is trusted only when every range before it ended
    exactly on its end; the first inexact range is read on to the end of the file and the
    ranges after it are dropped. Returns the records and how many ranges were used."""
    out: list[tuple] = []
    for i in range(len(bounds) - 1):
        r = fp.Reader(str(path))
        r._set_range(bounds[i], bounds[i + 1])
        out += rows(r)
        if i == len(bounds) - 2 or r._range_exact:
            continue
        r._set_range(r.position, bounds[-1])
        out += rows(r)
        return out, i + 1
    return out, len(bounds) - 1


def splittable(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        try:
            r = fp.Reader(str(p))
        except fp.Error:
            continue
        if r.size and r.compression is None:
            out.append(p)
    return out


CAPTURES = splittable(fixtures())


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_split_at_every_offset(path):
    ref = sequential(path)
    if ref is None:
        pytest.skip("unreadable or cut-short capture: ranges are for captures that read cleanly")
    r = fp.Reader(str(path))
    first, size = r._split(1)
    assert r._split(1) == [first, size]
    found = {r._sync(off) for off in range(0, size + 2)}
    assert min(found) >= first and max(found) == size
    for b in sorted(found):
        got, _ = chunked(path, [first, b, size] if first < b < size else [first, size])
        assert got == ref, b
    for n in (2, 3, 5, 8):
        bounds = fp.Reader(str(path))._split(n)
        assert bounds[0] == first and bounds[-1] == size
        assert bounds == [first, size] or all(a < b for a, b in zip(bounds, bounds[1:]))
        assert len(bounds) - 1 <= n
        assert chunked(path, bounds)[0] == ref


def test_most_fixtures_really_split():
    """Guard against a sync that never finds anything (the test above would pass)."""
    split = [p for p in CAPTURES if sequential(p) and len(fp.Reader(str(p))._split(4)) > 2]
    assert len(split) >= len(CAPTURES) // 2


# ---- crafted captures -------------------------------------------------------------------

ETH_IP_UDP = bytes.fromhex("ffffffffffff0000000000010800") + bytes.fromhex(
    "4500001c00000000401100000a0000010a000002") + struct.pack(">HHHH", 1000, 2000, 8, 0)


def pcap_file(packets: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for ts_us, data in packets:
        out += struct.pack("<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(data), len(data)) + data
    return bytes(out)


def fake_pcap_records(count: int, ts_us: int) -> bytes:
    """A payload that is itself a run of plausible pcap records (a pcap file carried in a
    packet, e.g. downloaded over HTTP)."""
    body = b"".join(struct.pack("<IIII", ts_us // 1_000_000, 0, 20, 20) + b"\x00" * 20 for _ in range(count))
    return body


def test_payloads_that_look_like_records(tmp_path):
    t0 = 1_700_000_000_000_000
    pkts = [(t0 + i * 1000, ETH_IP_UDP + fake_pcap_records(12, t0 + i * 1000)) for i in range(40)]
    path = tmp_path / "hostile.pcap"
    path.write_bytes(pcap_file(pkts))
    scapy = pytest.importorskip("scapy.utils")
    ref = sequential(path)
    assert [p[4] for p in ref] == [bytes(p) for p in scapy.rdpcap(str(path))]
    r = fp.Reader(str(path))
    first, size = r._split(1)
    inexact = 0
    for b in sorted({r._sync(off) for off in range(size + 1)}):
        got, used = chunked(path, [first, b, size] if first < b < size else [first, size])
        assert got == ref
        inexact += used == 1 and first < b < size
    assert inexact > 0   # syncs that landed inside a payload were caught and undone
    assert chunked(path, fp.Reader(str(path))._split(6))[0] == ref


def pcapng_block(btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng_file(packets: list[bytes], idb_every: int = 0) -> bytes:
    out = bytearray(pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
    idb = pcapng_block(1, struct.pack("<HHI", 1, 0, 65535))
    out += idb
    for i, data in enumerate(packets):
        if idb_every and i and i % idb_every == 0:
            out += idb   # an interface declared mid-file: the ranges after it must not be trusted
        ts = 1_700_000_000_000_000 + i
        out += pcapng_block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data)) + data)
    return bytes(out)


def fake_epbs(count: int) -> bytes:
    return b"".join(pcapng_block(6, struct.pack("<IIIII", 0, 0, 0, 4, 4) + b"\x00" * 4) for _ in range(count))


@pytest.mark.parametrize("idb_every", [0, 7])
def test_pcapng_hostile_and_mid_file_interfaces(tmp_path, idb_every):
    # 2 bytes of padding put the fake blocks on the 4-byte grid real blocks use
    pkts = [ETH_IP_UDP + b"\0\0" + fake_epbs(10) for _ in range(30)]
    path = tmp_path / "hostile.pcapng"
    path.write_bytes(pcapng_file(pkts, idb_every))
    ref = sequential(path)
    assert len(ref) == 30
    r = fp.Reader(str(path))
    first, size = r._split(1)
    inexact = 0
    for b in sorted({r._sync(off) for off in range(size + 1)}):
        got, used = chunked(path, [first, b, size] if first < b < size else [first, size])
        assert got == ref
        inexact += used == 1 and first < b < size
    assert inexact > 0
    assert chunked(path, fp.Reader(str(path))._split(5))[0] == ref


def test_ranges_refused_where_they_cannot_apply(tmp_path):
    path = tmp_path / "a.pcap"
    path.write_bytes(pcap_file([(1_000_000 * i, ETH_IP_UDP) for i in range(5)]))
    r = fp.Reader(str(path))
    first, size = r._split(1)
    with pytest.raises(ValueError):
        r._set_range(size, first)       # start past end
    r._set_range(first + 58, size)      # forward of the position is fine
    with pytest.raises(ValueError):
        r._set_range(first, size)       # behind the position
    skip = fp.Reader(str(path), on_error="skip")
    assert skip._split(4) == [first, size]
    with open(path, "rb") as f:
        stream = fp.Reader(f)
        assert len(stream._split(4)) == 2
        with pytest.raises(ValueError):
            stream._set_range(stream.position, 10**9)
    buf = fp.Reader(bytearray(path.read_bytes()))   # memory buffers split like files
    assert len(buf._split(3)) == 4


# fp.read of a mapped pcap of 8 MiB or more walks it on two threads (fp_source_fork: the second
# half from a cut fp_source_split finds, kept only when the first half lands on it exactly).
# The reference is Scapy's RawPcapReader on the same bytes.
SPLIT_MIN = 8 << 20


def big_pcap(count: int, payload) -> tuple[bytes, list[int]]:
    """A pcap of `count` Ethernet/IPv4/UDP packets (payload(i): bytes) and its record offsets."""
    t0 = 1_700_000_000_000_000
    out, offsets = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)), []
    for i in range(count):
        data = ETH_IP_UDP + payload(i)
        ts = t0 + i * 1000
        offsets.append(len(out))
        out += struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(data), len(data) + i % 3) + data
    return bytes(out), offsets


def scapy_rows(path: Path) -> list[tuple]:
    scapy = pytest.importorskip("scapy.utils")
    with scapy.RawPcapReader(str(path)) as r:
        return [(m.sec * 10**9 + m.usec * 1000, m.wirelen, data) for data, m in r]


def list_rows(pkts) -> list[tuple]:
    return [(p.time_ns, p.wirelen, p.raw) for p in pkts]


def test_read_on_two_threads_equals_scapy(tmp_path):
    data, _ = big_pcap(30_000, lambda i: bytes([i & 0xFF]) * (40 + (i * 37) % 500))
    assert len(data) > SPLIT_MIN
    path = tmp_path / "big.pcap"
    path.write_bytes(data)
    seen = []
    pkts = fp.read(str(path), progress=lambda done, size: seen.append((done, size)))
    assert list_rows(pkts) == scapy_rows(path)
    assert seen[-1] == (len(data), len(data)) and seen == sorted(seen)
    with fp.Reader(str(path)) as r:   # the Reader is left where the sequential read leaves it
        assert len(r.read_all()) == 30_000 and r.position == len(data) and next(iter(r), None) is None


def test_read_on_two_threads_wrong_cut(tmp_path):
    """Payloads that are runs of plausible records: the cut lands inside one, the first half
    walks past it, and the second half's records are dropped for the sequential walk's."""
    t0 = 1_700_000_000_000_000
    path = tmp_path / "hostile_big.pcap"
    for count in range(24_000, 24_010):   # a size whose middle falls early in a payload
        data, offsets = big_pcap(count, lambda i: fake_pcap_records(20, t0 + i * 1000))
        path.write_bytes(data)
        first, cut, size = fp.Reader(str(path))._split(2)
        if cut not in offsets:
            break
    assert cut not in offsets and first < cut < size   # the guess the proof must undo
    assert list_rows(fp.read(str(path))) == scapy_rows(path)


@pytest.mark.parametrize("where", [0.3, 0.8])
def test_read_on_two_threads_errors(tmp_path, where):
    """A corrupt record in either half: the packets before it, then the error naming its index
    and offset, as the walk front to back meets it (on_error raise and stop)."""
    data, offsets = big_pcap(30_000, lambda i: b"\x11" * (40 + (i * 37) % 500))
    bad = int(len(offsets) * where)
    buf = bytearray(data)
    struct.pack_into("<I", buf, offsets[bad] + 8, 0x7FFFFFFF)   # caplen past any bound
    path = tmp_path / "corrupt.pcap"
    path.write_bytes(bytes(buf))
    with pytest.raises(fp.FormatError) as e:
        fp.read(str(path))
    assert "record %d at offset %d" % (bad, offsets[bad]) in str(e.value)
    assert len(e.value.packets) == bad
    path.with_name("head.pcap").write_bytes(bytes(buf[:offsets[bad]]))
    ref = scapy_rows(path.with_name("head.pcap"))
    assert list_rows(e.value.packets) == ref
    assert list_rows(fp.read(str(path), on_error="stop")) == ref


def test_read_on_two_threads_cut_short(tmp_path):
    data, offsets = big_pcap(30_000, lambda i: b"\x22" * (40 + (i * 37) % 500))
    path = tmp_path / "short.pcap"
    path.write_bytes(data[:offsets[-1] + 30])   # the last record's header and 14 bytes of it
    with pytest.raises(fp.TruncatedError) as e:
        fp.read(str(path))
    path.with_name("head.pcap").write_bytes(data[:offsets[-1]])
    assert list_rows(e.value.packets) == scapy_rows(path.with_name("head.pcap"))


def test_read_on_two_threads_interrupted(tmp_path):
    """The progress callback raising stops the read with both halves walking: the Reader then
    reads on from where its walk stopped, to the end of the file."""
    data, _ = big_pcap(160_000, lambda i: b"\x33" * (i % 50))   # the first call after 65,536
    assert len(data) > SPLIT_MIN
    path = tmp_path / "stopped.pcap"
    path.write_bytes(data)

    def stop(done, size):
        raise KeyError("stop here")

    with fp.Reader(str(path)) as r:
        with pytest.raises(KeyError) as e:
            r.read_all(progress=stop)
        rest = r.read_all()
    assert list_rows(e.value.packets) + list_rows(rest) == scapy_rows(path)
    assert 0 < len(e.value.packets) < 160_000


@pytest.mark.parametrize("batch_size", [None, 3])
def test_table_of_a_two_thread_read_equals_scapy(tmp_path, batch_size):
    """A PacketList read on two threads, exported: Arrow batches in arenas mapped whole, the
    index mapped ahead of the walk, to_pandas' columns mapped up front. Every row's time and
    lengths are Scapy's RawPcapReader's; the layers of every 97th packet are Scapy's dissection."""
    pa = pytest.importorskip("pyarrow")
    scapy = pytest.importorskip("scapy.all")
    data, _ = big_pcap(40_000, lambda i: bytes([i & 0xFF]) * (40 + (i * 37) % 500))  # 8-byte columns over 256 KiB
    assert len(data) > SPLIT_MIN
    path = tmp_path / "big.pcap"
    path.write_bytes(data)
    pkts = fp.read(str(path))
    table = pa.table(pkts) if batch_size is None else pa.Table.from_batches(pkts.record_batches(batch_size=batch_size))
    df = pkts.to_pandas()
    with scapy.RawPcapReader(str(path)) as r:
        ref = [(m.sec * 10**9 + m.usec * 1000, m.caplen, m.wirelen, raw) for raw, m in r]
    assert table.num_rows == len(df) == len(ref)
    assert table.column("time").cast(pa.int64()).to_pylist() == [t for t, *_ in ref]
    assert df["time"].astype("int64").tolist() == [t for t, *_ in ref]
    for col, k in (("caplen", 1), ("wirelen", 2)):
        assert table.column(col).to_pylist() == [row[k] for row in ref]
        assert df[col].tolist() == [row[k] for row in ref]
    cols = ("src", "dst", "sport", "dport", "proto", "ttl", "eth_src", "eth_dst")
    for i in range(0, len(ref), 97):
        p = scapy.Ether(ref[i][3])
        want = (p[scapy.IP].src, p[scapy.IP].dst, p[scapy.UDP].sport, p[scapy.UDP].dport, p[scapy.IP].proto,
                p[scapy.IP].ttl, p.src, p.dst)
        assert tuple(table.column(c)[i].as_py() for c in cols) == want, i
        assert tuple(df[c].iloc[i] for c in cols) == want, i
