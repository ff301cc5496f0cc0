#!/usr/bin/env python3
"""Build the small capture fixtures in tests/data/ and their expected values.

Packets are built with Scapy (an implementation independent of fastpkt) and,
except for the pcapng file, written with Scapy's pcap writer. The pcapng file
is written by hand with `struct` (Scapy's pcapng writer cannot make several
sections, SPB, obsolete PB, NRB, ISB, DSB or custom blocks).

`expected.json` describes every record of every fixture: timestamp in ns,
caplen, wirelen, link type, interface, raw bytes, and the protocol fields as
Scapy dissects them when it reads the written file back (see
tests/_scapy_ref.py), plus a few values computed by hand from the RFCs
(`"hand"` key: pcapng times, IPv6 extension-header offsets, TLS SNI, HTTP
fields, DNS anomalies to expect). Nothing here uses fastpkt.

Run from anywhere:  python tests/data/make_fixtures.py
The output is deterministic (fixed addresses, ids, times), so running it twice
gives byte-identical files.
"""
from __future__ import annotations

import json
import struct
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _scapy_ref import extract  # noqa: E402

from scapy.all import (  # noqa: E402
    ARP, DNS, DNSQR, DNSRR, ICMP, IP, TCP, UDP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q,
    DNSRRMX, DNSRRSOA, DNSRRSRV, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NS, IPv6,
    IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Loopback,
    Padding, Raw, RawPcapWriter, RouterAlert, fragment, fragment6, rdpcap,
)

MAC_A = "00:11:22:33:44:55"
MAC_B = "66:77:88:99:aa:bb"
T0 = Decimal("1700000000")

EXPECTED: dict[str, dict] = {}


def eth(src: str = MAC_A, dst: str = MAC_B, **kw):
    return Ether(src=src, dst=dst, **kw)


def write_scapy_pcap(name: str, pkts: list, linktype: int, *, big_endian: bool = False,
                     nano: bool = False, snaplen: int = 65535, exercises: str,
                     hand: list | None = None, truncate: dict[int, int] | None = None) -> None:
    """Write `pkts` (Scapy packets with .time set) with Scapy's writer, then read the file
    back with Scapy to record what Scapy sees. `truncate` maps packet index -> caplen for
    snaplen-cut records (wirelen stays the full length)."""
    path = HERE / name
    w = RawPcapWriter(str(path), linktype=linktype, endianness=">" if big_endian else "<",
                      nano=nano, snaplen=snaplen, sync=True)
    w.linktype = linktype  # RawPcapWriter ignores a falsy linktype (0 = NULL)
    for i, p in enumerate(pkts):
        raw = bytes(p)
        t = Decimal(p.time)
        sec = int(t)
        frac = int((t - sec) * (10**9 if nano else 10**6))
        caplen = len(raw)
        if truncate and i in truncate:
            caplen = truncate[i]
        if not getattr(w, "header_present", False):
            w.write_header(None)
        w.write_packet(raw[:caplen], sec=sec, usec=frac, caplen=caplen, wirelen=len(raw))
    w.close()
    back = rdpcap(str(path))
    assert len(back) == len(pkts), name
    recs = []
    for i, (orig, sp) in enumerate(zip(pkts, back)):
        t = Decimal(sp.time)
        rec = {
            "time_ns": int(t * 10**9),
            "caplen": len(bytes(sp)),
            "wirelen": int(sp.wirelen if sp.wirelen is not None else len(bytes(sp))),
            "linktype": linktype,
            "interface": 0,
            "raw": bytes(sp).hex(),
            "fields": extract(sp),
        }
        if getattr(orig, "dns_not_a_reference", False):
            rec["fields"].pop("dns", None)
        if hand and i < len(hand) and hand[i]:
            rec["hand"] = hand[i]
        recs.append(rec)
    EXPECTED[name] = {
        "format": "pcap", "linktype": linktype, "nanosecond": nano, "big_endian": big_endian,
        "snaplen": snaplen, "exercises": exercises, "packets": recs,
    }


def at(p, secs: str):
    p.time = T0 + Decimal(secs)
    return p


# --------------------------------------------------------------------------- pcap basics


def basic_packets():
    return [
        at(eth() / IP(src="10.0.0.1", dst="10.0.0.2", id=1, ttl=64) /
           TCP(sport=40000, dport=80, seq=1000, ack=0, flags="S", window=65535), "0.000001"),
        at(eth(MAC_B, MAC_A) / IP(src="10.0.0.2", dst="10.0.0.1", id=2, ttl=63) /
           TCP(sport=80, dport=40000, seq=5000, ack=1001, flags="SA", window=28960), "0.5"),
        at(eth() / IP(src="10.0.0.1", dst="10.0.0.3", id=3, ttl=1, flags="DF") /
           UDP(sport=5000, dport=6000) / Raw(b"hello fastpkt"), "1.999999"),
        at(eth() / IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=255) /
           UDP(sport=1234, dport=4321) / Raw(b"v6 payload"), "2.25"),
    ]


def make_pcaps() -> None:
    pk = basic_packets()
    # A snaplen-cut record: caplen 54 (Ether+IP+TCP header only of a 254-byte frame).
    big = at(eth() / IP(src="10.0.0.1", dst="10.0.0.2", id=4) /
             TCP(sport=40000, dport=80, seq=1001, ack=5001, flags="PA") / Raw(b"x" * 200), "3")
    write_scapy_pcap("le_usec.pcap", pk + [big], 1, truncate={4: 54},
                     exercises="little-endian microsecond pcap; TCP/UDP/IPv6; last record cut by "
                               "the snap length (caplen 54 < wirelen 254)")
    write_scapy_pcap("be_usec.pcap", basic_packets(), 1, big_endian=True,
                     exercises="big-endian microsecond pcap (magic a1 b2 c3 d4 in BE order)")
    ns = basic_packets()
    ns[0].time = T0 + Decimal("0.123456789")
    ns[1].time = T0 + Decimal("0.000000001")
    ns[2].time = Decimal("4294967295.999999999")  # last second a 32-bit pcap can hold
    ns[3].time = Decimal("0.000000007")
    write_scapy_pcap("ns_le.pcap", ns, 1, nano=True,
                     exercises="little-endian nanosecond pcap (magic a1 b2 3c 4d); ns-precise "
                               "times incl. 1 ns, year-2106 edge and epoch+7ns")
    ns = basic_packets()
    ns[0].time = T0 + Decimal("0.123456789")
    ns[1].time = T0 + Decimal("0.999999999")
    write_scapy_pcap("ns_be.pcap", ns, 1, nano=True, big_endian=True,
                     exercises="big-endian nanosecond pcap")


