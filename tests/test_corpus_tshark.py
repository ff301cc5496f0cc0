"""Every capture of the real-capture corpus against tshark's per-frame dump.

The reference is ../shared/corpus/refs/<file>.tsv (tshark 4.0.17, see
corpus/README.md). tshark is NOT needed to run this test: the refs are files.
The whole test skips when the corpus is absent.

Every field is compared frame by frame. A mismatch is a failure unless it falls
under one of the documented reasons in KNOWN_DISAGREEMENTS (explicit
file/frame/field entries) or in the RULE_* categories below, each of which is a
legitimate difference between a single-pass, single-segment dissector (fastpkt's
per-packet view) and tshark with reassembly and tunnel dissection turned on.
"""
from __future__ import annotations

import ipaddress
from collections import defaultdict
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import corpus_dir, manifest, read_tsv, tshark_status

# --------------------------------------------------------------------------------------
# Known, legitimate disagreements with tshark.
#
# RULE categories (applied in code, each marked where it is applied):
#  RULE_CUSTOM_BLOCK  tshark 4.0 renders pcapng Custom Blocks as frames of their own
#                     (empty frame.time_epoch); they are not packets. Listed per file in
#                     TSHARK_EXTRA_FRAMES and checked to look like that.
#  RULE_NO_TIMESTAMP  pcapng Simple Packet Blocks carry no timestamp: tshark prints an
#                     empty frame.time_epoch; the time is not compared.
#  RULE_TUNNEL        tshark decodes both headers of a tunnel (GRE, VXLAN, GTP-U, IP-in-IP)
#                     and the datagram quoted in an ICMP error, so fields occur twice. Here
#                     fastpkt reads with decapsulate=False and decodes the outer packet only:
#                     its values must equal tshark's FIRST occurrence; fields that tshark only
#                     has from the inner packet are not compared. The default reading (the
#                     innermost packet) is compared with tshark's later occurrences in
#                     test_fields.py (INNER) and test_tunnels.py.
#  RULE_FRAGMENT      IP fragments: tshark reassembles and shows upper-layer fields on the
#                     last fragment only; fastpkt decodes the transport header of the first
#                     fragment and nothing above IP on the others. Transport and application
#                     fields are not compared on fragments.
#  RULE_TCP_REASM     TCP reassembly: tshark shows http.* and dns.qry.name (DNS over TCP) on
#                     the frame that COMPLETES the PDU; fastpkt shows them on the segment where
#                     the message starts. Accepted when the same value shows up in the same TCP
#                     direction, fastpkt's frame first and tshark's frame later.
#  RULE_TLS_MULTISEG  tls SNI on a frame whose ClientHello does not fit in that one segment:
#                     the per-packet view reads one segment (fp.client_hellos reassembles).
#  RULE_QUIC          tshark decrypts QUIC Initials and shows their SNI on UDP frames; the
#                     per-packet view does not decrypt (fp.client_hellos does).
#  RULE_8023          802.3 frames (length field <= 1500 instead of an ethertype): tshark
#                     reports eth.len, not eth.type.
#  RULE_8021AD        tshark reports an 802.1ad S-tag (TPID 0x88a8) as ieee8021ad.id, not
#                     vlan.id: vlan.id is compared with fastpkt's tags whose TPID is not 0x88a8.
#  RULE_TS_OVERFLOW   a pcapng timestamp beyond 2^63-1 ns (year 292277026596): tshark prints
#                     the unsigned value; fastpkt's int64 time_ns saturates at 2^63-1.
# --------------------------------------------------------------------------------------

TSHARK_EXTRA_FRAMES = {
    # RULE_CUSTOM_BLOCK: tshark frame numbers that are pcapng Custom Blocks, not packets.
    "pcapngtest-le-test202.pcapng": {1, 7, 10},
    "pcapngtest-be-test202.pcapng": {1, 7, 10},
}

# Explicit entries: (file, tshark frame number, field) -> reason.
_MISSING_SEG = ("tshark's TCP reassembly waits for a segment that is not in the capture and "
                "never shows this PDU; fastpkt parses the segment where it starts")
