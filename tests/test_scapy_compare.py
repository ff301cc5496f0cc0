"""fastpkt's fields equal Scapy's dissection.

1. Captures written with Scapy inside the test (tmp_path): a seeded mix of
   Ethernet/VLAN/ARP/IPv4/IPv6/TCP/UDP/ICMP/ICMPv6/DNS packets.
2. Every readable capture of the corpus (skipped when the corpus is absent), frame by
   frame, for the outer packet (Scapy also decodes tunnels: see _scapy_ref).
"""
from __future__ import annotations

import random
from decimal import Decimal

import pytest

import fastpkt as fp
from _compare import diff_fields
from _fphelpers import corpus_dir, read_tsv
from _scapy_ref import extract, sa

S = sa


def scapy_mix(seed: int, n: int = 120) -> list:
    rnd = random.Random(seed)
    out = []

    def mac():
        return ":".join(f"{rnd.randrange(256):02x}" for _ in range(6))

    def ip4():
        return ".".join(str(rnd.randrange(1, 255)) for _ in range(4))

    def ip6():
        return "2001:db8::%x:%x" % (rnd.randrange(65536), rnd.randrange(65536))

    names = ["example.com", "www.example.org", "a.b.c.d.e.f.example", "xn--bcher-kva.example",
             "_sip._udp.example.net", "host-1.internal"]
    for i in range(n):
        kind = rnd.choice(["tcp", "udp", "icmp", "dns", "dnsr", "tcp6", "udp6", "icmp6", "arp",
                           "vlan"])
        e = S.Ether(src=mac(), dst=mac())
        flags = rnd.choice(["S", "SA", "A", "PA", "FA", "R", "RA", "FPU", "SEC"])
        if kind == "tcp":
            opts = rnd.choice([[], [("MSS", rnd.randrange(536, 9000))],
                               [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (rnd.randrange(2**32), rnd.randrange(2**32))), ("NOP", None), ("WScale", rnd.randrange(15))],  # noqa: E501
                               [("NOP", None), ("NOP", None), ("SAck", (1, 2, 3, 4, 5, 6))]])
            p = e / S.IP(src=ip4(), dst=ip4(), ttl=rnd.randrange(1, 256), id=rnd.randrange(65536),
                         tos=rnd.randrange(256), flags=rnd.choice(["", "DF"])) / \
                S.TCP(sport=rnd.randrange(65536), dport=rnd.randrange(65536),
                      seq=rnd.randrange(2**32), ack=rnd.randrange(2**32), flags=flags,
                      window=rnd.randrange(65536), options=opts) / \
                S.Raw(bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 40))))
        elif kind == "udp":
            p = e / S.IP(src=ip4(), dst=ip4(), id=rnd.randrange(65536)) / \
                S.UDP(sport=rnd.randrange(1024, 65536), dport=rnd.randrange(1024, 65536)) / \
                S.Raw(b"u" * rnd.randrange(0, 30))
        elif kind == "icmp":
            p = e / S.IP(src=ip4(), dst=ip4()) / S.ICMP(type=rnd.choice([0, 8]),
                                                        id=rnd.randrange(65536),
                                                        seq=rnd.randrange(65536))
        elif kind == "dns":
            p = e / S.IP(src=ip4(), dst=ip4()) / S.UDP(sport=rnd.randrange(1024, 65536),
                                                        dport=53) / \
                S.DNS(id=rnd.randrange(65536), rd=1,
                      qd=S.DNSQR(qname=rnd.choice(names), qtype=rnd.choice([1, 28, 15, 16])))
        elif kind == "dnsr":
            nm = rnd.choice(names)
            p = e / S.IP(src=ip4(), dst=ip4()) / S.UDP(sport=53, dport=rnd.randrange(1024, 65536)) / \
                S.DNS(id=rnd.randrange(65536), qr=1, ra=1, qd=S.DNSQR(qname=nm),
                      an=[S.DNSRR(rrname=nm, type="A", ttl=rnd.randrange(2**31), rdata=ip4()),
                          S.DNSRR(rrname=nm, type="CNAME", rdata=rnd.choice(names)),
                          S.DNSRR(rrname=nm, type="AAAA", rdata=ip6())]).compress()
        elif kind == "tcp6":
            p = e / S.IPv6(src=ip6(), dst=ip6(), hlim=rnd.randrange(256), tc=rnd.randrange(256),
                           fl=rnd.randrange(2**20)) / \
                S.TCP(sport=rnd.randrange(65536), dport=rnd.randrange(65536),
                      seq=rnd.randrange(2**32), flags=flags)
        elif kind == "udp6":
            p = e / S.IPv6(src=ip6(), dst=ip6()) / S.UDP(sport=rnd.randrange(65536),
                                                         dport=rnd.randrange(1024, 65536))
        elif kind == "icmp6":
            cls = rnd.choice([S.ICMPv6EchoRequest, S.ICMPv6EchoReply])
            p = e / S.IPv6(src=ip6(), dst=ip6()) / cls(id=rnd.randrange(65536),
                                                       seq=rnd.randrange(65536))
        elif kind == "arp":
            p = e / S.ARP(op=rnd.choice([1, 2]), hwsrc=mac(), psrc=ip4(), hwdst=mac(),
                          pdst=ip4())
        else:
            p = e / S.Dot1Q(vlan=rnd.randrange(4096), prio=rnd.randrange(8)) / \
                S.IP(src=ip4(), dst=ip4()) / S.UDP(sport=1, dport=2)
        p.time = Decimal(1600000000 + i) + Decimal(rnd.randrange(10**6)) / 10**6
        out.append(p)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scapy_written_capture(tmp_path, seed):
    pkts = scapy_mix(seed)
    path = tmp_path / f"mix{seed}.pcap"
    S.wrpcap(str(path), pkts)
    ref = S.rdpcap(str(path))
    ours = fp.read(str(path), decapsulate=False)  # Scapy: pkt[IP] is the outer header
    assert len(ours) == len(ref)
    problems = []
    for i, (o, r) in enumerate(zip(ours, ref)):
        if o.time_ns != int(Decimal(r.time) * 10**9):
            problems.append(f"#{i} time_ns: fastpkt={o.time_ns} scapy={r.time}")
        if o.raw != bytes(r):
            problems.append(f"#{i} raw bytes differ")
        problems += [f"#{i} {d}" for d in diff_fields(o, extract(r))]
    assert not problems, "\n".join(problems[:50])


