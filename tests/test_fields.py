"""The field registry (Packet.field, field_names) against tshark, field by field.

Two independent references, frame by frame, every value of every occurrence:
- the corpus refs (../shared/corpus/refs/*.tsv, tshark 4.0.17 with its default
  reassembly): every column the registry knows, on every capture tshark can read;
- tshark run here on every corpus capture with every registry field, reassembly and
  defragmentation off (TSHARK_PREFS): fastpkt dissects one segment, one datagram.
A disagreement fails unless a rule below names why it is legitimate.
"""
from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import corpus_dir, have, parse_tsv, read_tsv, tool_env, tshark_status

TSHARK_PREFS = [
    "tcp.desegment_tcp_streams:FALSE", "ip.defragment:FALSE", "ipv6.defragment:FALSE",
    "tls.desegment_ssl_records:FALSE", "tls.desegment_ssl_application_data:FALSE",
    "http.desegment_headers:FALSE", "http.desegment_body:FALSE",
    "dns.desegment_dns_messages:FALSE",
    "tcp.analyze_sequence_numbers:FALSE",  # retransmitted payloads are dissected too
]
SEP = "\x1f"  # tshark's aggregator here: HTTP values hold commas

# Custom-block frames (tshark 4.0 shows pcapng Custom Blocks as frames; see corpus README).
TSHARK_EXTRA_FRAMES = {
    "pcapngtest-le-test202.pcapng": {1, 7, 10},
    "pcapngtest-be-test202.pcapng": {1, 7, 10},
}

# ---------------------------------------------------------------------------------------
# Rules: each a legitimate difference, applied where marked.
#  TUNNEL     tshark also decodes what a packet carries inside it (GRE, VXLAN, GTP-U, IP in
#             IP, PPTP, the datagram quoted by an ICMP error): a field occurs more often.
#             Read with decapsulate=False (every frame is compared that way too), fastpkt
#             decodes the outer packet: its values are tshark's first ones.
#  INNER      a packet whose tunnels fastpkt decoded (the default): its views are the
#             innermost packet it decoded, so its values are a run of tshark's occurrences
#             (the last; earlier ones when tshark goes on into what fastpkt leaves raw, such
#             as PPP's control protocols, or into the datagram an ICMP error quotes).
#  FRAGMENT   an IP fragment: fastpkt decodes nothing above IP in a later fragment and no
#             application layer in a first one (its message continues in the next);
#             tshark with defragmentation off decodes what the first fragment holds.
#             Transport fields are not compared on later fragments, application fields on
#             any fragment.
#  NO_TS      Simple Packet Blocks have no timestamp: tshark prints none, nor does fastpkt.
#  TS_OVERFLOW a pcapng timestamp beyond 2^63-1 ns: tshark prints the unsigned value,
#             fastpkt's int64 time saturates.
#  EXT_CAP    more than 8 IPv6 extension headers (FP_MAX_IP6_EXT, flagged ip6_ext): fastpkt
#             records the first 8, tshark lists all; fastpkt's values are tshark's first.
#  DNS_CUT    a DNS message whose records run past it (dns_malformed / dns_name): fastpkt
#             stops at the broken record, tshark goes on with placeholders ("<Name too
#             long>"); fastpkt's values are tshark's first.
#  BY_PORT    tshark hands every TCP payload of a port-80/443 conversation to HTTP/TLS
#             (body and record continuations); fastpkt sees a layer only where the payload
#             starts a message: `http`/`tls` present in tshark only, fastpkt without it.
#  TLS13_OPAQUE tshark names the type of TLS 1.3 encrypted records tls.record.opaque_type:
#             fastpkt's content types are tshark's plus application_data (23) entries.
#  TLS_CUT_HELLO fastpkt reads the SNI of a ClientHello the segment cuts when the extension
#             is in it; tshark without reassembly shows complete records only.
#  QUIC       tshark decrypts QUIC Initials and shows their TLS fields on UDP frames; the
#             per-packet view does not decrypt (fp.client_hellos does).
#  QUIC_SHORT tshark shows the DCID of short-header packets too: its length is connection
#             state (RFC 9000 17.3), so fastpkt's quic.dcid values (long headers) are
#             tshark's first ones.
#  DECAP      tunnel fields (gre.*, vxlan.vni, gtp.teid, mpls.label, PPTP's ppp.* and lcp.*,
#             cmd.* in GRE...) are absent where fastpkt leaves the encapsulation undecoded: read with
#             decapsulate=False (compared on the default reading).
#  FCS_GUESS  a frame whose capture declares no FCS length (pcapng if_fcslen, pcap's FCS
#             bits): tshark guesses that a frame of 64 bytes or more with 4 bytes after its
#             payload ends with an FCS and shows eth.fcs; fastpkt reads an FCS only where the
#             capture declares one (tests/test_pcapng_fcs.py compares those with tshark).
#  REASM      corpus refs only: tshark reassembles TCP, so application fields on TCP show
#             on the frame completing a PDU; they are compared on the live run instead.
# ---------------------------------------------------------------------------------------

