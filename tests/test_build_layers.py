"""Building packets (csrc/dissect/build.c, csrc/py/build.c): bytes equal Scapy's.

A generated table of layer stacks and field values is built twice, by fastpkt and by
Scapy (the independent reference), from the same description; the bytes must be equal.
Ether addresses and IP sources are given explicitly where Scapy would look them up in
its routing and ARP tables (and could send an ARP request to find them).
"""
from __future__ import annotations

import itertools

import pytest

import fastpkt as fp

sa = pytest.importorskip("scapy.all", reason="Scapy is the reference for built bytes")

MACS = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
IP4 = {"src": "192.0.2.1", "dst": "198.51.100.7"}
IP6 = {"src": "2001:db8::1", "dst": "2001:db8::2"}


def build(lib, stack):
    """A stack [(class name, kwargs) or bytes] built by fastpkt or Scapy."""
    pkt = None
    for item in stack:
        if isinstance(item, bytes):
            layer = item
        else:
            name, kw = item
            kw = dict(kw)
            if lib is fp:
                cls = getattr(fp, name)
                if "qd" in kw or "an" in kw:
                    for sec in ("qd", "an", "ns", "ar"):
                        if sec in kw:
                            kw[sec] = [rec(fp, r) for r in kw[sec]]
            else:
                cls = getattr(sa, name)
                for sec in ("qd", "an", "ns", "ar"):
                    if sec in kw:
                        kw[sec] = [rec(sa, r) for r in kw[sec]]
                if name in ("IP",) and isinstance(kw.get("options"), bytes):
                    kw["options"] = sa.IPOption(kw["options"])
                if name.startswith("IPv6ExtHdr") and isinstance(kw.get("options"), bytes):
                    o = kw["options"]  # one option: type, length, data
                    kw["options"] = [sa.HBHOptUnknown(otype=o[0], optlen=o[1], optdata=o[2:])]
            layer = cls(**kw)
        pkt = layer if pkt is None else pkt / layer
    return pkt


def rec(lib, r):
    kind, kw = r
    return getattr(lib, kind)(**kw)


