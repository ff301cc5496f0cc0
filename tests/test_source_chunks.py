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
