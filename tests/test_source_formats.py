"""Readers: pcap (both byte orders, us/ns), pcapng (sections, IDBs, EPB/SPB/PB, skipped
blocks), format by magic, sources (paths, file objects), count=, on_error policies."""
from __future__ import annotations

import io
import os
import shutil
import struct
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import DATA, corpus_dir, corpus_files, load_expected

EXP = load_expected()
FIXTURES = sorted(EXP)


@pytest.mark.parametrize("name", FIXTURES)
def test_records_match_expected(name):
    exp = EXP[name]
    pkts = fp.read(str(DATA / name))
    assert len(pkts) == len(exp["packets"])
    for i, (p, e) in enumerate(zip(pkts, exp["packets"])):
        where = f"{name} #{i}"
        assert p.raw == bytes.fromhex(e["raw"]), where
        assert bytes(p) == p.raw, where
        assert p.caplen == e["caplen"] == len(p.raw), where
        assert p.wirelen == e["wirelen"], where
        assert len(p) == e["wirelen"], where
        assert p.linktype == e["linktype"], where
        assert p.interface == e["interface"], where
        if e["time_ns"] is not None:
            assert p.time_ns == e["time_ns"], where
            assert isinstance(p.time, float)
            assert abs(p.time - e["time_ns"] / 1e9) < 1e-6, where


@pytest.mark.parametrize("name", FIXTURES)
def test_open_equals_read(name):
    a = fp.read(str(DATA / name))
    with fp.open(str(DATA / name)) as r:
        b = list(r)
        assert r.packets_read == len(b)
        assert r.size == os.path.getsize(DATA / name)
        assert r.position == r.size
        assert r.error is None
        assert r.skipped == 0 and r.filtered == 0
    assert [(p.time_ns, p.raw) for p in a] == [(p.time_ns, p.raw) for p in b]


@pytest.mark.parametrize("name", [n for n in FIXTURES if EXP[n]["format"] == "pcap"])
def test_pcap_header_attributes(name):
    exp = EXP[name]
    with fp.open(str(DATA / name)) as r:
        assert r.format == "pcap"
        assert r.linktype == exp["linktype"]
        assert r.nanosecond is exp["nanosecond"]
        assert r.snaplen == exp["snaplen"]
    pl = fp.read(str(DATA / name))
    assert pl.linktype == exp["linktype"]
    assert pl.nanosecond is exp["nanosecond"]
    assert pl.snaplen == exp["snaplen"]


def test_big_endian_magic_is_really_big_endian():
    head = (DATA / "be_usec.pcap").read_bytes()[:4]
    assert head == bytes.fromhex("a1b2c3d4")
    assert (DATA / "ns_be.pcap").read_bytes()[:4] == bytes.fromhex("a1b23c4d")
    assert (DATA / "ns_le.pcap").read_bytes()[:4] == bytes.fromhex("4d3cb2a1")


def test_nanosecond_precision_and_2106():
    ts = [p.time_ns for p in fp.read(str(DATA / "ns_le.pcap"))]
    assert ts == [1700000000123456789, 1700000000000000001, 4294967295999999999, 7]
    ts = [p.time_ns for p in fp.read(str(DATA / "ns_be.pcap"))]
    assert ts[:2] == [1700000000123456789, 1700000000999999999]


def test_microsecond_times():
    ts = [p.time_ns for p in fp.read(str(DATA / "be_usec.pcap"))]
    assert ts == [1700000000000001000, 1700000000500000000, 1700000001999999000,
                  1700000002250000000]


def test_snaplen_cut_record():
    p = fp.read(str(DATA / "le_usec.pcap"))[4]
    assert (p.caplen, p.wirelen) == (54, 254)
    assert p.tcp is not None and p.tcp.dport == 80
    assert p.anomalies, "caplen < wirelen must be reported as an anomaly"


# ----------------------------------------------------------------------------- pcapng


