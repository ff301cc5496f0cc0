"""Link layers: Ethernet, 802.1Q/802.1ad stacks, LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW,
IPV4/IPV6 link types, unknown link types; ARP."""
from __future__ import annotations

import pytest
from scapy.all import ARP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw

import fastpkt as fp
from _fphelpers import fixture_packets


def test_ethernet_fields():
    p = fixture_packets("be_usec.pcap")[0]
    assert p.eth.src == "00:11:22:33:44:55"
    assert p.eth.dst == "66:77:88:99:aa:bb"
    assert p.eth.type == 0x0800
    assert p.eth.offset == 0 and p.eth.header_len == 14
    assert p.sll is None and p.loopback is None and p.vlan is None and p.vlans == []
    assert p.layers[:3] == ("Ether", "IP", "TCP")
    assert p.eth.name == "Ether"


def test_qinq_802_1ad():
    p = fixture_packets("qinq.pcap")[0]
    assert p.eth.type == 0x88A8
    assert [(v.vlan, v.prio, v.id, v.tpid, v.type) for v in p.vlans] == [
        (100, 3, 0, 0x88A8, 0x8100), (200, 0, 1, 0x8100, 0x0800)]
    assert p.vlan is not None and p.vlan.vlan == 100  # outer tag
    assert p.vlans[0].offset == 14 and p.vlans[1].offset == 18
    assert p.ip.src == "172.16.0.1" and p.udp.dport == 2000
    assert p.ip.offset == 22
    assert p.payload == b"qinq"


def test_single_tag_arp():
    p = fixture_packets("qinq.pcap")[1]
    assert [(v.vlan, v.prio, v.tpid) for v in p.vlans] == [(10, 7, 0x8100)]
    assert p.arp is not None and p.arp.op == 1 and p.arp.pdst == "172.16.0.9"


def test_three_tags_and_9100():
    p = fixture_packets("qinq.pcap")[2]
    assert [v.vlan for v in p.vlans] == [1, 2, 4094]
    assert p.ip6 is not None and p.tcp.dport == 6 and p.payload == b"3 tags"
    p = fixture_packets("qinq.pcap")[3]
    assert [(v.vlan, v.tpid, v.type) for v in p.vlans] == [(300, 0x9100, 0x8100),
                                                           (301, 0x8100, 0x0800)]
    assert p.icmp.type == 8 and p.icmp.id == 2 and p.icmp.seq == 3


def test_too_many_tags_is_an_anomaly_not_an_error():
    raw = bytes(Ether(src="00:00:00:00:00:01", dst="00:00:00:00:00:02") /
                Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / Dot1Q(vlan=4) / Dot1Q(vlan=5) /
                Dot1Q(vlan=6) / IP() / UDP())
    p = fp.Packet(raw)
    assert [v.vlan for v in p.vlans][:4] == [1, 2, 3, 4]
    assert "vlan_depth" in p.anomalies


def test_sll2():
    a, b = fixture_packets("sll2.pcap")
    assert a.linktype == 276 and a.eth is None
    assert (a.sll.pkttype, a.sll.hatype, a.sll.addr, a.sll.proto, a.sll.ifindex) == \
        (0, 1, "00:11:22:33:44:55", 0x0800, 2)
    assert a.sll.header_len == 20
    assert a.ip.src == "192.168.1.10" and a.tcp.dport == 443
    assert (b.sll.pkttype, b.sll.proto, b.sll.ifindex) == (4, 0x86DD, 3)
    assert b.ip6.dst == "ff02::1" and b.udp.dport == 547 and b.payload == b"dhcp6"


def test_sll_v1():
    a, b = fixture_packets("sll.pcap")
    assert a.linktype == 113 and a.eth is None
    assert (a.sll.pkttype, a.sll.hatype, a.sll.addr, a.sll.proto) == \
        (0, 1, "00:11:22:33:44:55", 0x0800)
    assert a.sll.ifindex is None and a.sll.header_len == 16
    assert a.dns is not None and a.dns.qname == "sll.example.com"
    assert b.sll.proto == 0x0806 and b.arp.op == 1 and b.arp.psrc == "192.168.1.10"


def test_null_loopback_host_order():
    a, b, c = fixture_packets("null.pcap")
    assert [p.loopback.type for p in (a, b, c)] == [2, 30, 24]
    assert a.ip.src == "127.0.0.1" and a.udp.dport == 2222 and a.payload == b"lo"
    assert b.ip6.src == "::1" and b.tcp.sport == 3333
    assert c.ip6 is not None and c.udp.sport == 5353
    assert a.eth is None and a.loopback.header_len == 4


