"""LLMNR (RFC 4795) through fastpkt.scapy against Scapy's own ``scapy.layers.llmnr``, which
``scapy.all`` loads: on UDP port 5355 (either direction, where Scapy's bindings try no other
layer first) a message is Scapy's ``LLMNRQuery`` or, with the QR bit set, ``LLMNRResponse``.

Reference: Scapy's dissection of the same bytes: the chain (``layers()``), ``in``/``haslayer``
for LLMNR, DNS and the records, every LLMNR field (c, tc, t, the 4-bit z...) and record,
``bytes()``, ``repr``/``summary()``/``show()``/``ls()`` text (rendered without Scapy here; the
same text where ``import scapy`` fails), ``hashret()`` and ``answers()``. Frames: queries and
responses Scapy builds (answers of several types, the conflict, truncation and tentative bits,
IPv4 and IPv6 multicast and unicast), each cut at every length and with each header count
lying; the port pairs where DNS or another of Scapy's layers comes first; TCP port 5355 (Scapy
binds LLMNR to UDP only); and every corpus packet on port 5355.
"""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
import fastpkt.scapy as fs
from fastpkt import _scapy_text as text
from _fphelpers import NO_SCAPY_HEAD, corpus_files, read_tsv, tshark_status

sa = pytest.importorskip("_scapy_ref").sa   # Scapy, quiet, with its default layers
BCAST = "ff:ff:ff:ff:ff:ff"  # Ether(dst=) given: Scapy would resolve it by sending ARP off the machine
MCAST4, MCAST6 = "01:00:5e:00:00:fc", "33:33:00:01:00:03"   # 224.0.0.252, ff02::1:3
ROOT = Path(__file__).resolve().parents[1]
LOOKED_UP = ("LLMNRQuery", "LLMNRResponse", "_LLMNR", "DNS", "DNSQR", "DNSRR", "DNSRRMX", "Raw",
             "Padding", "UDP", "TCP")


def _messages() -> list[bytes]:
    """LLMNR messages as Scapy builds them: queries (A, AAAA, ANY, two questions, none), the
    conflict (c), truncation (tc) and tentative (t) bits and the reserved z bits, responses
    with an A, AAAA, CNAME, TXT, MX answer, with none, with an error rcode."""
    q, r = sa.LLMNRQuery, sa.LLMNRResponse
    host = sa.DNSQR(qname="host1")
    return [bytes(m) for m in (
        q(id=0x1234, qd=host),
        q(id=7, qd=sa.DNSQR(qname="printer.local", qtype="AAAA")),
        q(id=8, qd=[host, sa.DNSQR(qname="wpad", qtype=255)]),
        q(id=9),
        q(id=10, c=1, tc=1, t=1, z=15, opcode=0, qd=host),
        q(id=11, opcode=5, qd=sa.DNSQR(qname="wpad.local", unicastresponse=1)),
        r(id=0x1234, qd=host, an=sa.DNSRR(rrname="host1", rdata="10.0.0.2", ttl=30)),
        r(id=0x1234, c=1, t=1, qd=host, an=sa.DNSRR(rrname="host1", rdata="10.0.0.2")),
        r(id=12, tc=1, z=5, qd=sa.DNSQR(qname="host1", qtype="AAAA"),
          an=sa.DNSRR(rrname="host1", type="AAAA", rdata="fe80::1", ttl=30)),
        r(id=13, qd=host, an=[sa.DNSRR(rrname="host1", type="CNAME", rdata="other.example"),
                              sa.DNSRR(rrname="other.example", rdata="192.0.2.7")]),
        r(id=14, qd=host, an=sa.DNSRR(rrname="host1", type="TXT", rdata=[b"v=1", b"x"])),
        r(id=15, qd=host, an=sa.DNSRRMX(rrname="host1", exchange="mx.example", preference=5)),
        r(id=16, qd=host),
        r(id=17, rcode=3, qd=host),
        r(id=18, qd=host, an=sa.DNSRR(rrname="host1", rdata="10.0.0.2"),
          ns=sa.DNSRR(rrname="host1", type="NS", rdata="ns.example"),
          ar=sa.DNSRR(rrname="ns.example", rdata="10.0.0.9")),
    )]