def test_pcapng_two_interfaces_sections_and_blocks():
    exp = EXP["two_if.pcapng"]["packets"]
    pkts = fp.read(str(DATA / "two_if.pcapng"))
    # 7 packets: EPB, EPB, SPB, obsolete PB, EPB (cut) in section 1; 2 EPBs in section 2.
    # NRB, ISB, DSB, the custom blocks and the unknown block are skipped.
    assert len(pkts) == 7
    assert [p.linktype for p in pkts] == [1, 101, 1, 101, 1, 1, 101]
    assert [p.interface for p in pkts] == [0, 1, 0, 1, 0, 2, 3]
    # if_tsresol default (us), 9 (ns), 2^-20 with if_tsoffset +1000 s, 3 (ms)
    assert pkts[0].time_ns == 1700000000_123456000
    assert pkts[1].time_ns == 1700000001_987654321
    assert pkts[3].time_ns == 1700000002_000000001  # obsolete Packet Block, ns interface
    assert pkts[4].time_ns == 1700000003_000001000
    assert pkts[5].time_ns == 1700000000_500000000
    assert pkts[6].time_ns == 1700000004_250000000
    # SPB: caplen = min(original length, IDB snaplen 96)
    assert (pkts[2].caplen, pkts[2].wirelen) == (96, exp[2]["wirelen"])
    assert (pkts[4].caplen, pkts[4].wirelen) == (80, exp[4]["wirelen"])
    assert pkts[1].ip.src == "10.20.0.1" and pkts[1].tcp.dport == 4000
    assert pkts[3].icmp.type == 8
    assert pkts[5].ip6 is not None and pkts[5].icmp6.type == 128
    assert pkts[6].ip6.src == "2001:db8::3" and pkts[6].udp.dport == 5353
    with fp.open(str(DATA / "two_if.pcapng")) as r:
        assert r.format == "pcapng"
        list(r)
        assert r.linktype == 1


def test_format_detected_by_magic_not_extension(tmp_path):
    a = tmp_path / "really_pcapng.pcap"
    shutil.copy(DATA / "two_if.pcapng", a)
    b = tmp_path / "really_pcap.pcapng"
    shutil.copy(DATA / "be_usec.pcap", b)
    c = tmp_path / "noext"
    shutil.copy(DATA / "ns_le.pcap", c)
    assert len(fp.read(str(a))) == 7
    with fp.open(str(a)) as r:
        assert r.format == "pcapng"
    with fp.open(str(b)) as r:
        assert r.format == "pcap"
        assert len(list(r)) == 4
    assert len(fp.read(str(c))) == 4


# ----------------------------------------------------------------------------- sources


def test_pathlike_and_file_objects():
    path = DATA / "be_usec.pcap"
    want = [p.raw for p in fp.read(str(path))]
    assert [p.raw for p in fp.read(path)] == want
    with open(path, "rb") as f:
        assert [p.raw for p in fp.read(f)] == want
    assert [p.raw for p in fp.read(io.BytesIO(path.read_bytes()))] == want
    with fp.open(io.BytesIO((DATA / "two_if.pcapng").read_bytes())) as r:
        assert len(list(r)) == 7


def test_count_limits():
    assert len(fp.read(str(DATA / "ipv6_ext_frag.pcap"), count=3)) == 3
    assert len(fp.read(str(DATA / "ipv6_ext_frag.pcap"), count=0)) == 0
    assert len(fp.read(str(DATA / "be_usec.pcap"), count=100)) == 4
    with fp.open(str(DATA / "ipv6_ext_frag.pcap"), count=2) as r:
        assert len(list(r)) == 2
    with fp.open(str(DATA / "ipv6_ext_frag.pcap")) as r:
        assert len(r.read_all(count=5)) == 5
        assert len(r.read_all()) == len(EXP["ipv6_ext_frag.pcap"]["packets"]) - 5


def test_lazy_iterator_protocol():
    r = fp.open(str(DATA / "be_usec.pcap"))
    assert iter(r) is r
    p = next(r)
    assert p.ip.id == 1
    rest = list(r)
    assert len(rest) == 3
    with pytest.raises(StopIteration):
        next(r)
    r.close()
    r.close()  # idempotent


