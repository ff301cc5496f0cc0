"""The PPP link types (PPP 9, PPP_HDLC 50, PPP_ETHER 51, PPP_WITH_DIR 204), the PPP, CMD and
undecoded GRE entries of ``pkt.layers``, the ``gre``/``cmd``/``ppp``/``pppoes`` protocol
names and the ``gre.*`` fields of GRE headers fastpkt does not decapsulate (keepalives, CDP).

References: tshark's field dumps and ``-Y`` frame numbers on ppp_linktypes.pcapng
(tests/data/ppp/, built by make_ppp_linktypes.py with Scapy's classes and hand-packed RFC 1661/1662 framing)
and on the corpus's GRE and PPTP captures; tshark's ``-z conv`` for the flows; Scapy 2.8's
own dissection (its conf.l2types classes) for the fastpkt.scapy facade."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import DATA, LAYER_ATTRS, PACKET_ATTRS, tool_env, touch_layer

# in a folder of its own: the fixture sweeps (course scripts, parallel...) read single-link-type
# files; this one holds four link types, some libpcap cannot BPF-filter (204)
PPP_CAPTURE = DATA / "ppp" / "ppp_linktypes.pcapng"
GRE_CAPTURES = ("tcpdump-pptp.pcap", "ppp-grepackets.pcap", "tcpdump-various_gre.pcap",
                "zeek-baselines/gre-pptp.pcap")
# tshark's name for each of fastpkt's layer names (IPIP has none: tshark lists the inner IP)
TSHARK_NAME = {"Ether": "eth", "Dot1Q": "vlan", "IP": "ip", "IPv6": "ipv6", "TCP": "tcp", "UDP": "udp",
               "ICMP": "icmp", "ICMPv6": "icmpv6", "DNS": "dns", "GRE": "gre", "PPTP": "gre", "CMD": "cmd",
               "PPP": "ppp", "PPPoE": "pppoes", "IPIP": None, "LCP": "lcp", "IPCP": "ipcp", "IPV6CP": "ipv6cp",
               "CCP": "ccp", "CHAP": "chap", "PAP": "pap"}
KNOWN = {v for v in TSHARK_NAME.values() if v}
GRE_FIELDS = ("gre.flags_and_version", "gre.flags.version", "gre.flags.key", "gre.flags.sequence_number",
              "gre.flags.reserved", "gre.proto", "gre.checksum", "gre.offset", "gre.key", "gre.key.payload_length",
              "gre.key.call_id", "gre.sequence_number", "gre.ack_number")
PPP_FIELDS = ("ppp.protocol", "ppp.address", "ppp.control", "pppoe.session_id")
CP_FIELDS = ("ppp.code", "ppp.identifier", "ppp.length", "lcp.opt.type", "lcp.opt.length", "lcp.opt.mru",
             "lcp.opt.asyncmap", "lcp.opt.auth_protocol", "lcp.opt.quality_protocol", "lcp.opt.magic_number",
             "lcp.magic_number", "lcp.rej_proto", "ipcp.opt.type", "ipcp.opt.length", "ipcp.opt.compress_proto",
             "ipcp.opt.ip_address", "ipcp.opt.pri_dns_address", "ipcp.opt.sec_dns_address",
             "ipcp.opt.pri_nbns_address", "ipcp.opt.sec_nbns_address", "ipv6cp.opt.type", "ipv6cp.opt.length",
             "ipv6cp.interface_identifier")
ADDRESSES = ("ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport",
             "udp.dstport")


@pytest.fixture(scope="module")
def gre_captures(corpus) -> list[Path]:
    paths = [corpus / name for name in GRE_CAPTURES]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        pytest.skip("corpus lacks %s: needs the whole ../shared/corpus" % ", ".join(missing))
    return paths


def tshark_rows(path: Path, fields: tuple[str, ...]) -> list[dict[str, str]]:
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in ("frame.protocols",) + fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [dict(zip(("frame.protocols",) + fields, line.split("\t"))) for line in out.splitlines()]


def tshark_frames(path: Path, expr: str) -> list[int]:
    out = subprocess.run(["tshark", "-r", str(path), "-n", "-Y", expr, "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [int(x) for x in out.split()]


def values(cell: str) -> list:
    """tshark's values of a field, as fastpkt's field() gives them."""
    out: list = []
    for v in cell.split(",") if cell else []:
        out.append(int(v, 0) if re.fullmatch(r"(0x[0-9a-f]+|\d+)", v) else v)
    return out


def ours(p: fp.Packet, name: str) -> list:
    """fastpkt's values of a field as tshark -T fields prints them (bytes in colon hex)."""
    return [v.hex(":") if isinstance(v, bytes) else v for v in p.field(name, all=True)]


def touch(q: fp.Packet) -> None:
    """Every attribute of the packet and of each of its views (tunnel names are no views)."""
    for a in PACKET_ATTRS + ("tunnels", "outer_ip"):
        getattr(q, a)
    for key, attrs in LAYER_ATTRS.items():
        layer = getattr(q, key)
        if layer is not None:
            for a in attrs:
                getattr(layer, a)
            touch_layer(layer)
    repr(q), q.summary(), q.show(dump=True), bytes(q)


def layer_names(p: fp.Packet) -> list[str]:
    return [TSHARK_NAME[n] for n in p.layers if TSHARK_NAME[n]]


def test_ppp_capture_is_what_the_generator_builds(tmp_path):
    """The committed capture is make_ppp_linktypes.py's output (its frames are the reference's)."""
    pytest.importorskip("scapy")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_ppp", DATA / "ppp" / "make_ppp_linktypes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.OUT = tmp_path / "out.pcapng"
    mod.main()
    assert mod.OUT.read_bytes() == PPP_CAPTURE.read_bytes()


