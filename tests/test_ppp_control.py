"""PPP's control protocols (LCP, IPCP, IPV6CP, CCP): ``ppp_control_malformed`` on option types
whose length rule is more than a fixed size (LCP callback, endpoint discriminator, the
authentication and prefix-elision options, CCP's algorithms, the IP compression protocols),
and the ``pkt.lcp``/``pkt.ipcp``/``pkt.ipv6cp``/``pkt.ccp`` views.

References: tshark 4.0's ``-Y '_ws.malformed || _ws.expert'`` frame numbers and ``-T fields``
values on frames built with Scapy's PPP classes and hand-packed from the RFCs (RFC 1661, 1332,
1877, 1962, 1990, 2509, 3241, 5072), carried in PPP, PPP-in-HDLC, PPPoE and PPTP."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

import fastpkt as fp
from test_ppp_linktypes import CP_MALFORMED, _control_frames, _flagged, _scapy, tshark_frames

PROTOCOLS = {"lcp": 0xC021, "ipcp": 0x8021, "ipv6cp": 0x8057, "ccp": 0x80FD}


def _write(path: Path, recs: list[bytes], linktype: int = 9) -> Path:
    """A pcap of these records, each whole (caplen = wirelen)."""
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for r in recs:
            out.write(struct.pack("<IIII", 0, 0, len(r), len(r)) + r)
    return path


def _configure(proto: int, *options: bytes, code: int = 1) -> bytes:
    """A PPP frame (protocol word first) of a Configure-* packet holding these options."""
    body = b"".join(options)
    return struct.pack(">HBBH", proto, code, 1, 4 + len(body)) + body


def _option_sweep() -> list[bytes]:
    """One option per Configure-Request: every type of each control protocol at lengths 2-20
    with three fillings, then the options whose data decides: LCP Authentication (24, its
    identifier length) and Prefix Elision (26, its first prefix length) at every value, and
    IPCP/IPV6CP's compression protocol for Van Jacobson, IPHC and ROHC up to their fixed part,
    then IPHC's and ROHC's suboptions: types 0-7 at lengths 0-8 whole, a type byte alone,
    lengths 2-9 with 0-7 bytes of data (past what is left or short of it), then none or a
    second suboption, good or lying."""
    frames = []
    fills = (b"\x00" * 24, bytes(range(1, 25)), b"\xff" * 24)
    for proto in PROTOCOLS.values():
        for t in range(256):
            for olen in range(2, 21):
                for fill in fills:
                    frames.append(_configure(proto, bytes([t, olen]) + fill[:olen - 2]))
    for olen in range(3, 12):
        for v in range(olen + 2):
            frames.append(_configure(0xC021, bytes([24, olen, v]) + b"\x00" * (olen - 3)))
            if olen >= 4:
                for count in (0, 1, olen - 5, olen - 4):
                    frames.append(_configure(0xC021, (bytes([26, olen, 7, v, count % 256]) + b"\x01" * 12)[:olen]))
    for proto in (0x8021, 0x8057):
        for comp, top in ((0x002D, 12), (0x0061, 14), (0x0003, 10)):
            for olen in range(2, top + 1):
                frames.append(_configure(proto, (bytes([2, olen]) + comp.to_bytes(2, "big") + b"\x00" * 12)[:olen]))
        for comp, fixed in ((0x0061, 14), (0x0003, 10)):
            head = (comp.to_bytes(2, "big") + b"\x00\x05" * 6)[:fixed - 2]
            subs = [bytes([t]) for t in range(8)]
            subs += [(bytes([t, sl]) + fill)[:max(sl, 2)] + extra for t in range(8) for sl in range(9)
                     for fill in fills[:2] for extra in (b"", b"\x01\x02")]
            subs += [bytes([t, sl]) + b"\x07" * k + second for t in range(5) for sl in range(2, 10) for k in range(8)
                     for second in (b"", b"\x01\x02", b"\x03\x03\x01", b"\x01\x03\x00")]
            for sub in subs:
                frames.append(_configure(proto, bytes([2, len(head) + len(sub) + 2]) + head + sub))
    return frames


def test_option_length_rules_against_tshark(tshark, tmp_path):
    """ppp_control_malformed is set on exactly the frames tshark 4.0 reports for their one
    option: every option type of LCP, IPCP, IPV6CP and CCP at every length from 2 to 20 with
    three fillings (over 58,000 frames), and the options whose data decides (LCP's
    Authentication and Prefix Elision options, the IP compression protocols and IPHC's and
    ROHC's suboptions)."""
    frames = _option_sweep()
    path = _write(tmp_path / "sweep.pcap", frames)
    theirs = tshark_frames(path, CP_MALFORMED)
    ours = _flagged(path)
    assert ours == theirs, sorted(set(ours) ^ set(theirs))[:10]
    assert len(theirs) > 2000 and len(frames) > 58000


def _unchecked_before() -> list[bytes]:
    """Hand-packed options of the types that had no length rule, each lying or not: LCP
    callback (13), endpoint discriminator (19, each class), FCS alternatives, numbered mode,
    authentication, prefix elision, internationalization; IPCP's mobile-IPv4 address and
    IPHC; CCP's OUI, Stac LZS, MPPE, V.42bis, BSD, Deflate and V.44, before and after a good
    option so the walk goes on (warning) or stops (exception) as tshark's does."""
    lcp, ipcp, ccp = 0xC021, 0x8021, 0x80FD
    mru = bytes.fromhex("010405d4")
    out = [
        _configure(lcp, bytes.fromhex("0d0306"), mru),                   # callback, location determined
        _configure(lcp, bytes.fromhex("0d02"), mru),                     # callback without operation
        _configure(lcp, bytes.fromhex("0d0701616263ff"), mru),           # callback with a message
        _configure(lcp, bytes.fromhex("0902"), mru),                     # FCS alternatives, no flags
        _configure(lcp, bytes.fromhex("0b0304"), mru),                   # numbered mode
        _configure(lcp, bytes.fromhex("1803"), mru),                     # authentication, no id length
        _configure(lcp, bytes.fromhex("180603020101")),                   # authentication, id past it
        _configure(lcp, bytes.fromhex("1a06000201ff"), mru),             # prefix elision read a byte late
        _configure(lcp, bytes.fromhex("1c0700000000ff"), mru),           # internationalization
        _configure(lcp, bytes.fromhex("1c06000000ff"), mru),             # internationalization short
        _configure(ipcp, bytes.fromhex("040a0a000001"), bytes.fromhex("0306c0000201")),   # mobile IPv4 of 6
        _configure(ipcp, bytes.fromhex("040a0a00000100000000")),                         # mobile IPv4 of 10
        _configure(ipcp, bytes.fromhex("020e006100030005000f0002")),                     # IPHC, 2 bytes short
        _configure(ipcp, bytes.fromhex("0210006100030005000f00020000")),                 # IPHC whole
        _configure(ipcp, bytes.fromhex("0206002d0f01")),                                 # Van Jacobson
        _configure(ipcp, bytes.fromhex("0204002d")),                                     # Van Jacobson short
        _configure(ccp, bytes.fromhex("0006000000"), bytes.fromhex("12060000 0040".replace(" ", ""))),  # OUI short
        _configure(ccp, bytes.fromhex("1105000103")),                    # Stac LZS
        _configure(ccp, bytes.fromhex("11040001")),                      # Stac LZS short
        _configure(ccp, bytes.fromhex("120701000000e0")),                # MPPE of 7
        _configure(ccp, bytes.fromhex("1406010000"), bytes.fromhex("15032f")),  # V.42bis of 6, BSD
        _configure(ccp, bytes.fromhex("15042f00")),                      # BSD of 4
        _configure(ccp, bytes.fromhex("1a047800"), bytes.fromhex("1a0378")),     # Deflate, Deflate short
        _configure(ccp, bytes.fromhex("1b05000100")),                    # V.44 of 5
        _configure(ccp, bytes.fromhex("1b0800010002ff00")),              # V.44 of 8
    ]
    return out + [_configure(lcp, bytes([19, 3 + n, cls]) + bytes(range(n)), mru)
                  for cls in range(7) for n in (0, 4, 6, 20)]


def _carriers(sa, frames: list[bytes]) -> dict[int, list[bytes]]:
    """The frames on PPP (9), PPP-in-HDLC (50), PPPoE (51) and PPTP over Ethernet (1)."""
    outer = sa.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / sa.IP(src="192.0.2.1", dst="192.0.2.2")
    return {9: frames, 50: [b"\xff\x03" + f for f in frames],
            51: [b"\x11\x00\x00\x09" + len(f).to_bytes(2, "big") + f for f in frames],
            1: [bytes(outer / sa.GRE_PPTP(seqnum_present=1, call_id=3, sequence_number=1) / (b"\xff\x03" + f))
                for f in frames]}


def test_unchecked_option_types_on_every_carrier_against_tshark(tshark, tmp_path):
    """The options that had no length rule, on each carrier whole and (PPP, PPPoE) cut at
    every length: ppp_control_malformed is on exactly tshark's frames; the LQR quality option
    the earlier tests left out (tshark 4.0 accepts only a length of 4) is among them."""
    sa = _scapy()
    frames = _unchecked_before() + [f for f in _control_frames(sa) if bytes.fromhex("0408c025") in f]
    flagged = 0
    for lt, recs in _carriers(sa, frames).items():
        if lt in (9, 51):
            recs = recs + [f[:cut] for f in recs for cut in range(1, len(f))]
        path = _write(tmp_path / ("unchecked%d.pcap" % lt), recs, lt)
        theirs = tshark_frames(path, CP_MALFORMED)
        assert _flagged(path) == theirs, lt
        flagged += len(theirs)
    assert flagged > 1000


# ---------------------------------------------------------------- pkt.lcp, pkt.ipcp, pkt.ipv6cp, pkt.ccp
VALUE_FIELDS = {
    "lcp": ("lcp.opt.oui", "lcp.opt.mru", "lcp.opt.asyncmap", "lcp.opt.auth_protocol", "lcp.opt.quality_protocol",
            "lcp.opt.magic_number", "lcp.opt.fcs_alternatives", "lcp.opt.operation", "lcp.opt.mrru",
            "lcp.opt.ep_disc_class"),
    "ipcp": ("ipcp.opt.compress_proto", "ipcp.opt.ip_address", "ipcp.opt.mobilenodehomeaddress",
             "ipcp.opt.pri_dns_address", "ipcp.opt.sec_dns_address", "ipcp.opt.pri_nbns_address",
             "ipcp.opt.sec_nbns_address"),
    "ipv6cp": ("ipv6cp.interface_identifier",),
    "ccp": ("ccp.opt.oui", "ccp.opt.supported_bits"),
}
HEADER_FIELDS = ("ppp.code", "ppp.identifier", "ppp.length", "lcp.magic_number", "lcp.rej_proto",
                 "lcp.opt.algorithm")


def _view_frames(sa) -> list[bytes]:
    from test_ppp_linktypes import _hostile_control_frames
    return _control_frames(sa) + _hostile_control_frames() + _unchecked_before()


def _shown(value) -> object:
    """A view's value as tshark -T fields prints it."""
    return value.hex(":") if isinstance(value, bytes) else value


VIEW_FIELDS = HEADER_FIELDS + tuple("%s.opt.%s" % (c, w) for c in PROTOCOLS for w in ("type", "length")) + \
    tuple(f for fs in VALUE_FIELDS.values() for f in fs)


def _compare_views(path: Path) -> tuple[int, int]:
    """Each packet's four views against tshark's fields of the capture at path: (views,
    options) compared."""
    from test_ppp_linktypes import tshark_rows, values
    rows = tshark_rows(path, VIEW_FIELDS)
    lying = set(tshark_frames(path, CP_MALFORMED))
    mine = list(fp.open(str(path)))
    assert len(mine) == len(rows)
    checked = options = 0
    for i, (p, row) in enumerate(zip(mine, rows), 1):
        protos = row["frame.protocols"].split(":")
        for name in PROTOCOLS:
            v = getattr(p, name)
            where = (path.name, i, name, bytes(p.raw).hex())
            if name not in protos or not row["ppp.code"]:
                assert v is None, where
                continue
            assert isinstance(v, getattr(fp, name.upper())) and v.name == name.upper(), where
            assert [v.code, v.identifier, v.length] == [values(row[f])[0] for f in HEADER_FIELDS[:3]], where
            assert [v.magic_number] == (values(row["lcp.magic_number"]) or [None]), where
            assert [v.rejected_protocol] == (values(row["lcp.rej_proto"]) or [None]), where
            assert v.malformed == (i in lying), where
            checked += 1
            if i in lying:  # tshark's walk stops at its exception, the view's goes on
                continue
            assert [o.algorithm for o in v.options if o.algorithm is not None] == values(row["lcp.opt.algorithm"])
            assert [(o.type, o.length) for o in v.options] == \
                list(zip(values(row[name + ".opt.type"]), values(row[name + ".opt.length"]))), where
            for f in VALUE_FIELDS[name]:
                theirs = values(row[f])
                if f == "lcp.opt.magic_number":  # tshark also files a class-4 discriminator's block there
                    theirs = theirs[:sum(o.type == 5 for o in v.options)]
                assert [_shown(o.value) for o in v.options if o.field == f] == theirs, (where, f)
            assert all(o.valid for o in v.options), where
            options += len(v.options)
    return checked, options


def test_views_against_tshark(tshark, tmp_path):
    """pkt.lcp/ipcp/ipv6cp/ccp on PPP, PPP-in-HDLC, PPPoE and PPTP frames (Scapy-built and
    hand-packed, lengths that lie included): present exactly where tshark shows the protocol's
    header; code, identifier, length, LCP's magic number and rejected protocol are tshark's,
    `malformed` is its report; on the frames tshark reads to the end each option's type and
    length, each decoded value under its tshark field and CHAP's algorithm are tshark's; the
    other three views are None."""
    sa = _scapy()
    frames = _view_frames(sa)
    checked = options = 0
    for lt, recs in _carriers(sa, frames).items():
        c, o = _compare_views(_write(tmp_path / ("views%d.pcap" % lt), recs, lt))
        checked += c
        options += o
    assert checked > 150 and options > 200


def test_views_on_corpus_ppp_captures(tshark, corpus):
    """The corpus's PPP captures (Zeek's PPPoE session, tcpdump's PPTP (big-endian), the GRE
    ones): their LCP, IPCP, IPV6CP and CCP negotiation read by the views as tshark reads it."""
    paths = [corpus / n for n in ("zeek-baselines/pppoe.pcap", "tcpdump-pptp.pcap", "ppp-grepackets.pcap",
                                  "zeek-baselines/gre-pptp.pcap")]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        pytest.skip("corpus lacks %s: needs the whole ../shared/corpus" % ", ".join(missing))
    assert sum(_compare_views(p)[0] for p in paths) >= 36


def test_views_cut_at_every_length():
    """Every frame above on PPP, PPP-in-HDLC and PPPoE, cut at every length: each view reads
    within the bytes captured (its raw bytes are the record's from its offset, its options'
    data inside them) and never raises; an IP packet inside PPP has no control view."""
    sa = _scapy()
    n = 0
    for f in _view_frames(sa):
        for lt, wire in ((9, f), (50, b"\xff\x03" + f), (51, b"\x11\x00\x00\x09" + len(f).to_bytes(2, "big") + f)):
            for cut in range(len(wire) + 1):
                q = fp.Packet(wire[:cut], lt, wirelen=len(wire))
                for name in PROTOCOLS:
                    v = getattr(q, name)
                    if v is None:
                        continue
                    raw = v.raw
                    assert wire[v.offset:v.offset + len(raw)] == raw and v.offset + len(raw) <= cut
                    assert raw[4:] == v.payload and bytes(v) == raw
                    for o in v.options:
                        assert o.data in raw and len(o.data) == o.length - 2
                    repr(v), v.fields_dict(), v._repr_html_()
                    n += 1
    assert n > 1500
    ip = fp.Packet(bytes(sa.PPP(proto=0x21) / sa.IP(src="10.0.0.1", dst="10.0.0.2") / sa.ICMP()), 9)
    assert ip.ip is not None and (ip.lcp, ip.ipcp, ip.ipv6cp, ip.ccp) == (None, None, None, None)


def test_view_values_from_scapy():
    """The values Scapy's PPP classes set come back from the view (Scapy's own dissection of
    the same bytes names the same options and values)."""
    sa = _scapy()
    built = sa.PPP(proto=0xC021) / sa.PPP_LCP_Configure(id=7, options=[
        sa.PPP_LCP_MRU_Option(max_recv_unit=1400), sa.PPP_LCP_ACCM_Option(accm=0xA0000),
        sa.PPP_LCP_Auth_Protocol_Option(auth_protocol=0xC223, algorithm=5),
        sa.PPP_LCP_Magic_Number_Option(magic_number=0xCAFEF00D)])
    theirs = sa.PPP(bytes(built))
    v = fp.Packet(bytes(built), 9).lcp
    assert (v.code, v.identifier, v.length) == (theirs[sa.PPP_LCP_Configure].code, theirs.id, theirs.len)
    opts = {o.name: o for o in v.options}
    ref = theirs[sa.PPP_LCP_Configure].options
    assert opts["mru"].value == ref[0].max_recv_unit and opts["asyncmap"].value == ref[1].accm
    assert (opts["auth_protocol"].value, opts["auth_protocol"].algorithm) == (ref[2].auth_protocol, ref[2].algorithm)
    assert opts["magic_number"].value == ref[3].magic_number
    assert "mru=1400" in repr(v) and "<th" in v._repr_html_()
    ipcp = sa.PPP(proto=0x8021) / sa.PPP_IPCP(code=2, id=3, options=[
        sa.PPP_IPCP_Option_IPAddress(data="10.1.2.3"), sa.PPP_IPCP_Option_DNS1(data="10.1.2.53")])
    v = fp.Packet(bytes(ipcp), 9).ipcp
    assert [(o.name, o.value) for o in v.options] == [("ip_address", "10.1.2.3"), ("pri_dns_address", "10.1.2.53")]
    assert isinstance(v, fp.IPCP) and isinstance(v, fp.PPPControl) and not v.malformed