def test_scapy_written_nanosecond(tmp_path):
    pkts = scapy_mix(9, 20)
    for i, p in enumerate(pkts):
        p.time = Decimal("1650000000.000000001") + Decimal(i) / 3 + Decimal(i * 7) / 10**9
    path = tmp_path / "nano.pcap"
    S.wrpcap(str(path), pkts, nano=True)
    ref = S.rdpcap(str(path))
    ours = fp.read(str(path), decapsulate=False)  # Scapy: pkt[IP] is the outer header
    assert [p.time_ns for p in ours] == [int(Decimal(r.time) * 10**9) for r in ref]


# ----------------------------------------------------------------------------- corpus

# Files Scapy cannot read, or reads differently, for reasons that are Scapy's.
SCAPY_SKIP = {
    "pcapngtest-le-test202.pcapng": "Scapy's pcapng reader does not follow sections of "
                                    "different byte order",
    "pcapngtest-be-test202.pcapng": "Scapy's pcapng reader does not follow sections of "
                                    "different byte order",
    "pcapngtest-le-test010.pcapng": "Scapy 2.6 misreads Simple Packet Blocks (its frames "
                                    "start 16 bytes off; tshark agrees with fastpkt, see "
                                    "test_corpus_tshark)",
}

# (file, frame, field prefix) -> why Scapy's value is not the reference there.
SCAPY_KNOWN = {
    ("ppp-null_loopback.pcap", 3, "loopback.type"):
        "NULL header bytes 0f 00 08 00: Scapy reports 15 and stops (Raw); fastpkt reports "
        "the 32-bit host-order word 0x0008000f and, like tshark, decodes the IPv4 after it",
}


