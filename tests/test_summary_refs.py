"""fastpkt.summary.summarize (counted in C, csrc/py/summary.c) against independent references:
tshark's per-frame field dumps of the real-capture corpus (refs/*.tsv), summed here into the
summary's sections; its bounded top-N sections past their key budget (Space-Saving: listed in
`approximate`, heavy hitters kept within the sketch's error bound) against exact counts of a
generated capture; and a cut file under both on_error modes against tshark's frames.

Frames the comparison leaves out, and why (tshark's counting quirks; the frames kept are cut
out of the capture with editcap, so both sides count the same frames):
  fragments         tshark reassembles IP fragments by default and shows the transport and
                    application layers once, on the datagram's last fragment; the summary counts
                    each frame's own headers (the IP header's protocol on every fragment).
  tunnels, quotes   frames with two IP headers (GRE, VXLAN, GTP-U, IP-in-IP; an ICMP error
                    quoting a datagram) list both addresses and both transports in one cell; the
                    summary counts the packet table's view (the innermost packet, the ICMP error's
                    own header), which test_corpus_tshark checks field by field.
  custom blocks     pcapng Custom Blocks are frames to tshark, not packets (RULE_CUSTOM_BLOCK).
  TCP reassembly    tshark shows a DNS-over-TCP, HTTP or TLS message on the segment completing it;
                    the summary reads each segment alone: application sections are compared on
                    frames without TCP payload or whose message starts and ends in the segment
                    (tshark shows it there), DNS over UDP always.
  KNOWN_FRAMES      single frames where the packet table and tshark disagree by design (the
                    reasons are test_corpus_tshark's KNOWN_DISAGREEMENTS).
"""
from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
from _fphelpers import corpus_dir, read_tsv, tool_env, tshark_status

import fastpkt as fp
from fastpkt import summary as fsum
from fastpkt.summary import summarize

ROOT = Path(__file__).resolve().parent.parent

CUSTOM_BLOCK_FRAMES = {"pcapngtest-le-test202.pcapng": {1, 7, 10}, "pcapngtest-be-test202.pcapng": {1, 7, 10}}
KNOWN_FRAMES = {
    ("ppp-ip4_bad_fragment.pcap", 1): "MPLS: tshark decodes the IPv4 packet under the labels",
    ("tcpdump-ipv4_invalid_hdr_length.pcap", 1): "IHL 4: tshark shows no ip.*; fastpkt flags ip4_bad_ihl",
    ("tcpdump-ipv6_invalid_length.pcap", 1): "39 of 40 IPv6 header bytes: tshark shows ipv6.src",
    ("tcpdump-udp-length-heapoverflow.pcap", 1): "4 of 8 UDP header bytes: tshark shows the ports",
}

KNOWN_PACKET_COUNT = {"ndpi-fuzz-2021-10-13.pcap": "record 0 runs past the end of the file: fastpkt, like libpcap, "
                                                  "delivers no packet (test_corpus_tshark's KNOWN_PACKET_COUNT)"}

# tshark's TCP reassembly waits for a segment not in the capture and never shows the message
# (its SNI, its Host) that fastpkt reads in the segment where it starts.
MISSING_SEGMENT = {"ndpi-tls_missing_ch_frag.pcap", "ppp-unidirectional_tcp_stream_with_missing_packet.pcap"}


def cells(value: str) -> list[str]:
    return [c for c in value.split(",") if c]


def comparable(name: str, row: dict[str, str]) -> bool:
    n = int(row["frame.number"])
    if n in CUSTOM_BLOCK_FRAMES.get(name, ()) or (name, n) in KNOWN_FRAMES:
        return False
    if row["ip.flags.mf"] not in ("", "0", "False") or row["ip.frag_offset"] not in ("", "0"):
        return False  # fragments
    if "44" in cells(row["ipv6.nxt"]):
        return False  # IPv6 fragment header
    if len(cells(row["ip.src"]) + cells(row["ipv6.src"])) > 1 or len(cells(row["eth.src"])) > 1 or \
            len(cells(row["tcp.srcport"]) + cells(row["udp.srcport"])) > 1:
        return False  # tunnels (an inner Ethernet header too: VXLAN), quoted datagrams
    return True