# --------------------------------------------------------------------------- link layers


def make_links() -> None:
    mac = bytes.fromhex("001122334455") + b"\0\0"
    p1 = at(CookedLinuxV2(proto=0x0800, ifindex=2, lladdrtype=1, pkttype=0, lladdrlen=6,
                          src=mac) /
            IP(src="192.168.1.10", dst="192.168.1.20", id=7, ttl=64) /
            TCP(sport=12345, dport=443, seq=1, ack=2, flags="A"), "10")
    p2 = at(CookedLinuxV2(proto=0x86DD, ifindex=3, lladdrtype=1, pkttype=4, lladdrlen=6,
                          src=mac) /
            IPv6(src="fe80::1", dst="ff02::1", hlim=1) / UDP(sport=546, dport=547) /
            Raw(b"dhcp6"), "10.5")
    write_scapy_pcap("sll2.pcap", [p1, p2], 276,
                     exercises="LINUX_SLL2 (276): IPv4/TCP host packet, IPv6/UDP outgoing "
                               "packet; ifindex 2 and 3")
    p1 = at(CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=mac, proto=0x0800) /
            IP(src="192.168.1.10", dst="192.168.1.1", id=8) / UDP(sport=33000, dport=53) /
            DNS(id=0x4242, rd=1, qd=DNSQR(qname="sll.example.com")), "11")
    p2 = at(CookedLinux(pkttype=4, lladdrtype=1, lladdrlen=6, src=mac, proto=0x0806) /
            ARP(op=1, hwsrc=MAC_A, psrc="192.168.1.10", pdst="192.168.1.1"), "11.1")
    write_scapy_pcap("sll.pcap", [p1, p2], 113,
                     exercises="LINUX_SLL (113): IPv4/UDP/DNS query; ARP (proto 0x0806)")
    p1 = at(Loopback(type=2) / IP(src="127.0.0.1", dst="127.0.0.1", id=9) /
            UDP(sport=1111, dport=2222) / Raw(b"lo"), "12")
    p2 = at(Loopback(type=30) / IPv6(src="::1", dst="::1") /
            TCP(sport=3333, dport=4444, seq=7, flags="S"), "12.1")
    p3 = at(Loopback(type=24) / IPv6(src="::1", dst="::1") /
            UDP(sport=5353, dport=5353) / Raw(b"x"), "12.2")
    write_scapy_pcap("null.pcap", [p1, p2, p3], 0,
                     exercises="NULL/BSD loopback (0), family in host (little-endian) order: "
                               "AF_INET 2, AF_INET6 30 (Darwin) and 24 (NetBSD/OpenBSD)")
    # Scapy's Loopback layer binds only some AF_INET6 values: dissect what follows the
    # 4-byte header with Scapy's IPv6 class directly.
    for rec in EXPECTED["null.pcap"]["packets"][1:]:
        f = extract(IPv6(bytes.fromhex(rec["raw"])[4:]))
        f["loopback"] = rec["fields"]["loopback"]
        rec["fields"] = f
    # DLT_LOOP (108): the family is in network byte order. Scapy has no LOOP layer
    # class bound for writing, so the 4-byte header is packed by hand.
    p1 = at(Raw(struct.pack("!I", 2) + bytes(IP(src="127.0.0.2", dst="127.0.0.3", id=10) /
                                              ICMP(type=8, id=1, seq=1))), "13")
    write_scapy_pcap("loop.pcap", [p1], 108,
                     exercises="LOOP (108): address family in network byte order",
                     hand=[{"ip": {"src": "127.0.0.2", "dst": "127.0.0.3", "id": 10},
                            "icmp": {"type": 8, "id": 1, "seq": 1}}])
    p1 = at(IP(src="10.1.1.1", dst="10.1.1.2", id=11) / TCP(sport=1, dport=2, flags="R"), "14")
    p2 = at(IPv6(src="2001:db8::a", dst="2001:db8::b") / UDP(sport=3, dport=4), "14.1")
    write_scapy_pcap("raw.pcap", [p1, p2], 101,
                     exercises="RAW (101): IPv4 and IPv6 without link header")
    # QinQ and friends
    pk = [
        at(eth(type=0x88A8) / Dot1AD(vlan=100, prio=3) / Dot1Q(vlan=200, dei=1, prio=0) /
           IP(src="172.16.0.1", dst="172.16.0.2", id=12) / UDP(sport=1000, dport=2000) /
           Raw(b"qinq"), "15"),
        at(eth(dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=10, prio=7) /
           ARP(op=1, hwsrc=MAC_A, psrc="172.16.0.1", pdst="172.16.0.9"), "15.1"),
        at(eth(type=0x88A8) / Dot1AD(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=4094) /
           IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=5, dport=6, flags="PA") /
           Raw(b"3 tags"), "15.2"),
        at(eth(type=0x9100) / Dot1Q(vlan=300, type=0x8100) / Dot1Q(vlan=301) /
           IP(src="172.16.0.3", dst="172.16.0.4", id=13) / ICMP(type=8, id=2, seq=3), "15.3"),
    ]
    qinq_hand = [None, None, None, {
        "what": "Scapy does not bind TPID 0x9100, so these values are by hand",
        "vlans": [{"vlan": 300, "tpid": 0x9100, "type": 0x8100},
                  {"vlan": 301, "tpid": 0x8100, "type": 0x0800}],
        "ip": {"src": "172.16.0.3", "dst": "172.16.0.4", "id": 13, "proto": 1},
        "icmp": {"type": 8, "id": 2, "seq": 3}}]
    write_scapy_pcap("qinq.pcap", pk, 1, hand=qinq_hand,
                     exercises="VLAN stacks: 802.1ad (0x88a8) + 802.1Q with PCP/DEI; single "
                               "802.1Q + ARP; three tags + IPv6/TCP; old QinQ TPID 0x9100")