APP = ("dns", "mdns", "llmnr", "http", "tls")
TUNNEL_PROTOS = ("gre", "erspan", "vxlan", "geneve", "gtp", "mpls", "pppoe", "pppoes", "ppp", "cmd", "lcp",
                 "ipcp", "ipv6cp")
ABOVE_IP = ("tcp", "udp", "icmp", "icmpv6") + APP

_NO_PARTIAL = "fastpkt exposes no partially captured header"
# (file, frame, field) -> why fastpkt differs there.
KNOWN: dict[tuple[str, int, str], str] = {
    **{("tcpdump-ipv4_invalid_hdr_length.pcap", 1, f):
       "IHL 4 (< 5): tshark rejects the header and shows no ip.* field; fastpkt keeps the "
       "header view and flags ip4_bad_ihl (errors are data)"
       for f in ("ip.src", "ip.dst", "ip.addr", "ip.proto", "ip.ttl", "ip.flags.mf",
                 "ip.frag_offset", "ip.version", "ip.hdr_len", "ip.dsfield", "ip.dsfield.dscp",
                 "ip.dsfield.ecn", "ip.len", "ip.id", "ip.flags", "ip.flags.rb", "ip.flags.df",
                 "ip.checksum", "ip")},
    **{("tcpdump-udp-length-heapoverflow.pcap", 1, f):
       "only 4 of the 8 bytes of the UDP header were captured: tshark shows the ports; "
       + _NO_PARTIAL for f in ("udp.srcport", "udp.dstport", "udp.port", "udp")},
    **{("tcpdump-ipv6_invalid_length.pcap", 1, f):
       "only 39 of the 40 bytes of the IPv6 header were captured: tshark shows the fields "
       "it could read; " + _NO_PARTIAL
       for f in ("ipv6.src", "ipv6.addr", "ipv6.version", "ipv6.tclass", "ipv6.tclass.dscp",
                 "ipv6.tclass.ecn", "ipv6.flow", "ipv6.plen", "ipv6.nxt", "ipv6.hlim",
                 "ip.version", "ipv6")},
}

# frame.number is a position in the capture: a lone Packet does not know it (display filters
# read it from their Reader); tshark_rows keys rows on it.
NAMES = tuple(n for n in fp.field_names() if n != "frame.number")