def test_ppp_link_types_against_tshark(tshark):
    """Each frame: the layers (tshark's frame.protocols, in the protocols both name), PPP's
    protocol, address and control, PPPoE's session, the addresses and ports inside."""
    rows = tshark_rows(PPP_CAPTURE, PPP_FIELDS + CP_FIELDS + ADDRESSES)
    mine = list(fp.open(str(PPP_CAPTURE), on_error="stop"))
    assert len(mine) == len(rows) == 25
    assert sorted({p.linktype for p in mine}) == [9, 50, 51, 204]
    # the generator's IPV6CP frames have a length past their frame: tshark's malformed packet
    lying = set(tshark_frames(PPP_CAPTURE, CP_MALFORMED))
    assert len(lying) == 2
    for i, (p, row) in enumerate(zip(mine, rows), 1):
        theirs = [x for x in row["frame.protocols"].split(":") if x in KNOWN]
        assert layer_names(p) == theirs, (i, p.layers, row["frame.protocols"])
        for name in PPP_FIELDS + CP_FIELDS + ADDRESSES:
            assert ours(p, name) == values(row[name]), (i, name)
        assert p.anomalies == (("ppp_control_malformed",) if i in lying else ()), i
        # pppoe.session_id is the tunnel's id: PPP_ETHER's session is decapsulated as on Ethernet
        assert p.tunnels == ((("PPPoE", 0x1234),) if p.linktype == 51 else ()), i


def test_ppp_link_types_with_decapsulate_false():
    """decapsulate=False leaves PPP_ETHER's PPPoE session raw, as after Ethernet; the other PPP
    link types are no encapsulation: their PPP frame is the link layer, decoded either way."""
    for p in fp.open(str(PPP_CAPTURE), decapsulate=False):
        if p.linktype == 51:
            assert p.layers == () and p.payload == p.raw
        else:
            assert p.layers[0] == "PPP"