KNOWN_DISAGREEMENTS: dict[tuple[str, int, str], str] = {
    ("ppp-unidirectional_tcp_stream_with_missing_packet.pcap", 7, "http.request.method"):
        _MISSING_SEG,
    ("ppp-unidirectional_tcp_stream_with_missing_packet.pcap", 7, "http.request.uri"):
        _MISSING_SEG,
    ("ppp-unidirectional_tcp_stream_with_missing_packet.pcap", 7, "http.host"): _MISSING_SEG,
    ("ndpi-tls_missing_ch_frag.pcap", 2, "tls.handshake.extensions_server_name"):
        _MISSING_SEG + " (the SNI is in the first, present segment of the ClientHello)",
    ("ppp-ip4_bad_fragment.pcap", 1, "ip.src"):
        "ethertype 0x8847 (MPLS): tshark decodes the IPv4 packet under the label stack; "
        "fastpkt does not decode MPLS and stops at Ethernet",
    ("tcpdump-ipv4_invalid_hdr_length.pcap", 1, "ip.src"):
        "IHL 4 (< 5): tshark rejects the header and shows no ip.* field; fastpkt keeps the "
        "header view and flags ip4_bad_ihl (errors are data)",
    ("tcpdump-ipv6_invalid_length.pcap", 1, "ipv6.src"):
        "only 39 of the 40 bytes of the IPv6 header were captured: tshark shows the fields "
        "it could read (src, not dst); fastpkt exposes no partial IPv6 header (ip6_trunc)",
    ("tcpdump-udp-length-heapoverflow.pcap", 1, "udp.srcport"):
        "only 4 of the 8 bytes of the UDP header were captured: tshark shows the ports; "
        "fastpkt exposes no partial UDP header (udp_trunc)",
}

# Files where fastpkt rightly delivers a different number of packets than tshark frames.
KNOWN_PACKET_COUNT: dict[str, tuple[int, str]] = {
    "ndpi-fuzz-2021-10-13.pcap": (
        0, "record 0 claims caplen 524501 > wirelen 197 and runs past the end of the file; "
           "libpcap/tcpdump reject it ('Invalid header: len(524501) > 262144'), and so does "
           "fastpkt (FormatError at packet 0, judged before buffering); tshark's wiretap "
           "repairs it into one frame"),
}

# Files tshark calls cut short that fastpkt, like libpcap, rejects as corrupt instead.
KNOWN_ERROR_TYPE: dict[str, type] = {"ndpi-fuzz-2021-10-13.pcap": fp.FormatError}

FIELDS = [
    "frame.time_epoch", "frame.len", "frame.cap_len", "eth.src", "eth.dst", "eth.type",
    "vlan.id", "ip.src", "ip.dst", "ip.proto", "ip.ttl", "ip.flags.mf", "ip.frag_offset",
    "ipv6.src", "ipv6.dst", "ipv6.nxt", "tcp.srcport", "tcp.dstport", "tcp.seq_raw",
    "tcp.ack_raw", "tcp.flags", "tcp.len", "udp.srcport", "udp.dstport", "udp.length",
    "icmp.type", "icmpv6.type", "arp.opcode", "dns.qry.name", "dns.flags.response",
    "tls.handshake.extensions_server_name", "http.request.method", "http.request.uri",
    "http.host",
]

TRANSPORT_UP = {f for f in FIELDS if f.split(".")[0] in
                ("tcp", "udp", "icmp", "icmpv6", "dns", "tls", "http")}


def refs_dir() -> Path:
    d = corpus_dir()
    assert d is not None
    return d / "refs"


def read_ours(path: Path) -> tuple[list, BaseException | None]:
    """All packets fastpkt delivers, and the error that ended the read (if any)."""
    pkts = []
    err = None
    try:
        with fp.open(str(path), decapsulate=False) as r:  # RULE_TUNNEL
            for p in r:
                pkts.append(p)
    except fp.Error as e:
        err = e
    return pkts, err


def split(cell: str) -> list[str]:
    return cell.split(",") if cell else []


def first(cell: str) -> str | None:
    return cell.split(",")[0] if cell else None


