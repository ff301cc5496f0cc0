"""TCP: header fields, flags object, options (RFC 9293, 7323, 2018), length lies."""
from __future__ import annotations

from scapy.all import IP, TCP, Ether, Raw

import fastpkt as fp
from _compare import norm_options
from _fphelpers import fixture_packets, hand, load_expected

EXP = load_expected()["tcp_opts.pcap"]["packets"]


def test_options_match_hand_values():
    for i, (p, h) in enumerate(zip(fixture_packets("tcp_opts.pcap"), hand("tcp_opts.pcap"))):
        t = p.tcp
        if h.get("bad_options"):
            assert "tcp_bad_opt" in p.anomalies, i
            continue
        assert "tcp_bad_opt" not in p.anomalies, i
        assert t.mss == h["mss"], i
        if "wscale" in h:
            assert t.wscale == h["wscale"], i
        if "sack_permitted" in h:
            assert t.sack_permitted is h["sack_permitted"], i
        assert [list(x) for x in t.sack] == h["sack"], i
        assert (list(t.timestamp) if t.timestamp is not None else None) == h["timestamp"], i
        assert str(t.flags) == h["flags"], i
        assert norm_options(t.options) == EXP[i]["fields"]["tcp"]["options"], i


def test_header_fields_and_sequence_wrap():
    a, b, c = fixture_packets("tcp_opts.pcap")[:3]
    assert a.tcp.seq == 0xFFFFFFF0 and a.tcp.ack == 0
    assert b.tcp.ack == 0xFFFFFFF1 and c.tcp.seq == 0xFFFFFFF1
    assert a.tcp.window == 64240 and a.tcp.sport == 50000 and a.tcp.dport == 443
    assert a.tcp.dataofs * 4 == a.tcp.header_len == 20 + 20
    assert a.sport == 50000 and a.dport == 443 and a.proto == 6
    assert a.tcp.name == "TCP"


def test_flags_object():
    pkts = fixture_packets("tcp_opts.pcap")
    syn, synack, ack, urg = pkts[0].tcp.flags, pkts[1].tcp.flags, pkts[2].tcp.flags, \
        pkts[3].tcp.flags
    assert synack.S and synack.A and not synack.F and not synack.R
    assert str(synack) == "SAE" and int(synack) == 0x052
    assert synack == "SAE" and synack == 0x052 and synack != "S"
    assert syn.S and syn.E and syn.C and int(syn) == 0x0C2
    assert "S" in syn and "A" not in syn
    assert (synack & 0x10) == 0x10
    assert ack.value == 0x10 and str(ack) == "A"
    assert urg.U and urg.N and urg.P and urg.F and int(urg) == 0x139
    assert pkts[3].tcp.urgptr == 3
    assert pkts[3].payload == b"urgent" and pkts[3].tcp.payload == b"urgent"
    assert int(pkts[5].tcp.flags) == 4 and pkts[5].tcp.flags.R


def test_data_offset_lies():
    base = bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(sport=1, dport=2) /
                 Raw(b"data"))
    raw = bytearray(base)
    raw[14 + 20 + 12] = 0xF0  # data offset 15 words = 60 bytes > segment
    p = fp.Packet(bytes(raw))
    assert "tcp_bad_off" in p.anomalies
    raw[14 + 20 + 12] = 0x30  # data offset 3 < 5
    p = fp.Packet(bytes(raw))
    assert "tcp_bad_off" in p.anomalies
    p = fp.Packet(base[:14 + 20 + 10])
    assert "tcp_trunc" in p.anomalies


def test_option_running_past_header():
    raw = bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") /
                TCP(sport=1, dport=2, options=[("NOP", None)] * 3 + [("EOL", None)]))
    raw = bytearray(raw)
    raw[14 + 20 + 20:14 + 20 + 24] = b"\x01\x01\x08\x0a"  # Timestamp option needing 10 bytes
    p = fp.Packet(bytes(raw))
    assert "tcp_bad_opt" in p.anomalies
    assert p.tcp.timestamp is None


def test_checksums():
    pkts = fixture_packets("checksums.pcap")
    hs = hand("checksums.pcap")
    for i in (0, 1, 2, 8, 9):
        assert pkts[i].tcp.checksum_ok() is hs[i]["checksums"]["tcp"], i


def test_checksum_unknown_when_truncated():
    raw = bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP() / Raw(b"x" * 100))
    p = fp.Packet(raw[:60], wirelen=len(raw))
    assert p.tcp.checksum_ok() is None