def expected(rows: list[dict[str, str]]) -> dict:
    """The summary's sections, summed from tshark's frames."""
    protos: Counter = Counter()
    talk_p: Counter = Counter()
    talk_b: Counter = Counter()
    ports: Counter = Counter()
    dns: Counter = Counter()
    sni: Counter = Counter()
    hosts: Counter = Counter()
    for r in rows:
        if r["udp.dstport"] == "53" and r["dns.flags.response"] in ("0", "False") and r["dns.qry.name"]:
            dns[cells(r["dns.qry.name"])[0]] += 1  # the first question's name
        if r["tcp.srcport"]:  # tshark decrypts QUIC Initials for their SNI; the summary does not
            sni.update(cells(r["tls.handshake.extensions_server_name"])[:1])
        hosts.update(cells(r["http.host"])[:1])
        for name, field in (("Ethernet", "eth.src"), ("IPv4", "ip.src"), ("IPv6", "ipv6.src"),
                            ("TCP", "tcp.srcport"), ("UDP", "udp.srcport"), ("ICMP", "icmp.type"),
                            ("ICMPv6", "icmpv6.type"), ("ARP", "arp.opcode")):
            protos[name] += bool(r[field])
        src = r["ip.src"] or r["ipv6.src"]
        if src:
            talk_p[src] += 1
            talk_b[src] += int(r["frame.len"])
        for proto, pre in (("tcp", "tcp"), ("udp", "udp")):
            if r[pre + ".srcport"] and int(r[pre + ".dstport"]) <= int(r[pre + ".srcport"]):
                ports["%s/%s" % (proto, r[pre + ".dstport"])] += 1
    return {"packets": len(rows), "bytes": sum(int(r["frame.len"]) for r in rows),
            "protocols": protos, "talkers_p": talk_p, "talkers_b": talk_b, "ports": ports, "dns": dns,
            "sni": sni, "hosts": hosts}


def cut_frames(src: Path, frames: list[int], out: Path) -> None:
    """The chosen frames (tshark's numbers) of src, written by editcap (Wireshark's)."""
    out.unlink(missing_ok=True)
    args = ["editcap", "-r", str(src), str(out)]
    # editcap takes ranges; one argument per run of consecutive frames keeps the line short
    runs: list[list[int]] = []
    for n in frames:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    args += ["%d-%d" % (a, b) if a != b else str(a) for a, b in runs]
    subprocess.run(args, capture_output=True, env=tool_env(), timeout=120)
    assert out.exists(), args


@pytest.fixture(scope="module")
def editcap() -> str:
    from _fphelpers import have
    if not have("editcap"):
        pytest.skip("editcap (Wireshark) is not installed")
    return "editcap"


def test_summary_sections_match_tshark(corpus_file, editcap, tmp_path):
    status = tshark_status(corpus_file)
    if status == "unreadable":
        pytest.skip("tshark cannot read it (unreadable): nothing to compare")
    if corpus_file in KNOWN_PACKET_COUNT:
        pytest.skip("known disagreement: " + KNOWN_PACKET_COUNT[corpus_file])
    corpus = corpus_dir()
    rows = read_tsv(corpus / "refs" / (corpus_file + ".tsv"))
    kept = [r for r in rows if comparable(corpus_file, r)]
    if not kept:
        pytest.skip("known disagreement: no frame of this capture is comparable (see the module doc)")
    part = corpus / corpus_file
    if len(kept) < len(rows):  # editcap cannot write some pcapng files: cut only when needed
        part = tmp_path / ("part" + Path(corpus_file).suffix)
        cut_frames(corpus / corpus_file, [int(r["frame.number"]) for r in kept], part)
    d = summarize(str(part), top=1 << 20, on_error="stop")
    want = expected(kept)
    assert (d["packets"], d["bytes"]) == (want["packets"], want["bytes"])
    for name, n in want["protocols"].items():
        assert d["protocols"].get(name, 0) == n, name
    assert dict(d["top_talkers_packets"]) == dict(want["talkers_p"])
    assert dict(d["top_talkers_bytes"]) == dict(want["talkers_b"])
    assert dict(d["top_dst_ports"]) == dict(want["ports"])
    assert d["approximate"] == []
    if not any(r["tcp.dstport"] == "53" or r["tcp.srcport"] == "53" for r in kept):
        assert dict(d["dns_queries"]) == dict(want["dns"])
        assert d["dns_names_unique"] == len(want["dns"])
    if corpus_file not in MISSING_SEGMENT:
        assert dict(d["tls_snis"]) == dict(want["sni"])
        assert dict(d["http_hosts"]) == dict(want["hosts"])


CUT = "derived-zeek-retransmit-fast009-cut.pcap"