def str_matches(ours: str | None, cell: str) -> bool:
    """A multi-valued tshark string cell starts with fastpkt's (first) value."""
    if ours is None:
        return not cell
    return cell == ours or cell.startswith(ours + ",")


def norm6(a: str) -> str:
    return str(ipaddress.IPv6Address(a))


def tshark_time_ns(cell: str) -> int:
    # tshark prints "%u.%09u" of (secs, nsecs) as stored, so an out-of-range nsec field
    # (ndpi-fuzz) prints 10 digits; secs*1e9 + nsecs is the normalised value either way.
    sec, _, frac = cell.partition(".")
    return int(sec) * 10**9 + int(frac or "0")


def is_fragment(p) -> bool:
    if p.ip is not None and (p.ip.MF or p.ip.frag):
        return True
    if p.ip6 is not None and p.ip6.frag is not None and (p.ip6.frag or p.ip6.MF):
        return True
    return False


def flow_key(p) -> tuple | None:
    if p.tcp is None or p.src is None:
        return None
    return (p.src, p.dst, p.tcp.sport, p.tcp.dport)


def complete_client_hello(payload: bytes) -> bool:
    """True when a whole TLS handshake record holding a ClientHello is in `payload`."""
    if len(payload) < 9 or payload[0] != 22 or payload[5] != 1:
        return False
    rec_len = int.from_bytes(payload[3:5], "big")
    hs_len = int.from_bytes(payload[6:9], "big")
    return 5 + rec_len <= len(payload) and 4 + hs_len <= rec_len


def tcp_len_ours(p) -> int | None:
    """TCP segment length as tshark computes it: from the IP length field, not caplen."""
    t = p.tcp
    if p.ip is not None:
        end = p.ip.offset + p.ip.len
    elif p.ip6 is not None:
        end = p.ip6.offset + 40 + p.ip6.plen
    else:
        return None
    return end - t.offset - t.dataofs * 4