def test_field_names_are_wireshark_names():
    """Every name is a registered tshark field or protocol (tshark -G fields)."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    out = subprocess.run(["tshark", "-G", "fields"], capture_output=True, text=True,
                         env=_env(), check=True).stdout
    known = {line.split("\t")[2] for line in out.splitlines() if line[:2] in ("F\t", "P\t")}
    assert [n for n in NAMES if n not in known] == []
    assert len(NAMES) == len(set(NAMES))


def test_unknown_name_suggests():
    pkt = fp.read(str(Path(__file__).parent / "corpus" / "ppp-tls1_3.pcap"))[0]
    with pytest.raises(ValueError, match='did you mean "tcp.srcport"'):
        pkt.field("tcp.srcprt")
    with pytest.raises(ValueError, match="neither a field nor a protocol name$"):
        pkt.field("zzzzzzzz")
    assert pkt.field("udp.srcport") is None
    assert pkt.field("udp.srcport", all=True) == []
    assert pkt.field("tcp.port", all=True) == [pkt.tcp.sport, pkt.tcp.dport]


def _env() -> dict[str, str]:
    return tool_env(WIRESHARK_CONFIG_DIR="/nonexistent-fastpkt-fields")


def tshark_rows(path: Path, fields: list[str]) -> list[dict[str, str]]:
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "header=y",
           "-E", "separator=/t", "-E", "occurrence=a", "-E", f"aggregator={SEP}"]
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    cmd += ["-e", "frame.number"]
    for f in fields:
        cmd += ["-e", f]
    # check=False: tshark exits non-zero on a capture cut short, after its frames
    return parse_tsv(subprocess.run(cmd, capture_output=True, text=True, env=_env(),
                                    errors="surrogateescape", check=False).stdout)


def packets(path: Path, decapsulate: bool = True) -> list:
    out = []
    try:
        # tshark's reassembly is off too
        with fp.open(str(path), defragment=False, decapsulate=decapsulate) as r:
            out.extend(r)
    except fp.Error:
        pass
    return out


def inner_window(f: str, ours: list, theirs: list[str]) -> bool:
    """INNER: fastpkt's values are a run of tshark's occurrences."""
    n = len(ours)
    return any(values_equal(f, ours, SEP.join(theirs[k:k + n]))[0] for k in range(len(theirs) - n + 1))


def theirs_as(ours_sample, text: str, name: str):
    """tshark's text of one value, parsed like fastpkt's value of the field."""
    if isinstance(ours_sample, bool):
        return text in ("1", "True")
    if isinstance(ours_sample, int):
        return int(text, 0)
    if isinstance(ours_sample, float):
        sec, _, frac = text.partition(".")
        return (int(sec) * 10**9 + int((frac + "000000000")[:9])) / 1e9
    if isinstance(ours_sample, bytes):
        return None  # protocols: only their occurrences are compared
    if name.startswith("ipv6.") or name == "dns.aaaa":
        return str(ipaddress.IPv6Address(text))
    return text


def tshark_escaped(v):
    """Strings as tshark -T fields writes them (backslash, tab, CR, LF escaped)."""
    if not isinstance(v, str):
        return v
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def values_equal(name: str, ours: list, cell: str) -> tuple[bool, list]:
    theirs = cell.split(SEP) if cell else []
    if fp.field_info(name).type == "bytes":  # tshark prints them as hex digits
        return [v.hex() for v in ours] == theirs, theirs
    if any(isinstance(v, bytes) for v in ours):  # protocols: only their occurrences
        return len(ours) == len(theirs), theirs
    if len(ours) != len(theirs):
        return False, theirs
    if name == "frame.time_epoch" and ours:  # TS_OVERFLOW
        sec, _, frac = theirs[0].partition(".")
        ns = min(int(sec) * 10**9 + int((frac + "000000000")[:9]), 2**63 - 1)
        return ours[0] == ns / 1e9, theirs
    return all(tshark_escaped(o) == theirs_as(o, t, name) for o, t in zip(ours, theirs)), theirs


def prefix_rule(f: str, p) -> bool:
    """EXT_CAP and DNS_CUT: fastpkt's values may be the first of tshark's."""
    anomalies = p.anomalies
    if f.startswith("ipv6.") and "ip6_ext" in anomalies:
        return True
    return f.startswith("dns.") and ("dns_malformed" in anomalies or "dns_name" in anomalies)


def is_tunnel(p, row: dict[str, str]) -> bool:
    n_ip = len(row.get("ip.src", "").split(SEP)) if row.get("ip.src") else 0
    n_ip += len(row.get("ipv6.src", "").split(SEP)) if row.get("ipv6.src") else 0
    return n_ip > (p.ip is not None) + (p.ip6 is not None) or \
        bool(row.get("eth.src")) and len(row["eth.src"].split(SEP)) > 1


def is_later_fragment(p) -> bool:
    return "ip_fragment" in p.anomalies


def is_fragment(p) -> bool:
    if p.ip is not None and (p.ip.MF or p.ip.frag):
        return True
    return p.ip6 is not None and bool(p.ip6.frag or p.ip6.MF)


def compare(name: str, pkts: list, rows: list[dict[str, str]], fields: list[str],
            skip=lambda field, p, row: None, defragmented: bool = False, decapsulated: bool = True
            ) -> tuple[list[str], int]:
    bad, checked = [], 0
    for p, row in zip(pkts, rows):
        n = int(row["frame.number"])
        tunnel = is_tunnel(p, row)
        for f in fields:
            if f not in row or skip(f, p, row):
                continue
            ours = p.field(f, all=True)
            if f == "frame.time_epoch" and not row[f] and not ours:
                continue  # NO_TS
            ok, theirs = values_equal(f, ours, row[f])
            proto = f.split(".")[0]
            if not ok and p.tunnels and len(theirs) > len(ours):
                ok = inner_window(f, ours, theirs)  # INNER
            elif not ok and (tunnel or prefix_rule(f, p)) and len(theirs) > len(ours):
                ok, _ = values_equal(f, ours, SEP.join(theirs[: len(ours)]))  # TUNNEL...
            later = is_later_fragment(p)
            if not ok and (later or is_fragment(p)) and (
                    proto in APP or (proto in ABOVE_IP and (later or defragmented))):
                ok = True  # FRAGMENT
            if not ok and proto == "tls" and p.udp is not None and not ours:
                ok = True  # QUIC
            if not ok and proto in TUNNEL_PROTOS and not ours and not (decapsulated and p.tunnels):
                ok = True  # DECAP
            if not ok and f == "quic.dcid" and len(theirs) > len(ours):
                ok = [v.hex() for v in ours] == theirs[: len(ours)]  # QUIC_SHORT
            if not ok and f == "eth.fcs" and not ours:
                ok = True  # FCS_GUESS
            if not ok and f in ("http", "tls") and not ours and p.tcp is not None:
                ok = True  # BY_PORT
            if not ok and f == "tls.record.content_type":  # TLS13_OPAQUE
                ok = ([v for v in ours if v != 23] == [int(v) for v in theirs if v != "23"]
                      and theirs.count("23") <= ours.count(23))
            if (not ok and f == "tls.handshake.extensions_server_name" and not theirs
                    and not p.field("tls.record.length", all=True)):
                ok = True  # TLS_CUT_HELLO
            checked += 1
            if not ok:
                if (name, n, f) not in KNOWN:
                    bad.append(f"{name} frame {n} {f}: fastpkt={ours!r} tshark={theirs!r}")
    return bad, checked


def corpus_case(name: str) -> tuple[Path, list, int]:
    if name is None:
        pytest.skip("no corpus")
    if tshark_status(name) == "unreadable":
        pytest.skip("tshark cannot read it")
    path = corpus_dir() / name
    pkts = packets(path)
    return path, pkts, len(pkts)


def drop_extra(name: str, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    extra = TSHARK_EXTRA_FRAMES.get(name, set())
    return [r for r in rows if int(r["frame.number"]) not in extra]


def test_fields_match_corpus_refs(corpus_file):
    """Every ref column the registry knows (tshark's defaults: reassembly on)."""
    _, pkts, n = corpus_case(corpus_file)
    rows = drop_extra(corpus_file, read_tsv(corpus_dir() / "refs" / f"{corpus_file}.tsv"))
    rows = [{k: v.replace(",", SEP) for k, v in r.items()} for r in rows][:n]
    fields = [f for f in (rows[0].keys() if rows else []) if f in NAMES]

    def skip(field, p, row):
        return field.split(".")[0] in APP and p.tcp is not None  # REASM
    # FRAGMENT: with defragmentation on, tshark decodes no fragment above IP but the last
    bad, checked = compare(corpus_file, pkts, rows, fields, skip, defragmented=True)
    if any(p.tunnels for p in pkts):  # the outer packets too (TUNNEL)
        bad += compare(corpus_file, packets(corpus_dir() / corpus_file, decapsulate=False), rows, fields, skip,
                       defragmented=True, decapsulated=False)[0]
    assert checked or not rows
    assert not bad, f"{len(bad)} disagreement(s):\n" + "\n".join(bad[:60])


@pytest.mark.tshark
def test_fields_match_tshark(corpus_file):
    """Every registry field, tshark run here with reassembly off."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    path, pkts, n = corpus_case(corpus_file)
    fields = list(NAMES)
    rows = drop_extra(corpus_file, tshark_rows(path, fields))[:n]
    bad, checked = compare(corpus_file, pkts, rows, fields)
    if any(p.tunnels for p in pkts):  # the outer packets too (TUNNEL)
        bad += compare(corpus_file, packets(path, decapsulate=False), rows, fields, decapsulated=False)[0]
    assert checked or not rows
    assert not bad, f"{len(bad)} disagreement(s):\n" + "\n".join(bad[:80])


def tls_record(handshake_type: int, body: bytes) -> bytes:
    msg = bytes([handshake_type]) + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(msg).to_bytes(2, "big") + msg


def tls_ext(etype: int, data: bytes) -> bytes:
    return etype.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


def tls_alpn(*names: bytes) -> bytes:
    body = b"".join(bytes([len(n)]) + n for n in names)
    return tls_ext(16, len(body).to_bytes(2, "big") + body)


def tls_hellos() -> tuple[bytes, bytes]:
    """A ClientHello (SNI, ALPN h2 + http/1.1, GREASE) and a ServerHello choosing h2, laid
    out by RFC 8446 4.1.2/4.1.3, RFC 6066 3 and RFC 7301 3.1."""
    sni = b"www.example"
    exts = (tls_ext(0x0A0A, b"") + tls_ext(0, (len(sni) + 3).to_bytes(2, "big") + b"\x00"
            + len(sni).to_bytes(2, "big") + sni) + tls_alpn(b"h2", b"http/1.1")
            + tls_ext(43, b"\x04\x03\x04\x03\x03"))
    suites = b"\x1a\x1a\x13\x01\x13\x02\xc0\x2f"
    client = (b"\x03\x03" + b"\x11" * 32 + b"\x00" + len(suites).to_bytes(2, "big") + suites
              + b"\x01\x00" + len(exts).to_bytes(2, "big") + exts)
    sexts = tls_alpn(b"h2") + tls_ext(23, b"")
    server = (b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\xc0\x2f" + b"\x00"
              + len(sexts).to_bytes(2, "big") + sexts)
    return tls_record(1, client), tls_record(2, server)


def built_captures(tmp: Path) -> list[Path]:
    """Hand-built packets for what the corpus lacks (sll.ltype, http.location,
    http.set_cookie, IPv4 options) or has little of: 802.3, S-tags, ICMP timestamp, DNS
    record types, mDNS classes, HTTP responses and numeric headers, TCP options (SACK),
    IPv6 fragment header, TLS hellos with ALPN."""
    pytest.importorskip("scapy")
    from _scapy_ref import _load_scapy
    _load_scapy()
    from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRROPT
    from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment, \
        IPv6ExtHdrHopByHop
    from scapy.layers.l2 import ARP, LLC, CookedLinux, Dot1AD, Dot1Q, Dot3, Ether
    from scapy.utils import wrpcap

    response = (b"HTTP/1.1 302 Found\r\nLocation: /next\r\nSet-Cookie: a=1\r\n"
                b"Set-Cookie: b=2\r\nContent-Length: 12\r\nServer: x\r\n\r\n")
    request = (b"POST /f?q=1 HTTP/1.0\r\nHost: h.example\r\nContent-Length: 007\r\n"
               b"Content-Type: text/plain\r\nReferer: http://r/\r\nCookie: c=3\r\n\r\n")
    answers = [DNSRR(rrname="a.example", type="A", rdata="192.0.2.1"),
               DNSRR(rrname="a.example", type="AAAA", rdata="2001:db8::1"),
               DNSRR(rrname="c.example", type="CNAME", rdata="a.example"),
               DNSRR(rrname="example", type="MX", rdata=b"\x00\x0a\x02mx\x07example\x00"),
               DNSRR(rrname="example", type="NS", rdata="ns.example"),
               DNSRR(rrname="1.2.0.192.in-addr.arpa", type="PTR", rdata="a.example")]
    eth = [
        Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / IP(src="10.0.0.1",
              dst="10.0.0.2", tos=0xb9, flags="DF", id=7) / TCP(
              sport=80, dport=5555, flags="PA", seq=1, ack=2, window=9,
              options=[("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b""),
                       ("Timestamp", (1, 2)), ("EOL", None)]) / response,
        Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=5555, dport=80,
                                                          flags="PA") / request,
        Dot3(src="02:00:00:00:00:02", dst="01:80:c2:00:00:00") / LLC() / (b"\x00" * 40),
        Ether() / Dot1AD(vlan=100, prio=3) / Dot1Q(vlan=20, dei=1) / IP() / ICMP(
            type=13, id=0x1234, seq=9) / (b"\x00" * 12),
        Ether() / IPv6(src="2001:db8::1", dst="ff02::1", tc=0xb8, fl=0x12345)
        / IPv6ExtHdrHopByHop() / ICMPv6EchoRequest(id=7, seq=8),
        Ether() / IPv6() / IPv6ExtHdrFragment(id=0xabcdef, m=1, offset=0) / UDP(
            sport=1, dport=2) / (b"z" * 16),
        Ether() / IP() / UDP(sport=53, dport=3333) / DNS(
            id=9, qr=1, aa=1, ra=1, ad=1, rcode=3, qd=DNSQR(qname="a.example"),
            an=answers, ar=DNSRROPT(rclass=1232)),
        Ether() / IP() / UDP(sport=5353, dport=5353) / DNS(
            qr=1, qd=DNSQR(qname="m.local", unicastresponse=1),
            an=DNSRR(rrname="m.local", cacheflush=1, rdata="192.0.2.9")),
        Ether(src="02:00:00:00:00:03") / ARP(op=2, hwsrc="02:00:00:00:00:03",
                                              psrc="192.0.2.3", pdst="192.0.2.4"),
        # Router Alert (RFC 2113), NOP, EOL, then padding read as more EOLs
        Ether() / IP(src="10.0.0.5", dst="10.0.0.6", options=IPOption(
            b"\x94\x04\x00\x00\x01\x00\x00\x00")) / UDP(sport=9, dport=9),
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(
            sport=5555, dport=80, flags="A", options=[
                ("NOP", None), ("NOP", None), ("SAck", (1000, 2000, 3000, 4000))]),
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(
            sport=5555, dport=80, flags="S", options=[("MSS", 1460), ("SAckOK", b"")]),
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(
            sport=5556, dport=443, flags="PA", seq=1, ack=1) / tls_hellos()[0],
        Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(
            sport=443, dport=5556, flags="PA", seq=1, ack=1) / tls_hellos()[1],
    ]
    sll = [CookedLinux(pkttype=4, lladdrtype=1, lladdrlen=6, src=b"\x02\x00\x00\x00\x00\x05",
                       proto=4) / LLC() / (b"\x00" * 8),
           CookedLinux(pkttype=0, lladdrtype=772, lladdrlen=0, proto=0x0800)
           / IP() / UDP(sport=7, dport=9)]
    paths = [tmp / "eth.pcap", tmp / "sll.pcap"]
    wrpcap(str(paths[0]), eth)
    wrpcap(str(paths[1]), sll)
    return paths


@pytest.mark.tshark
def test_fields_on_built_packets(tmp_path):
    if not have("tshark"):
        pytest.skip("tshark not installed")
    fields = list(NAMES)
    seen: set[str] = set()
    for path in built_captures(tmp_path):
        pkts = packets(path)
        rows = tshark_rows(path, fields)
        assert len(rows) == len(pkts)
        bad, _ = compare(path.name, pkts, rows, fields)
        assert not bad, "\n".join(bad)
        seen |= {f for p in pkts for f in fields if p.field(f, all=True)}
    for f in ("sll.ltype", "http.location", "http.set_cookie", "eth.len",
              "ieee8021ad.id", "icmp.ident", "dns.mx.mail_exchange", "ipv6.fraghdr.ident",
              "tcp.options.wscale.shift", "http.content_length", "arp.src.proto_ipv4",
              "ip.opt.type", "tcp.options.sack_perm", "tcp.options.sack_le",
              "tcp.options.sack_re", "tls.handshake.type", "tls.handshake.version",
              "tls.handshake.ciphersuite", "tls.handshake.extension.type",
              "tls.handshake.extensions_alpn_str"):
        assert f in seen, f


# Where fastpkt's type or width differs from `tshark -G fields`, and why.
INFO_DIFFERENCES = {
    "frame.time_epoch": "Wireshark registers it as FT_RELATIVE_TIME; the value is a time",
    "ipv6.flow": "a 20-bit label: Wireshark declares FT_UINT24, fastpkt reads the 32-bit "
                 "word it shares with version and traffic class",
    "tcp.flags.res": "three reserved bits: Wireshark 4.0 declares FT_BOOLEAN, its values "
                     "are the bits as a number (0-7) in fastpkt as in tshark's output",
}
FT_NAMES = {"FT_BOOLEAN": "bool", "FT_IPv4": "ipv4", "FT_IPv6": "ipv6", "FT_ETHER": "ether",
            "FT_STRING": "string", "FT_BYTES": "bytes", "FT_ABSOLUTE_TIME": "time"}


def test_field_info_matches_wireshark_types():
    """fp.field_info: type and width as Wireshark registers each field (tshark -G fields);
    FT_UINTn gives ('uint', n), a protocol ('P' line) 'protocol'."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    out = subprocess.run(["tshark", "-G", "fields"], capture_output=True, text=True,
                         env=_env(), check=True).stdout
    wireshark = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if cols[0] == "P":
            wireshark[cols[2]] = ("protocol", None)
        elif cols[0] == "F":
            ft = cols[3]
            wireshark[cols[2]] = ("uint", int(ft[7:])) if ft[7:].isdigit() else \
                (FT_NAMES.get(ft, ft), None)
    bad = []
    for name in NAMES:
        info = fp.field_info(name)
        assert info.name == name and name.split(".")[0] == info.protocol
        ours = (info.type, info.bits if info.type == "uint" else None)
        if ours != wireshark[name] and name not in INFO_DIFFERENCES:
            bad.append(f"{name}: fastpkt {ours} Wireshark {wireshark[name]}")
    assert bad == []
    with pytest.raises(ValueError, match='did you mean "tcp.srcport"'):
        fp.field_info("tcp.srcprt")
    with pytest.raises(TypeError):
        fp.field_info(b"tcp.srcport")
