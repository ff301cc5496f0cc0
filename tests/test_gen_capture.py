"""benchmarks/gen_capture.py, the benchmarks' synthetic capture: the same seed gives the same
bytes, and what it writes is what its truth file says, as tshark and Scapy read it."""
from __future__ import annotations

import collections
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from _fphelpers import have, tool_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gen_capture  # noqa: E402

PACKETS = 20_000


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "gen.pcap"
    truth = gen_capture.generate(str(path), PACKETS, seed=3)
    return path, truth


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.pcap", "b.pcap", "c.pcap"))
    gen_capture.generate(str(a), 3000, seed=7)
    gen_capture.main(["--packets", "3000", "--seed", "7", "--out", str(b)])
    gen_capture.generate(str(c), 3000, seed=8)
    assert sha256(a) == sha256(b)
    assert sha256(a) != sha256(c)
    assert json.loads(Path(str(a) + ".truth.json").read_text()) == \
        json.loads(Path(str(b) + ".truth.json").read_text())


def test_cached_generates_once(tmp_path, monkeypatch):
    monkeypatch.setattr(gen_capture, "OUT_DIR", str(tmp_path))
    path = gen_capture.cached(500, seed=2)
    assert Path(path).name == "gen_500_s2.pcap"
    stamp = Path(path).stat().st_mtime_ns
    assert gen_capture.cached(500, seed=2) == path
    assert Path(path).stat().st_mtime_ns == stamp
    assert not list(tmp_path.glob("*.part*"))


def tshark_fields(path, *fields, prefs=(), display=None):
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    for p in prefs:
        cmd += ["-o", p]
    if display:
        cmd += ["-Y", display]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=tool_env()).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.mark.tshark
@pytest.mark.skipif(not have("tshark"), reason="tshark not installed")
def test_tshark_reads_what_the_truth_says(capture):
    path, truth = capture
    checks = ["ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE"]
    rows = tshark_fields(path, "frame.protocols", "_ws.malformed", "ip.checksum.status",
                         "tcp.checksum.status", "udp.checksum.status", "icmp.checksum.status",
                         "icmpv6.checksum.status", "tcp.len", "udp.length", "dns.flags.response",
                         "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
                         "udp.srcport", "udp.dstport", "frame.time_epoch", prefs=checks)
    assert len(rows) == truth["total_packets"] == PACKETS
    assert not [r for r in rows if "2" in r[2:7]]  # checksum status "bad"
    # Bulk TCP and plain UDP carry random bytes, which some port's dissector may call
    # malformed; what is written as a protocol (HTTP, TLS, DNS, ICMP, ARP) must not be.
    assert not [r for r in rows if r[1] and ({"80", "443"} & {r[14], r[15]} or "53" in (r[16], r[17])
                                             or not (r[14] or r[16]))]
    times = [float(r[18]) for r in rows]
    assert all(a < b for a, b in zip(times, times[1:]))

    layers = collections.Counter()
    for r in rows:
        layers.update(set(r[0].split(":")))
    names = {"eth": "eth", "ipv4": "ip", "ipv6": "ipv6", "vlan": "vlan", "arp": "arp",
             "icmp": "icmp", "icmpv6": "icmpv6", "tcp": "tcp", "udp": "udp", "dns": "dns"}
    assert {ours: layers[theirs] for ours, theirs in names.items()} == \
        {ours: truth["protocol_counts"].get(ours, 0) for ours in names}

    ev = truth["events"]
    assert sum(int(r[7]) for r in rows if r[7]) == ev["tcp_payload_bytes"]
    assert sum(int(r[8]) - 8 for r in rows if r[8]) == ev["udp_payload_bytes"]
    assert sum(r[9] in ("0", "False") for r in rows) == ev["dns_queries"]
    assert sum(r[9] in ("1", "True") for r in rows) == ev["dns_responses"]

    flows = {"tcp": set(), "udp": set()}
    for r in rows:
        src, dst = r[10] or r[11], r[12] or r[13]
        for proto, sp, dp in (("tcp", r[14], r[15]), ("udp", r[16], r[17])):
            if sp:
                flows[proto].add(frozenset(((src, sp), (dst, dp))))
    assert (len(flows["tcp"]), len(flows["udp"])) == (truth["tcp_flows"], truth["udp_flows"])
    assert truth["flows"] == truth["tcp_flows"] + truth["udp_flows"]


@pytest.mark.tshark
@pytest.mark.skipif(not have("tshark"), reason="tshark not installed")
def test_tshark_finds_every_sni_and_request(capture):
    path, truth = capture
    snis = tshark_fields(path, "tls.handshake.extensions_server_name", display="tls.handshake.type == 1")
    assert [r[0] for r in snis] == truth["snis"]
    assert truth["sni_count"] == len(truth["snis"]) == truth["events"]["tls_client_hello"] > 0
    requests = tshark_fields(path, "http.request.method", display="http.request")
    assert len(requests) == truth["events"]["http_requests"] > 0
    responses = tshark_fields(path, "http.content_length", display="http.response")
    # Responses still open when the packet count is reached are cut, so tshark cannot
    # reassemble them: at most one per open conversation.
    assert 0 <= truth["events"]["http_requests"] - len(responses) <= gen_capture.OPEN_CONVERSATIONS


def test_scapy_rebuilds_the_same_checksums(capture):
    scapy_all = pytest.importorskip("scapy.all")
    path, _ = capture
    seen = collections.Counter()
    for i, pkt in enumerate(scapy_all.PcapReader(str(path))):
        if i == 3000:
            break
        for layer in (scapy_all.IP, scapy_all.TCP, scapy_all.UDP, scapy_all.ICMP,
                      scapy_all.ICMPv6EchoRequest, scapy_all.ICMPv6EchoReply):
            if layer in pkt:
                fresh = pkt.copy()
                del fresh[layer].chksum
                rebuilt = type(pkt)(bytes(fresh))
                assert rebuilt[layer].chksum == pkt[layer].chksum, (i, layer.__name__)
                seen[layer.__name__] += 1
    assert seen["IP"] and seen["TCP"] and seen["UDP"] and seen["ICMP"]


def test_bench_setup_recache_keeps_the_capture(capture, monkeypatch, capsys):
    """bench_read's --recache drops the capture's cached pages and reads them back: the file is
    the same bytes after it, and the faults it reports are at most one per page touched."""
    import mmap

    import bench_read

    path, _ = capture
    before = sha256(path)
    monkeypatch.setattr(sys, "argv", ["bench_read.py", "--pcap", str(path), "--recache"])
    a, got, skip = bench_read.bench_setup("doc\n", repeats=1)
    assert (a.recache, got, skip) == (True, str(path), set())
    assert sha256(path) == before
    faults, mib = bench_read.mapping_faults(str(path))
    pages = -(-path.stat().st_size // mmap.PAGESIZE)
    assert 1 <= faults <= pages and mib >= 1
    assert "page faults" in capsys.readouterr().err
