"""fp.stats (fastpkt/stats.py over the one-pass C engine csrc/stats) against tshark's -z
statistics on every corpus capture tshark reads cleanly (tshark -n, reassembly and
defragmentation off as in test_fields).

Compared: the protocol hierarchy (io,phs: frames and bytes per protocol path), the DNS and
HTTP trees (dns,tree: packets, rcodes, opcodes, queries/responses, query types and classes;
http,tree: packets, requests per method, responses per status code and class), conversations (conv,eth|ip|ipv6|tcp|udp: frames each way, total bytes where tshark
prints them in bytes rather than kB), endpoints (endpoints,ip|ipv6|tcp|udp: frames and bytes,
sent and received) and io,stat buckets (frames and bytes per interval, with display filters).
tshark keys TCP conversations by stream (a reused 4-tuple is a new row): rows of the same
endpoint pair are summed before comparing.

Excluded, by name (TUNNEL, FRAGMENT as test_fields defines them): files where tshark taps an
inner IP/TCP/UDP header (ICMP errors quoting a datagram) or a fragment's transport header
fastpkt does not decode (`tshark_taps_more`, checked per file: tshark's ip.src occurrences
outnumber the packets with an IPv4 header, or its tcp/udp ones ours). The tunnelled captures
(TUNNELLED) are compared: fp.stats counts every IP/TCP/UDP header of each tunnel level as
tshark's taps do.
"""
from __future__ import annotations

import re
import sys
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from _fphelpers import corpus_dir, corpus_files, have, tshark_status
from test_fields import SEP, TSHARK_PREFS, _env, tshark_rows

import fastpkt as fp

FILES = [f for f in corpus_files() if tshark_status(f) == "ok" and "pcapngtest" not in f]
CONV = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)\s+(\d+)\s+(\d+ \S+)\s+"
                  r"([\d.]+)\s+([\d.]+)\s*$")


ALL_Z = ["conv,eth", "conv,ip", "conv,ipv6", "conv,tcp", "conv,udp", "endpoints,ip",
         "endpoints,ipv6", "endpoints,tcp", "endpoints,udp"]
IO_FILTERS = ["tcp", "udp.port == 53", "frame.len > 100"]
TITLES = {"Ethernet Conversations": "conv,eth", "IPv4 Conversations": "conv,ip",
          "IPv6 Conversations": "conv,ipv6", "TCP Conversations": "conv,tcp",
          "UDP Conversations": "conv,udp", "IPv4 Endpoints": "endpoints,ip",
          "IPv6 Endpoints": "endpoints,ipv6", "TCP Endpoints": "endpoints,tcp",
          "UDP Endpoints": "endpoints,udp", "| IO Statistics": "io"}


def tshark_z(path: Path, io: bool) -> dict[str, list[str]]:
    """One tshark run with every statistic: {name: its lines}. tshark allocates every
    interval of io,stat at once (13 GB for 0.5 s over a 2-year span): io only when asked."""
    cmd = ["tshark", "-n", "-q", "-r", str(path)]
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    for s in ALL_Z + (["io,stat,0.5," + ",".join(IO_FILTERS)] if io else []):
        cmd += ["-z", s]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=True).stdout
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in out.splitlines():
        name = next((v for k, v in TITLES.items() if line.startswith(k)), None)
        if name is not None:
            current = sections.setdefault(name, [])
        current.append(line)
    return sections


def split_port(ep: str, layer: str) -> tuple[str, int | None]:
    if layer in ("tcp", "udp"):
        addr, _, port = ep.rpartition(":")
        return addr, int(port)
    return ep, None


def norm_conv(rows, layer: str) -> dict:
    """{(lo, hi): [frames lo->hi, frames hi->lo, total bytes or None]} summing repeated pairs."""
    out: dict = defaultdict(lambda: [0, 0, 0])
    for a, b, f_ab, f_ba, total in rows:
        a, b = split_port(a, layer), split_port(b, layer)
        key = tuple(sorted((a, b), key=str))
        r = out[key]
        r[0 if key[0] == a else 1] += f_ab
        r[1 if key[0] == a else 0] += f_ba
        r[2] = None if total is None or r[2] is None else r[2] + total
    return dict(out)


def tshark_conv(z: dict, layer: str) -> dict:
    rows = []
    for line in z.get("conv," + layer, []):
        m = CONV.match(line)
        if m:
            total = m.group(8)
            rows.append((m.group(1), m.group(2), int(m.group(5)), int(m.group(3)),
                         int(total.split()[0]) if total.endswith(" bytes") else None))
    return norm_conv(rows, layer)


def ours_conv(st, layer: str, exact: dict) -> dict:
    df = st.conversations(layer)
    rows = [(r.a, r.b, r.frames_ab, r.frames_ba, r.bytes) for r in df.itertuples()]
    got = norm_conv(rows, layer)
    for k, v in got.items():  # bytes only where tshark printed them in bytes
        if k in exact and exact[k][2] is None:
            v[2] = None
    return got


def tshark_taps_more(path: Path, pkts: list) -> bool:
    """TUNNEL / FRAGMENT: tshark taps more IP or transport headers than fastpkt decodes."""
    rows = tshark_rows(path, ["ip.src", "ipv6.src", "tcp.srcport", "udp.srcport"])
    def count(f):
        return sum(len(r[f].split(SEP)) for r in rows if r.get(f))
    ours = {"ip.src": sum(p.ip is not None for p in pkts), "ipv6.src": sum(p.ip6 is not None for p in pkts),
            "tcp.srcport": sum(p.tcp is not None for p in pkts),
            "udp.srcport": sum(p.udp is not None for p in pkts)}
    return any(count(f) != n for f, n in ours.items())


_ROUTING = ("ROUTING: tshark keys IPv6 TCP/UDP conversations on the routing header's final "
            "destination; PacketList columns (and so fp.stats) hold the header's addresses")
# (file, layer) -> why fp.stats differs from tshark there (conversations and endpoints alike).
KNOWN = {
    ("ppp-ipv6_options.pcap", "udp"): _ROUTING,
    ("tcpdump-ipv6-routing-header.pcap", "udp"): _ROUTING,
    ("zeek-ipv6-hbh-routing0.pcap", "udp"): _ROUTING,
    ("ppp-tcp-malformed.pcap", "tcp"): "tshark taps no conversation for a TCP header it calls "
                                       "malformed; fastpkt keeps the header (errors are data)",
    **{("ppp-many_interfaces-1.pcapng", layer): "two broadcast frames on an interface whose "
       "link type tshark 4.0 does not decode as IP; fastpkt does" for layer in ("ip", "udp")},
}


# Corpus captures with GRE, PPTP, IP in IP, VXLAN or GTP-U: tshark taps the headers of every
# tunnel level, and so does fp.stats (tshark_taps_more counts the outer packet's alone).
TUNNELLED = {"ppp-grepackets.pcap", "tcpdump-pptp.pcap", "tcpdump-various_gre.pcap", "tcpdump-vxlan.pcap",
             "ndpi-reasm_segv_anon.pcapng"}


def known(z_case, layer: str) -> None:
    reason = KNOWN.get((z_case[3], layer))
    if reason:
        pytest.skip("known disagreement: " + reason)


@pytest.fixture(scope="module", params=FILES)
def case(request):
    if not have("tshark"):
        pytest.skip("tshark not installed")
    path = corpus_dir() / request.param
    st = fp.stats(str(path), defragment=False)
    pkts = list(st.packets)
    if request.param not in TUNNELLED and tshark_taps_more(path, pkts):
        pytest.skip("known disagreement: TUNNEL/FRAGMENT, tshark taps headers fastpkt does not decode")
    if any((p.ip is not None and (p.ip.MF or p.ip.frag)) or (p.ip6 is not None and (p.ip6.frag or p.ip6.MF))
           for p in pkts):
        pytest.skip("known disagreement: FRAGMENT, tshark 4.0 leaves IP fragments out of "
                    "conversations and endpoints when it does not defragment")
    times = [p.time_ns for p in pkts]
    span = (max(times) - min(times)) / 1e9 if times else 0
    return tshark_z(path, io=0 < span < 600), st, span, request.param


@pytest.mark.tshark
@pytest.mark.parametrize("layer", ["eth", "ip", "ipv6", "tcp", "udp"])
def test_conversations_match_tshark(case, layer):
    z, st, _, _ = case
    known(case, layer)
    theirs = tshark_conv(z, layer)
    assert ours_conv(st, layer, theirs) == theirs


@pytest.mark.tshark
@pytest.mark.parametrize("layer", ["ip", "ipv6", "tcp", "udp"])
def test_endpoints_match_tshark(case, layer):
    z, st, _, _ = case
    known(case, layer)
    theirs = {}
    for line in z.get("endpoints," + layer, []):
        parts = line.split()
        n = 8 if layer in ("tcp", "udp") else 7
        if len(parts) == n and all(x.isdigit() for x in parts[-6:]):
            key = (parts[0], int(parts[1])) if n == 8 else (parts[0], None)
            theirs[key] = tuple(int(x) for x in parts[-6:])
    df = st.endpoints(layer)
    ours = {split_port(r.address, layer): (r.frames, r.bytes, r.tx_frames, r.tx_bytes, r.rx_frames,
                                           r.rx_bytes) for r in df.itertuples()}
    assert ours == theirs