def test_cut_file_raises_or_stops_with_everything_before_it(corpus):
    """A capture cut in its last record: on_error='raise' names the packet and offset; 'stop'
    summarises every whole record before the cut, as tshark reads them (refs/*.tsv)."""
    rows = read_tsv(corpus / "refs" / (CUT + ".tsv"))
    assert tshark_status(CUT) == "cut"
    with pytest.raises(fp.Error) as err:
        summarize(str(corpus / CUT))
    assert "offset" in str(err.value) and str(len(rows)) in str(err.value), str(err.value)
    d = summarize(str(corpus / CUT), on_error="stop", top=1000)
    want = expected(rows)
    assert (d["packets"], d["bytes"]) == (want["packets"], want["bytes"])
    assert dict(d["top_talkers_packets"]) == dict(want["talkers_p"])
    assert dict(d["top_dst_ports"]) == dict(want["ports"])
    assert d["protocols"]["TCP"] == want["protocols"]["TCP"]


HEAVY = {"10.0.0.%d" % (i + 1): 120 - 20 * i for i in range(5)}  # 120, 100, 80, 60, 40 packets
HEAVY_NAMES = {"heavy-%d.a-long-name.example.test" % i: 30 - 5 * i for i in range(3)}


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """A capture Scapy writes: 5 heavy talkers among 600 one-packet ones, 3 heavy DNS names (over
    16 bytes, so they count against the byte budget) among 300 one-query ones, shuffled."""
    scapy = pytest.importorskip("scapy.all")
    import random

    rng = random.Random(15)
    srcs = [a for a, n in HEAVY.items() for _ in range(n)] + ["10.1.%d.%d" % divmod(i, 250) for i in range(600)]
    names = [q for q, n in HEAVY_NAMES.items() for _ in range(n)] + \
        ["rare-%d.a-long-name.example.test" % i for i in range(300)]
    rng.shuffle(srcs)
    rng.shuffle(names)
    pkts = [scapy.Ether(dst="02:00:00:00:00:02") / scapy.IP(src=s, dst="10.9.9.9") / scapy.UDP(sport=40000, dport=9)
            for s in srcs]
    pkts += [scapy.Ether(dst="02:00:00:00:00:02") / scapy.IP(src="10.2.0.1", dst="10.9.9.53") /
             scapy.UDP(sport=40001, dport=53) / scapy.DNS(rd=1, qd=scapy.DNSQR(qname=q)) for q in names]
    path = tmp_path_factory.mktemp("crowded") / "crowded.pcap"
    scapy.wrpcap(str(path), pkts)
    truth = {"talkers": Counter(srcs), "names": Counter(names)}
    truth["talkers"]["10.2.0.1"] += len(names)
    return str(path), truth


def test_exact_while_the_keys_fit(crowded):
    path, truth = crowded
    d = summarize(path, top=10_000)
    assert d["approximate"] == []
    assert dict(d["top_talkers_packets"]) == dict(truth["talkers"])
    assert dict(d["dns_queries"]) == dict(truth["names"])
    assert d["dns_names_unique"] == len(truth["names"])


def test_past_the_budget_a_sketch_keeps_the_heavy_hitters(crowded, monkeypatch):
    """Space-Saving with k keys over N packets: a kept key's count is over by at most N / k and
    never under, and every key seen more than N / k times is kept (Metwally et al. 2005)."""
    path, truth = crowded
    monkeypatch.setattr(fsum, "SKETCH_KEYS", 64)
    monkeypatch.setattr(fsum, "SKETCH_KEY_BYTES", 40 * 34)  # about 40 of the long names
    d = summarize(path, top=6)
    assert d["approximate"] == ["top_talkers_packets", "top_talkers_bytes", "dns_queries", "dns_names_unique"]
    n = sum(truth["talkers"].values())
    top = dict(d["top_talkers_packets"])
    for addr in list(HEAVY) + ["10.2.0.1"]:  # the DNS client: 360 packets
        assert truth["talkers"][addr] <= top[addr] <= truth["talkers"][addr] + n // 64, addr
    assert [a for a, _ in d["top_talkers_packets"][:2]] == ["10.2.0.1", "10.0.0.1"]
    names = dict(d["dns_queries"])
    queries = sum(truth["names"].values())
    for name, count in HEAVY_NAMES.items():  # the byte budget keeps >= 40 names: error <= N / 40
        assert count <= names[name] <= count + queries // 40, name
    assert d["dns_names_unique"] <= 64  # a lower bound once sketched


GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_pcap.py"