def test_empty_captures(tmp_path):
    pc = tmp_path / "empty.pcap"
    pc.write_bytes((DATA / "le_usec.pcap").read_bytes()[:24])
    assert len(fp.read(str(pc))) == 0
    ng = tmp_path / "empty.pcapng"
    raw = (DATA / "two_if.pcapng").read_bytes()
    shb_len = struct.unpack_from("<I", raw, 4)[0]
    ng.write_bytes(raw[:shb_len])
    assert len(fp.read(str(ng))) == 0


# ----------------------------------------------------------------------------- errors


def test_missing_file_is_oserror(tmp_path):
    with pytest.raises(OSError):
        fp.read(str(tmp_path / "nope.pcap"))
    with pytest.raises(OSError):
        fp.open(str(tmp_path / "nope.pcap"))


@pytest.mark.parametrize("content", [b"", b"\x00", b"hello, I am not a capture file at all\n",
                                     b"\xd4\xc3\xb2\xa1\x02\x00"])
def test_not_a_capture(tmp_path, content):
    f = tmp_path / "bad.pcap"
    f.write_bytes(content)
    with pytest.raises(fp.FormatError) as ei:
        fp.read(str(f))
    assert str(ei.value), "the message says what went wrong"
    assert isinstance(ei.value, fp.Error) and isinstance(ei.value, ValueError)


def test_bad_pcap_version(tmp_path):
    raw = bytearray((DATA / "le_usec.pcap").read_bytes())
    raw[4:6] = struct.pack("<H", 9)
    f = tmp_path / "v9.pcap"
    f.write_bytes(raw)
    with pytest.raises(fp.FormatError) as ei:
        fp.read(str(f))
    assert ei.value.offset == 0


def test_exception_hierarchy():
    assert issubclass(fp.FormatError, fp.Error)
    assert issubclass(fp.FormatError, ValueError)
    assert issubclass(fp.TruncatedError, fp.FormatError)
    assert issubclass(fp.Error, Exception)


def test_bad_on_error_value():
    with pytest.raises((ValueError, TypeError)):
        fp.open(str(DATA / "le_usec.pcap"), on_error="ignore")
    with pytest.raises((ValueError, TypeError)):
        fp.read(str(DATA / "le_usec.pcap"), on_error="explode")


def _pcapng_with_bad_second_record() -> tuple[bytes, int]:
    """two_if.pcapng with the caplen of its 2nd packet (EPB on interface 1) set far beyond
    its block; the block total length stays right, so a reader can resynchronise."""
    raw = bytearray((DATA / "two_if.pcapng").read_bytes())
    off = 0
    epbs = []
    while off < len(raw):
        btype, blen = struct.unpack_from("<II", raw, off)
        if btype == 0x0A0D0D0A and struct.unpack_from("<I", raw, off + 8)[0] != 0x1A2B3C4D:
            break  # big-endian section: stop scanning
        if btype == 6:
            epbs.append(off)
        off += blen
    bad = epbs[1]
    struct.pack_into("<I", raw, bad + 20, 0x7FFFFFF0)
    return bytes(raw), bad


def test_on_error_policies_on_corrupt_record(tmp_path):
    data, bad_off = _pcapng_with_bad_second_record()
    f = tmp_path / "corrupt.pcapng"
    f.write_bytes(data)
    got = []
    with pytest.raises(fp.FormatError) as ei:
        with fp.open(str(f), on_error="raise") as r:
            for p in r:
                got.append(p)
    assert len(got) == 1, "the complete packet before the bad record is delivered first"
    assert ei.value.packet_index == 1
    assert ei.value.offset == bad_off
    with fp.open(str(f), on_error="stop") as r:
        assert len(list(r)) == 1
        assert isinstance(r.error, fp.FormatError)
        assert r.error.packet_index == 1
    with fp.open(str(f), on_error="skip") as r:
        rest = list(r)
        assert r.skipped == 1
    assert len(rest) == 6
    assert [p.interface for p in rest] == [0, 0, 1, 0, 2, 3]