@pytest.mark.tshark
def test_io_stat_matches_tshark(case):
    z, st, span, _ = case
    if not 0 < span < 600:
        pytest.skip("known disagreement: tshark prints no interval for a capture of zero duration; "
                    "a span over 600 s is not run (tshark allocates every 0.5 s interval)")
    theirs = []
    for line in z.get("io", []):
        if "<>" in line:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            theirs.append([int(x) for x in cells[1:]])
    df = st.io(0.5, IO_FILTERS)
    ours = df.drop(columns=["start", "frames", "bytes"]).values.tolist()  # tshark: filters only
    # tshark stops at the last packet's interval; it prints none for an empty capture
    assert ours == theirs


# ---- io,phs ----------------------------------------------------------------------------

PHS_LINE = re.compile(r"^(\s*)(\S+)\s+frames:(\d+) bytes:(\d+)\s*$")
OURS_PHS = {"eth", "sll", "null", "loop", "ppp", "raw", "vlan", "ieee8021ad", "arp", "ip", "ipv6",
            "tcp", "udp", "icmp", "icmpv6", "dns", "mdns", "llmnr", "http", "tls", "quic", "pppoes",
            "pppoed", "lcp", "ipcp", "ipv6cp", "pap", "chap", "ccp", "comp_data", "gre", "cmd", "erspan",
            "vxlan", "geneve", "gtp", "mpls", "pweth.cw", "pwethcw", "cdp", "fr", "nsh", "wlan", "ipx"}


def tshark_output(path: Path, z: str, extra: tuple[str, ...] = ()) -> str:
    cmd = ["tshark", "-n", "-q", "-r", str(path), *extra]
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    return subprocess.run(cmd + ["-z", z], capture_output=True, text=True, env=_env(), check=True).stdout


def tshark_phs(path: Path, extra: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """tshark's hierarchy in fastpkt's terms: a protocol fastpkt does not dissect is the
    payload it sees ("data", its subtree folded in); tshark's _ws.* markers (malformed,
    short) and the pkt_comment pseudo-protocol are not protocols of the packet."""
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    stack: list[str] = []
    for line in tshark_output(path, "io,phs", extra).splitlines():
        m = PHS_LINE.match(line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        del stack[depth:]
        stack.append(m.group(2))
        path_ = [p for p in stack if p != "pkt_comment"]
        if not path_ or path_[-1].startswith("_ws."):
            continue
        known_ = 0
        while known_ < len(path_) and path_[known_] in OURS_PHS:
            known_ += 1
        if known_ < len(path_) - 1:
            continue  # inside a subtree folded into its first unknown protocol
        key = ":".join(path_[:known_] + (["data"] if known_ < len(path_) else []))
        rows[key][0] += int(m.group(3))
        rows[key][1] += int(m.group(4))
    return {k: (f, b) for k, (f, b) in rows.items()}


_STATEFUL = ("STATEFUL: tshark names a payload by its conversation's earlier packets (TLS and HTTP "
             "continuation segments, QUIC short headers, coalesced QUIC packets nested, protocols "
             "it recognises on ports); fastpkt's hierarchy classifies each packet alone")
KNOWN_PHS = {
    **{f: _STATEFUL for f in (
        "ndpi-http_ipv6.pcap", "ndpi-quic-v2.pcapng", "ndpi-quic_frags_ch_in_multiple_packets.pcapng",
        "ndpi-tls_esni_sni_both.pcap", "ndpi-tls_missing_ch_frag.pcap", "ndpi-tls_with_huge_ch.pcapng",
        "ppp-frag_http_req.pcap", "ppp-nanosecs_big_endian.pcap", "ppp-raw_ip.pcap",
        "ppp-unidirectional_tcp_stream_with_missing_packet.pcap", "scapy-http_chunk.pcap",
        "scapy-tls_tcp_frag.pcap", "suricata-quic-frag-unordered.pcap", "suricata-quic-ietf.pcap",
        "suricata-tls-client-hello-frag-01-dump_mtu300.pcap", "tcpdump-quic_handshake.pcap",
        "tcpdump-quic_retry.pcap", "zeek-chromium-115.0.5790.110-api-cirrus-com.pcap",
        "zeek-pipelined-requests.pcap", "zeek-vlan-qinqinq.pcap", "ndpi-reasm_segv_anon.pcapng")},
    **{f: "FRAGMENT: tshark dissects DNS/mDNS in first fragments; fastpkt decodes no application "
          "layer in a fragment" for f in ("ppp-ip6_fragments.pcap", "zeek-ipv6-fragmented-dns.pcap")},
    "zeek-ipv6-hbh-routing0.pcap": "a 3-byte payload on UDP port 53: tshark's DNS dissector takes it "
                                   "(its hierarchy shows nothing under udp); fastpkt reads no DNS "
                                   "header there and counts data",
    "tcpdump-ipv6_invalid_length.pcap": "tshark shows an IPv6 header whose payload length passes the "
                                        "frame (malformed); fastpkt leaves the frame's bytes as payload",
    "tcpdump-udp-length-heapoverflow.pcap": "tshark shows a UDP header cut by the IP length (short); "
                                            "fastpkt leaves the bytes as IP payload",
    **{f: "tshark shows a payload cut by the snap length as _ws.short where no dissector takes its "
          "port, as the port's protocol where one does; fastpkt (knowing neither port) counts data"
       for f in ("ppp-pcapng-example.pcapng", "tcpdump-tcp_rst_data-trunc.pcap")},
    "suricata-tcp-overlap2.pcap": "tshark takes TCP port 8080 as HTTP (no start line: nothing under "
                                  "tcp in its hierarchy, 'Other HTTP Packets' in http,tree); fastpkt "
                                  "detects HTTP by content and counts data",
}


@pytest.mark.tshark
@pytest.mark.parametrize("name", FILES)
def test_phs_matches_tshark(name):
    if not have("tshark"):
        pytest.skip("tshark not installed")
    if name in KNOWN_PHS:
        pytest.skip("known disagreement: " + KNOWN_PHS[name])
    path = corpus_dir() / name
    ours = {r.path: (r.frames, r.bytes) for r in fp.stats(str(path), defragment=False).phs().itertuples()}
    assert ours == tshark_phs(path)


# ---- dns,tree / http,tree ------------------------------------------------------------------

TREE_LINE = re.compile(r"^( *)(\S.*?)\s{2,}(\d+)\s")


def tshark_tree(path: Path, z: str) -> list[tuple[int, str, int]]:
    """(indent, topic, count) of each row with a count above 0."""
    out = []
    for line in tshark_output(path, z).splitlines():
        m = TREE_LINE.match(line)
        if m and int(m.group(3)) and not m.group(2).startswith("Topic"):
            out.append((len(m.group(1)), m.group(2), int(m.group(3))))
    return out


def children(rows: list, parent: str) -> dict[str, int]:
    """Rows one level under the row named `parent` (first token of each name)."""
    out: dict[str, int] = {}
    for i, (ind, topic, _) in enumerate(rows):
        if topic == parent:
            for ind2, t2, c2 in rows[i + 1:]:
                if ind2 <= ind:
                    break
                if ind2 == ind + 1:
                    out[t2] = c2
            break
    return out


KNOWN_TREE = {
    **{f: _STATEFUL for f in ("ppp-nanosecs_big_endian.pcap", "ppp-raw_ip.pcap", "scapy-http_chunk.pcap",
                              "ppp-unidirectional_tcp_stream_with_missing_packet.pcap",
                              "ppp-frag_http_req.pcap", "ndpi-http_ipv6.pcap", "zeek-pipelined-requests.pcap",
                              "zeek-vlan-qinqinq.pcap", "ndpi-reasm_segv_anon.pcapng")},
    "suricata-tcp-overlap2.pcap": KNOWN_PHS["suricata-tcp-overlap2.pcap"],
    "ppp-dnstoomanyresources.pcap": "tshark's DNS tap never sees a message its dissector threw on "
                                    "(too many resources: malformed); fastpkt counts the header it read",
    "ppp-ip6_fragments.pcap": KNOWN_PHS["ppp-ip6_fragments.pcap"],
}

def _tree_case(name, tap):
    """The corpus file and tshark's rows of `tap` for it; skips what cannot be compared."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    if name in KNOWN_TREE:
        pytest.skip("known disagreement: " + KNOWN_TREE[name])
    path = corpus_dir() / name
    return path, tshark_tree(path, tap)



@pytest.mark.tshark
@pytest.mark.parametrize("name", FILES)
def test_dns_tree_matches_tshark(name):
    path, rows = _tree_case(name, "dns,tree")
    theirs = {"total": sum(c for ind, t, c in rows if t == "Total Packets"),
              "rcode": children(rows, "rcode"), "opcode": children(rows, "opcodes"),
              "query_response": children(rows, "Query/Response"),
              "qtype": {t.split()[0]: c for t, c in children(rows, "Query Type").items()},
              "class": children(rows, "Class")}
    df = fp.stats(str(path), defragment=False).dns()
    ours = {"total": int(df[df.topic == "total"]["count"].sum())}
    for topic in ("rcode", "opcode", "query_response", "qtype", "class"):
        ours[topic] = {r.name: r.count for r in df[df.topic == topic].itertuples()}
    assert ours == theirs


@pytest.mark.tshark
@pytest.mark.parametrize("name", FILES)
def test_http_tree_matches_tshark(name):
    path, rows = _tree_case(name, "http,tree")
    theirs = {"total": sum(c for ind, t, c in rows if t == "Total HTTP Packets"),
              "method": children(rows, "HTTP Request Packets"),
              "status_class": children(rows, "HTTP Response Packets"),
              "other": sum(c for ind, t, c in rows if t == "Other HTTP Packets")}
    theirs["status"] = {}
    for cls in theirs["status_class"]:
        theirs["status"].update({t.split()[0]: c for t, c in children(rows, cls).items()})
    df = fp.stats(str(path), defragment=False).http()
    ours = {"total": int(df[df.topic == "total"]["count"].sum()),
            "other": int(df[df.topic == "other"]["count"].sum())}
    for topic in ("method", "status_class", "status"):
        ours[topic] = {r.name: r.count for r in df[df.topic == topic].itertuples()}
    assert ours == theirs


def test_arrow_and_bounds():
    """Every table goes out over Arrow's C stream unchanged; a memory bound too small for
    the conversation tables counts the packets it refused instead of failing."""
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    path = str(corpus_dir() / "suricata-dns-udp-google.com-a-aaaa-mx.pcap")
    st = fp.stats(path, interval=1.0, filters=["dns.flags.response == 1"])
    for z in ("io,phs", "conv,udp", "endpoints,ip", "io,stat,1,dns.flags.response == 1", "dns,tree",
              "http,tree"):
        table = pa.RecordBatchReader.from_stream(st.arrow(z)).read_all()
        pd.testing.assert_frame_equal(table.to_pandas(), st.z(z), check_dtype=False)
    assert st.io()["frames_1"].sum() == 3
    assert st.cut == {k: 0 for k in st.cut}
    tiny = fp.stats(path, max_memory=1)
    assert tiny.cut["conv_ip"] == 6 and tiny.conversations("ip").empty


@pytest.mark.tshark
def test_phs_depth_bound_against_tshark(tmp_path):
    """A path deeper than the hierarchy keeps (64 protocols) counts down to there, node by node
    as tshark's, and once in cut['phs']: 70 MPLS labels without a bottom of stack, tshark's tree
    one `mpls` per label (its lines past 16 deep are indented no further, so they are counted
    here, not nested)."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    sa = pytest.importorskip("_scapy_ref").sa
    labels = b"".join((((16 + i) << 12) | 64).to_bytes(4, "big") for i in range(70))
    frame = sa.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x8847) / sa.Raw(labels)
    path = tmp_path / "deep.pcap"
    sa.wrpcap(str(path), [frame, frame])
    nodes = [n for n in (line.split() for line in tshark_output(path, "io,phs").splitlines() if "frames:" in line)
             if not n[0].lstrip(".").startswith("_ws.")]  # its malformed marker: no protocol of the packet
    assert [n[0].lstrip(".") for n in nodes] == ["eth"] + ["mpls"] * 70
    assert {tuple(n[1:]) for n in nodes} == {("frames:2", f"bytes:{2 * len(frame)}")}
    st = fp.stats(str(path))
    ours = st.phs()
    assert list(ours.protocol) == ["eth"] + ["mpls"] * 63
    assert set(ours.frames) == {2} and set(ours.bytes) == {2 * len(frame)}
    assert st.cut == {**{k: 0 for k in st.cut}, "phs": 2}


def test_stats_tables_have_every_export(tmp_path):
    """A StatsTable is a table like the others: Polars and DuckDB read its capsule, to_polars,
    to_parquet and to_csv are thin layers over the same stream, all giving to_pandas()'s rows."""
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    import pyarrow.parquet as pq

    st = fp.stats(str(Path(__file__).resolve().parent.parent / "examples" / "data" / "sample.pcap"))
    tbl = st.arrow("conv,ip")
    want = tbl.to_pandas()
    assert len(want) > 1
    pd.testing.assert_frame_equal(pl.DataFrame(tbl).to_pandas(), want, check_dtype=False)
    pd.testing.assert_frame_equal(tbl.to_polars().to_pandas(), want, check_dtype=False)
    assert duckdb.sql("select sum(frames), count(*) from tbl").fetchall() == [(want["frames"].sum(), len(want))]
    tbl.to_parquet(tmp_path / "conv.parquet")
    pd.testing.assert_frame_equal(pq.read_table(tmp_path / "conv.parquet").to_pandas(), want, check_dtype=False)
    assert tbl.to_csv(tmp_path / "conv.csv") == len(want)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "conv.csv"), want, check_dtype=False)
    assert sum(b.num_rows for b in tbl.record_batches()) == len(want) == pa.table(tbl).num_rows


