"""A layer's own ``show()`` / ``show(dump=True)`` / ``show2()`` in ``fastpkt.scapy``, and a DNS
record's, as Scapy prints them (issue 14).

Reference: Scapy's own ``layer.show(dump=True)`` and ``layer.show2(dump=True)`` of the same
bytes, dissected by Scapy: every layer of built frames (TCP with data, DNS with A and MX
answers, an ICMP error quoting IP/UDP, Ethernet trailers) and of corpus packets; and the same
text in a process where ``import scapy`` fails (no fallback to Scapy).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
import fastpkt.scapy as fs
from fastpkt import _scapy_text as text
from _fphelpers import NO_SCAPY_HEAD, corpus_files

sa = pytest.importorskip("_scapy_ref").sa   # Scapy, quiet, with its default layers

B = "ff:ff:ff:ff:ff:ff"
_IP = dict(src="10.0.0.1", dst="10.0.0.2")
_IP6 = dict(src="fe80::1", dst="ff02::16")


def _frames() -> list[bytes]:
    dns = sa.DNS(id=7, qr=1, qd=sa.DNSQR(qname="example.com"),
                 an=sa.DNSRR(rrname="example.com", rdata="192.0.2.7") /
                 sa.DNSRRMX(rrname="example.com", exchange="mx.example.com"))
    frames = [
        sa.Ether(dst=B) / sa.IP(**_IP) / sa.TCP(sport=1234, dport=80, flags="PA") / b"GET / HTTP/1.0\r\n\r\n",
        sa.Ether(dst=B) / sa.IP(**_IP) / sa.UDP(sport=53, dport=40000) / dns,
        sa.Ether(dst=B) / sa.IP(**_IP) / sa.UDP(sport=1000, dport=2000) / b"x",
        sa.Ether(dst=B) / sa.IP(src="203.0.113.9", dst="10.0.0.1") / sa.ICMP(type=3, code=3) /
        sa.IP(**_IP, ttl=1) / sa.UDP(sport=33434, dport=33435),
        sa.Ether(dst=B) / sa.IPv6(src="2001:db8::1", dst="2001:db8::2") / sa.TCP(sport=5, dport=443, flags="S"),
        sa.Ether(dst=B) / sa.Dot1Q(vlan=5) / sa.IP(**_IP) / sa.ICMP(),
        # facade-added layers: ND options, IPv6 options and MLDv2 records held in list fields,
        # an ICMPv6 error's quoted packet, DHCP, NTP, LLMNR, ARP
        sa.Ether(dst=B) / sa.IPv6(**_IP6) / sa.ICMPv6ND_NS(tgt="fe80::2") /
        sa.ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55"),
        sa.Ether(dst=B) / sa.IPv6(**_IP6, hlim=1) / sa.IPv6ExtHdrHopByHop(options=[sa.RouterAlert()]) /
        sa.ICMPv6MLReport2(records=[sa.ICMPv6MLDMultAddrRec(dst="ff02::fb"), sa.ICMPv6MLDMultAddrRec(dst="ff02::1:3")]),
        sa.Ether(dst=B) / sa.IPv6(**_IP6) / sa.ICMPv6DestUnreach(code=4) / sa.IPv6(src="fe80::2", dst="fe80::1") /
        sa.UDP(dport=33434),
        sa.Ether(dst=B) / sa.IP() / sa.UDP(sport=68, dport=67) / sa.BOOTP(chaddr="00:11:22:33:44:55") /
        sa.DHCP(options=[("message-type", "discover"), "end"]),
        sa.Ether(dst=B) / sa.IP() / sa.UDP(sport=123, dport=123) / sa.NTPHeader(mode=4),
        sa.Ether(dst=B) / sa.IP(src="10.0.0.1", dst="224.0.0.252") / sa.UDP(sport=5355, dport=5355) /
        sa.LLMNRQuery(qd=sa.DNSQR(qname="host")),
        sa.Ether(dst=B) / sa.ARP(pdst="10.0.0.2"),
    ]
    return [bytes(f) for f in frames]


def _padded() -> list[bytes]:
    """Ethernet trailers: Padding after the payload, which a layer's show2 under IP reads as data."""
    return [w + b"\0" * 6 for w in _frames()[:3]]