def _frames(msg: bytes, ports=((49152, 5355), (5355, 49152), (5355, 5355))):
    """The message after IPv4 and IPv6, to the multicast group (queries) and unicast."""
    for sport, dport in ports:
        yield bytes(sa.Ether(dst=MCAST4) / sa.IP(src="10.0.0.1", dst="224.0.0.252") /
                    sa.UDP(sport=sport, dport=dport) / msg)
        yield bytes(sa.Ether(dst=MCAST6) / sa.IPv6(src="fe80::1", dst="ff02::1:3") /
                    sa.UDP(sport=sport, dport=dport) / msg)
        yield bytes(sa.Ether(dst=BCAST) / sa.IP(src="10.0.0.2", dst="10.0.0.1") /
                    sa.UDP(sport=sport, dport=dport) / msg)


def _cases():
    """(frame, whole): each message to and from port 5355, then followed by other bytes and
    an Ethernet trailer; the first ones cut at every length (datagram lengths set to the cut,
    and as sent: a snap length) and with each count lying. ``whole``: the message is all there."""
    messages = _messages()
    for m, msg in enumerate(messages):
        yield from ((f, True) for f in _frames(msg))
        yield from ((f, True) for f in _frames(msg + b"\x01\x02\x03", ((40000, 5355),)))
        yield from ((f + b"\0" * 6, True) for f in _frames(msg, ((5355, 40000),)))
        if m in (0, 6, 9, 12):
            for k in range(len(msg)):
                yield from ((f, False) for f in _frames(msg[:k], ((40000, 5355),)))
                wire = bytes(sa.Ether(dst=BCAST) / sa.IP(src="10.0.0.2", dst="10.0.0.1") /
                             sa.UDP(sport=5355, dport=40000) / msg)
                yield wire[:42 + k], False
            for c in range(4):
                for v in (0, 1, 2, 3, 100, 101, 0xFFFF):
                    lying = msg[:4 + 2 * c] + v.to_bytes(2, "big") + msg[6 + 2 * c:]
                    yield from ((f, False) for f in _frames(lying, ((40000, 5355),)))


def _scapy_port_pairs():
    """(sport, dport) pairs of 5355 with each port Scapy's UDP bindings name (read from its
    ``UDP.payload_guess``, the list its ``guess_payload_class`` walks in order: DNS's 53 and
    5353, Kerberos' 88 and 464, NBNS' 137, HSRP's 1985, GRE's 4754... before LLMNR's;
    NTP's 123, VXLAN's, SNMP's... after it), on the side each binding asks for; and the
    class Scapy's first matching binding names."""
    from scapy.layers.llmnr import _LLMNR

    pairs = {}
    for cond, _cls in sa.UDP.payload_guess:
        for field, port in cond.items():
            if port != 5355:
                pair = (port, 5355) if field == "sport" else (5355, port)
                pairs.setdefault(pair, next(c for f, c in sa.UDP.payload_guess
                                            if all(dict(sport=pair[0], dport=pair[1])[k] == v for k, v in f.items())))
    assert pairs[(5355, 137)].__name__ == "NBNSHeader" and pairs[(5355, 123)] is _LLMNR
    return pairs


def _other_port_cases():
    """Port pairs with 5355 where Scapy reads something else: DNS (53 and 5353 come first in
    its bindings), NBNS (137) and the other layers its bindings try first, TCP port 5355
    (Scapy binds LLMNR to UDP only); and those where LLMNR comes first (NTP's 123...)."""
    msg = _messages()[6]
    yield from _frames(msg, ((5355, 53), (53, 5355), (5353, 5355), (5355, 5353), (68, 5355),
                             (53, 4754), (5353, 4754)))   # GRE's binding before DNS's too
    yield from _frames(msg, sorted(_scapy_port_pairs()))
    yield bytes(sa.Ether(dst=BCAST) / sa.IP(src="10.0.0.2", dst="10.0.0.1") /
                sa.TCP(sport=5355, dport=40000, flags="PA") / (len(msg).to_bytes(2, "big") + msg))
    yield bytes(sa.Ether(dst=BCAST) / sa.IP(src="10.0.0.2", dst="10.0.0.1") /
                sa.TCP(sport=40000, dport=5355, flags="PA") / msg)