def test_api_and_cli():
    path = str(Path(__file__).parent / "corpus" / "ppp-twohttprequests.pcap")
    st = fp.stats(path)
    assert st.http_hosts().values.tolist() == [["www.ynet.co.il", 2]]
    assert st.dns_names().empty
    assert len(st.packets.filter_mask("http.request")) == len(st.packets) == 2
    assert st.packets.filter_mask("frame.number == 2") == b"\x00\x01"
    io = st.io(0.1, ["http.request"])
    assert io["frames"].sum() == 2 and io["frames_1"].sum() == 2
    with pytest.raises(ValueError):
        st.io(1e-9)
    with pytest.raises(ValueError):
        st.conversations("sctp")
    only = fp.stats(path, display_filter="tcp.srcport == 60378")
    assert only.conversations("tcp")["frames"].tolist() == [1]
    from fastpkt.cli import main
    assert main(["stats", path, "-z", "conv,tcp", "-z", "io,stat,1,tcp", "-z", "http,tree", "-z", "io,phs",
                 "-z", "dns,tree", "-z", "endpoints,ip"]) == 0
    assert main(["stats", path, "-z", "nope"]) == 2


# ---- IP fragments ------------------------------------------------------------------------

# tshark's default: IPv4 and IPv6 datagrams reassembled (TCP, TLS, HTTP, DNS reassembly stays off)
DEFRAG_PREFS = [p for p in TSHARK_PREFS if not p.startswith(("ip.defragment", "ipv6.defragment"))]
FRAGMENTED = ["ppp-frag_http_req.pcap", "ppp-ip6_fragments.pcap", "zeek-fragmented-3.pcap",
              "zeek-ipv6-fragmented-dns.pcap"]


@pytest.mark.tshark
@pytest.mark.parametrize("name", FRAGMENTED)
def test_defragmented_stats_match_tshark(name, monkeypatch):
    """fp.stats reassembles as tshark does by default: a fragment waiting for the rest is IP
    data, the completing one carries the datagram's protocols with its own frame length.
    Against tshark with only IP defragmentation on: the hierarchy, the IPv4, TCP and UDP
    conversations and the DNS tree (where KNOWN_TREE names no other disagreement). (With defragment=False the tests above compare against tshark with it
    off; there the captures with fragments are the known disagreements they name.)"""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    path = corpus_dir() / name
    if not path.exists():
        pytest.skip("real-capture corpus not found")
    monkeypatch.setattr(sys.modules[__name__], "TSHARK_PREFS", DEFRAG_PREFS)
    st = fp.stats(str(path))
    ours = {r.path: (r.frames, r.bytes) for r in st.phs().itertuples()}
    assert ours == tshark_phs(path)
    z = tshark_z(path, io=False)
    # not ipv6: tshark 4.0's IPv6 conversation tap leaves out frames with a fragment header
    for layer in ("ip", "tcp", "udp"):
        theirs = tshark_conv(z, layer)
        assert ours_conv(st, layer, theirs) == theirs, layer
    if name in KNOWN_TREE:  # its reason holds with reassembly too
        return
    rows = tshark_tree(path, "dns,tree")
    total = sum(c for ind, t, c in rows if t == "Total Packets")
    assert int(st.dns().query("topic == 'total'")["count"].sum()) == total
    assert {t.split()[0]: c for t, c in children(rows, "Query Type").items()} == \
        {r.name: r.count for r in st.dns().query("topic == 'qtype'").itertuples()}


# ---- dns_names() / http_hosts() ---------------------------------------------------------------