# --------------------------------------------------------------------------- IPv6 + fragments


def make_ip() -> None:
    ext = (IPv6(src="2001:db8::1", dst="2001:db8::2", nh=0) /
           IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)]) /
           IPv6ExtHdrRouting(type=0, addresses=["2001:db8::10", "2001:db8::11"], segleft=2) /
           IPv6ExtHdrDestOpt() /
           IPv6ExtHdrFragment(offset=0, m=0, id=0x12345678) /
           UDP(sport=7777, dport=8888) / Raw(b"through four extension headers"))
    ext = at(eth() / ext, "20")
    raw = bytes(ext)
    # hand: (next-header value that introduced it, offset in the frame, length)
    hbh_len = (raw[14 + 40 + 1] + 1) * 8
    rt_off = 14 + 40 + hbh_len
    rt_len = (raw[rt_off + 1] + 1) * 8
    do_off = rt_off + rt_len
    do_len = (raw[do_off + 1] + 1) * 8
    fr_off = do_off + do_len
    ext_hand = {"ext_headers": [[0, 54, hbh_len], [43, rt_off, rt_len], [60, do_off, do_len],
                                [44, fr_off, 8]],
                "proto": 17, "frag": 0, "MF": False,
                "udp": {"sport": 7777, "dport": 8888}}
    big6 = (IPv6(src="2001:db8::1", dst="2001:db8::3") / IPv6ExtHdrFragment(id=0xABCD) /
            ICMPv6EchoRequest(id=0x77, seq=1, data=b"A" * 1000))
    frags6 = fragment6(big6, 600)
    frags6 = [at(eth() / f, f"20.{i + 1}") for i, f in enumerate(frags6)]
    f6hand = []
    for f in frags6:
        fh = f[IPv6ExtHdrFragment]
        f6hand.append({"proto": 58, "frag": int(fh.offset), "MF": bool(fh.m),
                       "ext_headers": [[44, 54, 8]]})
    big4 = IP(src="10.9.9.1", dst="10.9.9.2", id=0x4242) / UDP(sport=9999, dport=53000) / \
        Raw(bytes(range(256)) * 5)
    frags4 = [at(eth() / f, f"21.{i}") for i, f in enumerate(fragment(big4, fragsize=400))]
    f4hand = []
    for f in frags4:
        f4hand.append({"frag": int(f[IP].frag), "MF": bool(int(f[IP].flags) & 1),
                       "frag_bytes": int(f[IP].frag) * 8,
                       "upper_decoded": int(f[IP].frag) == 0})
    tcp6 = at(eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrDestOpt() /
              TCP(sport=22, dport=50000, seq=99, ack=100, flags="PA") / Raw(b"ssh"), "22")
    tcp6_hand = {"proto": 6, "ext_headers": [[60, 54, 8]], "frag": None, "MF": False}
    pkts = [ext] + frags6 + frags4 + [tcp6]
    hand = [ext_hand] + f6hand + f4hand + [tcp6_hand]
    write_scapy_pcap("ipv6_ext_frag.pcap", pkts, 1, hand=hand,
                     exercises="IPv6 hop-by-hop + routing (type 0) + destination options + "
                               "atomic fragment header before UDP; an ICMPv6 echo fragmented "
                               "in IPv6 fragments; a UDP datagram in IPv4 fragments (first "
                               "fragment carries the UDP header); dest-opts before TCP")


# --------------------------------------------------------------------------- DNS


def dns_udp(msg, sport=53, dport=33333, t="30"):
    return at(eth() / IP(src="192.0.2.53", dst="192.0.2.1", id=30) /
              UDP(sport=sport, dport=dport) / msg, t)