def cases():
    """The table: (id, stack). Each list below varies one layer; stacks combine them."""
    ether = [("Ether", MACS)]
    ip4 = [
        {}, {"ttl": 1}, {"ttl": 255, "id": 0}, {"tos": 0xb8}, {"flags": "DF"}, {"flags": 1, "frag": 100},
        {"flags": "MF+DF"}, {"id": 54321}, {"chksum": 0x1234}, {"len": 100}, {"ihl": 6, "options": b"\x01\x01\x01\x00"},
        {"options": b"\x07\x07\x04\x00\x00\x00\x00"}, {"options": b"\x94\x04\x00\x00"}, {"proto": 99},
        {"version": 4, "ttl": 7, "tos": 3},
    ]
    tcp = [
        {}, {"dport": 443, "sport": 51515, "flags": "S"}, {"flags": "SA", "seq": 1000, "ack": 2000},
        {"flags": "R"}, {"flags": "PA", "window": 65535}, {"flags": 0x12}, {"flags": "FPU", "urgptr": 9},
        {"chksum": 0xdead}, {"dataofs": 8}, {"reserved": 1},
        {"options": [("MSS", 1460)]},
        {"options": [("MSS", 1460), ("NOP", None), ("WScale", 7), ("NOP", None), ("NOP", None),
                     ("SAckOK", b""), ("Timestamp", (12345, 0))]},
        {"options": [("NOP", None), ("NOP", None), ("SAck", (100, 200, 300, 400))]},
        {"options": [("Timestamp", (1, 2)), ("EOL", None)]},
        {"options": [("WScale", 14)]},
        {"options": [(254, b"\x01\x02")]},
    ]
    udp = [{}, {"sport": 1234, "dport": 9999}, {"dport": 53}, {"chksum": 0}, {"len": 30}, {"sport": 0, "dport": 0}]
    icmp = [
        {}, {"type": 0}, {"type": 8, "id": 0x1234, "seq": 7}, {"type": "echo-reply", "id": 1, "seq": 2},
        {"type": 3, "code": 3}, {"type": 3, "code": 4, "nexthopmtu": 1400}, {"type": 11, "code": 0},
        {"type": 5, "gw": "192.0.2.254"}, {"type": 12, "ptr": 20}, {"type": 13, "ts_ori": 1, "ts_rx": 2, "ts_tx": 3},
        {"type": 17, "addr_mask": "255.255.255.0"}, {"type": 4, "unused": 5}, {"chksum": 1},
    ]
    payloads = [None, b"", b"TEST", b"x" * 101, bytes(range(256))]
    out = []

    def add(name, stack):
        out.append((name, stack))

    for a, p in itertools.product(ip4, payloads[:3]):
        for t in tcp:
            stack = [("IP", {**IP4, **a}), ("TCP", t)] + ([p] if p else [])
            add("ip-%s-tcp-%s-%r" % (a, t, p and len(p)), stack)
    for a, u, p in itertools.product(ip4[:6], udp, payloads):
        add("ip-udp-%s-%s-%r" % (a, u, p and len(p)), [("IP", {**IP4, **a}), ("UDP", u)] + ([p] if p else []))
    for c, p in itertools.product(icmp, payloads[:4]):
        add("ip-icmp-%s" % (c,), [("IP", IP4), ("ICMP", c)] + ([p] if p else []))
    # ICMP errors quoting the packet that caused them
    for c in icmp[4:9]:
        add("icmp-quote-udp-%s" % (c,), [("IP", IP4), ("ICMP", c), ("IP", {"src": IP4["dst"], "dst": IP4["src"]}),
                                         ("UDP", {"sport": 4000, "dport": 33434}), b"probe"])
        add("icmp-quote-tcp-%s" % (c,), [("IP", IP4), ("ICMP", c), ("IP", {"src": IP4["dst"], "dst": IP4["src"], "ttl": 1}),
                                         ("TCP", {"dport": 22})])
    for t in tcp[:6]:
        add("ether-ip-tcp-%s" % (t,), ether + [("IP", IP4), ("TCP", t)])
        add("ether-dot1q-ip-tcp-%s" % (t,), ether + [("Dot1Q", {"vlan": 10}), ("IP", IP4), ("TCP", t)])
    for d in [{}, {"vlan": 4095, "prio": 7}, {"dei": 1, "vlan": 2}, {"type": 0x86dd}]:
        add("ether-dot1q-%s" % (d,), ether + [("Dot1Q", d), b"abc"])
        add("ether-qinq-%s" % (d,), ether + [("Dot1Q", {"vlan": 100}), ("Dot1Q", d), ("IP", IP4), ("UDP", {})])
    for e in [{}, {"type": 0x88b5}, {"type": 0x0800}]:
        add("ether-raw-%s" % (e,), [("Ether", {**MACS, **e}), b"payload"])
    arp = [
        {"pdst": "192.0.2.9", "psrc": "192.0.2.1", "hwsrc": MACS["src"]},
        {"op": 2, "pdst": "192.0.2.9", "psrc": "192.0.2.1", "hwsrc": MACS["src"], "hwdst": MACS["dst"]},
        {"op": "is-at", "pdst": "10.0.0.1", "psrc": "10.0.0.2", "hwsrc": MACS["dst"]},
        {"op": "who-has", "pdst": "10.0.0.255", "psrc": "10.0.0.2", "hwsrc": MACS["src"], "hwdst": "ff:ff:ff:ff:ff:ff"},
    ]
    for a in arp:
        add("ether-arp-%s" % (a,), [("Ether", {"src": MACS["src"], "dst": "ff:ff:ff:ff:ff:ff"}), ("ARP", a)])
        add("arp-%s" % (a,), [("ARP", a)])
    ip6 = [{}, {"hlim": 1}, {"tc": 0xb8, "fl": 0x12345}, {"plen": 99}, {"nh": 59}]
    for a in ip6:
        add("ip6-tcp-%s" % (a,), [("IPv6", {**IP6, **a}), ("TCP", {"dport": 80})])
        add("ip6-udp-%s" % (a,), [("IPv6", {**IP6, **a}), ("UDP", {}), b"data"])
        add("ip6-echo-%s" % (a,), [("IPv6", {**IP6, **a}), ("ICMPv6EchoRequest", {"id": 5, "seq": 9})])
        add("ether-ip6-echorep-%s" % (a,), ether + [("IPv6", {**IP6, **a}), ("ICMPv6EchoReply", {"data": b"ping"})])
    ext = [
        ("IPv6ExtHdrHopByHop", {}), ("IPv6ExtHdrHopByHop", {"options": b"\x05\x02\x00\x00"}),
        ("IPv6ExtHdrDestOpt", {}), ("IPv6ExtHdrDestOpt", {"options": b"\x01\x0a" + bytes(10)}),
        ("IPv6ExtHdrRouting", {"addresses": ["2001:db8::5"]}),
        ("IPv6ExtHdrRouting", {"addresses": ["2001:db8::5", "2001:db8::6"], "segleft": 0}),
        ("IPv6ExtHdrRouting", {}), ("IPv6ExtHdrFragment", {"id": 77}),
        ("IPv6ExtHdrFragment", {"id": 1, "m": 1, "offset": 0}),
    ]
    for e, l4 in itertools.product(ext, [("TCP", {"flags": "S"}), ("UDP", {}), ("ICMPv6EchoRequest", {})]):
        add("ip6-%s-%s" % (e, l4[0]), [("IPv6", IP6), e, l4])
    add("ip6-hop-dest-tcp", [("IPv6", IP6), ext[0], ext[2], ("TCP", {})])
    add("ip6-in-ip", [("IP", IP4), ("IPv6", IP6), ("UDP", {})])
    add("ip-in-ip6", [("IPv6", IP6), ("IP", IP4), ("TCP", {})])
    add("ip-in-ip", [("IP", IP4), ("IP", {"src": "10.0.0.1", "dst": "10.0.0.2"}), ("ICMP", {})])
    dns = [
        {"rd": 1, "qd": [("DNSQR", {"qname": "example.com"})]},
        {"id": 0x1234, "qd": [("DNSQR", {"qname": "www.example.org", "qtype": "AAAA"})]},
        {"qd": [("DNSQR", {"qname": "example.com.", "qtype": 15})]},
        {"qd": [("DNSQR", {"qname": "a.b.c.d", "qtype": "TXT", "qclass": 1})], "rd": 0},
        {"qr": 1, "aa": 1, "ra": 1, "qd": [("DNSQR", {"qname": "example.com"})],
         "an": [("DNSRR", {"rrname": "example.com", "type": "A", "rdata": "93.184.216.34", "ttl": 300})]},
        {"qr": 1, "qd": [("DNSQR", {"qname": "example.com", "qtype": "AAAA"})],
         "an": [("DNSRR", {"rrname": "example.com", "type": "AAAA", "rdata": "2001:db8::1", "ttl": 60})]},
        {"qr": 1, "rcode": 3, "qd": [("DNSQR", {"qname": "nx.example.com"})]},
        {"qr": 1, "qd": [("DNSQR", {"qname": "www.example.com"})],
         "an": [("DNSRR", {"rrname": "www.example.com", "type": "CNAME", "rdata": "example.com", "ttl": 5}),
                ("DNSRR", {"rrname": "example.com", "type": "A", "rdata": "192.0.2.80", "ttl": 5})]},
        {"qd": [("DNSQR", {"qname": "example.com"}), ("DNSQR", {"qname": "example.net", "qtype": "NS"})]},
        {"opcode": 4, "tc": 1, "z": 0, "ad": 1, "cd": 1, "qd": [("DNSQR", {"qname": "x.example"})]},
        {"qdcount": 5, "qd": [("DNSQR", {"qname": "example.com"})]},
    ]
    for d in dns:
        add("dns-%s" % (d,), [("IP", IP4), ("UDP", {"sport": 5353 + len(out) % 7}), ("DNS", d)])
    add("dns-default", [("IP", IP4), ("UDP", {}), ("DNS", {})])
    add("course-dns", ether + [("IP", {"src": "192.0.2.1", "dst": "8.8.8.8"}), ("UDP", {"dport": 53}),
                               ("DNS", {"rd": 1, "qd": [("DNSQR", {"qname": "example.com"})]})])
    add("course-syn", [("IP", {"src": "192.0.2.1", "dst": "192.168.56.10"}),
                       ("TCP", {"dport": 22, "sport": 51515, "flags": "S"})])
    add("lo-default-src", [("IP", {"dst": "127.0.0.1"}), ("TCP", {})])
    add("lo6-default-src", [("IPv6", {"dst": "::1"}), ("UDP", {})])
    return out