def test_loop_network_order():
    (p,) = fixture_packets("loop.pcap")
    assert p.linktype == 108
    assert p.loopback.type == 2
    assert p.ip.src == "127.0.0.2" and p.icmp.id == 1


def test_raw_linktype():
    a, b = fixture_packets("raw.pcap")
    assert a.eth is None and a.ip.offset == 0 and a.ip.src == "10.1.1.1"
    assert str(a.tcp.flags) == "R"
    assert b.ip6.offset == 0 and b.udp.dport == 4


@pytest.mark.parametrize("lt,raw", [
    (228, bytes(IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=1, dport=2))),
    (229, bytes(IPv6(src="::1", dst="::2") / TCP(sport=3, dport=4))),
    (101, bytes(IPv6(src="::1", dst="::2") / TCP(sport=3, dport=4))),
])
def test_ip_linktypes_via_packet(lt, raw):
    p = fp.Packet(raw, linktype=lt)
    assert p.linktype == lt
    assert p.src in ("1.2.3.4", "::1")
    assert p.sport in (1, 3)


@pytest.mark.parametrize("head,inner", [
    (b"\xff\x03\x00\x21", bytes(IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=1, dport=2))),  # HDLC framing
    (b"\x00\x21", bytes(IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=1, dport=2))),            # bare
    (b"\x21", bytes(IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=1, dport=2))),                # compressed
    (b"\xff\x03\x00\x57", bytes(IPv6(src="::1", dst="::2") / TCP(sport=3, dport=4))),
])
def test_ppp_linktype(head, inner):
    """LINKTYPE_PPP (9): RFC 1662 framing optional, protocol field 0x0021 / 0x0057 (RFC 1661),
    compressible to one byte."""
    p = fp.Packet(head + inner, linktype=9)
    assert p.src in ("1.2.3.4", "::1") and p.sport in (1, 3)
    assert (p.ip or p.ip6).offset == len(head)


def test_ppp_other_protocol_and_truncation():
    lcp = fp.Packet(b"\xff\x03\xc0\x21\x01\x01\x00\x04", linktype=9)
    assert lcp.ip is None and lcp.payload == b"\x01\x01\x00\x04"
    short = fp.Packet(b"\xff\x03\x00", linktype=9)
    assert "link_trunc" in short.anomalies


def test_unknown_linktype_is_raw_payload():
    raw = b"\x01\x02\x03\x04 whatever"
    p = fp.Packet(raw, linktype=147)  # USER0
    assert p.layers == ()
    assert p.payload == raw
    assert p.eth is None and p.ip is None


def test_arp_fields_and_padding():
    a, b = fixture_packets("arp.pcap")
    assert a.caplen == 60
    assert (a.arp.hwtype, a.arp.ptype, a.arp.hwlen, a.arp.plen, a.arp.op) == (1, 0x800, 6, 4, 1)
    assert (a.arp.hwsrc, a.arp.psrc, a.arp.hwdst, a.arp.pdst) == \
        ("00:11:22:33:44:55", "10.0.0.1", "00:00:00:00:00:00", "10.0.0.2")
    assert b.arp.op == 2 and b.arp.hwdst == "00:11:22:33:44:55"
    assert b.layers == ("Ether", "ARP")
    assert a.arp.header_len == 28
    # Ethernet padding after the 28-byte ARP body is not ARP payload
    assert b.arp.payload == b""
    assert b.payload == b""
    assert b.ip is None and b.src is None


def test_truncated_link_headers_are_anomalies():
    p = fp.Packet(b"\x00\x11\x22\x33\x44", linktype=1)
    assert "link_trunc" in p.anomalies and p.eth is None
    p = fp.Packet(bytes(Ether() / ARP())[:30])
    assert "arp_trunc" in p.anomalies
    p = fp.Packet(b"\x00\x00", linktype=276)
    assert "link_trunc" in p.anomalies
    p = fp.Packet(b"\x02\x00", linktype=0)
    assert "link_trunc" in p.anomalies


def test_ethernet_8023_length_field_not_ethertype():
    raw = bytes(Ether(src="00:00:00:00:00:01", dst="01:80:c2:00:00:00", type=38) /
                Raw(b"\x42\x42\x03" + b"\0" * 35))
    p = fp.Packet(raw)
    assert p.eth.type == 38
    assert p.ip is None and p.arp is None
