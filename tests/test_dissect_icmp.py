"""ICMP (RFC 792) and ICMPv6 (RFC 4443): type, code, echo id/seq, checksums."""
from __future__ import annotations

from scapy.all import ICMP, IP, Ether

import fastpkt as fp
from _fphelpers import fixture_packets, hand


def test_icmp_echo_and_errors():
    req, rep, unreach, ttl = fixture_packets("icmp.pcap")
    assert (req.icmp.type, req.icmp.code, req.icmp.id, req.icmp.seq) == (8, 0, 0x1234, 1)
    assert (rep.icmp.type, rep.icmp.id, rep.icmp.seq) == (0, 0x1234, 1)
    assert req.icmp.payload == b"ping-data-0123456789"
    assert req.icmp.header_len == 8
    assert (unreach.icmp.type, unreach.icmp.code) == (3, 3)
    assert unreach.icmp.id is None and unreach.icmp.seq is None
    # the quoted datagram is not the packet's own IP/UDP
    assert unreach.ip.src == "10.0.0.2" and unreach.udp is None
    assert ttl.icmp.type == 11 and ttl.ip.id == 83
    for p in (req, rep, unreach, ttl):
        assert p.icmp.checksum_ok() is True
    assert req.icmp.name == "ICMP"


def test_icmpv6():
    req, rep, ns = fixture_packets("icmp6.pcap")
    assert (req.icmp6.type, req.icmp6.code, req.icmp6.id, req.icmp6.seq) == (128, 0, 0x4321, 7)
    assert (rep.icmp6.type, rep.icmp6.id, rep.icmp6.seq) == (129, 0x4321, 7)
    assert ns.icmp6.type == 135 and ns.icmp6.id is None and ns.icmp6.seq is None
    for p in (req, rep, ns):
        assert p.icmp6.checksum_ok() is True
        assert p.proto == 58


def test_checksums():
    pkts = fixture_packets("checksums.pcap")
    hs = hand("checksums.pcap")
    assert pkts[6].icmp.checksum_ok() is hs[6]["checksums"]["icmp"] is True
    assert pkts[7].icmp.checksum_ok() is hs[7]["checksums"]["icmp"] is False
    assert pkts[10].icmp6.checksum_ok() is hs[10]["checksums"]["icmp6"] is True
    assert pkts[11].icmp6.checksum_ok() is hs[11]["checksums"]["icmp6"] is False


def test_truncated():
    p = fp.Packet(bytes(Ether() / IP() / ICMP())[:14 + 20 + 2])
    assert "icmp_trunc" in p.anomalies