CASES = cases()


def test_table_is_large():
    assert len(CASES) >= 500


@pytest.mark.parametrize("name,stack", CASES, ids=[c[0][:80] for c in CASES])
def test_bytes_equal_scapy(name, stack):
    ours = bytes(build(fp, stack))
    ref = bytes(build(sa, stack))
    assert ours == ref, "%s\nfastpkt %s\nscapy   %s" % (name, ours.hex(), ref.hex())


HOSTILE = [
    (lambda: fp.IP(ttl=256), ValueError, "IP.ttl"),
    (lambda: fp.IP(ttl=-1), ValueError, "IP.ttl"),
    (lambda: fp.TCP(sport=65536), ValueError, "TCP.sport"),
    (lambda: fp.IP(ihl=16), ValueError, "IP.ihl"),
    (lambda: fp.IP(dst="300.1.2.3"), ValueError, "IP.dst"),
    (lambda: fp.IP(dst=17), TypeError, "IP.dst"),
    (lambda: fp.IP(ttl="x"), ValueError, "IP.ttl"),
    (lambda: fp.IP(ttl=1.5), TypeError, "IP.ttl"),
    (lambda: fp.Ether(src="00:11:22:33:44"), ValueError, "Ether.src"),
    (lambda: fp.Ether(src="zz:11:22:33:44:55"), ValueError, "Ether.src"),
    (lambda: fp.IPv6(src="1.2.3.4.5"), ValueError, "IPv6.src"),
    (lambda: fp.TCP(flags="SX"), ValueError, "TCP.flags"),
    (lambda: fp.TCP(flags=0x200), ValueError, "TCP.flags"),
    (lambda: fp.IP(flags="XF"), ValueError, "IP.flags"),
    (lambda: fp.TCP(options=[("Bogus", 1)]), ValueError, "TCP.options"),
    (lambda: fp.TCP(options=[("MSS", 70000)]), ValueError, "TCP.options"),
    (lambda: fp.TCP(options=[("MSS", 1.5)]), ValueError, "TCP.options"),
    (lambda: fp.TCP(options=5), TypeError, "TCP.options"),
    (lambda: fp.TCP(options=[("Timestamp", (1, 2, "x"))]), ValueError, "TCP.options"),
    (lambda: bytes(fp.TCP(options=[("Timestamp", (1, 2))] * 5)), ValueError, "TCP.options"),
    (lambda: bytes(fp.IP(options=b"\x01" * 41)), ValueError, "IP.options"),
    (lambda: bytes(fp.IP(src="192.0.2.1") / (b"x" * 70000)), ValueError, "IP.len"),
    (lambda: bytes(fp.IP(src="192.0.2.1") / fp.UDP() / (b"x" * 65530)), ValueError, "UDP.len"),
    (lambda: bytes(fp.IPv6(src="::1") / (b"x" * 65536)), ValueError, "IPv6.plen"),
    (lambda: fp.IP(nosuchfield=1), TypeError, "nosuchfield"),
    (lambda: fp.IP("not bytes"), TypeError, "bytes to parse"),
    (lambda: fp.DNS(qd=[fp.DNSQR(qname="a" * 64 + ".com")]), ValueError, "DNS name"),
    (lambda: fp.DNS(qd=[fp.DNSQR(qname=("a" * 60 + ".") * 5)]), ValueError, "DNS name"),
    (lambda: fp.DNS(qd=[fp.DNSQR(qname="x", qtype=70000)]), ValueError, "qtype"),
    (lambda: fp.DNS(qd=[fp.DNSQR(qname="x", qtype="NOPE")]), ValueError, "NOPE"),
    (lambda: fp.DNS(an=[fp.DNSRR(rrname="x", type="A", rdata="not-an-ip")]), ValueError, "rdata"),
    (lambda: fp.DNS(qd=5), TypeError, "DNS.qd"),
    (lambda: fp.IPv6ExtHdrRouting(addresses=["::1"] * 128), ValueError, "IPv6ExtHdrRouting.addresses"),
    (lambda: fp.TCP(b"\x00\x01"), ValueError, "too few"),
    (lambda: fp.HTTP(), TypeError, "cannot create"),
]