def make_dns() -> None:
    q = DNS(id=0x1234, rd=1, qd=DNSQR(qname="www.example.com", qtype="A"))
    resp = DNS(
        id=0x1234, qr=1, aa=1, rd=1, ra=1,
        qd=DNSQR(qname="www.example.com", qtype=255),
        an=[DNSRR(rrname="www.example.com", type="CNAME", ttl=300, rdata="web.example.com"),
            DNSRR(rrname="web.example.com", type="A", ttl=60, rdata="192.0.2.80"),
            DNSRR(rrname="web.example.com", type="AAAA", ttl=60, rdata="2001:db8::80"),
            DNSRRMX(rrname="example.com", ttl=3600, preference=10,
                    exchange="mail.example.com"),
            DNSRR(rrname="example.com", type="TXT", ttl=3600,
                  rdata=[b"v=spf1 -all", b"hello world"]),
            DNSRRSRV(rrname="_sip._tcp.example.com", ttl=86400, priority=10, weight=60,
                     port=5060, target="sip.example.com"),
            DNSRR(rrname="80.2.0.192.in-addr.arpa", type="PTR", ttl=10,
                  rdata="web.example.com")],
        ns=[DNSRR(rrname="example.com", type="NS", ttl=172800, rdata="ns1.example.com"),
            DNSRRSOA(rrname="example.com", ttl=900, mname="ns1.example.com",
                     rname="hostmaster.example.com", serial=2024010101, refresh=7200,
                     retry=3600, expire=1209600, minimum=300)],
        ar=[DNSRR(rrname="ns1.example.com", type="A", ttl=172800, rdata="192.0.2.1")],
    ).compress()
    assert b"\xc0\x0c" in bytes(resp), "Scapy did not compress"
    tcpmsg = bytes(DNS(id=0x5678, rd=1, qd=DNSQR(qname="tcp.example.net", qtype="AAAA")))
    pk = [
        at(eth() / IP(src="192.0.2.1", dst="192.0.2.53", id=31) /
           UDP(sport=33333, dport=53) / q, "30"),
        dns_udp(resp, t="30.01"),
        at(eth() / IP(src="192.0.2.1", dst="192.0.2.53", id=32) /
           TCP(sport=44444, dport=53, seq=1, ack=1, flags="PA") /
           Raw(struct.pack("!H", len(tcpmsg)) + tcpmsg), "30.02"),
    ]
    write_scapy_pcap("dns.pcap", pk, 1,
                     exercises="DNS query; compressed response with A, AAAA, CNAME, MX, TXT "
                               "(2 strings), SRV, PTR answers, NS + SOA authority, A "
                               "additional; DNS over TCP with the 2-byte length prefix")

    # Compression loops and other hostile names (built by hand, RFC 1035 4.1.4).
    hdr = struct.pack("!HHHHHH", 0xBAD1, 0x0100, 1, 0, 0, 0)
    self_loop = hdr + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    # Two-pointer cycle: question is fine; answer rrname -> X -> Y -> X.
    hdr2 = struct.pack("!HHHHHH", 0xBAD2, 0x8180, 1, 2, 0, 0)
    qname = b"\x04loop\x07example\x00"
    question = qname + struct.pack("!HH", 10, 1)
    off_rr1 = 12 + len(question)
    # rr1: rrname -> question name, type NULL(10), rdata = two pointers forming a cycle
    x = off_rr1 + 2 + 10
    y = x + 2
    rdata = struct.pack("!H", 0xC000 | y) + struct.pack("!H", 0xC000 | x)
    rr1 = b"\xc0\x0c" + struct.pack("!HHIH", 10, 1, 60, len(rdata)) + rdata
    rr2 = struct.pack("!H", 0xC000 | x) + struct.pack("!HHIH", 5, 1, 60, 2) + b"\xc0\x0c"
    cycle = hdr2 + question + rr1 + rr2
    forward = struct.pack("!HHHHHH", 0xBAD3, 0x0100, 1, 0, 0, 0) + b"\xc0\xff" + \
        struct.pack("!HH", 1, 1)
    # A deep but valid backwards chain: 60 pointers each to the previous one.
    body = b"\x04deep\x00"
    base = 12 + 4 + 4  # header + question (pointer + type/class)... names follow
    chain = bytearray()
    first = base
    chain += body
    prev = first
    for _ in range(60):
        here = base + len(chain)
        chain += b"\x01a" + struct.pack("!H", 0xC000 | prev)
        prev = here
    deep = struct.pack("!HHHHHH", 0xBAD4, 0x0100, 1, 0, 0, 0) + \
        struct.pack("!H", 0xC000 | prev) + struct.pack("!HH", 1, 1) + bytes(chain)
    huge_counts = struct.pack("!HHHHHH", 0xBAD5, 0x8180, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF) + \
        b"\x01x\x00" + struct.pack("!HH", 1, 1)
    label_past_end = struct.pack("!HHHHHH", 0xBAD6, 0x0100, 1, 0, 0, 0) + b"\x3fabc"
    msgs = [self_loop, cycle, forward, deep, huge_counts, label_past_end]
    pk = [at(eth() / IP(src="192.0.2.66", dst="192.0.2.1", id=40 + i) /
             UDP(sport=53, dport=40000 + i) / Raw(m), f"31.{i}") for i, m in enumerate(msgs)]
    hand = [
        {"dns_id": 0xBAD1, "bad_name": True, "what": "question name is a pointer to itself"},
        {"dns_id": 0xBAD2, "bad_name": True, "qname": "loop.example",
         "what": "answer 2 rrname -> X -> Y -> X (two-pointer cycle); answer 1 is fine"},
        {"dns_id": 0xBAD3, "bad_name": True, "what": "pointer past the end of the message"},
        {"dns_id": 0xBAD4, "bad_name": None,
         "what": "valid chain of 60 backward pointers (a.a.a...deep): decoded or refused "
                 "as too deep, never a crash"},
        {"dns_id": 0xBAD5, "bad_name": False, "malformed": True, "qname": "x",
         "what": "all four counts 65535, one question present"},
        {"dns_id": 0xBAD6, "bad_name": True, "what": "label length 63 runs past the end"},
    ]
    for p in pk:  # what Scapy makes of these names is not a reference: use `hand`
        p.dns_not_a_reference = True
    write_scapy_pcap("dns_loop.pcap", pk, 1, hand=hand,
                     exercises="hostile DNS names: self-pointer, two-pointer cycle, forward "
                               "pointer past the end, 60-deep valid chain, counts 65535, "
                               "label past end")


# --------------------------------------------------------------------------- TCP options


