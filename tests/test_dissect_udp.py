"""UDP (RFC 768): ports, length, checksum incl. zero, length lies."""
from __future__ import annotations

from scapy.all import IP, UDP, Ether, IPv6, Raw

import fastpkt as fp
from _fphelpers import fixture_packets, hand


def test_fields():
    p = fixture_packets("be_usec.pcap")[2]
    assert (p.udp.sport, p.udp.dport, p.udp.len) == (5000, 6000, 8 + 13)
    assert p.udp.header_len == 8 and p.udp.payload == b"hello fastpkt"
    assert p.payload == b"hello fastpkt"
    assert p.sport == 5000 and p.dport == 6000
    assert p.udp.name == "UDP"
    assert p.layers[:3] == ("Ether", "IP", "UDP")


def test_checksums():
    pkts = fixture_packets("checksums.pcap")
    hs = hand("checksums.pcap")
    for i in (3, 4, 5):
        assert pkts[i].udp.checksum_ok() is hs[i]["checksums"]["udp"], i
    assert pkts[5].udp.chksum == 0 and pkts[5].udp.checksum_ok() is None


def test_length_field_bounds_payload():
    raw = bytearray(bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2) /
                          Raw(b"abcdef")))
    raw[14 + 20 + 4:14 + 20 + 6] = (8 + 3).to_bytes(2, "big")  # says 3 bytes of data
    p = fp.Packet(bytes(raw))
    assert p.udp.len == 11
    assert p.udp.payload == b"abc"


def test_length_lies():
    base = bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2) /
                 Raw(b"abcdef"))
    for bad in (0, 7, 5000):
        raw = bytearray(base)
        raw[14 + 20 + 4:14 + 20 + 6] = bad.to_bytes(2, "big")
        p = fp.Packet(bytes(raw))
        assert "udp_bad_len" in p.anomalies, bad
        assert p.udp is not None and p.udp.len == bad
        assert len(p.udp.payload) <= 6


def test_truncated_header():
    p = fp.Packet(bytes(Ether() / IP() / UDP())[:14 + 20 + 5])
    assert "udp_trunc" in p.anomalies


def test_udp_over_ipv6_checksum():
    raw = bytes(Ether() / IPv6(src="::1", dst="::2") / UDP(sport=1, dport=2) / Raw(b"q"))
    p = fp.Packet(raw)
    assert p.udp.checksum_ok() is True
    bad = bytearray(raw)
    bad[-1] ^= 0xFF
    assert fp.Packet(bytes(bad)).udp.checksum_ok() is False