def tshark_names(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Frames per first dns.qry.name and per first http.host, as tshark shows them."""
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "dns.qry.name", "-e", "http.host",
           "-E", "occurrence=f", "-E", "separator=/t"]
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    names: dict[str, int] = defaultdict(int)
    hosts: dict[str, int] = defaultdict(int)
    for line in subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=True).stdout.splitlines():
        name, _, host = line.partition("\t")
        if name:
            names[name] += 1
        if host:
            hosts[host] += 1
    return dict(names), dict(hosts)


KNOWN_NAMES = {
    **{f: "FRAGMENT: without reassembly tshark reads the DNS or HTTP of a first fragment, fastpkt no "
          "application layer in a fragment (reassembled: test_defragmented_names_match_tshark)"
       for f in ("ppp-frag_http_req.pcap", "ppp-ip6_fragments.pcap", "zeek-ipv6-fragmented-dns.pcap")},
}


@pytest.mark.tshark
@pytest.mark.parametrize("name", FILES)
def test_dns_names_and_http_hosts_match_tshark(name):
    """Counted in the one pass: frames per first question name and per Host value."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    if name in KNOWN_NAMES:
        pytest.skip("known disagreement: " + KNOWN_NAMES[name])
    path = corpus_dir() / name
    st = fp.stats(str(path), defragment=False)
    names, hosts = tshark_names(path)
    assert dict(st.dns_names().values.tolist()) == names
    assert dict(st.http_hosts().values.tolist()) == hosts


@pytest.mark.tshark
@pytest.mark.parametrize("name", FRAGMENTED)
def test_defragmented_names_match_tshark(name, monkeypatch):
    if not have("tshark"):
        pytest.skip("tshark not installed")
    monkeypatch.setattr(sys.modules[__name__], "TSHARK_PREFS", DEFRAG_PREFS)
    path = corpus_dir() / name
    st = fp.stats(str(path))
    names, hosts = tshark_names(path)
    assert dict(st.dns_names().values.tolist()) == names
    assert dict(st.http_hosts().values.tolist()) == hosts


def test_root_name_query_is_counted(tmp_path):
    """A query for the root name (``dig . NS``) is an empty name in the table, counted as tshark
    counts its frames (tshark prints it ``<Root>``): the table's first name being empty once left
    its bytes block unallocated, which UBSan reports (fuzz_stats found it)."""
    sa = pytest.importorskip("_scapy_ref").sa
    path = tmp_path / "root.pcap"
    mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    q = sa.Ether(**mac) / sa.IP(src="10.0.0.1", dst="10.0.0.2") / sa.UDP(sport=5000, dport=53)
    sa.wrpcap(str(path), [q / sa.DNS(id=1, qd=sa.DNSQR(qname=".", qtype="NS")),
                          q / sa.DNS(id=2, qd=sa.DNSQR(qname="example.org"))])
    assert dict(fp.stats(str(path)).dns_names().values.tolist()) == {"": 1, "example.org": 1}


def _pppoe_frames(sa) -> tuple[list, list]:
    """PPPoE sessions (RFC 2516) after Ethernet, 802.1Q and a Linux cooked header, carrying
    IPv4, IPv6 (DNS, HTTP), each PPP control protocol fastpkt names, an unknown protocol, a
    session header with a discovery code, a cut header; PPPoE discovery."""
    mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    v4 = sa.IP(src="10.0.0.1", dst="10.0.0.2")
    v6 = sa.IPv6(src="fd00::1", dst="fd00::2")
    dns = sa.UDP(sport=5353, dport=53) / sa.DNS(id=1, qd=sa.DNSQR(qname="pppoe.example"))
    http = sa.TCP(sport=40000, dport=80, flags="PA") / b"GET / HTTP/1.1\r\nHost: h.example\r\n\r\n"
    sessions = [sa.PPP() / v4 / sa.TCP(sport=40000, dport=80, flags="S"),
                sa.PPP() / v4 / http, sa.PPP(proto=0x57) / v6 / dns,
                sa.PPP(proto=0xC021) / sa.PPP_LCP_Configure(id=1, options=[sa.PPP_LCP_MRU_Option()]),
                sa.PPP(proto=0xC021) / sa.PPP_LCP_Echo(code=9, id=2, magic_number=7),
                sa.PPP(proto=0x8021) / sa.PPP_IPCP(code=1, id=3, options=[
                    sa.PPP_IPCP_Option_IPAddress(data="10.0.0.1"), sa.PPP_IPCP_Option_DNS1(data="10.0.0.53")]),
                sa.PPP(proto=0x8057) / bytes.fromhex("0104000e010a0011223344556677"),
                sa.PPP(proto=0xC023) / sa.PPP_PAP_Request(username="u", password="p"),
                sa.PPP(proto=0xC223) / sa.PPP_CHAP_ChallengeResponse(code=1, id=1, value=b"abcd", optional_name=b"x"),
                sa.PPP(proto=0x80FD) / bytes.fromhex("01010004"),
                sa.PPP(proto=0x1235) / b"unknown protocol"]
    eth = [sa.Ether(**mac) / sa.PPPoE(sessionid=1) / f for f in sessions]
    eth += [sa.Ether(**mac) / sa.Dot1Q(vlan=5) / sa.PPPoE(sessionid=2) / f for f in sessions[:4]]
    eth += [sa.Ether(**mac) / sa.PPPoE(sessionid=1, code=9), sa.Ether(**mac, type=0x8864) / b"\x11\x00",
            sa.Ether(**mac) / sa.PPPoED(code=9) / sa.PPPoED_Tags()]
    cooked = [sa.CookedLinux(proto=0x8864) / sa.PPPoE(sessionid=3) / f for f in sessions]
    return eth, cooked


@pytest.mark.tshark
def test_pppoe_sessions_match_tshark(tmp_path):
    """A PPPoE session is a tunnel fp.stats reads outer, as tshark's conversations count it, but
    tshark's hierarchy goes on inside: pppoes, ppp, then the IP packet or the control protocol
    (lcp, ipcp, ipv6cp, pap, chap, ccp), pppoed for discovery. Scapy-built frames after
    Ethernet, 802.1Q and Linux cooked headers; io,phs (frames and bytes), the conversations of every
    layer (the IP packet inside is the frame's only one) and the DNS and
    HTTP names equal tshark's."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    sa = pytest.importorskip("_scapy_ref").sa
    eth, cooked = _pppoe_frames(sa)
    paths = [tmp_path / "pppoe.pcap", tmp_path / "pppoe_sll.pcap"]
    sa.wrpcap(str(paths[0]), eth)
    sa.wrpcap(str(paths[1]), cooked, linktype=113)
    for path in paths:
        st = fp.stats(str(path))
        ours = {r.path: (r.frames, r.bytes) for r in st.phs().itertuples()}
        assert ours == tshark_phs(path), path.name
        assert {"pppoes:ppp:lcp", "pppoes:ppp:ipcp", "pppoes:ppp:ipv6cp", "pppoes:ppp:pap", "pppoes:ppp:chap",
                "pppoes:ppp:ccp", "pppoes:ppp:ip:tcp:http", "pppoes:ppp:ipv6:udp:dns"} <= {
                    k.split(":", 1)[-1] for k in ours}
        z = tshark_z(path, io=False)
        for layer in ("eth", "ip", "ipv6", "tcp", "udp"):
            theirs = tshark_conv(z, layer)
            assert ours_conv(st, layer, theirs) == theirs, (path.name, layer)
            if layer != "eth":
                assert theirs, (path.name, layer)
        names, hosts = tshark_names(path)
        assert set(names) == {"pppoe.example"} and set(hosts) == {"h.example"}, path.name
        assert dict(st.dns_names().values.tolist()) == names
        assert dict(st.http_hosts().values.tolist()) == hosts


@pytest.mark.tshark
def test_pppoe_io_filters_match_tshark(tmp_path):
    """io,stat's filters on a PPPoE session frame with no tunnel inside match the IP packet in
    the session (and its PPP control protocol), as tshark's filters do: fp.stats reads the
    record outer, so the filters once saw only the link header there. tshark 4.0's io,stat on
    the Scapy-built frames of test_pppoe_sessions_match_tshark after Ethernet, 802.1Q and a
    Linux cooked header, the session header with a discovery code among them (tshark's
    `pppoes` matches it as any session's)."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    sa = pytest.importorskip("_scapy_ref").sa
    eth, cooked = _pppoe_frames(sa)
    filters = ["tcp", "udp", "ip", "ipv6", "udp.port == 53", "dns", "http", "ip.src == 10.0.0.1",
               "tcp.dstport == 80", "ipv6.dst == fd00::2", "lcp", "ipcp", "pppoes", "frame.len > 100"]
    for name, pkts, linktype in (("pppoe.pcap", eth, 1), ("pppoe_sll.pcap", cooked, 113)):
        for i, f in enumerate(pkts):  # none on a 0.5 s boundary (tshark's io,stat ends at the duration)
            f.time = 1_700_000_000 + i * 0.31
        path = tmp_path / name
        sa.wrpcap(str(path), pkts, linktype=linktype)
        out = tshark_output(path, "io,stat,0.5," + ",".join(filters))
        theirs = [[int(x) for x in [c.strip() for c in line.strip().strip("|").split("|")][1:]]
                  for line in out.splitlines() if "<>" in line]
        st = fp.stats(str(path), interval=0.5, filters=filters)
        ours = st.io().drop(columns=["start", "frames", "bytes"]).values.tolist()
        assert ours == theirs, name
        assert all(sum(col) > 0 for col in zip(*theirs)), name  # each filter matched a frame


def _tunnel_frames(sa) -> tuple[list, list]:
    """Every encapsulation fastpkt decapsulates, after Ethernet: GRE (with key and sequence
    number, IPv6 inside, transparent Ethernet bridging, MPLS, ERSPAN I/II/III, Cisco MetaData,
    a keepalive, a protocol it does not carry, cut headers), PPTP (PPP with and without HDLC
    bytes and protocol compression, LCP, IPCP, CHAP, PAP, CCP, MPPE-compressed data, an unknown
    protocol, an acknowledgement alone), IP in IP, 6in4, 4in6, 6in6 (and lying version
    nibbles), VXLAN (a VLAN inside), Geneve (Ethernet and IP), GTP-U (with an extension
    header), MPLS stacks (cut, without a bottom label, not IP after it); tunnels nested two and
    three deep, PPPoE sessions in VXLAN and tunnels in the frame's own PPPoE session (GRE, 4in6,
    VXLAN, GTP-U, PPTP, a length field shorter than the packet, snapped); protocols GRE carries
    that fastpkt does not decapsulate (CDP, ARP; with checksum, key and sequence words, cut
    before them, empty) and Ethernet's configuration testing protocol (loop: reply, forward,
    unknown functions, cut lists) after Ethernet, 802.1Q and inside VXLAN and GRE bridging;
    inner packets cut and lengths that lie; DNS and HTTP inside. Second list: MPLS
    Ethernet pseudowires with RFC 4448's control word."""
    mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    imac = dict(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")

    def eth(**k):
        return sa.Ether(**mac, **k)

    def o4(proto=None, src="192.0.2.1", dst="192.0.2.2"):
        return sa.IP(src=src, dst=dst, **({"proto": proto} if proto is not None else {}))

    def o6(nh=None):
        return sa.IPv6(src="2001:db8::1", dst="2001:db8::2", **({"nh": nh} if nh is not None else {}))

    def gre(proto, flags=0, words=b""):
        return (flags.to_bytes(2, "big") + proto.to_bytes(2, "big") + words)

    def pptp(ppp, seq=True, ack=False):
        flags = 0x2001 | (0x1000 if seq else 0) | (0x0080 if ack else 0)
        return (gre(0x880B, flags, len(ppp).to_bytes(2, "big") + b"\x00\x07" + b"\x00\x00\x00\x01" * (seq + ack))
                + ppp)

    def vxlan(vni=7):
        return b"\x08\x00\x00\x00" + (vni << 8).to_bytes(4, "big")

    def mpls(*labels):
        return b"".join(((lab << 12) | (0x100 if i == len(labels) - 1 else 0) | 64).to_bytes(4, "big")
                        for i, lab in enumerate(labels))

    i4 = sa.IP(src="10.0.0.1", dst="10.0.0.2")
    i6 = sa.IPv6(src="fd00::1", dst="fd00::2")
    # CDP version 2 (TTL, checksum, a Device ID TLV), then loop payloads (little-endian skip
    # count and functions): empty, cut in the skip count and the function, an unknown function,
    # a reply with and without data, forward then reply, a forward cut in its address
    cdp = bytes.fromhex("02b40000") + (1).to_bytes(2, "big") + (4 + 6).to_bytes(2, "big") + b"router"
    loop = [b"", b"\x00", b"\x00\x00\x01", b"\x00\x00\x05\x00zz", b"\x00\x00\x01\x00\x07\x00",
            b"\x00\x00\x01\x00\x07\x00data", b"\x00\x00\x02\x00" + b"\x02" * 6 + b"\x01\x00\x07\x00x",
            b"\x00\x00\x02\x00\x02\x02", b"\x00\x00\x01\x00\x07"]
    syn = sa.TCP(sport=40000, dport=80, flags="S")
    http = sa.TCP(sport=40001, dport=80, flags="PA") / b"GET / HTTP/1.1\r\nHost: t.example\r\n\r\n"
    dns = sa.UDP(sport=5353, dport=53) / sa.DNS(id=1, qd=sa.DNSQR(qname="tunnel.example"))
    inner = bytes(i4 / syn)
    inner_eth = bytes(sa.Ether(**imac) / i4 / syn)
    gtp_ext = (b"\x34\xff" + (len(inner) + 8).to_bytes(2, "big") + b"\x00\x00\x00\x09" + b"\x00\x00\x00\x85"
               + b"\x01\x10\x05\x00")  # PDU session container, then no more extensions
    frames = [
        eth() / o4(47) / sa.Raw(gre(0x0800)) / i4 / syn,
        eth() / o4(47) / sa.Raw(gre(0x0800, 0x3000, b"\x00\x00\x00\x05\x00\x00\x00\x03")) / i4 / dns,
        eth() / o4(47) / sa.Raw(gre(0x0800, 0x8000, b"\x00\x00\x00\x00")) / i4 / http,
        eth() / o4(47) / sa.Raw(gre(0x86DD)) / i6 / dns,
        eth() / o4(47) / sa.Raw(gre(0x6558) + inner_eth),
        eth() / o4(47) / sa.Raw(gre(0x88BE) + inner_eth),
        eth() / o4(47) / sa.Raw(gre(0x88BE, 0x1000, b"\x00\x00\x00\x01") + bytes.fromhex("1000000100000000") + inner_eth),
        eth() / o4(47) / sa.Raw(gre(0x22EB, 0x1000, b"\x00\x00\x00\x01") + bytes.fromhex("200000010000000000000000")
                              + inner_eth),
        eth() / o4(47) / sa.Raw(gre(0x8847) + mpls(100) + inner),
        eth() / o4(47) / sa.Raw(gre(0x8909) + bytes.fromhex("0800010100010002") + inner),
        eth() / o4(47) / sa.Raw(gre(0x0800)) / o4(47, "192.0.2.2", "192.0.2.1") / sa.Raw(gre(0)),
        eth() / o4(47) / sa.Raw(gre(0x1234) + b"abcdef"),
        eth() / o4(47) / sa.Raw(b"\x20\x00"),
        eth() / o4(47) / sa.Raw(gre(0x0800, 0x2000, b"\x00\x00")),
        eth() / o4(47) / sa.Raw(pptp(b"\xff\x03\x00\x21" + inner)),
        eth() / o4(47) / sa.Raw(pptp(b"\x21" + bytes(i4 / http))),
        eth() / o4(47) / sa.Raw(pptp(b"\xff\x03\x00\x57" + bytes(i6 / dns))),
        eth() / o4(47) / sa.Raw(pptp(b"\xff\x03\xc0\x21" + bytes.fromhex("0101000801040578"))),
        eth() / o4(47) / sa.Raw(pptp(b"\xff\x03\x80\x21" + bytes.fromhex("0101000a03060a000001"))),
        eth() / o4(47) / sa.Raw(pptp(b"\xc2\x23" + bytes.fromhex("0101000a0461626364"))),
        eth() / o4(47) / sa.Raw(pptp(b"\xc0\x23" + bytes.fromhex("010100080175017070"))),
        eth() / o4(47) / sa.Raw(pptp(b"\xff\x03\x80\xfd" + bytes.fromhex("01010004"))),
        eth() / o4(47) / sa.Raw(pptp(b"\xff\x03\x00\xfd" + b"\x90\x01encrypted")),
        eth() / o4(47) / sa.Raw(pptp(b"\x00\xfd" + b"\x90\x02encrypted")),
        eth() / o4(47) / sa.Raw(pptp(b"\xff\x03\x12\x35" + b"unknown")),
        eth() / o4(47) / sa.Raw(pptp(b"", seq=False, ack=True)),
        eth() / o4(4) / i4 / syn,
        eth() / o4() / i6 / dns,
        eth() / o6() / i4 / http,
        eth() / o6() / i6 / dns,
        eth() / o4(4) / sa.Raw(b"\x60abcdefgh"),
        eth() / o4(41) / sa.Raw(b"\x40abcdefgh"),
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan() + inner_eth),
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan()) / sa.Ether(**imac) / sa.Dot1Q(vlan=3) / i4 / http,
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan()) / sa.Ether(**imac) / sa.ARP(),
        eth() / o4() / sa.UDP(sport=1234, dport=6081) / sa.Raw(bytes.fromhex("0000655800000700") + inner_eth),
        eth() / o4() / sa.UDP(sport=1234, dport=6081) / sa.Raw(bytes.fromhex("0100080000000700aabbccdd")) / i4 / dns,
        eth() / o4() / sa.UDP(sport=2152, dport=2152) / sa.Raw(b"\x30\xff" + len(inner).to_bytes(2, "big")
                                                                + b"\x00\x00\x00\x09" + inner),
        eth() / o4() / sa.UDP(sport=2152, dport=2152) / sa.Raw(gtp_ext + inner),
        eth(type=0x8847) / sa.Raw(mpls(10, 11) + inner),
        eth(type=0x8848) / sa.Raw(mpls(100) + bytes(i6 / dns)),
        eth(type=0x8847) / sa.Raw(mpls(100) + b"\x99abcdefgh"),
        eth(type=0x8847) / sa.Raw(mpls(100)[:2]),
        eth(type=0x8847) / sa.Raw(bytes.fromhex("00064040")),
        # nested: GRE > VXLAN, VXLAN > GRE, GRE > IPIP > VXLAN, 4in6 > PPTP
        eth() / o4(47) / sa.Raw(gre(0x0800)) / sa.IP(src="10.1.0.1", dst="10.1.0.2") / sa.UDP(sport=1, dport=4789)
        / sa.Raw(vxlan(3) + inner_eth),
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan()) / sa.Ether(**imac)
        / sa.IP(src="10.1.0.1", dst="10.1.0.2", proto=47) / sa.Raw(gre(0x0800)) / i4 / dns,
        eth() / o4(47) / sa.Raw(gre(0x0800)) / sa.IP(src="10.1.0.1", dst="10.1.0.2", proto=4)
        / sa.IP(src="10.2.0.1", dst="10.2.0.2") / sa.UDP(sport=2, dport=4789) / sa.Raw(vxlan(4) + inner_eth),
        eth() / sa.Dot1Q(vlan=9) / o6() / o4(47) / sa.Raw(pptp(b"\xff\x03\x00\x21" + bytes(i4 / dns))),
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan()) / sa.Ether(**imac) / sa.PPPoE(sessionid=1)
        / sa.PPP() / i4 / http,
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan()) / sa.Ether(**imac) / sa.PPPoE(sessionid=1)
        / sa.PPP(proto=0xC021) / sa.PPP_LCP_Echo(code=9, id=2, magic_number=7),
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan()) / sa.Ether(**imac) / sa.PPPoE(sessionid=1)
        / sa.PPP(proto=0x1235) / b"unknown",
        # tunnels in the frame's own PPPoE session
        eth() / sa.PPPoE(sessionid=4) / sa.PPP() / o4(47) / sa.Raw(gre(0x0800)) / i4 / dns,
        eth() / sa.Dot1Q(vlan=6) / sa.PPPoE(sessionid=4) / sa.PPP(proto=0x0057) / o6() / i4 / http,
        eth() / sa.PPPoE(sessionid=4) / sa.PPP() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan() + inner_eth),
        eth() / sa.PPPoE(sessionid=4) / sa.PPP() / o4() / sa.UDP(sport=2152, dport=2152) / sa.Raw(gtp_ext + inner),
        eth() / sa.PPPoE(sessionid=4) / sa.PPP() / o4(47) / sa.Raw(pptp(b"\xff\x03\xc0\x21" + bytes.fromhex("0101000801040578"))),
        eth() / sa.PPPoE(sessionid=4) / sa.PPP() / o4(47) / sa.Raw(pptp(b"\xff\x03\x00\x21" + bytes(i4 / dns))),
        eth() / sa.PPPoE(sessionid=4) / sa.PPP() / o4(47) / sa.Raw(gre(0x2000) + cdp),
        eth() / sa.PPPoE(sessionid=4, len=2 + 20 + 4 + 20 + 20 + 4) / sa.PPP() / o4(47) / sa.Raw(gre(0x0800)) / i4 / http,
        eth() / sa.PPPoE(sessionid=4) / sa.PPP() / o4(4) / sa.IP(src="10.9.0.1", dst="10.9.0.2", proto=47)
        / sa.Raw(gre(0x0800)) / i4 / syn,
        # protocols GRE carries that fastpkt does not decapsulate
        eth() / o4(47) / sa.Raw(gre(0x2000) + cdp),
        eth() / sa.Dot1Q(vlan=9) / o4(47) / sa.Raw(gre(0x2000, 0xB000, b"\x00\x00\x00\x00" * 3) + cdp),
        eth() / o4(47) / sa.Raw(gre(0x2000)),
        eth() / o4(47) / sa.Raw(gre(0x2000, 0x3000, b"\x00\x00\x00\x05")),
        eth() / o4(47) / sa.Raw(gre(0x0806) + bytes(sa.ARP(psrc="10.0.0.1", pdst="10.0.0.2"))),
        eth() / o4(47) / sa.Raw(gre(0x0800)) / o4(47, "192.0.2.5", "192.0.2.6") / sa.Raw(gre(0x2000) + cdp),
        eth() / o4(47) / sa.Raw(gre(0x9000) + loop[2]),
        *(eth(type=0x9000) / sa.Raw(x) for x in loop),
        eth() / sa.Dot1Q(vlan=9, type=0x9000) / sa.Raw(loop[5]),
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan()) / sa.Ether(**imac, type=0x9000) / sa.Raw(loop[3]),
        eth() / o4(47) / sa.Raw(gre(0x6558)) / sa.Ether(**imac, type=0x9000) / sa.Raw(loop[5]),
        # cut inner packets and lying lengths
        eth() / o4() / sa.UDP(sport=1234, dport=4789) / sa.Raw(vxlan() + inner_eth[:10]),
        eth() / o4(47) / sa.Raw(gre(0x0800) + inner[:12]),
        eth() / o4() / sa.UDP(sport=2152, dport=2152) / sa.Raw(b"\x30\xff\x00\x30\x00\x00\x00\x09"
                                                                + bytes(i4 / http)[:48]),
        eth() / o4(47) / sa.Raw(gre(0x0800)) / sa.IP(src="10.0.0.1", dst="10.0.0.2", len=400) / syn,
        eth() / o4() / sa.UDP(sport=1234, dport=4789, len=12) / sa.Raw(vxlan() + inner_eth),
        eth() / o4(47) / sa.Raw(pptp(b"\xff\x03\x00\x21" + inner)[:14]),
    ]
    # snapped inside the inner packet's headers (a transport header cut is tshark's _ws.short, no
    # transport protocol, where fastpkt counts data, with or without a tunnel: the corpus' KNOWN_PHS)
    frames += [sa.Ether(bytes(f)[:60]) for f in frames[1:9]]
    for f in frames[-8:]:
        f.wirelen = 200
    cw = b"\x00\x00\x00\x00"
    pw = [eth(type=0x8847) / sa.Raw(mpls(100) + cw + inner_eth),
          eth(type=0x8847) / sa.Raw(mpls(200, 100) + cw + bytes(sa.Ether(**imac) / i4 / dns)),
          eth() / o4(47) / sa.Raw(gre(0x8847) + mpls(100) + cw + inner_eth)]
    return frames, pw


