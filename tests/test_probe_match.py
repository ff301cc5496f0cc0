"""The matching rules of sr()/srp() (csrc/probe/match.c) against Scapy's own answers() on a
generated table of probe/answer pairs: TCP flags and sequence/acknowledgment windows, UDP
ports and DNS ids, ICMP echo and the other request/reply pairs, ICMP and ICMPv6 errors
quoting (a cut-short copy of) the probe, IPv6 echo data, ARP. No privileges needed.
"""
from __future__ import annotations

import itertools

import pytest

import fastpkt as fp

s = pytest.importorskip("scapy.all")

ME, THEM, OTHER = "10.13.1.10", "10.13.1.20", "10.13.1.99"
ME6, THEM6, OTHER6 = "fd13::10", "fd13::20", "fd13::99"


def case(ans, probe, l2=False):
    return pytest.param(bytes(ans), bytes(probe), l2, id="%s <- %s" % (ans.summary(), probe.summary()))


def tcp_cases():
    out = []
    probe_flags = ["S", "A", "PA", "R", "F", "SA"]
    reply_flags = ["SA", "RA", "R", "A", "S", "FA"]
    for pf, rf, dack, dseq, ports_ok, src in itertools.product(
            probe_flags, reply_flags, (0, 1, 3), (0, 2, 7), (True, False), (THEM, OTHER)):
        payload = b"xyz" if pf == "PA" else b""
        probe = s.IP(src=ME, dst=THEM) / s.TCP(sport=40000, dport=80, flags=pf, seq=1000, ack=500) / payload
        reply = s.IP(src=src, dst=ME) / s.TCP(sport=80 if ports_ok else 81, dport=40000, flags=rf,
                                              seq=500 + dseq, ack=1000 + dack)
        out.append(case(reply, probe))
    return out


def udp_cases():
    out = []
    for payload, reply_payload, dport_ok in itertools.product((b"", b"q"), (b"", b"r"), (True, False)):
        probe = s.IP(src=ME, dst=THEM) / s.UDP(sport=40001, dport=9999) / payload
        reply = s.IP(src=THEM, dst=ME) / s.UDP(sport=9999, dport=40001 if dport_ok else 40002) / reply_payload
        out.append(case(reply, probe))
    for qid, rid, qr in itertools.product((7, 8), (7, 8), (0, 1)):
        probe = s.IP(src=ME, dst=THEM) / s.UDP(sport=40003, dport=53) / s.DNS(id=qid, qd=s.DNSQR(qname="a.lab"))
        reply = s.IP(src=THEM, dst=ME) / s.UDP(sport=53, dport=40003) / s.DNS(id=rid, qr=qr, qd=s.DNSQR(qname="a.lab"))
        out.append(case(reply, probe))
    return out


def icmp_cases():
    out = []
    for (ptype, rtype), dseq, did in itertools.product(
            [(8, 0), (13, 14), (15, 16), (17, 18), (8, 3), (0, 8), (8, 8), (13, 0)], (0, 1), (0, 1)):
        probe = s.IP(src=ME, dst=THEM) / s.ICMP(type=ptype, id=5, seq=9)
        reply = s.IP(src=THEM, dst=ME) / s.ICMP(type=rtype, id=5 + did, seq=9 + dseq)
        out.append(case(reply, probe))
    return out


def error_cases():
    """ICMP errors quoting the probe as routers do (IP header + 8 bytes) or whole."""
    out = []
    probes = [s.IP(src=ME, dst=THEM, ttl=1) / s.TCP(sport=40000, dport=80, flags="S", seq=77),
              s.IP(src=ME, dst=THEM, ttl=1) / s.UDP(sport=40001, dport=9999) / b"payload",
              s.IP(src=ME, dst=THEM, ttl=1) / s.ICMP(id=3, seq=4)]
    for probe, (etype, code), quote_len, mutate, err_dst in itertools.product(
            probes, [(11, 0), (3, 3), (3, 1), (12, 0), (5, 1)], (28, None), range(5), (ME, OTHER)):
        quoted = probe.copy()
        if mutate == 1:
            quoted[s.IP].dst = OTHER
        elif mutate == 2:
            quoted[s.IP].src = OTHER
        elif mutate == 3:
            if quoted.haslayer(s.ICMP):
                quoted[s.ICMP].seq = 5
            else:
                quoted[1].sport += 1
        elif mutate == 4:
            quoted[s.IP].id = 999  # checkIPID is off: still an answer
        raw = bytes(quoted)
        err = s.IP(src="10.13.1.1", dst=err_dst) / s.ICMP(type=etype, code=code) / (raw[:quote_len] if quote_len else raw)
        out.append(case(err, probe))
    return out