@pytest.mark.parametrize("make,exc,needle", HOSTILE, ids=[h[2] + str(i) for i, h in enumerate(HOSTILE)])
def test_hostile_values_name_the_field(make, exc, needle):
    with pytest.raises(exc, match=needle.replace(".", r"\.")):
        make()


def test_setting_and_deleting_fields_like_scapy():
    ours = fp.IP(src="192.0.2.1", dst="192.0.2.2") / fp.TCP(dport=80)
    ref = sa.IP(src="192.0.2.1", dst="192.0.2.2") / sa.TCP(dport=80)
    for p, ip, tcp in ((ours, fp.IP, fp.TCP), (ref, sa.IP, sa.TCP)):
        p[tcp].flags = "SA"
        p.ttl = 3
        p[tcp].chksum = 0xBAD  # wrong on purpose: stays
        p.id = 7
        del p.id  # back to the default
    assert bytes(ours) == bytes(ref)
    assert ours.proto == 6 and ours.len is None and ours[fp.TCP].flags == "SA"
    assert ours.id == 1 and ours.chksum is None
    with pytest.raises(AttributeError):
        ours.nosuch = 1


def test_stack_operations():
    p = fp.Ether(src=MACS["src"], dst=MACS["dst"]) / fp.IP(src="192.0.2.1", dst="192.0.2.2") / fp.UDP() / b"xyz"
    assert fp.UDP in p and fp.TCP not in p and "udp" in p and fp.IPv6 not in p
    assert isinstance(p, fp.Ether) and isinstance(p[fp.IP], fp.IP)
    assert p[fp.UDP].underlayer if False else True
    assert len(p) == 14 + 20 + 8 + 3 == len(bytes(p))
    from fastpkt.scapy import Raw
    assert Raw in p and p[Raw].load == b"xyz"
    with pytest.raises(KeyError):
        p[fp.TCP]
    assert p[fp.IP].checksum_ok() is True and p.verify_checksums() == {"ip": True, "udp": True}
    assert repr(fp.IP(ttl=5) / fp.TCP(flags="S")) == "<IP  ttl=5 |<TCP  flags=S |>>"
    assert p.summary().startswith("Ether / IP / UDP 192.0.2.1:53 > 192.0.2.2:53")
    assert bytes(p[fp.UDP]) == bytes(p)[34:]
    assert bytes(fp.IP(src="192.0.2.1") / "héllo")[20:] == "héllo".encode()