@pytest.mark.tshark
def test_ppp_on_gre_v0_matches_tshark(tmp_path):
    """PPP on a version 0 GRE header (protocol 0x880B; fastpkt decapsulates PPTP's version 1
    only): tshark's hierarchy names ppp, then each control protocol, compressed data, data for
    another protocol, ip. Scapy-built frames with and without the HDLC address/control bytes
    and protocol compression, with checksum, key and sequence words, the routing bit (tshark:
    gre alone), an empty payload; each PPP frame cut at every length (the IP length saying so)
    and snapped at every length (the frame's length saying more). Frames and bytes per node
    equal tshark 4.0's io,phs."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    sa = pytest.importorskip("_scapy_ref").sa
    mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")

    def frame(ppp, flags=0, words=b""):
        return (sa.Ether(**mac) / sa.IP(src="192.0.2.1", dst="192.0.2.2", proto=47)
                / sa.Raw(flags.to_bytes(2, "big") + b"\x88\x0b" + words + ppp))

    cp = bytes.fromhex("0101000801040578")
    ppps = [b"\xff\x03\xc0\x21" + cp, b"\xc0\x21" + cp, b"\xff\x03\x80\x21" + bytes.fromhex("0101000a03060a000001"),
            b"\xff\x03\x80\x57" + bytes.fromhex("0101000e010a0011223344556677"), b"\xff\x03\x80\xfd" + cp[:4],
            b"\xff\x03\xc0\x23" + bytes.fromhex("010100080175017070"), b"\xc2\x23" + bytes.fromhex("0101000a0461626364"),
            b"\xff\x03\x00\xfd\x90\x01encrypted", b"\xfd\x90\x02encrypted", b"\xff\x03\x12\x35unknown",
            b"\xff\x03\x00\x21" + bytes(sa.IP(src="10.0.0.1", dst="10.0.0.2"))[:19]]
    frames = [frame(p) for p in ppps]
    frames += [frame(ppps[0], 0xB000, b"\x00\x00\x00\x00" * 3), frame(ppps[2], 0x2000, b"\x00\x00\x00\x07"),
               frame(ppps[0], 0x4000, b"\x00\x00\x00\x00"), frame(b""), frame(b"", 0x3000, b"\x00" * 8)]
    frames += [frame(p[:n]) for p in ppps for n in range(1, len(p))]
    snapped = []
    for p in ppps:
        whole = bytes(frame(p))
        for n in range(38, len(whole)):
            f = sa.Ether(whole[:n])
            f.wirelen = len(whole)
            snapped.append(f)
    for name, pkts in (("gre_ppp.pcap", frames), ("gre_ppp_snapped.pcap", snapped)):
        path = tmp_path / name
        sa.wrpcap(str(path), pkts)
        st = fp.stats(str(path))
        ours = {r.path: (r.frames, r.bytes) for r in st.phs().itertuples()}
        assert ours == tshark_phs(path), name
        if pkts is frames:  # snapped, no control packet is whole
            assert {"eth:ip:gre:ppp:lcp", "eth:ip:gre:ppp:ipcp", "eth:ip:gre:ppp:ipv6cp", "eth:ip:gre:ppp:ccp",
                    "eth:ip:gre:ppp:pap", "eth:ip:gre:ppp:chap", "eth:ip:gre:ppp:comp_data",
                    "eth:ip:gre:ppp:data", "eth:ip:gre:ppp:ip"} <= set(ours)


@pytest.mark.tshark
def test_tunnels_match_tshark(tmp_path):
    """fp.stats reads records with tunnels off but counts what is inside each, as tshark's taps
    do: the hierarchy through every encapsulation (frames and bytes per node), the
    conversations of every IP/TCP/UDP/Ethernet header of every level, the DNS and HTTP names
    and trees of the innermost packet, io,stat's filters on inner fields. Against tshark 4.0's
    defaults on Scapy-built frames (_tunnel_frames), and for MPLS Ethernet pseudowires with
    tshark told the label carries one with a control word (`-d mpls.label==N,pwethcw`: by
    default tshark guesses whether a control word is there from whether the addresses'
    vendor prefixes are in its manufacturer database; fastpkt reads RFC 4448's word when the
    first nibble is 0)."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    sa = pytest.importorskip("_scapy_ref").sa
    frames, pw = _tunnel_frames(sa)
    for i, f in enumerate(frames + pw):  # no packet on a 0.5 s boundary: tshark's io,stat ends
        f.time = 1_700_000_000 + i * 0.3  # at the duration, a last packet there has no interval
    cases = [(tmp_path / "tunnels.pcap", frames, ()),
             (tmp_path / "pw.pcap", pw, ("-d", "mpls.label==100,pwethcw"))]
    for path, pkts, extra in cases:
        sa.wrpcap(str(path), pkts)
        st = fp.stats(str(path), interval=0.5, filters=IO_FILTERS)
        ours = {r.path: (r.frames, r.bytes) for r in st.phs().itertuples()}
        assert ours == tshark_phs(path, extra), path.name
        assert st.cut == {k: 0 for k in st.cut}
        if extra:
            assert {"eth:mpls:pweth.cw:pwethcw:eth:ip:tcp", "eth:mpls:mpls:pweth.cw:pwethcw:eth:ip:udp:dns",
                    "eth:ip:gre:mpls:pweth.cw:pwethcw:eth:ip:tcp"} <= set(ours)
            continue
        assert {"eth:ip:gre:ip:udp:vxlan:eth:ip:tcp", "eth:ip:udp:vxlan:eth:ip:gre:ip:udp:dns",
                "eth:ip:gre:ip:ip:udp:vxlan:eth:ip:tcp", "eth:vlan:ipv6:ip:gre:ppp:ip:udp:dns",
                "eth:ip:gre:erspan:eth:ip:tcp", "eth:ip:udp:geneve:ip:udp:dns", "eth:ip:udp:gtp:ip:tcp",
                "eth:mpls:mpls:ip:tcp", "eth:ip:gre:ppp:comp_data", "eth:ip:gre:ppp:chap",
                "eth:ip:gre:cmd:ip:tcp", "eth:ip:udp:vxlan:eth:pppoes:ppp:lcp",
                "eth:ip:udp:vxlan:eth:pppoes:ppp:ip:tcp:http", "eth:pppoes:ppp:ip:gre:ip:udp:dns",
                "eth:vlan:pppoes:ppp:ipv6:ip:tcp:http", "eth:pppoes:ppp:ip:udp:vxlan:eth:ip:tcp",
                "eth:pppoes:ppp:ip:udp:gtp:ip:tcp", "eth:pppoes:ppp:ip:gre:ppp:lcp", "eth:pppoes:ppp:ip:gre:cdp",
                "eth:ip:gre:cdp", "eth:vlan:ip:gre:cdp", "eth:ip:gre:arp", "eth:ip:gre:ip:gre:cdp",
                "eth:loop", "eth:loop:data", "eth:vlan:loop:data", "eth:ip:udp:vxlan:eth:loop:data",
                "eth:ip:gre:eth:loop:data"} <= set(ours)
        z = tshark_z(path, io=True)
        for layer in ("eth", "ip", "ipv6", "tcp", "udp"):
            theirs = tshark_conv(z, layer)
            assert theirs and ours_conv(st, layer, theirs) == theirs, layer
        io_theirs = [[int(x) for x in [c.strip() for c in line.strip().strip("|").split("|")][1:]]
                     for line in z["io"] if "<>" in line]
        assert st.io().drop(columns=["start", "frames", "bytes"]).values.tolist() == io_theirs
        names, hosts = tshark_names(path)
        assert names and hosts
        assert dict(st.dns_names().values.tolist()) == names
        assert dict(st.http_hosts().values.tolist()) == hosts
        rows = tshark_tree(path, "dns,tree")
        assert int(st.dns().query("topic == 'total'")["count"].sum()) == \
            sum(c for ind, t, c in rows if t == "Total Packets")
        rows = tshark_tree(path, "http,tree")
        assert int(st.http().query("topic == 'total'")["count"].sum()) == \
            sum(c for ind, t, c in rows if t == "Total HTTP Packets")