def _texts(p, s) -> list[tuple[str, str]]:
    """(ours, Scapy's) show, show2 of every layer of Scapy's chain and every DNS record."""
    out = []
    layer = s
    counts: dict[str, int] = {}
    while layer:
        cls = type(layer).__name__
        counts[cls] = counts.get(cls, 0) + 1
        mine = p.getlayer(cls, counts[cls])
        assert mine is not None, cls
        out.append((mine.show(dump=True), layer.show(dump=True)))
        out.append((mine.show2(dump=True), layer.show2(dump=True)))
        if cls == "DNS":
            for k in ("qd", "an", "ns", "ar"):
                ours, theirs = getattr(mine, k), getattr(layer, k) or []
                if len(ours) != len(theirs):
                    continue   # sections Scapy reads otherwise (a message cut short): not show's
                out += [(a.show(dump=True), b.show(dump=True)) for a, b in zip(ours, theirs)]
        for name, value in layer.fields.items():   # packets a list field holds, each from there on
            if isinstance(value, list) and value and isinstance(value[0], sa.Packet) and cls != "DNS":
                held = getattr(mine, name)
                for a, b in zip(held, value):
                    while b:
                        out.append((a.show(dump=True), b.show(dump=True)))
                        a, b = a.payload, b.payload
        layer = layer.payload
    return out


def test_built_frames_layers_show_as_scapy(capsys):
    n = 0
    for wire in _frames() + _padded():
        p, s = fs.ScapyPacket(wire, 1), sa.Ether(wire)
        for ours, theirs in _texts(p, s):
            assert ours.splitlines() == theirs.splitlines(), wire.hex()
            assert ours == theirs
            n += 1
        # show() prints the text and a newline, as Scapy's print does
        p.payload.show()
        ours = capsys.readouterr().out
        s.payload.show()
        assert ours == capsys.readouterr().out
    assert n >= 140


def test_corpus_layers_show_as_scapy(corpus):
    """Every layer of up to 40 packets of each corpus capture that Scapy and the facade chain
    alike (the same classes; others are the chain differences the README lists); most of
    them rendered natively (the rest by Scapy, as the whole packet's show)."""
    compared = native = 0
    for name in corpus_files():
        try:
            with fp.open(str(corpus / name), on_error="stop", decapsulate=False) as r:
                packets = [x for _, x in zip(range(40), r)]
        except fp.Error:
            continue
        for x in packets:
            if x.linktype not in sa.conf.l2types:
                continue
            p, s = fs.ScapyPacket(bytes(x), x.linktype), sa.conf.l2types[x.linktype](bytes(x))
            if [c.__name__ for c in p.layers()] != [type(layer).__name__ for layer in s.iterpayloads()]:
                continue
            if any(type(layer).__module__ == "scapy.layers.http" for layer in s.iterpayloads()):
                continue   # another test of this process loaded Scapy's HTTP, which scapy.all does not
            native += text.describe(p) is not None
            for ours, theirs in _texts(p, s):
                assert ours == theirs, (name, x.time)
                compared += 1
    assert compared >= 2000 and native >= 600


_NO_SCAPY = NO_SCAPY_HEAD + r"""
import json
import sys

import fastpkt.scapy as fs
out = []
for h, classes in json.loads(sys.stdin.read()):
    p = fs.ScapyPacket(bytes.fromhex(h), 1)
    counts = {}
    for cls in classes:
        counts[cls] = counts.get(cls, 0) + 1
        layer = p.getlayer(cls, counts[cls])
        out.append([layer.show(dump=True), layer.show2(dump=True)])
        if cls == "DNS":
            out += [[r.show(dump=True)] for k in ("qd", "an") for r in getattr(layer, k)]
assert not [m for m in sys.modules if m == "scapy" or m.startswith("scapy.")]
print(json.dumps(out))
"""


def test_layers_show_needs_no_scapy():
    """The built frames' layers (not the padded: a layer's show2 under IP there is Scapy's)
    in a process where ``import scapy`` fails: Scapy's text, rendered natively."""
    job, theirs = [], []
    for wire in _frames():
        s = sa.Ether(wire)
        classes = [type(layer).__name__ for layer in s.iterpayloads()]
        job.append([wire.hex(), classes])
        for layer in s.iterpayloads():
            theirs.append([layer.show(dump=True), layer.show2(dump=True)])
            if type(layer).__name__ == "DNS":
                theirs += [[r.show(dump=True)] for k in ("qd", "an") for r in getattr(layer, k)]
    done = subprocess.run([sys.executable, "-c", _NO_SCAPY], input=json.dumps(job), check=True,
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert json.loads(done.stdout) == theirs


def test_raw_built_alone_shows_its_load():
    assert fs.Raw(b"ab").show(dump=True) == sa.Raw(b"ab").show(dump=True)