class Comparator:
    def __init__(self, name: str):
        self.name = name
        self.mismatches: list[str] = []
        self.known: list[str] = []
        # RULE_TCP_REASM bookkeeping: flow -> list of (frame, field, value) seen by fastpkt
        # but not (yet) by tshark.
        self.pending: dict[tuple, list[tuple[int, str, str]]] = defaultdict(list)

    def bad(self, frame: int, field: str, ours, theirs) -> None:
        reason = KNOWN_DISAGREEMENTS.get((self.name, frame, field))
        line = f"{self.name} frame {frame} {field}: fastpkt={ours!r} tshark={theirs!r}"
        if reason:
            self.known.append(f"{line} [known: {reason}]")
        else:
            self.mismatches.append(line)

    def eq(self, frame: int, field: str, ours, theirs, ok: bool | None = None) -> None:
        if ok is None:
            ok = ours == theirs
        if not ok:
            self.bad(frame, field, ours, theirs)

    # ---------------------------------------------------------------------------------
    def frame(self, n: int, p, row: dict[str, str]) -> None:
        c = row
        tunnel = (len(split(c["ip.src"])) + len(split(c["ipv6.src"])) > 1
                  or len(split(c["eth.src"])) > 1)
        frag = is_fragment(p)

        # -- record
        if c["frame.time_epoch"]:  # RULE_NO_TIMESTAMP otherwise
            want = min(tshark_time_ns(c["frame.time_epoch"]), 2**63 - 1)  # RULE_TS_OVERFLOW
            self.eq(n, "frame.time_epoch", p.time_ns, want)
        self.eq(n, "frame.len", p.wirelen, int(c["frame.len"]))
        self.eq(n, "frame.cap_len", p.caplen, int(c["frame.cap_len"]))

        # -- Ethernet (first occurrence: RULE_TUNNEL)
        e = p.eth
        self.eq(n, "eth.src", e.src if e else None, first(c["eth.src"]))
        self.eq(n, "eth.dst", e.dst if e else None, first(c["eth.dst"]))
        if c["eth.type"] or e is None or e.type > 1500:  # RULE_8023
            self.eq(n, "eth.type", e.type if e else None,
                    int(first(c["eth.type"]), 16) if c["eth.type"] else None)

        # -- VLAN tags, outer to inner
        ours_v = [str(v.vlan) for v in p.vlans if v.tpid != 0x88A8]  # RULE_8021AD
        theirs_v = split(c["vlan.id"])
        if tunnel:
            self.eq(n, "vlan.id", ours_v, theirs_v, ok=theirs_v[: len(ours_v)] == ours_v)
        else:
            self.eq(n, "vlan.id", ours_v, theirs_v)

        # -- IPv4 (outer header)
        ip = p.ip
        if ip is None:
            if c["ip.src"] and not (tunnel and p.ip6 is not None):
                self.bad(n, "ip.src", None, c["ip.src"])
        elif not c["ip.src"]:
            self.bad(n, "ip.src", ip.src, "")
        else:
            self.eq(n, "ip.src", ip.src, first(c["ip.src"]))
            self.eq(n, "ip.dst", ip.dst, first(c["ip.dst"]))
            self.eq(n, "ip.proto", ip.proto, int(first(c["ip.proto"])))
            self.eq(n, "ip.ttl", ip.ttl, int(first(c["ip.ttl"])))
            self.eq(n, "ip.flags.mf", int(bool(ip.MF)), int(first(c["ip.flags.mf"])))
            self.eq(n, "ip.frag_offset", ip.frag, int(first(c["ip.frag_offset"])))

        # -- IPv6 (outer header)
        ip6 = p.ip6
        if ip6 is None:
            if c["ipv6.src"] and not (tunnel and p.ip is not None):
                self.bad(n, "ipv6.src", None, c["ipv6.src"])
        elif not c["ipv6.src"]:
            self.bad(n, "ipv6.src", ip6.src, "")
        else:
            self.eq(n, "ipv6.src", norm6(ip6.src), norm6(first(c["ipv6.src"])))
            self.eq(n, "ipv6.dst", norm6(ip6.dst), norm6(first(c["ipv6.dst"])))
            self.eq(n, "ipv6.nxt", ip6.nh, int(first(c["ipv6.nxt"])))

        # -- ARP (an ARP inside a tunnel is inner: RULE_TUNNEL)
        a = p.arp
        if a is not None or not tunnel:
            self.eq(n, "arp.opcode", a.op if a else None,
                    int(first(c["arp.opcode"])) if c["arp.opcode"] else None)

        if frag:  # RULE_FRAGMENT
            return
        self.transport(n, p, c, tunnel)
        self.application(n, p, c, tunnel)

    def transport(self, n: int, p, c: dict[str, str], tunnel: bool) -> None:
        def present(layer, key: str) -> bool:
            """Whether to compare: RULE_TUNNEL skips fields tshark only has from inside."""
            if layer is None and c[key] and tunnel:
                return False
            return True

        t = p.tcp
        if present(t, "tcp.srcport"):
            if t is None:
                self.eq(n, "tcp.srcport", None, c["tcp.srcport"] or None)
            else:
                self.eq(n, "tcp.srcport", t.sport, int(first(c["tcp.srcport"]) or -1))
                self.eq(n, "tcp.dstport", t.dport, int(first(c["tcp.dstport"]) or -1))
                self.eq(n, "tcp.seq_raw", t.seq, int(first(c["tcp.seq_raw"]) or -1))
                self.eq(n, "tcp.ack_raw", t.ack, int(first(c["tcp.ack_raw"]) or -1))
                self.eq(n, "tcp.flags", int(t.flags), int(first(c["tcp.flags"]) or "-1", 16))
                if c["tcp.len"]:
                    self.eq(n, "tcp.len", tcp_len_ours(p), int(first(c["tcp.len"])))
                    if p.caplen == p.wirelen:
                        self.eq(n, "tcp.len(len(tcp.payload))", len(t.payload),
                                int(first(c["tcp.len"])))
        u = p.udp
        if present(u, "udp.srcport"):
            if u is None:
                self.eq(n, "udp.srcport", None, c["udp.srcport"] or None)
            else:
                self.eq(n, "udp.srcport", u.sport, int(first(c["udp.srcport"]) or -1))
                self.eq(n, "udp.dstport", u.dport, int(first(c["udp.dstport"]) or -1))
                self.eq(n, "udp.length", u.len, int(first(c["udp.length"]) or -1))
        i = p.icmp
        if present(i, "icmp.type"):
            self.eq(n, "icmp.type", i.type if i else None,
                    int(first(c["icmp.type"])) if c["icmp.type"] else None)
        i6 = p.icmp6
        if present(i6, "icmpv6.type"):
            self.eq(n, "icmpv6.type", i6.type if i6 else None,
                    int(first(c["icmpv6.type"])) if c["icmpv6.type"] else None)

    def take_pending(self, p, field: str, cell: str) -> bool:
        key = flow_key(p)
        for k, (fn, ff, fv) in enumerate(self.pending[key]):
            if ff == field and str_matches(fv, cell):
                del self.pending[key][k]
                return True
        return False

    def reasm(self, n: int, p, field: str, ours: str | None, cell: str) -> None:
        """RULE_TCP_REASM for an application field on TCP."""
        key = flow_key(p)
        if str_matches(ours, cell):
            return
        if ours is not None and not cell:
            self.pending[key].append((n, field, ours))
            return
        if ours is None and cell and self.take_pending(p, field, cell):
            return
        self.bad(n, field, ours, cell)

    def application(self, n: int, p, c: dict[str, str], tunnel: bool) -> None:
        on_tcp = p.tcp is not None
        # DNS
        d = p.dns
        qname = d.qname if d is not None else None
        if d is None and c["dns.qry.name"] and tunnel:
            pass  # RULE_TUNNEL
        elif on_tcp:
            self.reasm(n, p, "dns.qry.name", qname, c["dns.qry.name"])
        else:
            self.eq(n, "dns.qry.name", qname, c["dns.qry.name"],
                    ok=str_matches(qname, c["dns.qry.name"]))
            if c["dns.flags.response"] or d is not None:
                self.eq(n, "dns.flags.response", d.qr if d else None,
                        int(first(c["dns.flags.response"])) if c["dns.flags.response"]
                        else None)
        # TLS SNI
        tls = p.tls
        sni = tls.sni if tls is not None else None
        cell = c["tls.handshake.extensions_server_name"]
        field = "tls.handshake.extensions_server_name"
        if p.udp is not None and sni is None and cell:
            pass  # RULE_QUIC
        elif sni is None and cell and tunnel:
            pass  # RULE_TUNNEL
        elif on_tcp:
            if sni is None and cell and not complete_client_hello(p.tcp.payload):
                # RULE_TLS_MULTISEG: tshark completes a hello that spans segments. If
                # fastpkt read the SNI from the hello's first segment, it is pending.
                self.take_pending(p, field, cell)
            else:
                self.reasm(n, p, field, sni, cell)  # RULE_TCP_REASM
        else:
            self.eq(n, "tls.handshake.extensions_server_name", sni, cell,
                    ok=str_matches(sni, cell))
        # HTTP request line and Host
        h = p.http
        req = h is not None and h.is_request
        if h is None and tunnel and c["http.request.method"]:
            return  # RULE_TUNNEL
        self.reasm(n, p, "http.request.method", h.method if req else None,
                   c["http.request.method"])
        self.reasm(n, p, "http.request.uri", h.uri if req else None, c["http.request.uri"])
        host = h.host if req else None
        if host is not None or c["http.host"]:
            if host is None and req and not h.headers_complete:
                pass  # RULE_TCP_REASM: the Host header is in a later segment
            else:
                self.reasm(n, p, "http.host", host, c["http.host"])

    def finish(self) -> None:
        for key, items in self.pending.items():
            for fn, ff, fv in items:
                self.bad(fn, ff, fv, "(never shown by tshark in this TCP direction)")