def _scapy_ls(s) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        sa.ls(s)
    return out.getvalue()


def _norm(v):
    """Values as plain data: records as (class, fields), Raw records as (Raw, load)."""
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    if hasattr(v, "fields") and hasattr(v, "name"):
        return (type(v).__name__, _norm(v.fields))
    return v


def _llmnr_of(p):
    for cls in ("LLMNRResponse", "LLMNRQuery"):
        if cls in p:
            return p[cls]
    return None


def _same(p, s, where, whole: bool = True) -> bool:
    """The facade packet ``p`` reads as Scapy's ``s``; True when its text is rendered here."""
    names = [c.__name__ for c in p.layers()]
    assert names == [c.__name__ for c in s.layers()], (where, names)
    ref = _llmnr_of(s)
    # a count lying into the next records: Scapy's record holds a Padding (README, as for DNS)
    held = ref is not None and any(sa.Padding in r for w in ("qd", "an", "ns", "ar") for r in getattr(ref, w))
    for cls in LOOKED_UP:
        if whole or cls in ("LLMNRQuery", "LLMNRResponse", "_LLMNR", "DNS", "UDP", "TCP") or cls == "Padding" and not held:
            assert (cls in p) == (cls in s) and p.haslayer(cls) == s.haslayer(cls), (where, cls)
    assert (fs.DNS in p) == (sa.DNS in s) and (fs.LLMNRQuery in p) == (sa.LLMNRQuery in s), where
    assert (p.getlayer(fs.LLMNRResponse) is None) == (s.getlayer(sa.LLMNRResponse) is None), where
    mine, theirs = _llmnr_of(p), _llmnr_of(s)
    if theirs is not None:
        assert type(mine).__name__ == type(theirs).__name__ and mine.name == theirs.name, where
        assert bytes(mine) == bytes(theirs) and len(mine) == len(theirs), where
        assert mine.hashret() == theirs.hashret(), where
        header = ("id", "qr", "opcode", "c", "tc", "t", "z", "rcode", "qdcount", "ancount", "nscount", "arcount")
        assert [getattr(mine, k) for k in header] == [getattr(theirs, k) for k in header], where
        assert mine.underlayer.name == theirs.underlayer.name, where
        assert [c.__name__ for c in mine.payload.layers()] == [c.__name__ for c in theirs.payload.layers()], where
        if whole:
            assert _norm(mine.fields) == _norm(theirs.fields), where
            for w in ("qd", "an", "ns", "ar"):
                assert _norm(list(getattr(mine, w))) == _norm(list(getattr(theirs, w))), (where, w)
            assert repr(mine) == repr(theirs), where
            if theirs.qd:
                assert p[fs.DNSQR].qname == s[sa.DNSQR].qname and p.qd[0].qtype == s.qd[0].qtype, where
    native = text.describe(p) is not None
    if native:
        assert text.packet_repr(p) == repr(s), where
        assert text.packet_summary(p) == s.summary(), where
        assert text.packet_show(p, dump=True) == s.show(dump=True), where
    assert repr(p) == repr(s) and p.summary() == s.summary() and p.show(dump=True) == s.show(dump=True), where
    assert fs.ls(p, dump=True) == _scapy_ls(s), where
    return native


def test_llmnr_reads_as_scapy():
    """Every built frame: Scapy's chain, lookups, fields, records, bytes and text; text and
    ls() rendered without Scapy for every whole message (cut ones: where fastpkt's reading is
    Scapy's, else Scapy's own text through to_scapy)."""
    n = native = queries = responses = 0
    for k, (wire, whole) in enumerate(_cases()):
        p, s = fs.ScapyPacket(wire, 1), sa.Ether(wire)
        rendered = _same(p, s, (k, wire.hex()), whole and not (p.dns is not None and p.dns.malformed))
        assert rendered or not whole, (k, wire.hex())
        assert not rendered or text._ls_nodes(p) is not None, (k, wire.hex())
        native += rendered
        queries += sa.LLMNRQuery in s
        responses += sa.LLMNRResponse in s
        n += 1
    assert n >= 1250 and native >= 430 and queries >= 210 and responses >= 840