def test_generated_capture_matches_the_generators_truth(tmp_path):
    """gen_pcap (the shared deterministic generator) writes what it made into a truth file:
    packets, bytes, packets per protocol, SYNs and RSTs, ClientHello SNIs and DNS query names."""
    import json
    import sys

    if not GEN.exists():
        pytest.skip("gen_pcap.py (../shared/bench) is not here: " + str(GEN))
    g = tmp_path / "g.pcap"
    subprocess.run([sys.executable, str(GEN), "--packets", "30000", "--seed", "15", "--out", str(g)],
                   check=True, capture_output=True, timeout=600)
    t = json.loads((tmp_path / "g.pcap.truth.json").read_text())
    d = summarize(str(g), top=1 << 20)
    assert (d["packets"], d["bytes"]) == (t["total_packets"], t["total_bytes"])
    names = {"Ethernet": "eth", "IPv4": "ipv4", "IPv6": "ipv6", "TCP": "tcp", "UDP": "udp", "ICMP": "icmp",
             "ICMPv6": "icmp6", "ARP": "arp", "DNS": "dns", "TLS": "tls"}
    assert {k: d["protocols"][k] for k in names} == {k: t["protocol_counts"].get(v, 0) for k, v in names.items()}
    assert (d["tcp_syn"], d["tcp_rst"]) == (t["events"]["tcp_syn"], t["events"]["tcp_rst"])
    assert sum(n for _, n in d["tls_snis"]) == t["sni_count"] and len(d["tls_snis"]) == t["sni_unique"]
    assert {k for k, _ in d["tls_snis"]} == set(t["snis"])
    assert sum(n for _, n in d["dns_queries"]) == t["dns_query_names_count"]
    assert d["dns_names_unique"] == t["dns_query_names_unique"]
    assert d["approximate"] == [] and d["anomalies"] == []


def tshark_tables(tshark: str, path: Path) -> tuple[Counter, dict[str, tuple[int, int]]]:
    """tshark's own aggregates: frames per protocol summed over io,phs's tree, and each IPv4/IPv6
    endpoint's Tx packets and Tx bytes (endpoints,ip / endpoints,ipv6)."""
    out = subprocess.run([tshark, "-r", str(path), "-n", "-q", "-z", "io,phs", "-z", "endpoints,ip",
                          "-z", "endpoints,ipv6"], capture_output=True, text=True, env=tool_env(),
                         timeout=300).stdout
    phs: Counter = Counter()
    tx: dict[str, tuple[int, int]] = {}
    section = ""
    for line in out.splitlines():
        words = line.split()
        if line.startswith(("Protocol Hierarchy", "IPv4 Endpoints", "IPv6 Endpoints")):
            section = line
        elif section.startswith("Protocol") and len(words) == 3 and words[1].startswith("frames:"):
            phs[words[0]] += int(words[1][len("frames:"):])
        elif section.endswith("Endpoints") and len(words) == 7 and words[1].isdigit():
            tx[words[0]] = (int(words[3]), int(words[4]))
    return phs, tx


PHS = {"Ethernet": ("eth",), "IPv4": ("ip",), "IPv6": ("ipv6",), "TCP": ("tcp",), "UDP": ("udp",),
       "ICMP": ("icmp",), "ICMPv6": ("icmpv6",), "ARP": ("arp",), "DNS": ("dns", "mdns", "llmnr")}


def test_summary_matches_tshark_phs_and_endpoints(corpus_file, editcap, tshark, tmp_path):
    """The same comparable frames as above, against tshark's io,phs and endpoints tables. tshark
    reassembles TCP, so DNS over TCP is compared only where there is none."""
    if tshark_status(corpus_file) == "unreadable" or corpus_file in KNOWN_PACKET_COUNT:
        pytest.skip("known disagreement: tshark cannot read it, or fastpkt rejects its first record")
    corpus = corpus_dir()
    rows = read_tsv(corpus / "refs" / (corpus_file + ".tsv"))
    kept = [r for r in rows if comparable(corpus_file, r)]
    if not kept:
        pytest.skip("known disagreement: no frame of this capture is comparable (see the module doc)")
    part = corpus / corpus_file
    if len(kept) < len(rows) or tshark_status(corpus_file) == "cut":
        part = tmp_path / ("part" + Path(corpus_file).suffix)
        cut_frames(corpus / corpus_file, [int(r["frame.number"]) for r in kept], part)
    phs, tx = tshark_tables(tshark, part)
    d = summarize(str(part), top=1 << 20)
    for name, protos in PHS.items():
        if name == "DNS" and any("53" in (r["tcp.srcport"], r["tcp.dstport"]) for r in kept):
            continue
        assert d["protocols"][name] == sum(phs[p] for p in protos), (name, dict(phs))
    talkers = {a: (n, dict(d["top_talkers_bytes"])[a]) for a, n in d["top_talkers_packets"]}
    assert talkers == {a: v for a, v in tx.items() if v[0]}
