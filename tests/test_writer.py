"""pcap writer: byte-identical rewrite (LE/BE, us/ns), streaming Writer, Packet and bytes
input, and an independent reader (Scapy) for what we write."""
from __future__ import annotations

from decimal import Decimal

import pytest
from scapy.all import IP, UDP, Ether, rdpcap

import fastpkt as fp
from _fphelpers import DATA, corpus_dir, load_expected, read_tsv

EXP = load_expected()
PCAP_FIXTURES = sorted(n for n, e in EXP.items() if e["format"] == "pcap")


@pytest.mark.parametrize("name", PCAP_FIXTURES)
def test_rewrite_is_byte_identical(tmp_path, name):
    src = DATA / name
    out = tmp_path / "out.pcap"
    fp.write(str(out), fp.read(str(src)))
    assert out.read_bytes() == src.read_bytes()


def _corpus_pcaps() -> list[str]:
    d = corpus_dir()
    if d is None:
        return []
    out = []
    for f in sorted(d.iterdir()):
        if f.suffix in (".pcap", ".cap") and f.read_bytes()[:4] in (
                bytes.fromhex("d4c3b2a1"), bytes.fromhex("a1b2c3d4"),
                bytes.fromhex("4d3cb2a1"), bytes.fromhex("a1b23c4d")):
            if not (d / "refs" / f"{f.name}.stderr").exists():
                out.append(f.name)
    return out


@pytest.mark.parametrize("name", _corpus_pcaps() or [pytest.param(None, marks=pytest.mark.skip(
    "corpus not found"))])
def test_rewrite_corpus_pcap_byte_identical(tmp_path, name):
    src = corpus_dir() / name
    out = tmp_path / "out.pcap"
    pl = fp.read(str(src))
    assert len(pl) == len(read_tsv(corpus_dir() / "refs" / f"{name}.tsv"))
    fp.write(str(out), pl)
    assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("name,nano,be", [("le_usec.pcap", False, False),
                                          ("be_usec.pcap", False, True),
                                          ("ns_le.pcap", True, False),
                                          ("ns_be.pcap", True, True)])
def test_streaming_writer_identical(tmp_path, name, nano, be):
    src = DATA / name
    out = tmp_path / "stream.pcap"
    e = EXP[name]
    with fp.Writer(str(out), linktype=e["linktype"], snaplen=e["snaplen"], nanosecond=nano,
                   big_endian=be) as w:
        for p in fp.open(str(src)):
            w.write(p)
        assert w.packets_written == len(e["packets"])
    assert out.read_bytes() == src.read_bytes()


def test_write_explicit_byte_order_and_resolution(tmp_path):
    pl = fp.read(str(DATA / "ns_le.pcap"))
    out = tmp_path / "x.pcap"
    fp.write(str(out), pl, nanosecond=True, big_endian=True)
    assert out.read_bytes()[:4] == bytes.fromhex("a1b23c4d")
    back = fp.read(str(out))
    assert [p.time_ns for p in back] == [p.time_ns for p in pl]
    fp.write(str(out), pl, nanosecond=False, big_endian=False)
    assert out.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    back = fp.read(str(out))
    assert [p.time_ns // 1000 for p in back] == [p.time_ns // 1000 for p in pl]
    assert [p.raw for p in back] == [p.raw for p in pl]


def test_write_bytes_with_times(tmp_path):
    frames = [bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2", id=i) / UDP(sport=i, dport=9))
              for i in range(5)]
    out = tmp_path / "b.pcap"
    with fp.Writer(str(out), linktype=1, nanosecond=True) as w:
        for i, f in enumerate(frames):
            w.write(f, time_ns=1_600_000_000_000_000_000 + i * 1001, wirelen=len(f) + i)
    back = fp.read(str(out))
    assert [p.raw for p in back] == frames
    assert [p.time_ns for p in back] == [1_600_000_000_000_000_000 + i * 1001 for i in range(5)]
    assert [p.wirelen - p.caplen for p in back] == list(range(5))
    ref = rdpcap(str(out))  # an independent reader agrees
    assert [bytes(p) for p in ref] == frames
    assert [int(Decimal(p.time) * 10**9) for p in ref] == [p.time_ns for p in back]


def test_write_bytes_float_time(tmp_path):
    out = tmp_path / "f.pcap"
    f = bytes(Ether() / IP() / UDP())
    with fp.Writer(str(out)) as w:
        w.write(f, time=1234567890.25)
    (p,) = fp.read(str(out))
    assert p.time_ns == 1234567890_250000000 and p.linktype == 1
    with fp.Writer(str(out), nanosecond=True) as w:  # 1234567890.25 is exact in binary
        w.write(f, time=1234567890.25)
        w.write(f, time=1.000001)
    a, b = fp.read(str(out))
    assert a.time_ns == 1234567890_250000000
    assert b.time_ns == 1_000_001_000


def test_fp_write_list_of_bytes_and_packets(tmp_path):
    raws = [bytes(IP(src="10.0.0.1", dst="10.0.0.2", id=i) / UDP()) for i in range(3)]
    out = tmp_path / "raw.pcap"
    fp.write(str(out), raws, linktype=101)
    back = fp.read(str(out))
    assert back.linktype == 101 and [p.raw for p in back] == raws
    assert [p.ip.id for p in back] == [0, 1, 2]
    # Packet objects from a pcapng file (Ethernet interface only) into a pcap
    eth_pkts = [p for p in fp.read(str(DATA / "two_if.pcapng")) if p.linktype == 1]
    out2 = tmp_path / "from_ng.pcap"
    fp.write(str(out2), eth_pkts, linktype=1, nanosecond=True)
    back = fp.read(str(out2))
    assert [(p.raw, p.caplen, p.wirelen) for p in back] == \
        [(p.raw, p.caplen, p.wirelen) for p in eth_pkts]
    assert [b.time_ns for b, p in zip(back, eth_pkts) if p.time_ns is not None] == \
        [p.time_ns for p in eth_pkts if p.time_ns is not None]
    # a slice of a PacketList is written like the list
    pl = fp.read(str(DATA / "be_usec.pcap"))
    out3 = tmp_path / "slice.pcap"
    fp.write(str(out3), pl[1:3])
    assert [p.raw for p in fp.read(str(out3))] == [p.raw for p in pl[1:3]]


def test_writer_misuse(tmp_path):
    w = fp.Writer(str(tmp_path / "c.pcap"))
    w.close()
    w.close()
    with pytest.raises(ValueError):
        w.write(b"\0" * 20)
    with pytest.raises(OSError):
        fp.Writer(str(tmp_path / "no" / "such" / "dir.pcap"))
    with pytest.raises(TypeError):
        with fp.Writer(str(tmp_path / "d.pcap")) as w2:
            w2.write(12345)


def test_flush_makes_bytes_visible(tmp_path):
    out = tmp_path / "fl.pcap"
    w = fp.Writer(str(out))
    w.write(bytes(Ether() / IP()), time=1.0)
    w.flush()
    assert out.stat().st_size == 24 + 16 + 34
    w.close()