def test_other_ports_read_as_scapy():
    """5355 beside every port Scapy's UDP bindings name (its own list, in its order): where
    LLMNR's binding comes first (NTP's 123, VXLAN's, SNMP's...), Scapy's LLMNR; where DNS's
    does, Scapy's DNS (`DNS in pkt`, no LLMNR); where GRE's 4754 does, GRE and what it holds;
    where another layer's does (Kerberos 88 and 464, NBNS 137 and 138, LDAP 389, HSRP 1985,
    DHCPv6, IKE...), neither DNS nor LLMNR: that layer, which fastpkt does not decode, is the
    datagram's Raw here (as on any of its ports), its text Scapy's through to_scapy(). TCP
    port 5355: Raw, no binding."""
    kinds = set()
    for k, wire in enumerate(_other_port_cases()):
        p, s = fs.ScapyPacket(wire, 1), sa.Ether(wire)
        ours, theirs = [c.__name__ for c in p.layers()], [c.__name__ for c in s.layers()]
        if sa.LLMNRQuery in s or sa.LLMNRResponse in s:
            _same(p, s, k)
            kinds.add("LLMNR")
        elif sa.DNS in s or sa.TCP in s or sa.GRE in s:
            assert ours == theirs, (k, ours, theirs)
            assert repr(p) == repr(s) and p.summary() == s.summary() and p.show(dump=True) == s.show(dump=True), k
            kinds.add("DNS" if sa.DNS in s else "GRE" if sa.GRE in s else "TCP")
        else:
            # Scapy's layer at the datagram's payload: Raw here, and nothing after it
            assert ours == theirs[:3] + ["Raw"] and theirs[3] not in ("LLMNRQuery", "LLMNRResponse"), (k, ours, theirs)
            assert p[fs.Raw].load == bytes(s[sa.UDP].payload) and p[fs.UDP].payload.name == "Raw", k
            assert fs.Raw in p and p.haslayer("Raw") and p.lastlayer().name == "Raw", k
            assert repr(p) == repr(s) and p.summary() == s.summary(), k   # Scapy's own text
            kinds.add("other")
        assert (fs.DNS in p) == (sa.DNS in s) == p.haslayer("DNS") == (p.getlayer(fs.DNS) is not None), k
        assert (fs.LLMNRQuery in p) == (sa.LLMNRQuery in s) and (fs.LLMNRResponse in p) == (sa.LLMNRResponse in s), k
        if sa.DNS not in s:
            with pytest.raises(IndexError, match="DNS"):
                p[fs.DNS]
        assert p.dns is not None or sa.TCP in s   # fastpkt's own view of the message stays
    assert kinds == {"LLMNR", "DNS", "GRE", "TCP", "other"}