# --------------------------------------------------------------------------------------


def test_frames_match_tshark(corpus_file):
    name = corpus_file
    path = corpus_dir() / name
    status = tshark_status(name)
    if status == "unreadable":
        pytest.skip("tshark cannot read it: covered by test_unreadable_files_raise")
    rows = read_tsv(refs_dir() / f"{name}.tsv")
    extra = TSHARK_EXTRA_FRAMES.get(name, set())
    for fr in extra:  # the table must describe what is in the ref
        row = rows[fr - 1]
        assert row["frame.time_epoch"] == "" and row["eth.src"] == "" and row["ip.src"] == "", \
            f"{name} frame {fr} is not a custom-block frame in the ref"
    rows = [r for r in rows if int(r["frame.number"]) not in extra]
    pkts, err = read_ours(path)
    if name in KNOWN_PACKET_COUNT:
        n_known, _reason = KNOWN_PACKET_COUNT[name]
        assert len(pkts) == n_known, f"{name}: {len(pkts)} packets, expected {n_known}"
        rows = rows[:n_known]
    if status == "cut":
        want = KNOWN_ERROR_TYPE.get(name, fp.TruncatedError)
        assert isinstance(err, want), f"{name}: expected {want.__name__}, got {err!r}"
    else:
        assert err is None, f"{name}: fastpkt raised {err!r}"
    assert len(pkts) == len(rows), f"{name}: {len(pkts)} packets, tshark {len(rows)} frames"
    cmp = Comparator(name)
    for p, row in zip(pkts, rows):
        n = int(row["frame.number"])
        try:
            cmp.frame(n, p, row)
        except fp.Error as e:  # never expected while reading fields
            cmp.mismatches.append(f"{name} frame {n}: {type(e).__name__}: {e}")
    cmp.finish()
    if cmp.mismatches:
        shown = "\n".join(cmp.mismatches[:60])
        more = len(cmp.mismatches) - 60
        pytest.fail(f"{len(cmp.mismatches)} disagreement(s) with tshark:\n{shown}"
                    + (f"\n... and {more} more" if more > 0 else ""), pytrace=False)