def ipv6_cases():
    out = []
    for data_ok, did, src in itertools.product((True, False), (0, 1), (THEM6, OTHER6)):
        probe = s.IPv6(src=ME6, dst=THEM6) / s.ICMPv6EchoRequest(id=1, seq=2, data=b"ping")
        reply = s.IPv6(src=src, dst=ME6) / s.ICMPv6EchoReply(id=1 + did, seq=2, data=b"ping" if data_ok else b"pong")
        out.append(case(reply, probe))
    for flags, ports_ok in itertools.product(("SA", "RA"), (True, False)):
        probe = s.IPv6(src=ME6, dst=THEM6) / s.TCP(sport=40000, dport=443, flags="S", seq=10)
        reply = s.IPv6(src=THEM6, dst=ME6) / s.TCP(sport=443 if ports_ok else 444, dport=40000, flags=flags, ack=11)
        out.append(case(reply, probe))
    for err, mutate in itertools.product((s.ICMPv6DestUnreach(code=4), s.ICMPv6TimeExceeded()), (False, True)):
        probe = s.IPv6(src=ME6, dst=THEM6, hlim=1) / s.UDP(sport=40001, dport=9999) / b"x"
        quoted = probe.copy()
        if mutate:
            quoted[s.UDP].dport = 9998
        out.append(case(s.IPv6(src="fd13::1", dst=ME6) / err / bytes(quoted), probe))
    return out


def arp_cases():
    out = []
    for op, psrc in itertools.product((1, 2), (THEM, OTHER)):
        probe = s.Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:10") / s.ARP(pdst=THEM, psrc=ME,
                                                                                  hwsrc="02:00:00:00:00:10")
        reply = s.Ether(dst="02:00:00:00:00:10", src="02:00:00:00:00:20") / s.ARP(
            op=op, psrc=psrc, hwsrc="02:00:00:00:00:20", pdst=ME, hwdst="02:00:00:00:00:10")
        out.append(case(reply, probe, l2=True))
    return out


CASES = tcp_cases() + udp_cases() + icmp_cases() + error_cases() + ipv6_cases() + arp_cases()


@pytest.mark.parametrize("ans,probe,l2", CASES)
def test_answers_like_scapy(ans, probe, l2):
    first = s.Ether if l2 else (s.IPv6 if probe[0] >> 4 == 6 else s.IP)
    expected = bool(first(ans).answers(first(probe)))
    assert fp.answers(ans, probe, l2=l2) is expected


def test_table_is_large_and_balanced():
    verdicts = [bool((s.Ether if l2 else s.IPv6 if p[0] >> 4 == 6 else s.IP)(a).answers(
        (s.Ether if l2 else s.IPv6 if p[0] >> 4 == 6 else s.IP)(p))) for a, p, l2 in (c.values for c in CASES)]
    assert len(verdicts) >= 500
    assert 50 <= sum(verdicts) <= len(verdicts) - 50


def test_udp_answer_must_come_from_the_probed_port():
    """The one documented difference: Scapy's UDP.answers checks only the reply's
    destination port; a reply from another port is not matched here."""
    probe = s.IP(src=ME, dst=THEM) / s.UDP(sport=40001, dport=9999) / b"q"
    reply = s.IP(src=THEM, dst=ME) / s.UDP(sport=1234, dport=40001) / b"r"
    assert reply.answers(probe)
    assert not fp.answers(bytes(reply), bytes(probe))


def test_packets_bring_their_link_type():
    probe = s.Ether() / s.IP(src=ME, dst=THEM) / s.ICMP(id=1, seq=1)
    reply = s.Ether() / s.IP(src=THEM, dst=ME) / s.ICMP(type=0, id=1, seq=1)
    assert fp.answers(fp.Packet(bytes(reply)), fp.Packet(bytes(probe)))
    assert fp.answers(bytes(reply), bytes(probe), l2=True)
    assert not fp.answers(bytes(reply), bytes(probe))  # read as IP, an Ethernet frame is garbage


@pytest.mark.parametrize("junk", [b"", b"\x45", b"\x60" + bytes(10), b"\x45" + bytes(27), b"\xff" * 60])
def test_garbage_never_answers_and_never_crashes(junk):
    probe = bytes(s.IP(src=ME, dst=THEM) / s.ICMP())
    assert fp.answers(junk, probe) is False
    assert fp.answers(probe, junk) is False


def test_bad_arguments():
    with pytest.raises(TypeError):
        fp.sr(12345, timeout=0)
    with pytest.raises(TypeError):
        fp.send("not bytes")
    with pytest.raises(ValueError, match="65535"):
        fp.send(bytes(70000))
    with pytest.raises(ValueError, match="timeout"):
        fp.sr(b"E" + bytes(19), timeout=-1)
    with pytest.raises(ValueError, match="inter"):
        fp.send(b"E" + bytes(19), inter=-1)