def _io_theirs(out: str) -> list[list[int]]:
    return [[int(x) for x in [c.strip() for c in line.strip().strip("|").split("|")][1:]]
            for line in out.splitlines() if "<>" in line]


@pytest.mark.tshark
def test_pppoe_codes_and_cut_control_protocols_match_tshark(tmp_path):
    """tshark 4.0 reads any header on EtherType 0x8864 as a PPPoE session: `pppoes` from its 6
    bytes on, whatever its version, type and code, then `ppp` from its protocol on, the control
    protocols from their 4-byte header on (PAP and CHAP from 1 byte), IPv4 from 1 byte, IPv6
    from none, data from 1 byte. Each PPP payload of _pppoe_frames (control protocols, IPv4,
    IPv6, an unknown protocol) in a session with code 0, a discovery code (9) and version 2,
    cut at every length with the length field saying so and snapped at every length (the
    length field and the frame's length saying more), and headers cut before 6 bytes; io,phs
    (frames and bytes) and io,stat's filters equal tshark's."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    sa = pytest.importorskip("_scapy_ref").sa
    mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    v4 = sa.IP(src="10.0.0.1", dst="10.0.0.2")
    sessions = [bytes(p) for p in (
        sa.PPP() / v4 / sa.TCP(sport=40000, dport=80, flags="S"),
        sa.PPP(proto=0x57) / sa.IPv6(src="fd00::1", dst="fd00::2") / sa.UDP(sport=5353, dport=53),
        sa.PPP(proto=0xC021) / sa.PPP_LCP_Configure(id=1, options=[sa.PPP_LCP_MRU_Option()]),
        sa.PPP(proto=0x8021) / sa.PPP_IPCP(code=1, id=3, options=[sa.PPP_IPCP_Option_IPAddress(data="10.0.0.1")]),
        sa.PPP(proto=0x8057) / bytes.fromhex("0104000e010a0011223344556677"),
        sa.PPP(proto=0xC023) / sa.PPP_PAP_Request(username="u", password="p"),
        sa.PPP(proto=0xC223) / sa.PPP_CHAP_ChallengeResponse(code=1, id=1, value=b"abcd", optional_name=b"x"),
        sa.PPP(proto=0x80FD) / bytes.fromhex("01010004"), sa.PPP(proto=0x1235) / b"unknown protocol")]
    cut, snapped = [], []
    for ppp in sessions:
        # an IP packet: cut within its header, then whole (a transport header cut short is
        # another disagreement: tshark names TCP from its ports on, fastpkt counts data)
        lengths = [*range(2 + {0x21: 20, 0x57: 40}[ppp[1]] + 1), len(ppp)] if ppp[1] in (0x21, 0x57) else \
            range(len(ppp) + 1)
        for head in (0x1100, 0x1109, 0x2100):
            for n in lengths:
                hdr = head.to_bytes(2, "big") + b"\x00\x01"
                cut.append(sa.Ether(**mac, type=0x8864) / sa.Raw(hdr + n.to_bytes(2, "big") + ppp[:n]))
                f = sa.Ether(bytes(sa.Ether(**mac, type=0x8864) / sa.Raw(hdr + len(ppp).to_bytes(2, "big") + ppp))[:20 + n])
                f.wirelen = 20 + len(ppp)
                snapped.append(f)
    cut += [sa.Ether(**mac, type=0x8864) / sa.Raw(b"\x11\x09\x00\x01"[:n]) for n in range(5)]
    # not ip/ipv6: tshark's match an IP header cut short, fastpkt's need it whole (after
    # Ethernet as well)
    filters = ["pppoes", "ppp", "lcp", "ipcp", "ipv6cp", "pap", "chap", "tcp", "udp"]
    for name, pkts in (("cut.pcap", cut), ("snapped.pcap", snapped)):
        for i, f in enumerate(pkts):
            f.time = 1_700_000_000 + i * 0.31
        path = tmp_path / name
        sa.wrpcap(str(path), pkts)
        st = fp.stats(str(path), interval=0.5, filters=filters)
        ours = {r.path: (r.frames, r.bytes) for r in st.phs().itertuples()}
        assert ours == tshark_phs(path), name
        theirs = _io_theirs(tshark_output(path, "io,stat,0.5," + ",".join(filters)))
        assert st.io().drop(columns=["start", "frames", "bytes"]).values.tolist() == theirs, name


@pytest.mark.tshark
def test_gre_carriers_match_tshark(tmp_path):
    """What GRE carries that fastpkt does not decapsulate, named as tshark 4.0's io,phs names it
    (its protocols fastpkt does not dissect folded into data): Frame Relay (0x6559; RFC 2427's
    UI frames with 2- and 3-byte addresses, a pad, NLPIDs IPv4, IPv6, SNAP, Q.933 and another;
    Cisco's EtherType encapsulation), NSH (0x894F; MD types 1 and 2, lengths under the base
    header's, next protocols IPv4, IPv6, Ethernet, NSH, MPLS and another), 802.11 on Aruba's
    protocols (0x8200-0x8370: data, QoS and 4-address data, null, management and control
    frames) and IPX (its length field whole and lying). Each whole (with GRE's checksum, key
    and sequence words too, and nested in a VXLAN tunnel and a PPPoE session) and cut at every
    length through its inner IP header (a transport header cut short is another
    disagreement: tshark names TCP from its ports on, fastpkt counts data). The conversations
    (eth, ip, ipv6, tcp, udp) count the headers inside them as tshark's do."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    sa = pytest.importorskip("_scapy_ref").sa
    mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    o4 = sa.IP(src="192.0.2.1", dst="192.0.2.2", proto=47)

    def gre(proto, payload, flags=0, words=b""):
        return sa.Ether(**mac) / o4 / sa.Raw(flags.to_bytes(2, "big") + proto.to_bytes(2, "big") + words + payload)

    i4 = bytes(sa.IP(src="10.0.0.1", dst="10.0.0.2", proto=253))
    i6 = bytes(sa.IPv6(src="fd00::1", dst="fd00::2", nh=59))
    ieth = bytes(sa.Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b", type=0x0800)) + i4
    tcp = bytes(sa.IP(src="10.0.0.1", dst="10.0.0.2") / sa.TCP(sport=40000, dport=80, flags="S"))

    def nsh(next_proto, payload, md=2, words=2, extra=b""):
        return ((63 << 6) | words).to_bytes(2, "big") + bytes([md, next_proto]) + b"\x00\x00\x01\xff" + extra + payload

    def ipx(socket, payload, length=None):
        body = b"\x00\x04" + b"\x00\x00\x00\x01" + b"\xff" * 6 + socket + b"\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + socket
        return b"\xff\xff" + (length or len(body) + 4 + len(payload)).to_bytes(2, "big") + body + payload

    w = dict(addr1="02:00:00:00:00:0b", addr2="02:00:00:00:00:0a", addr3="02:00:00:00:00:0c")
    snap = sa.LLC() / sa.SNAP() / sa.IP(src="10.0.0.1", dst="10.0.0.2", proto=253)
    carried = [
        (0x6559, b"\x04\x01\x03\xcc" + i4), (0x6559, b"\x04\x01\x03\x8e" + i6), (0x6559, b"\x04\x01\x03\x00\xcc" + i4),
        (0x6559, b"\x04\x01\x03\x80\x00\x00\x00\x08\x00" + i4), (0x6559, b"\x04\x00\x01\x03\xcc" + i4),
        (0x6559, b"\x04\x01\x03\x99abc"), (0x6559, b"\x04\x01\x03\x08\x00\x75\x95"), (0x6559, b"\x04\x01\x08\x00" + i4),
        (0x894F, nsh(3, ieth)), (0x894F, nsh(1, i4)), (0x894F, nsh(2, i6)), (0x894F, nsh(1, i4, md=1, words=6, extra=bytes(16))),
        (0x894F, nsh(1, i4, words=0)), (0x894F, nsh(1, i4, words=1)), (0x894F, nsh(0x99, b"abcd")),
        (0x894F, nsh(4, nsh(2, i6))), (0x894F, nsh(5, b"\x00\x01\x41\x40" + i4)),
        (0x894F, nsh(5, b"\x00\x0c\x80\x40\x00\x0d\x01\x40" + i6)), (0x894F, nsh(5, b"\x00\x01\x41\x40\x12\x34")),
        (0x8200, bytes(sa.Dot11(type=2, subtype=0, **w) / snap)),
        (0x8370, bytes(sa.Dot11(type=2, subtype=8, **w) / sa.Dot11QoS() / snap)),
        (0x8210, bytes(sa.Dot11(type=2, subtype=0, FCfield=3, addr4="02:00:00:00:00:0d", **w) / snap)),
        (0x8250, bytes(sa.Dot11(type=2, subtype=4, **w))), (0x8200, bytes(sa.Dot11(type=1, subtype=13, addr1=w["addr1"]))),
        (0x8200, bytes(sa.Dot11(type=0, subtype=8, addr1="ff:ff:ff:ff:ff:ff", addr2=w["addr2"], addr3=w["addr2"])
                       / sa.Dot11Beacon() / sa.Dot11Elt(ID=0, info=b"ssid"))),
        (0x8137, ipx(b"\x40\x00", b"hello")), (0x8137, ipx(b"\x40\x00", b"hello", length=16)),
    ]
    frames = [gre(proto, p[:n]) for proto, p in carried for n in range(len(p) + 1)]
    frames += [gre(0x894F, nsh(3, bytes(sa.Ether(**mac, type=0x0800)) + tcp)), gre(0x6559, b"\x04\x01\x03\xcc" + tcp),
               gre(0x894F, nsh(1, tcp), 0xB000, bytes(12)), gre(0x6559, b"\x04\x01\x03\xcc" + i4, 0x2000, b"\x00\x00\x00\x07"),
               gre(0x8380, carried[19][1]),  # not one of Aruba's protocols: gre alone
               sa.Ether(**mac) / sa.PPPoE(sessionid=4) / sa.PPP() / bytes(gre(0x894F, nsh(1, tcp)))[14:],
               sa.Ether(**mac) / sa.IP(src="192.0.2.1", dst="192.0.2.2") / sa.UDP(sport=1234, dport=4789)
               / sa.Raw(b"\x08\x00\x00\x00\x00\x00\x07\x00") / gre(0x6559, b"\x04\x01\x03\xcc" + tcp)]
    path = tmp_path / "gre_carried.pcap"
    sa.wrpcap(str(path), frames)
    st = fp.stats(str(path))
    ours = {r.path: (r.frames, r.bytes) for r in st.phs().itertuples()}
    assert ours == tshark_phs(path)
    assert {"eth:ip:gre:fr:ip", "eth:ip:gre:fr:ipv6", "eth:ip:gre:fr:data", "eth:ip:gre:nsh:eth:ip:tcp",
            "eth:ip:gre:nsh:ipv6", "eth:ip:gre:nsh:nsh:ipv6", "eth:ip:gre:nsh:data", "eth:ip:gre:wlan:data",
            "eth:ip:gre:wlan", "eth:ip:gre:ipx:data", "eth:pppoes:ppp:ip:gre:nsh:ip:tcp",
            "eth:ip:udp:vxlan:eth:ip:gre:fr:ip:tcp", "eth:ip:gre:nsh:mpls:ip", "eth:ip:gre:nsh:mpls:mpls:ipv6",
            "eth:ip:gre:nsh:mpls:data"} <= set(ours)
    # the conversations inside them, as tshark taps every header; not Aruba's 802.11, whose
    # LLC/SNAP IP packets tshark taps and fastpkt leaves as data
    path = tmp_path / "gre_carried_conv.pcap"
    sa.wrpcap(str(path), [f for f in frames if not 0x8200 <= int.from_bytes(bytes(f)[36:38], "big") <= 0x8370])
    st = fp.stats(str(path))
    z = tshark_z(path, io=False)
    for layer in ("eth", "ip", "ipv6", "tcp", "udp"):
        theirs = tshark_conv(z, layer)
        assert theirs and ours_conv(st, layer, theirs) == theirs, layer


@pytest.mark.tshark
def test_pptp_cut_control_protocols_match_tshark(tmp_path):
    """PPTP's PPP frame (RFC 2637 enhanced GRE, which fastpkt decapsulates) cut at every length
    by the IP length: tshark names ppp from its protocol on, then the control protocol from its
    4-byte header (LCP, IPCP, IPV6CP, CCP), PAP, CHAP and data from 1 byte, compressed data
    from none; io,phs (frames and bytes) equals tshark 4.0's."""
    if not have("tshark"):
        pytest.skip("tshark not installed")
    sa = pytest.importorskip("_scapy_ref").sa
    mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    cp = bytes.fromhex("0101000801040578")
    ppps = [b"\xff\x03\xc0\x21" + cp, b"\xc0\x21" + cp, b"\xff\x03\x80\x21" + bytes.fromhex("0101000a03060a000001"),
            b"\xff\x03\x80\x57" + bytes.fromhex("0101000e010a0011223344556677"), b"\xff\x03\x80\xfd" + cp[:4],
            b"\xff\x03\xc0\x23" + bytes.fromhex("010100080175017070"), b"\xc2\x23" + bytes.fromhex("0101000a0461626364"),
            b"\xff\x03\x00\xfd\x90\x01encrypted", b"\xfd\x90\x02encrypted", b"\xff\x03\x12\x35unknown"]
    frames = []
    for ppp in ppps:
        for n in range(len(ppp) + 1):
            gre = b"\x30\x01\x88\x0b" + n.to_bytes(2, "big") + b"\x00\x07" + b"\x00\x00\x00\x01"
            frames.append(sa.Ether(**mac) / sa.IP(src="192.0.2.1", dst="192.0.2.2", proto=47) / sa.Raw(gre + ppp[:n]))
    path = tmp_path / "pptp_cut.pcap"
    sa.wrpcap(str(path), frames)
    ours = {r.path: (r.frames, r.bytes) for r in fp.stats(str(path)).phs().itertuples()}
    assert ours == tshark_phs(path)
    assert {"eth:ip:gre:ppp:lcp", "eth:ip:gre:ppp:pap", "eth:ip:gre:ppp:comp_data", "eth:ip:gre:ppp:data"} <= set(ours)