def test_truncated_pcap_record_policies(tmp_path):
    raw = (DATA / "be_usec.pcap").read_bytes()
    f = tmp_path / "cut.pcap"
    f.write_bytes(raw[:-5])
    got = []
    with pytest.raises(fp.TruncatedError) as ei:
        for p in fp.open(str(f)):
            got.append(p)
    assert len(got) == 3
    assert ei.value.packet_index == 3
    assert "pass on_error='stop'" in str(ei.value)
    with fp.open(str(f), on_error="stop") as r:
        assert len(list(r)) == 3
        assert isinstance(r.error, fp.TruncatedError)
        # the advice is taken already: the message says what was kept instead
        assert "pass on_error" not in str(r.error)
        assert "the 3 packets before it were delivered" in str(r.error)
    with fp.open(str(f), on_error="skip") as r:
        assert len(list(r)) == 3  # nothing after the cut to resynchronise on


def test_large_caplen_in_pcap_is_a_format_error(tmp_path):
    raw = bytearray((DATA / "le_usec.pcap").read_bytes())
    struct.pack_into("<I", raw, 24 + 8, 0xFFFFFFFF)  # first record's caplen
    f = tmp_path / "huge.pcap"
    f.write_bytes(raw)
    with pytest.raises(fp.FormatError) as ei:
        fp.read(str(f))
    assert ei.value.packet_index == 0
    assert ei.value.offset == 24


def test_file_of_any_size_is_streamed(tmp_path):
    """Iterating does not keep packets alive: a packet held by the user stays valid."""
    r = fp.open(str(DATA / "ipv6_ext_frag.pcap"))
    first = next(r)
    raw0 = first.raw
    for _ in r:
        pass
    r.close()
    assert first.raw == raw0 and first.ip6 is not None


def test_bytes_path(tmp_path):
    p = os.fsencode(str(DATA / "be_usec.pcap"))
    assert len(fp.read(p)) == 4


def test_in_memory_bytes_like_capture():
    """A bytearray/memoryview is a capture in memory (bytes is a path, like open())."""
    blob = (DATA / "two_if.pcapng").read_bytes()
    assert len(fp.read(bytearray(blob))) == 7
    assert len(fp.read(memoryview(blob))) == 7


def test_wrong_source_type():
    with pytest.raises(TypeError):
        fp.read(12345)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")
def test_no_file_descriptor_leaks(tmp_path):
    """Readers close their file on every path: normal end, errors, abandoned iterators."""
    import gc

    def nfd() -> int:
        gc.collect()
        return len(os.listdir("/proc/self/fd"))

    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all, not even close")
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((DATA / "be_usec.pcap").read_bytes()[:-3])
    before = nfd()
    for _ in range(20):
        fp.read(str(DATA / "dns.pcap"))
        with fp.open(str(DATA / "two_if.pcapng")) as r:
            list(r)
        r = fp.open(str(DATA / "dns.pcap"))
        next(r)
        del r
        for path, kw in ((bad, {}), (cut, {}), (DATA / "dns.pcap", {"filter": "tcp port"})):
            try:
                with fp.open(str(path), **kw) as r:
                    list(r)
            except fp.Error:
                pass
    assert nfd() - before == 0


# ---- the iterator's inline record path -------------------------------------------------
# A Reader iterated without a filter, count or deadline takes ordinary pcap records of a
# mapping inline (fp_source_next_quick); count= sends every record through the general pull.
# Both must deliver the same packets, errors and counters, and the records must be those a
# plain struct walk of the file finds.

def _iteration_files() -> list[Path]:
    d = corpus_dir()
    names = [DATA / n for n in FIXTURES]
    if d is not None:
        names += [d / n for n in corpus_files()]
    return [p for p in names if p.suffix in (".pcap", ".cap", ".pcapng")]


