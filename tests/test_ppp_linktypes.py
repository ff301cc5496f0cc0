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
               "PPP": "ppp", "PPPoE": "pppoes", "IPIP": None}
KNOWN = {v for v in TSHARK_NAME.values() if v}
GRE_FIELDS = ("gre.flags_and_version", "gre.flags.version", "gre.flags.key", "gre.flags.sequence_number",
              "gre.flags.reserved", "gre.proto", "gre.checksum", "gre.offset", "gre.key", "gre.key.payload_length",
              "gre.key.call_id", "gre.sequence_number", "gre.ack_number")
PPP_FIELDS = ("ppp.protocol", "ppp.address", "ppp.control", "pppoe.session_id")
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
    rows = tshark_rows(PPP_CAPTURE, PPP_FIELDS + ADDRESSES)
    ours = list(fp.open(str(PPP_CAPTURE), on_error="stop"))
    assert len(ours) == len(rows) == 25
    assert sorted({p.linktype for p in ours}) == [9, 50, 51, 204]
    for i, (p, row) in enumerate(zip(ours, rows), 1):
        theirs = [x for x in row["frame.protocols"].split(":") if x in KNOWN]
        assert layer_names(p) == theirs, (i, p.layers, row["frame.protocols"])
        for name in PPP_FIELDS + ADDRESSES:
            assert p.field(name, all=True) == values(row[name]), (i, name)
        assert p.anomalies == (), i
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
    counts them; fp.stats' hierarchy nests them under ppp with io,phs's frame counts (PPP_ETHER's
    session is read outer there, as fp.stats reads tunnels, so under ppp alone are 9, 50, 204)."""
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
            phs[":".join(stack)] = int(m.group(3))
    rows = fp.stats(str(PPP_CAPTURE)).phs()
    mine = {r.path: int(r.frames) for r in rows.itertuples() if not r.path.endswith("data")}
    assert mine == {k: v for k, v in phs.items() if k.split(":")[0] == "ppp" and k in mine}
    assert {"ppp", "ppp:ip", "ppp:ipv6", "ppp:ip:tcp", "ppp:ipv6:udp:dns"} <= set(mine)
    assert mine["ppp"] == phs["ppp"] == 21


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
                                  "gre && !cmd", "ppp && udp", "cmd.sgt && gre.key"])
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
        rows = tshark_rows(path, GRE_FIELDS + PPP_FIELDS)
        ours = list(fp.open(str(path), on_error="stop"))
        assert len(ours) == len(rows)
        for i, (p, row) in enumerate(zip(ours, rows), 1):
            where = (path.name, i)
            theirs = [x for x in row["frame.protocols"].split(":") if x in KNOWN]
            assert layer_names(p) == theirs, (where, p.layers, row["frame.protocols"])
            for name in GRE_FIELDS + PPP_FIELDS:
                assert p.field(name, all=True) == values(row[name]), (where, name)
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