EXPANSIONS = [
    [("IP", {"src": "192.0.2.9", "dst": "192.0.2.0/30"}), ("ICMP", {})],
    [("Ether", {"src": MACS["src"], "dst": "ff:ff:ff:ff:ff:ff"}),
     ("ARP", {"pdst": "192.0.2.0/28", "psrc": "192.0.2.1", "hwsrc": MACS["src"]})],
    [("IP", {"src": "192.0.2.9", "dst": "192.0.2.0/31"}), ("TCP", {"dport": [22, 80, 443], "flags": "S"})],
    [("IP", {"src": "192.0.2.9", "dst": "192.0.2.7", "ttl": (1, 5)}), ("UDP", {"dport": 33434})],
    [("IP", {"src": "192.0.2.9", "dst": "192.0.2.7"}), ("TCP", {"sport": 40000, "dport": (20, 25)})],
]


@pytest.mark.parametrize("stack", EXPANSIONS, ids=range(len(EXPANSIONS)))
def test_implicit_packets_like_scapy(stack):
    """A network or a list of values makes one packet per value, in Scapy's order; bytes()
    of the unexpanded packet builds the first, as Scapy's does."""
    ours, ref = build(fp, stack), build(sa, stack)
    assert [bytes(p) for p in ours] == [bytes(p) for p in ref]
    assert bytes(ours) == bytes(ref)


def test_probe_expands_built_packets():
    from fastpkt.probe import _expand

    assert len(_expand(fp.IP(dst="192.0.2.0/29") / fp.ICMP())) == 8
    assert len(_expand(fp.Packet(bytes(fp.Ether() / fp.IP(src="192.0.2.1"))).ip)) == 1