def _snapshot(p) -> tuple:
    ip = p.ip or p.ip6
    l4 = p.tcp or p.udp
    return (p.time_ns, p.raw, p.caplen, p.wirelen, p.linktype, p.interface, p.layers, p.anomalies,
            p.src, p.dst, p.proto, p.sport, p.dport, type(ip).__name__, type(l4).__name__,
            (ip.src, ip.dst, ip.proto) if ip is not None else None,
            (l4.sport, l4.dport) if l4 is not None else None, p.fragments)


def _iterate(path: Path, **kw) -> tuple[list, tuple | None, tuple]:
    got, err = [], None
    r = fp.open(str(path), **kw)
    try:
        for p in r:
            got.append(_snapshot(p))
    except fp.Error as e:
        err = (type(e), e.packet_index, e.offset)
    counters = (r.packets_read, r.skipped, r.position)
    r.close()
    return got, err, counters


@pytest.mark.parametrize("path", _iteration_files(), ids=lambda p: p.name)
@pytest.mark.parametrize("kw", [{}, {"defragment": True}, {"decapsulate": False}, {"on_error": "skip"}],
                         ids=["default", "defrag", "no-decap", "skip"])
def test_inline_records_equal_general_pull(path, kw):
    try:
        quick = _iterate(path, **kw)
    except fp.Error:  # not a capture at all: the open fails the same way on both paths
        with pytest.raises(fp.Error):
            fp.open(str(path), count=1 << 40, **kw)
        return
    assert quick == _iterate(path, count=1 << 40, **kw)


def _struct_records(raw: bytes) -> list[tuple[int, int, int, bytes]]:
    """(time_ns, caplen, wirelen, bytes) of each whole record, by pcap-savefile(5)."""
    magic = raw[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    scale = 1 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1000
    out, off = [], 24
    while off + 16 <= len(raw):
        sec, frac, caplen, wirelen = struct.unpack_from(order + "IIII", raw, off)
        if off + 16 + caplen > len(raw):
            break
        out.append((sec * 10**9 + frac * scale, caplen, wirelen, raw[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out


def _is_pcap_v2(path: Path) -> bool:
    head = path.read_bytes()[:6]
    if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return head[4:6] == b"\x02\x00"
    return head[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d") and head[4:6] == b"\x00\x02"


@pytest.mark.parametrize("path", [p for p in _iteration_files() if _is_pcap_v2(p)], ids=lambda p: p.name)
def test_inline_records_equal_struct_walk(path):
    want = _struct_records(path.read_bytes())
    got = []
    with fp.open(str(path), on_error="stop") as r:
        for p in r:
            got.append((p.time_ns, p.caplen, p.wirelen, p.raw))
    # a corrupt record (caplen past the file's bound) ends both walks' agreement there
    assert got == want[:len(got)]
    assert len(got) == len(want) or r.error is not None


def test_inline_records_cut_and_corrupt(tmp_path):
    raw = (DATA / "le_usec.pcap").read_bytes()
    recs = _struct_records(raw)
    cut = tmp_path / "cut.pcap"
    for n in (len(raw) - 5, len(raw) - len(recs[-1][3]) - 10, 24 + 7):  # in the data, in the header
        cut.write_bytes(raw[:n])
        for policy in ("raise", "stop", "skip"):
            quick = _iterate(cut, on_error=policy)
            assert quick == _iterate(cut, on_error=policy, count=1 << 40)
            assert [s[0] for s in quick[0]] == [r[0] for r in _struct_records(raw[:n])]
    bad = bytearray(raw)
    struct.pack_into("<I", bad, 24 + 16 + recs[0][1] + 8, 0x7FFFFFF0)  # second record's caplen
    cut.write_bytes(bytes(bad))
    for policy in ("raise", "stop", "skip"):
        quick = _iterate(cut, on_error=policy)
        assert quick == _iterate(cut, on_error=policy, count=1 << 40)
        assert quick[0][0][0] == recs[0][0]
