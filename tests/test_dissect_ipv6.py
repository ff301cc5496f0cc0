"""IPv6: fixed header, extension-header chain (hop-by-hop, routing, destination options,
fragment), fragments, length lies (RFC 8200)."""
from __future__ import annotations

import socket

import pytest
from scapy.all import DNS, DNSRR, UDP, Ether, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, Raw

import fastpkt as fp
from _fphelpers import fixture_packets, hand


def test_fixed_header():
    p = fixture_packets("be_usec.pcap")[3]
    ip6 = p.ip6
    assert (ip6.version, ip6.tc, ip6.fl, ip6.plen, ip6.nh, ip6.hlim) == (6, 0, 0, 18, 17, 255)
    assert ip6.src == "2001:db8::1" and ip6.dst == "2001:db8::2"
    assert ip6.ttl == 255 and ip6.proto == 17
    assert ip6.ext_headers == [] and ip6.frag is None and ip6.MF is False
    assert ip6.offset == 14 and ip6.header_len == 40
    assert p.ip is None and p.src == "2001:db8::1" and p.proto == 17
    assert ip6.name == "IPv6"


def test_four_extension_headers():
    p = fixture_packets("ipv6_ext_frag.pcap")[0]
    h = hand("ipv6_ext_frag.pcap")[0]
    assert p.ip6.nh == 0
    assert [list(x) for x in p.ip6.ext_headers] == h["ext_headers"]
    assert p.ip6.proto == 17 == p.proto
    assert p.ip6.frag == 0 and p.ip6.MF is False  # atomic fragment
    assert p.udp.sport == 7777 and p.udp.dport == 8888
    assert p.payload == b"through four extension headers"
    assert "ip_fragment" not in p.anomalies


def test_ipv6_fragments():
    pkts = fixture_packets("ipv6_ext_frag.pcap")[1:3]
    hs = hand("ipv6_ext_frag.pcap")[1:3]
    for i, (p, h) in enumerate(zip(pkts, hs)):
        assert [list(x) for x in p.ip6.ext_headers] == h["ext_headers"]
        assert p.ip6.frag == h["frag"] and p.ip6.MF is h["MF"]
        assert p.ip6.proto == 58
        if h["frag"] == 0:
            assert p.icmp6 is not None and p.icmp6.type == 128 and p.icmp6.id == 0x77
        else:
            assert p.icmp6 is None
            assert "ip_fragment" in p.anomalies


def test_dest_options_before_tcp():
    p = fixture_packets("ipv6_ext_frag.pcap")[7]
    assert p.ip6.nh == 60 and p.ip6.proto == 6
    assert [list(x) for x in p.ip6.ext_headers] == hand("ipv6_ext_frag.pcap")[7]["ext_headers"]
    assert p.tcp.sport == 22 and p.payload == b"ssh"


def test_truncated_extension_chain():
    raw = bytes(Ether() / IPv6(src="::1", dst="::2") / IPv6ExtHdrHopByHop() /
                IPv6ExtHdrDestOpt() / UDP())
    cut = raw[:14 + 40 + 8 + 3]
    p = fp.Packet(cut)
    assert p.ip6 is not None
    assert "ip6_ext" in p.anomalies or "ip6_bad_len" in p.anomalies
    assert p.udp is None


def test_payload_length_lies():
    raw = bytearray(bytes(Ether() / IPv6(src="::1", dst="::2") / UDP(sport=1, dport=2) /
                          Raw(b"abc")))
    raw[14 + 4:14 + 6] = (9000).to_bytes(2, "big")
    p = fp.Packet(bytes(raw))
    assert "ip6_bad_len" in p.anomalies
    assert p.ip6.plen == 9000


def test_extension_loop_is_bounded():
    # 40 hop-by-hop-like destination options headers: more than any limit
    pkt = IPv6(src="::1", dst="::2")
    for _ in range(40):
        pkt = pkt / IPv6ExtHdrDestOpt()
    p = fp.Packet(bytes(Ether() / pkt / UDP()))
    assert p.ip6 is not None
    assert len(p.ip6.ext_headers) <= 40
    if p.udp is None:
        assert "ip6_ext" in p.anomalies


def test_truncated_fixed_header():
    p = fp.Packet(bytes(Ether() / IPv6())[:14 + 30])
    assert "ip6_trunc" in p.anomalies


@pytest.mark.parametrize("addr", ["::", "::1", "::2", "1::", "::ffff", "::1.2.3.4", "::ffff:1.2.3.4",
                                  "::ffff:0:1.2.3.4", "::1:0:0", "1:0:0:2::3", "2001:db8::1:0:0:1",
                                  "2001:0:0:1::1", "fe80::1:2:3:4", "1:2:3:4:5:6:7:8"])
def test_address_text_is_inet_ntop(addr):
    """The IPv6 layer and DNS AAAA rdata share one formatter (fp_ip6_text): glibc's inet_ntop
    text, which Scapy prints (tshark agrees on all of these)."""
    want = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, addr))
    p = fp.Packet(bytes(Ether() / IPv6(src=addr, dst=addr) / UDP(sport=53, dport=1234) /
                        DNS(qr=1, an=DNSRR(rrname="x.", type=28, rdata=addr))))
    assert p.ip6.src == p.ip6.dst == p.dns.an[0].rdata == want