def make_tcp() -> None:
    c, s = "10.0.0.1", "10.0.0.2"
    pk = [
        at(eth() / IP(src=c, dst=s, id=50) /
           TCP(sport=50000, dport=443, seq=0xFFFFFFF0, flags="SEC", window=64240,
               options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (123456, 0)),
                        ("NOP", None), ("WScale", 7)]), "40"),
        at(eth(MAC_B, MAC_A) / IP(src=s, dst=c, id=51) /
           TCP(sport=443, dport=50000, seq=0x10, ack=0xFFFFFFF1, flags="SAE", window=65160,
               options=[("MSS", 1400), ("NOP", None), ("NOP", None), ("SAckOK", b""),
                        ("NOP", None), ("WScale", 14)]), "40.1"),
        at(eth() / IP(src=c, dst=s, id=52) /
           TCP(sport=50000, dport=443, seq=0xFFFFFFF1, ack=0x11, flags="A",
               options=[("NOP", None), ("NOP", None), ("Timestamp", (123460, 654321)),
                        ("NOP", None), ("NOP", None),
                        ("SAck", (1000, 2000, 3000, 4000))]), "40.2"),
        at(eth() / IP(src=c, dst=s, id=53) /
           TCP(sport=50000, dport=443, seq=5, ack=6, flags="FPAUN", urgptr=3,
               options=[("EOL", None)]) / Raw(b"urgent"), "40.3"),
        # option kind 2 with length 0: malformed options (anomaly expected)
        at(eth() / IP(src=c, dst=s, id=54, proto=6) /
           Raw(bytes(TCP(sport=50000, dport=443, seq=6, ack=6, flags="A", dataofs=6,
                         chksum=0))[:20] + b"\x02\x00\x05\xb4"), "40.4"),
        at(eth() / IP(src=c, dst=s, id=55) /
           TCP(sport=50000, dport=443, seq=7, ack=6, flags="R"), "40.5"),
    ]
    hand = [
        {"mss": 1460, "wscale": 7, "sack_permitted": True, "sack": [], "timestamp": [123456, 0],
         "flags": "SEC", "bad_options": False},
        {"mss": 1400, "wscale": 14, "sack_permitted": True, "sack": [], "timestamp": None,
         "flags": "SAE", "bad_options": False},
        {"mss": None, "wscale": None, "sack_permitted": False,
         "sack": [[1000, 2000], [3000, 4000]], "timestamp": [123460, 654321], "flags": "A",
         "bad_options": False},
        {"mss": None, "wscale": None, "sack_permitted": False, "sack": [], "timestamp": None,
         "flags": "FPAUN", "bad_options": False, "payload": b"urgent".hex()},
        {"bad_options": True},
        {"flags": "R", "mss": None, "bad_options": False, "sack": [], "timestamp": None},
    ]
    write_scapy_pcap("tcp_opts.pcap", pk, 1, hand=hand,
                     exercises="TCP options MSS, WS, SACK-permitted, timestamps, SACK blocks, "
                               "NOP/EOL; flags incl. ECE/CWR/URG/NS; sequence wrap; malformed "
                               "option (kind 2 length 0)")


# --------------------------------------------------------------------------- HTTP


def make_http() -> None:
    req = (b"GET /index.html?q=1&r=%20 HTTP/1.1\r\nHost: www.example.com\r\n"
           b"User-Agent: fastpkt-test/1.0\r\nAccept: */*\r\nX-Dup: a\r\nX-Dup: b\r\n\r\n")
    resp = (b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 5\r\n"
            b"\r\nhello")
    post = (b"POST /api/v1/items HTTP/1.0\r\nHOST: api.example.com:8080\r\n"
            b"Content-Length: 7\r\n\r\n{\"a\":1}")
    partial = b"GET /slow HTTP/1.1\r\nHost: partial.example.com\r\nAccept: text/pl"
    notfirst = b"this is not an HTTP start line\r\nHost: nope\r\n\r\n"
    c, s = "10.0.0.1", "10.0.0.80"
    pk = [
        at(eth() / IP(src=c, dst=s, id=60) / TCP(sport=50001, dport=80, seq=1, ack=1,
                                                   flags="PA") / Raw(req), "50"),
        at(eth(MAC_B, MAC_A) / IP(src=s, dst=c, id=61) /
           TCP(sport=80, dport=50001, seq=1, ack=1 + len(req), flags="PA") / Raw(resp), "50.1"),
        at(eth() / IP(src=c, dst=s, id=62) / TCP(sport=50002, dport=8080, seq=1, ack=1,
                                                   flags="PA") / Raw(post), "50.2"),
        at(eth() / IP(src=c, dst=s, id=63) / TCP(sport=50003, dport=80, seq=1, ack=1,
                                                   flags="PA") / Raw(partial), "50.3"),
        at(eth() / IP(src=c, dst=s, id=64) / TCP(sport=50004, dport=80, seq=1, ack=1,
                                                   flags="PA") / Raw(notfirst), "50.4"),
    ]
    hand = [
        {"is_request": True, "method": "GET", "uri": "/index.html?q=1&r=%20",
         "path": "/index.html", "version": "HTTP/1.1", "status": None, "host": "www.example.com",
         "headers": {"host": "www.example.com", "user-agent": "fastpkt-test/1.0",
                     "accept": "*/*", "x-dup": "a, b"},
         "headers_complete": True, "body": ""},
        {"is_request": False, "method": None, "uri": None, "version": "HTTP/1.1",
         "status": 404, "reason": "Not Found", "host": None,
         "headers": {"content-type": "text/html", "content-length": "5"},
         "headers_complete": True, "body": b"hello".hex()},
        {"is_request": True, "method": "POST", "uri": "/api/v1/items", "path": "/api/v1/items",
         "version": "HTTP/1.0", "host": "api.example.com:8080", "headers_complete": True,
         "body": b'{"a":1}'.hex()},
        {"is_request": True, "method": "GET", "uri": "/slow", "version": "HTTP/1.1",
         "host": "partial.example.com", "headers_complete": False},
        {"http": None},
    ]
    write_scapy_pcap("http.pcap", pk, 1, hand=hand,
                     exercises="HTTP/1.1 GET with query and a repeated header; 404 response "
                               "with body; POST on port 8080 with upper-case header name; "
                               "request whose headers do not end in the segment; non-HTTP "
                               "payload on port 80")


# --------------------------------------------------------------------------- TLS


def tls_ext(typ: int, body: bytes) -> bytes:
    return struct.pack("!HH", typ, len(body)) + body