def conversations(path: Path) -> list[tuple[frozenset, int]]:
    """tshark's TCP and UDP conversations: (the two ends, frames)."""
    out = subprocess.run(["tshark", "-r", str(path), "-n", "-q", "-z", "conv,tcp", "-z", "conv,udp"],
                         capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    convs = []
    for line in out.splitlines():
        if "<->" in line:
            a, _, b = line.split()[:3]
            convs.append((frozenset((a, b)), int(re.findall(r"(\d+) \S+ \S+", line.split("<->")[1])[2])))
    return sorted(convs, key=repr)


def test_ppp_flows_see_the_ip_inside(tshark, tmp_path):
    """Flows over each PPP link type (its frames written apart by tshark) key on the IP packet
    inside: tshark's conversations, ends and frame counts."""
    seen = 0
    for k, lt in enumerate((9, 50, 51, 204)):
        part = tmp_path / ("lt%d.pcapng" % lt)
        subprocess.run(["tshark", "-r", str(PPP_CAPTURE), "-Y", "frame.interface_id == %d" % k, "-w", str(part)],
                       check=True, capture_output=True, env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent"))
        df = fp.flows(str(part), progress=False).to_pandas()
        ours = sorted(((frozenset(("%s:%d" % (f.src_ip, f.src_port), "%s:%d" % (f.dst_ip, f.dst_port))), int(f.packets))
                       for f in df[df.protocol_name.astype(str).isin(("TCP", "UDP"))].itertuples()), key=repr)
        assert ours == conversations(part), lt
        seen += len(ours)
    assert seen >= 8


def test_ppp_summary_and_hierarchy_see_the_ip_inside(tshark):
    """The whole-file summary counts the IP packets inside every PPP link type as tshark -Y
    counts them; fp.stats' hierarchy is io,phs's, frames and bytes: the IP packets and the
    control protocols (lcp, ipcp, ipv6cp) under ppp, PPP_ETHER's under pppoes:ppp (tshark's
    _ws.malformed markers left out: no protocol of the packet), PPP_WITH_DIR's frames one byte
    shorter (wiretap reads the direction byte as a pseudo-header)."""
    from fastpkt.summary import summarize

    counts = summarize(str(PPP_CAPTURE))["protocols"]
    for ours, theirs in (("IPv4", "ip"), ("IPv6", "ipv6"), ("TCP", "tcp"), ("UDP", "udp"), ("ICMP", "icmp"),
                         ("DNS", "dns")):
        assert counts[ours] == len(tshark_frames(PPP_CAPTURE, theirs)), ours
    out = subprocess.run(["tshark", "-r", str(PPP_CAPTURE), "-n", "-q", "-z", "io,phs"], capture_output=True,
                         text=True, check=True, env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    phs, stack = {}, []
    for line in out.splitlines():
        m = re.match(r"^( *)(\S+)\s+frames:(\d+)", line)
        if m:
            depth = len(m.group(1)) // 2
            stack[depth:] = [m.group(2)]
            if not m.group(2).startswith("_ws."):
                phs[":".join(stack)] = (int(m.group(3)), int(re.search(r"bytes:(\d+)", line).group(1)))
    rows = fp.stats(str(PPP_CAPTURE)).phs()
    mine = {r.path: (int(r.frames), int(r.bytes)) for r in rows.itertuples()}
    assert mine == phs
    assert {"ppp:ip:tcp", "ppp:ipv6:udp:dns", "ppp:lcp", "ppp:ipcp", "ppp:ipv6cp", "pppoes:ppp:ip:tcp",
            "pppoes:ppp:lcp", "pppoes:ppp:ipcp"} <= set(mine)
    assert mine["ppp"][0] == 21 and mine["pppoes"][0] == 4


def test_ppp_frames_cut_at_every_length():
    """Every frame of each link type cut at every length: no crash, no layer past the cut
    (each view and field inside the record), the cut flagged, nothing of it lost."""
    n = 0
    for p in fp.open(str(PPP_CAPTURE)):
        wire = bytes(p.raw)
        for cut in range(len(wire) + 1):
            q = fp.Packet(wire[:cut], p.linktype, wirelen=len(wire))
            touch(q)
            for name in ("ppp", "ppp.protocol", "ppp.address", "pppoes", "pppoe.session_id"):
                q.field(name, all=True)
            for layer in (q.ip, q.ip6, q.tcp, q.udp, q.icmp, q.dns):
                if layer is not None:
                    assert layer.offset + layer.header_len <= cut
            assert q.caplen == cut and bytes(q.raw) == wire[:cut]
            if cut < len(wire):
                assert "snaplen" in q.anomalies
            n += 1
    assert n > 850


@pytest.mark.parametrize("expr", ["gre", "cmd", "ppp", "pppoes", "gre.key", "gre.proto == 0",
                                  "gre.flags.version == 1", "ppp.protocol == 0xc021", "ppp.address",
                                  "gre && !cmd", "ppp && udp", "cmd.sgt && gre.key", "lcp", "ipcp", "ipv6cp",
                                  "ppp.code == 1", "lcp.opt.mru == 1492", "ipcp.opt.ip_address == 10.0.0.1"])
def test_protocol_names_filter_as_tshark(tshark, gre_captures, expr):
    """gre, cmd, ppp and pppoes as bare display-filter names (and their fields): tshark -Y's
    frames on the corpus's GRE and PPTP captures and on the PPP link types."""
    for path in list(gre_captures) + [PPP_CAPTURE]:
        with fp.open(str(path), display_filter=expr) as r:
            mine = [r.frame_number for _ in r]
        assert mine == tshark_frames(path, expr), (path.name, expr)


def test_gre_layers_and_fields_against_tshark(tshark, gre_captures):
    """pkt.layers names PPP (PPTP's frame) and CMD (Cisco MetaData) where tshark's
    frame.protocols does, and every GRE header, decapsulated or not (keepalives, CDP), gives
    tshark's gre.* values."""
    undecoded = 0
    for path in gre_captures:
        rows = tshark_rows(path, GRE_FIELDS + PPP_FIELDS + CP_FIELDS)
        mine = list(fp.open(str(path), on_error="stop"))
        assert len(mine) == len(rows)
        for i, (p, row) in enumerate(zip(mine, rows), 1):
            where = (path.name, i)
            theirs = [x for x in row["frame.protocols"].split(":") if x in KNOWN]
            assert layer_names(p) == theirs, (where, p.layers, row["frame.protocols"])
            for name in GRE_FIELDS + PPP_FIELDS + CP_FIELDS:
                assert ours(p, name) == values(row[name]), (where, name)
            if "gre" in theirs and not any(t[0] in ("GRE", "PPTP") for t in p.tunnels[-1:]):
                undecoded += 1
                assert p.layers[-1] == "GRE", where
    assert undecoded >= 10   # keepalives and CDP in tcpdump-various_gre


def test_gre_fields_cut_at_every_length(gre_captures):
    """The corpus's GRE frames cut at every length: a GRE header is kept (fields, layers) only
    when captured whole, and reading its fields never runs past the cut."""
    n = 0
    for path in gre_captures:
        for p in fp.open(str(path)):
            if "GRE" not in p.layers and "PPTP" not in p.layers:
                continue
            wire = bytes(p.raw)
            for cut in range(len(wire) + 1):
                q = fp.Packet(wire[:cut], p.linktype)
                touch(q)
                for name in GRE_FIELDS + ("gre", "cmd", "cmd.sgt", "ppp", "ppp.protocol", "gre.routing.information"):
                    for v in q.field(name, all=True):
                        if isinstance(v, bytes):
                            assert wire[:cut].find(v) >= 0
                n += 1
    assert n > 3000


# ---------------------------------------------------------------- the Scapy facade
sa = None


def _scapy():
    global sa
    if sa is None:
        sa = pytest.importorskip("_scapy_ref").sa
    return sa


def test_facade_reads_ppp_link_types_as_scapy():
    """fastpkt.scapy on the PPP link types: Scapy's chain (PPP, HDLC, PPPoE, DIR_PPP and what
    PPP carries), every field, ``in``/``getlayer``/``[]``, Raw and Padding, against Scapy's
    conf.l2types dissection of each frame cut at every length (with 3 trailing bytes)."""
    import fastpkt.scapy as fs
    import test_scapy_model as m

    s_all = _scapy()
    n = 0
    for p in fp.open(str(PPP_CAPTURE)):
        full = bytes(p.raw) + b"\0\0\0"
        for cut in range(1, len(full) + 1):
            wire, lt = full[:cut], p.linktype
            try:
                s = s_all.conf.l2types[lt](wire)
            except Exception:   # as Scapy's rdpcap: a record its link class cannot read is Raw
                s = s_all.conf.raw_layer(wire)
            q = fs.ScapyPacket(wire, lt)
            if (s_all.DNS in s and cut < len(full) - 3) or (fs.ICMP in q and s_all.ICMP not in s):
                continue   # a DNS message or ICMP header cut short: as after Ethernet (README)
            where = (lt, wire.hex())
            assert [m._name(c) for c in q.layers()] == [m._name(c) for c in s.layers()], where
            for cls in ("PPP", "HDLC", "PPPoE", "DIR_PPP", "IP", "IPv6", "TCP", "UDP", "ICMP", "DNS",
                        "PPP_LCP_Configure", "PPP_LCP_Echo", "PPP_IPCP", "Raw", "Padding"):
                assert (cls in q) == (cls in s), (cls, where)
                mine, ref = q.getlayer(cls), s.getlayer(cls)
                assert (mine is None) == (ref is None), (cls, where)
                if ref is not None and cls != "DNS":
                    assert m._norm(mine.fields) == m._norm(ref.fields), (cls, where)
                    assert mine.payload.name == ref.payload.name, (cls, where)
            if s_all.Raw in s:
                assert q[fs.Raw].load == s[s_all.Raw].load, where
            n += 1
    assert n > 800
    q = fs.ScapyPacket(bytes(s_all.DIR_PPP(direction=1) / s_all.HDLC() / s_all.PPP() /
                             s_all.IP(src="192.0.2.1", dst="192.0.2.2") / s_all.UDP(sport=1, dport=2)), 204)
    assert q.name == "DIR_PPP" and q.direction == 1 and q[fs.PPP].proto == 0x21 and q[fs.UDP].dport == 2


def test_facade_prints_ppp_link_types_as_scapy(tmp_path):
    """repr, summary() and show() of each PPP link type's frames read back by fastpkt.scapy's
    rdpcap equal Scapy's rdpcap of the same file, and are fastpkt's own text (not Scapy's
    through to_scapy): every whole frame is described natively, and so is each cut the
    description renders, compared with Scapy's conf.l2types dissection of the same bytes."""
    import fastpkt.scapy as fs
    from fastpkt import _scapy_text

    s_all = _scapy()
    refs = s_all.rdpcap(str(PPP_CAPTURE))
    mine = fs.rdpcap(str(PPP_CAPTURE))
    assert len(mine) == len(refs) == 25
    for q, s in zip(mine, refs):
        assert _scapy_text.describe(q) is not None, bytes(q).hex()
        assert repr(q) == repr(s) and q.summary() == s.summary()
        assert q.show(dump=True) == s.show(dump=True)
    native = 0
    for q in mine:
        full = bytes(q) + b"\0\0\0"
        for cut in range(1, len(full) + 1):
            c = fs.ScapyPacket(full[:cut], q.linktype)
            if _scapy_text.describe(c) is None:
                continue   # a header Scapy reads past what is rendered here (a cut DNS message...)
            try:
                s = s_all.conf.l2types[q.linktype](full[:cut])
            except Exception:   # as Scapy's rdpcap: a record its link class cannot read is Raw
                s = s_all.conf.raw_layer(full[:cut])
            where = (q.linktype, full[:cut].hex())
            assert repr(c) == repr(s), where
            assert c.summary() == s.summary(), where
            assert c.show(dump=True) == s.show(dump=True), where
            native += 1
    assert native > 700


def _control_frames(sa) -> list[bytes]:
    """PPP frames (protocol first) of LCP, IPCP, IPV6CP and CCP as Scapy builds them and
    hand-packed from RFC 1661/1332/1877/5072, with option and packet lengths that lie."""
    lcp, ipcp = 0xC021, 0x8021
    # LQR's option last: tshark 4.0 reads past its reporting period (a malformed packet) and
    # stops there, which the RFC's layout does not ask for
    opts = bytes.fromhex("010405d4" "020600000000" "0304c023" "0305c22305" "05060a0b0c0d" "0702" "0802"
                         "0408c02500000064")
    return [
        bytes(sa.PPP(proto=lcp) / sa.PPP_LCP_Configure(id=1, options=[
            sa.PPP_LCP_MRU_Option(max_recv_unit=1492), sa.PPP_LCP_ACCM_Option(accm=0xA0000),
            sa.PPP_LCP_Auth_Protocol_Option(auth_protocol=0xC223, algorithm=5),
            sa.PPP_LCP_Magic_Number_Option(magic_number=0x11223344)])),
        b"\xc0\x21\x01\x02" + (4 + len(opts)).to_bytes(2, "big") + opts,
        b"\xc0\x21\x02\x02" + (4 + len(opts)).to_bytes(2, "big") + opts,            # Configure-Ack
        b"\xc0\x21\x03\x03\x00\x08\x01\x04\x05\xdc",                                   # Nak: MRU 1500
        b"\xc0\x21\x04\x04\x00\x08\x0d\x03\x06\x00",                                   # Reject: callback
        bytes(sa.PPP(proto=lcp) / sa.PPP_LCP_Echo(code=9, id=5, magic_number=0x01020304)),
        bytes(sa.PPP(proto=lcp) / sa.PPP_LCP_Echo(code=10, id=5, magic_number=0x05060708, data=b"xy")),
        b"\xc0\x21\x0b\x06\x00\x08\x0a\x0b\x0c\x0d",                                   # Discard-Request
        bytes(sa.PPP(proto=lcp) / sa.PPP_LCP_Protocol_Reject(id=7, rejected_protocol=0x8057, rejected_information=b"ab")),
        bytes(sa.PPP(proto=lcp) / sa.PPP_LCP_Terminate(code=5, id=8, data=b"bye")),
        b"\xc0\x21\x01\x09\x00\x0c\x01\x05\x05\xd4\x00\x05\x06\x00",            # MRU option of length 5
        b"\xc0\x21\x01\x0a\x00\x0c\x01\x04\x05\xd4\x05\x01\x00\x00",            # an option length 1
        b"\xc0\x21\x01\x0b\x00\x0c\x01\x04\x05\xd4\x05\x09\x00\x00",            # an option past the packet
        b"\xc0\x21\x01\x0c\x00\x40\x01\x04\x05\xd4",                               # length past the frame
        b"\xc0\x21\x01\x0d\x00\x08\x01\x04\x05\xd4\x05\x06\x0a\x0b",            # length shorter than the data
        b"\xc0\x21\x01\x0e\x00\x02\x01\x04\x05\xd4",                               # length under 4
        b"\xc0\x21\x01\x0f\x00",                                                        # header cut
        b"\xc0\x21\x09\x10\x00\x06\x01\x02",                                         # Echo without its magic
        bytes(sa.PPP(proto=ipcp) / sa.PPP_IPCP(code=1, id=3, options=[
            sa.PPP_IPCP_Option_IPAddress(data="10.0.0.1"), sa.PPP_IPCP_Option_DNS1(data="10.0.0.53"),
            sa.PPP_IPCP_Option_DNS2(data="10.0.0.54"), sa.PPP_IPCP_Option_NBNS1(data="10.0.0.55"),
            sa.PPP_IPCP_Option_NBNS2(data="10.0.0.56")])),
        b"\x80\x21\x03\x04\x00\x10\x02\x06\x00\x2d\x0f\x01\x03\x06\x0a\x00\x00\x02",  # Nak: VJ, address
        b"\x80\x21\x01\x05\x00\x0b\x03\x07\x0a\x00\x00\x01\x00",                   # address of length 7
        b"\x80\x57\x01\x04\x00\x0e\x01\x0a\x00\x11\x22\x33\x44\x55\x66\x77",     # IPV6CP interface id
        b"\x80\x57\x02\x05\x00\x0c\x01\x08\x00\x11\x22\x33\x44\x55",             # an id of 6 bytes
        b"\x80\xfd\x01\x06\x00\x0a\x12\x06\x00\x00\x00\x01",                       # CCP (MPPE)
    ]


def test_control_protocol_fields_against_tshark(tshark, tmp_path):
    """LCP, IPCP, IPV6CP (and CCP's header): ppp.code/identifier/length, each option's type and
    length, the option values and LCP's magic number and rejected protocol give tshark's values,
    outer to inner, on PPP (9), HDLC-framed PPP (50), PPPoE (51) and PPTP frames (Scapy-built
    and hand-packed, lengths that lie included); bare lcp/ipcp/ipv6cp filter as tshark -Y."""
    sa = _scapy()
    frames = _control_frames(sa)
    mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    outer = sa.Ether(**mac) / sa.IP(src="192.0.2.1", dst="192.0.2.2")
    files = {9: frames, 50: [b"\xff\x03" + f for f in frames],
             51: [bytes(sa.PPPoE(sessionid=9)) [:4] + len(f).to_bytes(2, "big") + f for f in frames],
             1: [bytes(outer / sa.GRE_PPTP(seqnum_present=1, call_id=3, sequence_number=1) / (b"\xff\x03" + f))
                 for f in frames]}
    seen = 0
    for lt, recs in files.items():
        path = tmp_path / ("cp%d.pcap" % lt)
        sa.wrpcap(str(path), [sa.conf.raw_layer(r) for r in recs], linktype=lt)
        rows = tshark_rows(path, CP_FIELDS + ("ip.src",))
        mine = list(fp.open(str(path)))
        assert len(mine) == len(rows) == len(frames)
        for i, (p, row) in enumerate(zip(mine, rows), 1):
            assert layer_names(p) == [x for x in row["frame.protocols"].split(":") if x in KNOWN], (lt, i, p.layers)
            for name in CP_FIELDS + ("ip.src",):
                assert ours(p, name) == values(row[name]), (lt, i, name, bytes(p.raw).hex())
                seen += bool(row[name])
        for expr in ("lcp", "ipcp", "ipv6cp", "ppp.code == 9", "lcp.opt.auth_protocol == 0xc223",
                     "ipcp.opt.pri_dns_address == 10.0.0.53", "lcp.magic_number"):
            with fp.open(str(path), display_filter=expr) as r:
                assert [r.frame_number for _ in r] == tshark_frames(path, expr), (lt, expr)
    assert seen > 500


def test_control_protocols_cut_at_every_length():
    """Every control-protocol frame above cut at every length on each carrier: reading each
    field never fails and never returns bytes from past the cut."""
    sa = _scapy()
    n = 0
    for f in _control_frames(sa):
        for lt, wire in ((9, f), (50, b"\xff\x03" + f), (51, b"\x11\x00\x00\x09" + len(f).to_bytes(2, "big") + f)):
            for cut in range(len(wire) + 1):
                q = fp.Packet(wire[:cut], lt, wirelen=len(wire))
                for name in CP_FIELDS + ("lcp", "ipcp", "ipv6cp"):
                    for v in q.field(name, all=True):
                        if isinstance(v, bytes):
                            assert wire[:cut].find(v) >= 0, (name, wire[:cut].hex())
                n += 1
    assert n > 1200


def test_cisco_metadata_behind_undecoded_gre_against_tshark(tshark, tmp_path):
    """GRE of protocol 0x8909 whose shim names a protocol GRE does not decapsulate (CDP, 0, an
    unknown one), or whose shim is cut short: the GRE header stays undecoded, and pkt.layers
    ends GRE, CMD as tshark's frame.protocols; the cmd.* words captured and the outer IP's
    fields are tshark's (Scapy-built frames)."""
    sa = _scapy()
    head = sa.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / sa.IP(src="192.0.2.1", dst="192.0.2.2")
    frames = [head / sa.GRE(proto=0x8909) / sa.Raw(t.to_bytes(2, "big") + b"\x01\x01\x00\x01\x00\x2a" + body)
              for t, body in ((0x2000, b"cdp payload"), (0, b""), (0x1234, b"xx"))]
    frames += [head / sa.GRE(proto=0x8909) / sa.Raw(b"\x08\x00\x01"[:k]) for k in (1, 3)]
    frames += [head / sa.GRE(proto=0x8909, key_present=1, key=7) / sa.Raw(b"\x20\x00\x01\x01\x00\x01\x00\x05cdp")]
    path = tmp_path / "cmd.pcap"
    sa.wrpcap(str(path), frames)
    names = ("cmd.type", "cmd.version", "cmd.length", "cmd.options", "cmd.sgt", "gre.proto", "gre.key", "ip.src",
             "ip.dst")
    rows = tshark_rows(path, names)
    mine = list(fp.open(str(path)))
    assert len(mine) == len(rows) == len(frames)
    for i, (p, row) in enumerate(zip(mine, rows), 1):
        assert layer_names(p) == [x for x in row["frame.protocols"].split(":") if x in KNOWN], (i, p.layers)
        assert p.layers[-2:] == ("GRE", "CMD") and p.tunnels == (), i
        for name in names:
            assert ours(p, name) == values(row[name]), (i, name)
    for expr in ("cmd", "cmd.sgt == 42", "gre && cmd", "cmd.type == 0x2000"):
        with fp.open(str(path), display_filter=expr) as r:
            assert [r.frame_number for _ in r] == tshark_frames(path, expr), expr


AUTH_FIELDS = ("chap.code", "chap.identifier", "chap.length", "chap.value_size", "chap.value", "chap.name",
               "chap.message", "chap.stuff", "pap.code", "pap.identifier", "pap.length", "pap.peer_id.length",
               "pap.peer_id", "pap.password.length", "pap.password", "pap.message.length", "pap.message",
               "pap.stuff")
AUTH_BYTES = {"chap.value", "chap.stuff", "pap.stuff"}
AUTH_STRINGS = {"chap.name", "chap.message", "pap.peer_id", "pap.password", "pap.message"}
# names whose empty values tshark -T fields cannot tell from absence: compared by -Y instead
AUTH_FILTERS = ("chap", "pap", "chap.value", "chap.name", "chap.message", "chap.stuff", "pap.peer_id",
                "pap.password", "pap.message", "pap.stuff", "chap.code == 2", "pap.code == 1",
                'pap.peer_id == "bob"', "chap.value_size > 3", 'chap.name contains "ali"')


def _auth_frames(sa) -> list[bytes]:
    """PPP frames (protocol first) of CHAP (RFC 1994) and PAP (RFC 1334) as Scapy builds them
    and hand-packed, with lengths and sizes that lie (past the frame, past the length, under
    the header) and codes neither RFC defines."""
    chap, pap = b"\xc2\x23", b"\xc0\x23"
    return [
        bytes(sa.PPP(proto=0xC223) / sa.PPP_CHAP_ChallengeResponse(code=1, id=1, value=b"\x01" * 16,
                                                                     optional_name=b"server")),
        bytes(sa.PPP(proto=0xC223) / sa.PPP_CHAP_ChallengeResponse(code=2, id=1, value=bytes(range(16)),
                                                                     optional_name=b"alice")),
        bytes(sa.PPP(proto=0xC223) / sa.PPP_CHAP(code=3, id=1, data=b"Welcome")),
        bytes(sa.PPP(proto=0xC223) / sa.PPP_CHAP(code=4, id=1, data=b"E=691 R=0")),
        bytes(sa.PPP(proto=0xC023) / sa.PPP_PAP_Request(id=2, username=b"bob", password=b"secret")),
        bytes(sa.PPP(proto=0xC023) / sa.PPP_PAP_Response(code=2, id=2, message=b"ok")),
        bytes(sa.PPP(proto=0xC023) / sa.PPP_PAP_Response(code=3, id=2, message=b"bad")),
        chap + b"\x01\x03\x00\x20\x10" + b"\x01" * 16 + b"srv",    # length past the frame
        chap + b"\x01\x04\x00\x08\x10" + b"\x01" * 16 + b"srv",    # value size past the length
        chap + b"\x01\x05\x00\x02\x10\x01\x02\x03\x04",               # length under 4
        chap + b"\x01\x06\x00\x04",                                   # no data
        chap + b"\x02\x07\x00\x05\x00",                               # value size 0, nothing after
        chap + b"\x02\x08\x00\x08\x00eve",                            # value size 0, a name
        chap + b"\x02\x09\x00\x08\x03eve",                            # a value, no name
        chap + b"\x03\x0a\x00\x04",                                   # Success without a message
        chap + b"\x04\x0b\x00\x09oops",                               # message past the frame
        chap + b"\x09\x0c\x00\x06ab",                                 # unknown code
        pap + b"\x01\x02\x00\x0e\x03bob\x09secret",                # password length past the frame
        pap + b"\x01\x03\x00\x10\x03bob\x06secret",                # length past the frame
        pap + b"\x01\x04\x00\x06\x03bob\x06secret",                # length shorter than the data
        pap + b"\x01\x05\x00\x04",                                    # no peer id length
        pap + b"\x01\x06\x00\x06\x00\x00",                            # empty peer id and password
        pap + b"\x01\x07\x00\x09\x09bob",                             # peer id past the frame
        pap + b"\x02\x08\x00\x05",                                    # no message length
        pap + b"\x02\x09\x00\x05\x00",                                # empty message
        pap + b"\x03\x0a\x00\x08\x09abc",                             # message past the frame
        pap + b"\x05\x0b\x00\x06xy",                                  # unknown code
        pap + b"\x06\x0c\x00\x04",                                    # unknown code, nothing after
        pap + b"\x01\x0d\x00\x02",                                    # length under 4
    ]


def _auth_ours(p: fp.Packet, name: str) -> list:
    """fastpkt's values of an authentication field as tshark -T fields prints them (empty
    bytes as its <MISSING>; an empty string prints as nothing, so it is left to -Y)."""
    out = []
    for v in p.field(name, all=True):
        if isinstance(v, bytes):
            v = v.hex() or "<MISSING>"
        if v != "":
            out.append(v)
    return out


def _auth_theirs(cell: str, name: str) -> list:
    if not cell:
        return []
    if name in AUTH_STRINGS:
        return [cell]   # one value a frame: the test's strings hold no aggregator comma
    if name in AUTH_BYTES:
        return [v.replace(":", "") for v in cell.split(",")]
    return [int(v, 0) for v in cell.split(",")]


def _auth_compare(path: Path, count: int) -> int:
    rows = tshark_rows(path, AUTH_FIELDS)
    mine = list(fp.open(str(path)))
    assert len(mine) == len(rows) == count
    seen = 0
    for i, (p, row) in enumerate(zip(mine, rows), 1):
        # the authentication protocol's name (a PPP frame cut inside its protocol word is
        # tshark's ppp alone and no PPP here: test_ppp_frames_cut_at_every_length's matter)
        names = [x for x in layer_names(p) if x in ("chap", "pap")]
        assert names == [x for x in row["frame.protocols"].split(":") if x in ("chap", "pap")], (i, p.layers)
        for name in AUTH_FIELDS:
            assert _auth_ours(p, name) == _auth_theirs(row[name], name), (i, name, bytes(p.raw).hex())
            seen += bool(row[name])
    for expr in AUTH_FILTERS:
        with fp.open(str(path), display_filter=expr) as r:
            assert [r.frame_number for _ in r] == tshark_frames(path, expr), expr
    return seen


def test_authentication_fields_against_tshark(tshark, tmp_path):
    """CHAP and PAP: chap.* and pap.* give tshark's values, outer to inner, on PPP (9),
    HDLC-framed PPP (50), PPPoE (51) and PPTP frames (Scapy-built and hand-packed, lengths
    that lie included); bare chap/pap and their fields filter as tshark -Y does."""
    sa = _scapy()
    frames = _auth_frames(sa)
    outer = sa.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / sa.IP(src="192.0.2.1", dst="192.0.2.2")
    files = {9: frames, 50: [b"\xff\x03" + f for f in frames],
             51: [b"\x11\x00\x00\x09" + len(f).to_bytes(2, "big") + f for f in frames],
             1: [bytes(outer / sa.GRE_PPTP(seqnum_present=1, call_id=3, sequence_number=1) / (b"\xff\x03" + f))
                 for f in frames]}
    seen = 0
    for lt, recs in files.items():
        path = tmp_path / ("auth%d.pcap" % lt)
        sa.wrpcap(str(path), [sa.conf.raw_layer(r) for r in recs], linktype=lt)
        seen += _auth_compare(path, len(frames))
    assert seen > 400


def test_authentication_cut_at_every_length_against_tshark(tshark, tmp_path):
    """Every CHAP and PAP frame above cut at every length, on PPP and in a PPPoE session
    whose length field keeps the whole frame: each field is tshark's on the cut record (a
    field whose bytes pass the cut is absent, never read past it)."""
    sa = _scapy()
    for lt in (9, 51):
        recs = []
        for f in _auth_frames(sa):
            wire = f if lt == 9 else b"\x11\x00\x00\x09" + len(f).to_bytes(2, "big") + f
            recs += [wire[:cut] for cut in range(1, len(wire) + 1)]
        path = tmp_path / ("cut%d.pcap" % lt)
        sa.wrpcap(str(path), [sa.conf.raw_layer(r) for r in recs], linktype=lt)
        assert _auth_compare(path, len(recs)) > 1000


def test_facade_reads_authentication_as_scapy():
    """fastpkt.scapy on CHAP and PAP frames (PPP and PPPoE link types, each cut at every
    length): Scapy's chain (PPP_CHAP, PPP_CHAP_ChallengeResponse, PPP_PAP_Request,
    PPP_PAP_Response, Raw, Padding), their fields, and the repr, summary() and show() text
    fastpkt renders itself, against Scapy's conf.l2types dissection of the same bytes."""
    import fastpkt.scapy as fs
    import test_scapy_model as m
    from fastpkt import _scapy_text

    s_all = _scapy()
    classes = ("PPP", "PPPoE", "PPP_CHAP", "PPP_CHAP_ChallengeResponse", "PPP_PAP", "PPP_PAP_Request",
               "PPP_PAP_Response", "Raw", "Padding")
    n = described = 0
    for f in _auth_frames(s_all):
        for lt, full in ((9, f), (51, b"\x11\x00\x00\x09" + len(f).to_bytes(2, "big") + f)):
            for cut in range(1, len(full) + 1):
                wire = full[:cut]
                try:
                    s = s_all.conf.l2types[lt](wire)
                except Exception:   # as Scapy's rdpcap: a record its link class cannot read is Raw
                    s = s_all.conf.raw_layer(wire)
                q = fs.ScapyPacket(wire, lt)
                where = (lt, wire.hex())
                assert [m._name(c) for c in q.layers()] == [m._name(c) for c in s.layers()], where
                for cls in classes:
                    mine, ref = q.getlayer(cls), s.getlayer(cls)
                    assert (mine is None) == (ref is None), (cls, where)
                    if ref is not None:
                        assert m._norm(mine.fields) == m._norm(ref.fields), (cls, where)
                if _scapy_text.describe(q) is not None:
                    assert (repr(q), q.summary(), q.show(dump=True)) == (repr(s), s.summary(), s.show(dump=True)), where
                    described += 1
                n += 1
    assert n > 850 and described > 0.9 * n


def _hostile_control_frames() -> list[bytes]:
    """Hand-packed control packets whose lengths lie in ways the frames above leave out."""
    return [
        b"\xc0\x21\x08\x01\x00\x05\x80",                                   # Protocol-Reject of 5 bytes
        b"\xc0\x21\x0c\x02\x00\x07\x01\x02\x03",                           # Identification of 7
        b"\xc0\x21\x0d\x03\x00\x0a\x01\x02\x03\x04\x00\x00",               # Time-Remaining of 10
        b"\xc0\x21\x0d\x04\x00\x0c\x01\x02\x03\x04\x00\x00\x00\x3c",       # Time-Remaining whole
        b"\xc0\x21\x01\x05\x00\x09\x01\x04\x05\xd4\x07",                   # a type byte alone
        b"\xc0\x21\x01\x06\x00\x0a\x01\x04\x05\xd4\x00\x02",               # an option length 2 (no rule)
        b"\xc0\x21\x07\x07\x00\x06\x99\x00",                               # Code-Reject
        b"\x80\x21\x01\x08\x00\x0a\x81\x05\x0a\x00\x00\x35",               # DNS address of length 5
        b"\x80\x21\x09\x09\x00\x06\x01\x02",                               # IPCP code 9: no magic
        b"\x80\xfd\x01\x0a\x00\x09\x12\x06\x00\x00\x00",                   # CCP option past the packet
        b"\x80\xfd\x0e\x0b\x00\x04",                                       # CCP Reset-Request
    ]


def _anomaly_frames(sa) -> list[bytes]:
    # the frames carrying LQR included: tshark 4.0 accepts a Quality-Protocol option of 4 bytes
    # alone, and ppp_control_malformed follows it
    return _control_frames(sa) + _hostile_control_frames() + _auth_frames(sa)


# what tshark 4.0 reports of a control or authentication packet: not of a PPP protocol word cut
# short (PPP's alone, no ppp.protocol), nor the chat-level notes of TCP inside PPP
CP_MALFORMED = "(_ws.malformed || _ws.expert.severity >= 0x00600000) && ppp.protocol && !(ppp.protocol == 0x21 || ppp.protocol == 0x57)"


def _flagged(path: Path) -> list[int]:
    with fp.open(str(path)) as r:
        return [i for i, p in enumerate(r, 1) if "ppp_control_malformed" in p.anomalies]


def test_control_length_anomaly_against_tshark(tshark, tmp_path):
    """ppp_control_malformed is set on exactly the frames tshark -Y '_ws.malformed ||
    _ws.expert' reports for their LCP, IPCP, IPV6CP, CCP, CHAP or PAP packet (a length past
    the frame, a read past the packet's length, an option length tshark warns about) on PPP
    (9), HDLC-framed PPP (50), PPPoE (51) and PPTP, each frame whole and on 9 and 51 cut at
    every length; never on IP inside PPP."""
    sa = _scapy()
    frames = _anomaly_frames(sa)
    outer = sa.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / sa.IP(src="192.0.2.1", dst="192.0.2.2")
    pppoe = lambda f: b"\x11\x00\x00\x09" + len(f).to_bytes(2, "big") + f  # noqa: E731
    files = {9: frames, 50: [b"\xff\x03" + f for f in frames], 51: [pppoe(f) for f in frames],
             1: [bytes(outer / sa.GRE_PPTP(seqnum_present=1, call_id=3, sequence_number=1) / (b"\xff\x03" + f))
                 for f in frames]}
    for lt in (9, 51):
        files[lt] = files[lt] + [f[:cut] for f in files[lt] for cut in range(1, len(f))]
    flagged = 0
    for lt, recs in files.items():
        path = tmp_path / ("anom%d.pcap" % lt)
        sa.wrpcap(str(path), [sa.conf.raw_layer(r) for r in recs], linktype=lt)
        theirs = tshark_frames(path, CP_MALFORMED)
        assert _flagged(path) == theirs, lt
        # the others tshark reports are a PPP protocol word cut short: not ours to flag
        rest = set(tshark_frames(path, "_ws.malformed || _ws.expert")) - set(theirs)
        assert all(len(recs[i - 1]) < (2 if lt == 9 else 8) for i in rest), lt
        flagged += len(theirs)
    assert flagged > 1000
    ip = list(fp.open(str(PPP_CAPTURE)))
    assert sum("ppp_control_malformed" in p.anomalies for p in ip) == len(tshark_frames(PPP_CAPTURE, CP_MALFORMED))


def test_control_length_anomaly_not_for_a_snap_length_cut(tshark, tmp_path):
    """A control or authentication packet cut by the snap length (captured < on the wire) is
    tshark's 'packet size limited during capture' where the bytes cut were on the wire, not a
    malformed packet: flagged only where a length passes the wire length, or an option inside
    what was captured lies (the frames above, each cut at every length, on PPP)."""
    sa = _scapy()
    recs = []
    for f in _anomaly_frames(sa):
        for cut in range(2, len(f)):
            r = sa.conf.raw_layer(f[:cut])
            r.wirelen = len(f)
            recs.append(r)
    path = tmp_path / "snap.pcap"
    sa.wrpcap(str(path), recs, linktype=9)
    assert _flagged(path) == tshark_frames(path, CP_MALFORMED)


def test_control_length_anomaly_name():
    """The bit past 31 is named in the module's list, at its bit number."""
    from fastpkt import _fastpkt
    assert _fastpkt.ANOMALIES.index("ppp_control_malformed") == 32