def _is_fragment(p) -> bool:
    if p.ip is not None and (p.ip.MF or p.ip.frag):
        return True
    return p.ip6 is not None and p.ip6.frag is not None and bool(p.ip6.frag or p.ip6.MF)


def _tshark_ok(name: str) -> bool:
    return not (corpus_dir() / "refs" / f"{name}.stderr").exists()


def test_corpus_against_scapy(corpus_file):
    name = corpus_file
    if not _tshark_ok(name):
        pytest.skip("cut-short or unreadable file (see test_corpus_tshark)")
    if name in SCAPY_SKIP:
        pytest.skip(SCAPY_SKIP[name])
    path = corpus_dir() / name
    try:
        ref = S.rdpcap(str(path))
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"Scapy cannot read it: {e!r}")
    ours = fp.read(str(path), decapsulate=False)  # Scapy: pkt[IP] is the outer header
    n_tshark = len(read_tsv(corpus_dir() / "refs" / f"{name}.tsv"))
    assert len(ours) <= n_tshark
    if len(ref) != len(ours):
        pytest.skip(f"Scapy reads {len(ref)} packets, fastpkt {len(ours)} (tshark "
                    f"{n_tshark}); frame alignment impossible")
    problems = []
    for i, (o, r) in enumerate(zip(ours, ref)):
        try:
            d = extract(r)
        except Exception:  # noqa: BLE001 - Scapy could not dissect: no reference
            continue
        if o.raw != bytes(getattr(r, "original", None) or bytes(r)):
            problems.append(f"frame {i + 1}: raw bytes differ from Scapy's record")
        # fastpkt anomalies mean "malformed": Scapy may then decode garbage differently.
        if o.anomalies:
            d = {k: v for k, v in d.items() if k in ("eth", "vlans", "sll", "loopback")}
        if _is_fragment(o):
            d.pop("dns", None)  # a fragment holds part of a DNS message at most
        if "dns" in d:
            on53 = (o.sport == 53 or o.dport == 53)
            if (o.dns is None and not on53) or (o.dns is not None and o.dns.malformed):
                # Scapy also binds DNS to mDNS/LLMNR ports; malformed DNS is covered by
                # test_dissect_dns. A DNS message on port 53 must be decoded.
                d.pop("dns")
        problems += [f"frame {i + 1}: {x}" for x in diff_fields(o, d)
                     if not any(k[0] == name and k[1] == i + 1 and x.startswith(k[2])
                                for k in SCAPY_KNOWN)]
    assert not problems, f"{len(problems)} disagreement(s) with Scapy:\n" + "\n".join(
        problems[:60])


# ----------------------------------------------------------------------------- fixtures

from _fphelpers import DATA, load_expected  # noqa: E402

_EXP = load_expected()


@pytest.mark.parametrize("name", sorted(_EXP))
def test_fixture_fields_match_scapy(name):
    """tests/data fixtures against the Scapy dissection recorded in expected.json."""
    pkts = fp.read(str(DATA / name), decapsulate=False)  # as Scapy: the outer headers
    problems = []
    for i, (p, e) in enumerate(zip(pkts, _EXP[name]["packets"])):
        ref = dict(e["fields"])
        hand = e.get("hand") or {}
        if hand.get("bad_options"):
            ref.get("tcp", {}).pop("options", None)  # Scapy's reading of garbage options
            ref.get("tcp", {}).pop("chksum", None)
        problems += [f"{name} #{i}: {d}" for d in diff_fields(p, ref)]
    assert not problems, "\n".join(problems)
