"""DNS names whose labels hold bytes fastpkt's text escapes (non-ASCII, space, control bytes,
a backslash, a dot inside a label), read through fastpkt.scapy against Scapy's own dissection
of the same frames: Scapy hands every name field (qname, rrname, CNAME/NS/PTR rdata, MX
exchange, SRV target, SOA mname/rname) as the label bytes joined by b'.', unescaped.
"""
from __future__ import annotations

import pytest

import fastpkt.scapy as fs

sa = pytest.importorskip("_scapy_ref").sa   # Scapy, quiet, with its default layers
BCAST = "ff:ff:ff:ff:ff:ff"  # Ether(dst=) given: Scapy would resolve it by sending ARP off the machine

LABELS = (b"caf\xc3\xa9", b"a b", b"tab\there", b"back\\slash", b"nul\x00byte", b"\xff",
          b"dot.inside", b"x\x7fy", b"\\065")


def _name(label: bytes) -> bytes:
    return label + b".example."


def _frames():
    for label in LABELS:
        n = _name(label)
        dns = sa.DNS(id=1, qr=1, qd=sa.DNSQR(qname=n), an=[
            sa.DNSRR(rrname=n, type="CNAME", rdata=n),
            sa.DNSRR(rrname=n, type="PTR", rdata=n),
            sa.DNSRRMX(rrname=n, exchange=n, preference=5),
            sa.DNSRRSRV(rrname=n, target=n, port=80),
            sa.DNSRRSOA(rrname=n, mname=n, rname=n)])
        yield label, bytes(sa.Ether(dst=BCAST) / sa.IP(src="10.0.0.1", dst="10.0.0.2") /
                           sa.UDP(sport=53, dport=40000) / dns)


def _names(rec) -> dict:
    return {f: getattr(rec, f) for f in ("qname", "rrname", "rdata", "exchange", "target",
                                          "mname", "rname") if hasattr(rec, f)}


@pytest.mark.parametrize("label,wire", list(_frames()), ids=[repr(x) for x in LABELS])
def test_escaped_label_bytes_read_as_scapy(label, wire):
    p, s = fs.ScapyPacket(wire, 1), sa.Ether(wire)
    pd, sd = p[fs.DNS], s[sa.DNS]
    assert pd.qd[0].qname == sd.qd[0].qname == _name(label)
    assert len(pd.an) == len(sd.an) == 5
    for ours, theirs in zip(pd.an, sd.an):
        assert type(ours).__name__ == type(theirs).__name__
        assert _names(ours) == _names(theirs), (label, type(theirs).__name__)
    assert repr(p) == repr(s)
    assert p.summary() == s.summary()
