"""IPv4: header fields, options, fragments, length lies, checksum (RFC 791, 1071)."""
from __future__ import annotations

from scapy.all import IP, UDP, Ether, IPOption_RR, Raw, fragment

import fastpkt as fp
from _fphelpers import fixture_packets, hand


def test_header_fields():
    p = fixture_packets("be_usec.pcap")[2]
    ip = p.ip
    assert (ip.version, ip.ihl, ip.tos, ip.len, ip.id, ip.ttl, ip.proto) == \
        (4, 5, 0, 20 + 8 + 13, 3, 1, 17)
    assert ip.DF is True and ip.MF is False and ip.flags == 2
    assert ip.frag == 0 and ip.frag_bytes == 0
    assert ip.src == "10.0.0.1" and ip.dst == "10.0.0.3"
    assert ip.options == b""
    assert ip.offset == 14 and ip.header_len == 20
    assert ip.payload == ip.raw[20:] and len(ip.raw) == ip.len
    assert p.src == "10.0.0.1" and p.dst == "10.0.0.3" and p.proto == 17
    assert ip.checksum_ok() is True
    assert ip.name == "IP"


def test_options():
    raw = bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2",
                             options=[IPOption_RR(routers=["9.9.9.9"])]) /
                UDP(sport=1, dport=2) / Raw(b"x"))
    p = fp.Packet(raw)
    ref = IP(raw[14:])
    assert p.ip.ihl == ref.ihl > 5
    assert p.ip.header_len == ref.ihl * 4
    assert p.ip.options == raw[14 + 20:14 + ref.ihl * 4]
    assert p.udp is not None and p.udp.dport == 2 and p.payload == b"x"
    assert p.ip.checksum_ok() is True


def test_fragments_fixture():
    pkts = fixture_packets("ipv6_ext_frag.pcap")[3:7]
    for p, h in zip(pkts, hand("ipv6_ext_frag.pcap")[3:7]):
        assert p.ip.frag == h["frag"]
        assert p.ip.MF is h["MF"]
        assert p.ip.frag_bytes == h["frag_bytes"]
        if h["upper_decoded"]:
            assert p.udp is not None and p.udp.sport == 9999
            assert "ip_fragment" not in p.anomalies
        else:
            assert p.udp is None and p.tcp is None
            assert "ip_fragment" in p.anomalies
            assert p.payload == p.ip.payload
    assert [p.ip.id for p in pkts] == [0x4242] * 4


def test_fragment_of_tcp_header_is_not_decoded_as_tcp():
    big = IP(src="1.1.1.1", dst="2.2.2.2", id=7, proto=6) / Raw(b"\x00" * 64)
    frags = fragment(big, fragsize=24)
    second = fp.Packet(bytes(Ether() / frags[1]))
    assert second.ip.frag == 3 and second.tcp is None


def test_bad_ihl():
    raw = bytearray(bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP()))
    raw[14] = 0x43  # IHL 3
    p = fp.Packet(bytes(raw))
    assert "ip4_bad_ihl" in p.anomalies
    assert p.udp is None


def test_total_length_lies():
    base = bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2) /
                 Raw(b"abcd"))
    raw = bytearray(base)
    raw[16:18] = (4000).to_bytes(2, "big")  # longer than the frame
    p = fp.Packet(bytes(raw))
    assert "ip4_bad_len" in p.anomalies
    assert p.ip.len == 4000
    raw = bytearray(base)
    raw[16:18] = (12).to_bytes(2, "big")  # shorter than the header
    p = fp.Packet(bytes(raw))
    assert "ip4_bad_len" in p.anomalies


def test_ethernet_padding_is_not_ip_payload():
    raw = bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2) /
                Raw(b"hi")) + b"\0" * 16
    p = fp.Packet(raw)
    assert len(raw) == 60
    assert p.ip.len == 30
    assert p.udp.payload == b"hi" and p.payload == b"hi"
    assert len(p.ip.raw) == 30


def test_truncated_ip_header():
    raw = bytes(Ether() / IP())[:14 + 12]
    p = fp.Packet(raw)
    assert "ip4_trunc" in p.anomalies


def test_checksum_verification():
    pkts = fixture_packets("checksums.pcap")
    for i, (p, h) in enumerate(zip(pkts, hand("checksums.pcap"))):
        exp = h["checksums"]
        if "ip" in exp:
            assert p.ip.checksum_ok() is exp["ip"], i
        got = p.verify_checksums()
        for k, v in exp.items():
            assert got.get(k) is v, (i, k, got)


def test_packet_constructor_time_and_wirelen():
    raw = bytes(Ether() / IP() / UDP())
    p = fp.Packet(raw, linktype=1, time=1234.5, wirelen=1000)
    assert p.time == 1234.5 and p.time_ns == 1234500000000
    assert p.wirelen == 1000 and p.caplen == len(raw)
    assert "snaplen" in p.anomalies