def client_hello(sni: str | None, *, grease: bool = False, lie: bool = False) -> bytes:
    """A TLS 1.2-style ClientHello record (RFC 8446 4.1.2, RFC 6066 3) built by hand."""
    exts = b""
    if grease:
        exts += tls_ext(0x0A0A, b"")
    if sni is not None:
        name = sni.encode()
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        lst = struct.pack("!H", len(entry) + (200 if lie else 0)) + entry
        exts += tls_ext(0, lst)
    exts += tls_ext(0x000A, struct.pack("!H", 4) + b"\x00\x1d\x00\x17")  # supported_groups
    exts += tls_ext(0x0010, struct.pack("!H", 3) + b"\x02h2")  # ALPN
    exts += tls_ext(0x002B, b"\x04\x03\x04\x03\x03")  # supported_versions
    body = (b"\x03\x03" + bytes(range(32)) + b"\x20" + bytes(range(32, 64)) +
            struct.pack("!H", 6) + b"\x13\x01\x13\x02\xc0\x2f" + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def make_tls() -> None:
    ch = client_hello("www.example.org")
    chg = client_hello("grease.example", grease=True)
    lie = client_hello("liar.example", lie=True)
    nosni = client_hello(None)
    cut = client_hello("cut.example")[:60]
    sh = b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03"  # ServerHello header only (truncated)
    appdata = b"\x17\x03\x03\x00\x05hello"
    c, s = "10.0.0.1", "93.184.216.34"
    mk = lambda i, pl, t, sport=51000, dport=443: at(  # noqa: E731
        eth() / IP(src=c, dst=s, id=70 + i) /
        TCP(sport=sport + i, dport=dport, seq=1, ack=1, flags="PA") / Raw(pl), t)
    pk = [mk(0, ch, "60"), mk(1, chg, "60.1"), mk(2, lie, "60.2"), mk(3, nosni, "60.3"),
          mk(4, cut, "60.4"), mk(5, sh, "60.5", 443, 51005), mk(6, appdata, "60.6"),
          mk(7, ch, "60.7", 51000, 8443)]
    hand = [
        {"type": 22, "version": 0x0301, "len": len(ch) - 5, "handshake_type": 1,
         "is_client_hello": True, "hello_version": 0x0303, "sni": "www.example.org",
         "hello_complete": True},
        {"type": 22, "handshake_type": 1, "is_client_hello": True, "sni": "grease.example",
         "hello_complete": True},
        {"type": 22, "handshake_type": 1, "is_client_hello": True, "sni": None,
         "malformed": True},
        {"type": 22, "handshake_type": 1, "is_client_hello": True, "sni": None,
         "hello_complete": True},
        {"type": 22, "handshake_type": 1, "is_client_hello": True, "hello_complete": False},
        {"type": 22, "handshake_type": 2, "is_client_hello": False, "sni": None},
        {"type": 23, "handshake_type": None, "is_client_hello": False, "sni": None},
        {"type": 22, "is_client_hello": True, "sni": "www.example.org", "hello_complete": True,
         "what": "ClientHello on a non-standard port (8443)"},
    ]
    write_scapy_pcap("tls.pcap", pk, 1, hand=hand,
                     exercises="TLS ClientHello with SNI in one segment; with GREASE first "
                               "extension; SNI list length lying (+200); no SNI; hello cut "
                               "after 60 bytes; ServerHello; application data; port 8443")


# --------------------------------------------------------------------------- ICMP, ARP, checksums


def make_icmp_arp_bad() -> None:
    a, b = "10.0.0.1", "10.0.0.2"
    pk = [
        at(eth() / IP(src=a, dst=b, id=80) / ICMP(type=8, id=0x1234, seq=1) /
           Raw(b"ping-data-0123456789"), "70"),
        at(eth(MAC_B, MAC_A) / IP(src=b, dst=a, id=81) / ICMP(type=0, id=0x1234, seq=1) /
           Raw(b"ping-data-0123456789"), "70.1"),
        at(eth(MAC_B, MAC_A) / IP(src=b, dst=a, id=82) / ICMP(type=3, code=3) /
           IP(src=a, dst=b, id=99) / UDP(sport=5000, dport=6000), "70.2"),
        at(eth(MAC_B, MAC_A) / IP(src=b, dst=a, id=83) / ICMP(type=11, code=0) /
           IP(src=a, dst="8.8.8.8", id=98, ttl=1) / UDP(sport=5001, dport=33434), "70.3"),
    ]
    write_scapy_pcap("icmp.pcap", pk, 1,
                     exercises="ICMP echo request/reply (id, seq), port unreachable and time "
                               "exceeded quoting an IP/UDP header")
    pk = [
        at(eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") /
           ICMPv6EchoRequest(id=0x4321, seq=7, data=b"ping6"), "71"),
        at(eth(MAC_B, MAC_A) / IPv6(src="2001:db8::2", dst="2001:db8::1") /
           ICMPv6EchoReply(id=0x4321, seq=7, data=b"ping6"), "71.1"),
        at(eth(dst="33:33:ff:00:00:02") / IPv6(src="2001:db8::1", dst="ff02::1:ff00:2",
                                               hlim=255) /
           ICMPv6ND_NS(tgt="2001:db8::2"), "71.2"),
    ]
    write_scapy_pcap("icmp6.pcap", pk, 1,
                     exercises="ICMPv6 echo request/reply (id, seq); neighbour solicitation")
    pk = [
        at(eth(dst="ff:ff:ff:ff:ff:ff") /
           ARP(op=1, hwsrc=MAC_A, psrc="10.0.0.1", hwdst="00:00:00:00:00:00",
               pdst="10.0.0.2") / Padding(b"\0" * 18), "72"),
        at(eth(MAC_B, MAC_A) /
           ARP(op=2, hwsrc=MAC_B, psrc="10.0.0.2", hwdst=MAC_A, pdst="10.0.0.1") /
           Padding(b"\xee" * 18), "72.1"),
    ]
    write_scapy_pcap("arp.pcap", pk, 1,
                     exercises="ARP request/reply padded to 60 bytes (padding is not payload)")

    good_tcp = eth() / IP(src=a, dst=b, id=90) / TCP(sport=1, dport=2, seq=3, flags="S")
    good_udp = eth() / IP(src=a, dst=b, id=91) / UDP(sport=1, dport=2) / Raw(b"abc")
    good_icmp = eth() / IP(src=a, dst=b, id=92) / ICMP(type=8, id=1, seq=1)
    good_tcp6 = eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / \
        TCP(sport=1, dport=2, flags="S")
    good_icmp6 = eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / \
        ICMPv6EchoRequest(id=1, seq=2)

    def with_sum(p, layer, fieldname, value):
        q = Ether(bytes(p))
        setattr(q[layer], fieldname, value)
        return q

    g_tcp, g_udp, g_icmp, g_tcp6, g_icmp6 = (Ether(bytes(x)) for x in
                                             (good_tcp, good_udp, good_icmp, good_tcp6,
                                              good_icmp6))
    pk = [
        at(g_tcp, "80"),
        at(with_sum(good_tcp, IP, "chksum", g_tcp[IP].chksum ^ 0xFFFF), "80.1"),
        at(with_sum(good_tcp, TCP, "chksum", g_tcp[TCP].chksum ^ 0x0101), "80.2"),
        at(g_udp, "80.3"),
        at(with_sum(good_udp, UDP, "chksum", g_udp[UDP].chksum ^ 0x0101), "80.4"),
        at(with_sum(good_udp, UDP, "chksum", 0), "80.5"),
        at(g_icmp, "80.6"),
        at(with_sum(good_icmp, ICMP, "chksum", g_icmp[ICMP].chksum ^ 0x0101), "80.7"),
        at(g_tcp6, "80.8"),
        at(with_sum(good_tcp6, TCP, "chksum", g_tcp6[TCP].chksum ^ 0x0101), "80.9"),
        at(g_icmp6, "80.10"),
        at(with_sum(good_icmp6, ICMPv6EchoRequest, "cksum",
                    g_icmp6[ICMPv6EchoRequest].cksum ^ 0x0101), "80.11"),
    ]
    # Expected verdicts computed with Scapy: rebuild the packet without the checksum
    # and compare with the one on the wire.
    hand = []
    for p in pk:
        h = {}
        q = Ether(bytes(p))
        for lay, key, fname in ((IP, "ip", "chksum"), (TCP, "tcp", "chksum"),
                                (UDP, "udp", "chksum"), (ICMP, "icmp", "chksum"),
                                (ICMPv6EchoRequest, "icmp6", "cksum")):
            if q.haslayer(lay):
                wire = getattr(q[lay], fname)
                if lay is UDP and wire == 0:
                    h[key] = None  # zero UDP checksum: not computed by the sender
                    continue
                r = Ether(bytes(q))
                setattr(r[lay], fname, None)
                h[key] = getattr(Ether(bytes(r))[lay], fname) == wire
        hand.append({"checksums": h})
    write_scapy_pcap("checksums.pcap", pk, 1, hand=hand,
                     exercises="good and bad IPv4, TCP, UDP, ICMP, TCP-over-IPv6 and ICMPv6 "
                               "checksums; UDP checksum 0 (not computed)")


# --------------------------------------------------------------------------- pcapng by hand


class NG:
    """Minimal pcapng block writer (draft-ietf-opsawg-pcapng)."""

    def __init__(self, big_endian: bool):
        self.e = ">" if big_endian else "<"

    def pad(self, b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % 4)

    def opt(self, code: int, val: bytes) -> bytes:
        return struct.pack(self.e + "HH", code, len(val)) + self.pad(val)

    def opts(self, *items: bytes) -> bytes:
        if not items:
            return b""
        return b"".join(items) + struct.pack(self.e + "HH", 0, 0)

    def block(self, btype: int, body: bytes) -> bytes:
        body = self.pad(body)
        n = len(body) + 12
        return struct.pack(self.e + "II", btype, n) + body + struct.pack(self.e + "I", n)

    def shb(self, app: str) -> bytes:
        body = struct.pack(self.e + "IHHq", 0x1A2B3C4D, 1, 0, -1)
        body += self.opts(self.opt(4, app.encode()))
        return self.block(0x0A0D0D0A, body)

    def idb(self, linktype: int, snaplen: int, name: str, tsresol: int | None = None,
            tsoffset: int | None = None) -> bytes:
        o = [self.opt(2, name.encode())]
        if tsresol is not None:
            o.append(self.opt(9, bytes([tsresol])))
        if tsoffset is not None:
            o.append(self.opt(14, struct.pack(self.e + "q", tsoffset)))
        return self.block(1, struct.pack(self.e + "HHI", linktype, 0, snaplen) + self.opts(*o))

    def epb(self, ifid: int, ts: int, data: bytes, wirelen: int | None = None,
            flags: int | None = None) -> bytes:
        o = [self.opt(2, struct.pack(self.e + "I", flags))] if flags is not None else []
        o.append(self.opt(1, b"a comment"))
        body = struct.pack(self.e + "IIIII", ifid, ts >> 32, ts & 0xFFFFFFFF, len(data),
                           wirelen if wirelen is not None else len(data))
        return self.block(6, body + self.pad(data) + self.opts(*o))

    def spb(self, data: bytes, wirelen: int) -> bytes:
        return self.block(3, struct.pack(self.e + "I", wirelen) + self.pad(data))

    def pb(self, ifid: int, ts: int, data: bytes) -> bytes:
        body = struct.pack(self.e + "HHIIII", ifid, 0, ts >> 32, ts & 0xFFFFFFFF, len(data),
                           len(data))
        return self.block(2, body + self.pad(data))

    def nrb(self) -> bytes:
        rec = struct.pack(self.e + "HH", 1, 4 + 12) + self.pad(bytes([10, 0, 0, 1]) +
                                                              b"example.lan\0")
        rec6 = struct.pack(self.e + "HH", 2, 16 + 8) + \
            self.pad(bytes(16) + b"v6.lan\0\0")
        return self.block(4, rec + rec6 + struct.pack(self.e + "HH", 0, 0))

    def isb(self, ifid: int, ts: int) -> bytes:
        body = struct.pack(self.e + "III", ifid, ts >> 32, ts & 0xFFFFFFFF)
        body += self.opts(self.opt(4, struct.pack(self.e + "Q", 5)),
                          self.opt(5, struct.pack(self.e + "Q", 1)))
        return self.block(5, body)

    def custom(self, btype: int) -> bytes:
        return self.block(btype, struct.pack(self.e + "I", 32473) + b"custom data, skip me")

    def dsb(self) -> bytes:
        secret = b"CLIENT_RANDOM 00 11\n"
        return self.block(0x0A, struct.pack(self.e + "II", 0x544C534B, len(secret)) +
                          self.pad(secret))


def make_pcapng() -> None:
    le, be = NG(False), NG(True)
    p_udp = bytes(eth() / IP(src="10.10.0.1", dst="10.10.0.2", id=100) /
                  UDP(sport=1000, dport=2000) / Raw(b"if0 epb"))
    p_raw_tcp = bytes(IP(src="10.20.0.1", dst="10.20.0.2", id=101) /
                      TCP(sport=3000, dport=4000, seq=77, flags="S"))
    p_spb_full = bytes(eth() / IP(src="10.10.0.1", dst="10.10.0.3", id=102) /
                       UDP(sport=1001, dport=2001) / Raw(b"S" * 100))
    p_pb = bytes(IP(src="10.20.0.1", dst="10.20.0.3", id=103) / ICMP(type=8, id=5, seq=6))
    p_cut_full = bytes(eth() / IP(src="10.10.0.1", dst="10.10.0.4", id=104) /
                       TCP(sport=1002, dport=80, seq=9, ack=9, flags="PA") / Raw(b"C" * 160))
    p_be = bytes(eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") /
                 ICMPv6EchoRequest(id=9, seq=10))
    p_be2 = bytes(IPv6(src="2001:db8::3", dst="2001:db8::4") / UDP(sport=53, dport=5353))
    snap0 = 96
    s1_ts_us = 1700000000_123456
    s1_ts_ns = 1700000001_987654321
    pb_ts_ns = 1700000002_000000001
    cut_ts_us = 1700000003_000001
    # 2^-20 s units, offset +1000 s: (1699999000 s + 0.5 s) + 1000 s
    be_units = 1699999000 * 2**20 + 2**19
    be_ts_ns = (1699999000 + 1000) * 10**9 + 500_000_000
    be2_ms = 1700000004_250
    out = b"".join([
        le.shb("fastpkt make_fixtures section 1"),
        le.idb(1, snap0, "eth0"),  # no if_tsresol: microseconds
        le.idb(101, 65535, "raw0", tsresol=9),
        le.epb(0, s1_ts_us, p_udp, flags=1),
        le.nrb(),
        le.epb(1, s1_ts_ns, p_raw_tcp),
        le.custom(0x00000BAD),
        le.spb(p_spb_full[:snap0], len(p_spb_full)),
        le.isb(0, s1_ts_us),
        le.custom(0x40000BAD),
        le.block(0x00001234, b"unknown block type, skip me"),
        le.dsb(),
        le.pb(1, pb_ts_ns, p_pb),
        le.epb(0, cut_ts_us, p_cut_full[:80], wirelen=len(p_cut_full)),
        be.shb("fastpkt make_fixtures section 2 (big-endian)"),
        be.idb(1, 65535, "be0", tsresol=0x80 | 20, tsoffset=1000),
        be.idb(101, 65535, "be1", tsresol=3),
        be.epb(0, be_units, p_be),
        be.isb(1, 0),
        be.epb(1, be2_ms, p_be2),
    ])
    (HERE / "two_if.pcapng").write_bytes(out)

    def rec(t, data, wirelen, lt, ifid, link_cls):
        sp = link_cls(data)
        return {"time_ns": t, "caplen": len(data), "wirelen": wirelen, "linktype": lt,
                "interface": ifid, "raw": data.hex(), "fields": extract(sp)}

    raw_cls = IP

    def raw6(b):
        return IPv6(b)

    EXPECTED["two_if.pcapng"] = {
        "format": "pcapng", "linktype": 1, "nanosecond": None, "big_endian": False,
        "snaplen": snap0,
        "exercises": "pcapng by hand: section 1 LE with IDB0 EN10MB (snaplen 96, default us "
                     "resolution) and IDB1 RAW (if_tsresol=9): EPB, NRB, EPB, custom block "
                     "0xBAD, SPB (caplen = snaplen 96 < 142), ISB, custom 0x40000BAD, unknown "
                     "block 0x1234, DSB, obsolete PB (type 2), EPB cut to 80 of 214 bytes; "
                     "section 2 BE with IDB EN10MB (if_tsresol=2^-20, if_tsoffset=+1000 s) "
                     "and IDB RAW (if_tsresol=3), ISB. Interfaces numbered 0..3 across "
                     "sections. SPB has no timestamp (time_ns null).",
        "packets": [
            rec(s1_ts_us * 1000, p_udp, len(p_udp), 1, 0, Ether),
            rec(s1_ts_ns, p_raw_tcp, len(p_raw_tcp), 101, 1, raw_cls),
            rec(None, p_spb_full[:snap0], len(p_spb_full), 1, 0, Ether),
            rec(pb_ts_ns, p_pb, len(p_pb), 101, 1, raw_cls),
            rec(cut_ts_us * 1000, p_cut_full[:80], len(p_cut_full), 1, 0, Ether),
            rec(be_ts_ns, p_be, len(p_be), 1, 2, Ether),
            rec(be2_ms * 10**6, p_be2, len(p_be2), 101, 3, raw6),
        ],
    }


def main() -> None:
    make_pcaps()
    make_links()
    make_ip()
    make_dns()
    make_tcp()
    make_http()
    make_tls()
    make_icmp_arp_bad()
    make_pcapng()
    with open(HERE / "expected.json", "w") as f:
        json.dump(EXPECTED, f, indent=1, sort_keys=True)
        f.write("\n")
    for name, e in sorted(EXPECTED.items()):
        size = (HERE / name).stat().st_size
        print(f"{name:24s} {size:6d} bytes  {len(e['packets']):3d} packets")


if __name__ == "__main__":
    main()