def test_unreadable_files_raise(corpus_unreadable):
    name = corpus_unreadable
    path = corpus_dir() / name
    with pytest.raises(fp.FormatError) as ei:
        with fp.open(str(path)) as r:
            list(r)
    assert isinstance(ei.value.offset, int), "FormatError.offset must say where"
    with pytest.raises(fp.FormatError):
        fp.read(str(path))
    # on_error="stop" does not hide a bad *file header*: the file cannot be used at all
    # (the spec only softens errors in records); either raises or yields nothing.
    try:
        with fp.open(str(path), on_error="stop") as r:
            assert list(r) == []
    except fp.FormatError:
        pass


def test_cut_short_files(corpus_cut):
    name = corpus_cut
    path = corpus_dir() / name
    n = len(read_tsv(refs_dir() / f"{name}.tsv"))
    if name in KNOWN_PACKET_COUNT:
        n = KNOWN_PACKET_COUNT[name][0]
    want = KNOWN_ERROR_TYPE.get(name, fp.TruncatedError)
    got = []
    with pytest.raises(want) as ei:
        with fp.open(str(path), on_error="raise") as r:
            for p in r:
                got.append(p)
    assert len(got) == n, "every complete record before the cut is delivered first"
    assert ei.value.packet_index == n, (ei.value.packet_index, n)
    assert isinstance(ei.value.offset, int) and 0 < ei.value.offset < path.stat().st_size
    with fp.open(str(path), on_error="stop") as r:
        stopped = list(r)
        assert len(stopped) == n
        assert isinstance(r.error, want)
    assert [p.raw for p in stopped] == [p.raw for p in got]
    with pytest.raises(want):
        fp.read(str(path))
    assert len(fp.read(str(path), on_error="stop")) == n


def test_reader_header_matches_manifest(corpus_file):
    name = corpus_file
    row = manifest()[name]
    path = corpus_dir() / name
    if tshark_status(name) == "unreadable":
        pytest.skip("unreadable file")
    with fp.open(str(path), on_error="stop") as r:
        assert r.format == row["format"]
        first_pkt = next(iter(r), None)
        if row["format"] == "pcap" or first_pkt is not None:
            assert r.linktype == int(row["linktype"].split()[0])
        if row["format"] == "pcap":
            assert r.nanosecond == ("nsec" in row["notes"])