def test_llmnr_lookups_and_answers():
    """A query and its response: the lookups a script makes (class, name, getlayer with nb
    and a filter, slices, attribute fall-through), isinstance, answers() and hashret()."""
    q = fs.ScapyPacket(next(_frames(_messages()[0])), 1)
    r = fs.ScapyPacket(next(_frames(_messages()[7], ((5355, 49152),))), 1)
    sq, sr = sa.Ether(bytes(q)), sa.Ether(bytes(r))
    assert isinstance(r[fs.LLMNRResponse], fs.LLMNRQuery) and not fs.LLMNRQuery in r
    assert r["LLMNRResponse"].c == sr["LLMNRResponse"].c == 1 and r.t == sr.t == 1
    assert r[fs.LLMNRResponse].answers(q[fs.LLMNRQuery]) == sr[sa.LLMNRResponse].answers(sq[sa.LLMNRQuery])
    assert r[fs.LLMNRResponse].answers(q[fs.LLMNRQuery]) and not r[fs.LLMNRResponse].answers(r[fs.LLMNRResponse])
    assert r.getlayer(fs.DNSRR, type=28) is None and sr.getlayer(sa.DNSRR, type=28) is None
    assert r.getlayer("DNSRR", type=1).rdata == sr.getlayer("DNSRR", type=1).rdata == "10.0.0.2"
    assert r[fs.LLMNRResponse].an[0].rrname == sr[sa.LLMNRResponse].an[0].rrname == b"host1."
    assert q[fs.LLMNRQuery].qd[0].qname.decode() == "host1."
    assert q[fs.LLMNRQuery:1].id == 0x1234 and q.getlayer(fs.LLMNRQuery, 2) is None
    with pytest.raises(IndexError, match="LLMNRResponse"):
        q[fs.LLMNRResponse]
    with pytest.raises(IndexError, match="DNS"):
        q[fs.DNS]
    assert q.getlayer(fs.DNS) is None and q.dns is not None   # fastpkt's own view stays
    assert type(q[fs.UDP].payload).__name__ == "LLMNRQuery" and q.lastlayer().name == sq.lastlayer().name


def test_corpus_llmnr_reads_as_scapy(corpus):
    """Every corpus packet tshark's reference puts on UDP port 5355 is one here, and reads
    and prints as Scapy reads it (the shared corpus holds none today: the frames agree on
    that, and test_scapy_model's walk over every corpus packet compares the chains)."""
    for name in corpus_files():
        refs = corpus / "refs" / (name + ".tsv")
        if not refs.exists() or tshark_status(name) == "unreadable":
            continue
        theirs = {int(row["frame.number"]) for row in read_tsv(refs)
                  if "5355" in (row["udp.srcport"].split(",")[0], row["udp.dstport"].split(",")[0])}
        try:
            with fp.open(str(corpus / name), on_error="stop", decapsulate=False) as r:
                read = list(r)
        except fp.Error:
            continue
        packets = {i + 1: p for i, p in enumerate(read) if p.udp is not None and 5355 in (p.udp.sport, p.udp.dport)}
        assert set(packets) == {n for n in theirs if n <= len(read)}, name   # a cut file: what both read
        for i, p in packets.items():
            wire = bytes(p)
            facade = fs.ScapyPacket(wire, p.linktype)
            _same(facade, sa.conf.l2types[p.linktype](wire), (name, i), not (p.dns is not None and p.dns.malformed))


_NO_SCAPY = NO_SCAPY_HEAD + r"""
import json
import sys

import fastpkt.scapy as fs
out = []
for h in sys.argv[1:]:
    p = fs.ScapyPacket(bytes.fromhex(h), 1)
    layer = p.getlayer(fs.LLMNRResponse) or p.getlayer(fs.LLMNRQuery)
    out.append([repr(p), p.summary(), p.show(dump=True), fs.ls(p, dump=True),
                [c.__name__ for c in p.layers()], None if layer is None else repr(layer.fields)])
assert not [m for m in sys.modules if m == "scapy" or m.startswith("scapy.")]
print(json.dumps(out))
"""


def test_llmnr_text_needs_no_scapy():
    """Each message to and from port 5355 and a 1-byte datagram, in a process where ``import
    scapy`` fails: Scapy's repr, summary(), show() and ls() text, its chain and fields."""
    wires = [next(_frames(m, ((49152, 5355),))) for m in _messages()]
    wires.append(next(_frames(b"\x12", ((49152, 5355),))))
    theirs = []
    for w in wires:
        s, p = sa.Ether(w), fs.ScapyPacket(w, 1)
        layer = _llmnr_of(p)
        theirs.append([repr(s), s.summary(), s.show(dump=True), _scapy_ls(s), [c.__name__ for c in s.layers()],
                       None if layer is None else repr(layer.fields)])
    done = subprocess.run([sys.executable, "-c", _NO_SCAPY, *(w.hex() for w in wires)], check=True,
                          capture_output=True, text=True, cwd=ROOT)
    assert json.loads(done.stdout) == theirs
