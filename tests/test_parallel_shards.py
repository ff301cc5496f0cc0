"""Per-shard reading of workers=N (fastpkt.parallel, csrc/dissect/keypass.c): every worker
reads the whole input and keys plain TCP/UDP records from their first bytes, dissecting only
its own packets and those the key pass cannot key. Crafted captures (built with Scapy) put
every case the key pass answers or declines side by side: VLAN stacks, IPv4 options and odd
lengths, IPv6 with and without extension headers, fragments, tunnels, ICMP, non-IP, cut
transport headers, the Linux cooked and raw IP link types. Every run must give what one
engine gives (test_parallel.check_all: rows, order, ids, counters, streams, hellos, HTTP)
and skip exactly the packets the capture was built with as plain TCP/UDP."""
from __future__ import annotations

import gzip
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import fastpkt as fp
from test_parallel import check_all, generated, shuffled_hello_conns, stream_rows  # noqa: F401
from test_source_chunks import ETH_IP_UDP

T0 = 1_700_000_000.0


def both_ways(fwd, rev, n=3):
    """n packets each way of one conversation (so both directions must reach one shard)."""
    out = []
    for i in range(n):
        out += [fwd(i), rev(i)]
    return out


def keyable_and_not():
    """(packets the key pass keys, packets it must leave to the dissection), Ethernet."""
    from scapy.layers.inet import GRE, ICMP, IP, TCP, UDP, IPOption_RR, fragment
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting
    from scapy.layers.l2 import ARP, LLC, Dot1AD, Dot1Q, Ether
    from scapy.layers.vxlan import VXLAN

    E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    keyed = []
    for k in range(8):  # plain TCP and UDP over several address pairs: both shards get some
        a, b = "10.0.%d.1" % k, "10.0.%d.2" % k
        keyed += both_ways(lambda i: E / IP(src=a, dst=b) / TCP(sport=1000 + k, dport=80, flags="A", seq=i),
                           lambda i: E / IP(src=b, dst=a) / TCP(sport=80, dport=1000 + k, flags="A", ack=i))
        keyed += both_ways(lambda i: E / IP(src=a, dst=b) / UDP(sport=2000 + k, dport=5000) / b"q",
                           lambda i: E / IP(src=b, dst=a) / UDP(sport=5000, dport=2000 + k) / b"r")
    keyed += both_ways(lambda i: E / IP(src="10.1.0.1", dst="10.1.0.2", options=[IPOption_RR()]) / TCP(sport=3000, dport=22),
                       lambda i: E / IP(src="10.1.0.2", dst="10.1.0.1") / TCP(sport=22, dport=3000))
    keyed += both_ways(lambda i: E / Dot1Q(vlan=7) / IP(src="10.2.0.1", dst="10.2.0.2") / UDP(sport=3001, dport=9999),
                       lambda i: E / Dot1Q(vlan=7) / IP(src="10.2.0.2", dst="10.2.0.1") / UDP(sport=9999, dport=3001))
    keyed += both_ways(lambda i: E / Dot1AD(vlan=9) / Dot1Q(vlan=8) / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=3002, dport=443),
                       lambda i: E / Dot1AD(vlan=9) / Dot1Q(vlan=8) / IPv6(src="fd00::2", dst="fd00::1") / TCP(sport=443, dport=3002))
    # the same addresses and ports on another VLAN: another flow, maybe the same shard
    keyed += both_ways(lambda i: E / Dot1Q(vlan=70) / IP(src="10.2.0.1", dst="10.2.0.2") / UDP(sport=3001, dport=9999),
                       lambda i: E / Dot1Q(vlan=70) / IP(src="10.2.0.2", dst="10.2.0.1") / UDP(sport=9999, dport=3001))
    # a total length of 0 (TSO: flagged ip4_bad_len, the capture gives the length) and one
    # longer than the frame (flagged, cut to the frame): anomalies counted once over shards
    keyed += both_ways(lambda i: E / IP(src="10.3.0.1", dst="10.3.0.2", len=0) / TCP(sport=3003, dport=80),
                       lambda i: E / IP(src="10.3.0.2", dst="10.3.0.1", len=900) / TCP(sport=80, dport=3003))
    other = []
    dgram = E / IP(src="10.4.0.1", dst="10.4.0.2", id=77) / UDP(sport=3004, dport=53) / (b"d" * 2500)
    other += [E / f for f in fragment(dgram[IP], fragsize=1000)]
    other += [E / IP(src="172.16.0.1", dst="172.16.0.2") / UDP(sport=4789, dport=4789) / VXLAN(vni=5) / E /
              IP(src="10.5.0.1", dst="10.5.0.2") / TCP(sport=3005, dport=80) for _ in range(3)]
    other += [E / IP(src="172.16.0.1", dst="172.16.0.2") / UDP(sport=6081, dport=40000) / (b"g" * 30)]
    other += [E / IP(src="10.6.0.1", dst="10.6.0.2") / ICMP(id=9, seq=i) for i in range(3)]
    other += [E / IP(src="10.6.0.2", dst="10.6.0.1") / ICMP(type=0, id=9, seq=i) for i in range(3)]
    other += [E / ARP(psrc="10.7.0.1", pdst="10.7.0.2"), E / LLC() / b"stp-ish"]
    other += [E / IPv6(src="fd00::3", dst="fd00::4") / IPv6ExtHdrHopByHop() / TCP(sport=3006, dport=80),
              E / IPv6(src="fd00::3", dst="fd00::4") / IPv6ExtHdrRouting(addresses=["fd00::9"], segleft=1) /
              TCP(sport=3006, dport=80)]
    other += [E / IP(src="10.8.0.1", dst="10.8.0.2", len=30) / TCP(sport=3007, dport=80)]  # TCP cut: bad_transport
    other += [E / IP(src="10.8.0.1", dst="10.8.0.2", ihl=4) / UDP(sport=3008, dport=80)]  # IHL < 5
    other += [E / IP(src="172.16.0.3", dst="172.16.0.4") / GRE() / IP(src="10.9.0.1", dst="10.9.0.2") / UDP(sport=3009, dport=53)]
    other += [E / Dot1Q(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / Dot1Q(vlan=4) / Dot1Q(vlan=5) /
              IP(src="10.10.0.1", dst="10.10.0.2") / TCP(sport=3010, dport=80)]  # past FP_MAX_VLAN tags
    return keyed, other


def write(path: Path, pkts, linktype=None) -> str:
    scapy = pytest.importorskip("scapy.all")
    for k, p in enumerate(pkts):
        p.time = T0 + k * 0.001
    scapy.wrpcap(str(path), pkts, linktype=linktype) if linktype else scapy.wrpcap(str(path), pkts)
    return str(path)


def interleave(a, b):
    out = []
    for i in range(max(len(a), len(b))):
        out += a[i:i + 1] + b[i:i + 1]
    return out


def test_key_pass_skips_exactly_the_plain_packets(tmp_path):
    pytest.importorskip("scapy.all")
    keyed, other = keyable_and_not()
    path = write(tmp_path / "mixed.pcap", interleave(keyed, other))
    check_all(path, workers=(2, 3, 4))
    for n in (2, 3, 4):
        fl = fp.flows(path, workers=n)
        fl.to_pandas()
        assert fl.stats["workers"] == n
        # each plain packet is dissected by the one worker that keeps it and skipped by the others
        assert fl.stats["key_pass_skips"] == (n - 1) * len(keyed)
    one = fp.flows(path, workers=1)
    one.to_pandas()
    assert one.stats["anomalies"] >= 6 and "key_pass_skips" not in one.stats  # the 6 odd lengths at least


@pytest.mark.parametrize("linktype", [113, 276, 101])  # Linux cooked v1 and v2, raw IP
def test_key_pass_on_other_link_types(tmp_path, linktype):
    scapy = pytest.importorskip("scapy.all")
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import CookedLinux, CookedLinuxV2

    def link(p):
        if linktype == 113:
            return CookedLinux(pkttype=0, lladdrtype=1, proto=0x86DD if IPv6 in p else 0x0800) / p
        if linktype == 276:
            return CookedLinuxV2(proto=0x86DD if IPv6 in p else 0x0800) / p
        return p

    pkts = []
    for k in range(6):
        pkts += both_ways(lambda i: link(IP(src="10.0.0.%d" % k, dst="10.0.1.1") / TCP(sport=1000 + k, dport=80)),
                          lambda i: link(IP(src="10.0.1.1", dst="10.0.0.%d" % k) / TCP(sport=80, dport=1000 + k)))
        pkts += both_ways(lambda i: link(IPv6(src="fd00::%x" % (k + 1), dst="fd00::ff") / UDP(sport=2000 + k, dport=53) / b"q"),
                          lambda i: link(IPv6(src="fd00::ff", dst="fd00::%x" % (k + 1)) / UDP(sport=53, dport=2000 + k) / b"r"))
    path = write(tmp_path / ("l%d.pcap" % linktype), pkts, linktype=linktype)
    assert fp.read(path)[0].linktype == linktype
    check_all(path)
    fl = fp.flows(path, workers=2)
    assert len(fl.to_pandas()) == 12 and fl.stats["key_pass_skips"] == len(pkts)


def test_tunnel_ports_set_at_run_time_are_declined(tmp_path):
    """A port made a VXLAN port (fp.tunnel_ports) is dissected by every worker: its inner
    flows are the single engine's."""
    pytest.importorskip("scapy.all")
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    E = Ether()
    pkts = [E / IP(src="172.16.0.1", dst="172.16.0.2") / UDP(sport=50000 + i, dport=8472) / VXLAN(vni=i + 1) / E /
            IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1000, dport=80) for i in range(20)]
    path = write(tmp_path / "vx8472.pcap", pkts)
    try:
        fp.set_tunnel_ports(vxlan=(4789, 8472))
        one = fp.flows(path, workers=1).to_pandas()
        assert sorted(one["tunnel_id"]) == list(range(1, 21))
        two = fp.flows(path, workers=2)
        assert two.to_pandas().equals(one) and two.stats["key_pass_skips"] == 0
    finally:
        fp.set_tunnel_ports(**fp.DEFAULT_TUNNEL_PORTS)
    plain = fp.flows(path, workers=2)
    assert len(plain.to_pandas()) == 20 and plain.stats["key_pass_skips"] == 20


def test_generated_capture_under_expiries(generated):  # noqa: F811
    """Idle, active and close expiries decided by shards that skip most packets unread."""
    for kw in ({"idle_timeout": 0.2}, {"idle_timeout": 1.0, "active_timeout": 2.0}, {"bidirectional": False}):
        one = fp.flows(str(generated), workers=1, **kw)
        many = fp.flows(str(generated), workers=3, **kw)
        assert many.to_pandas().equals(one.to_pandas()), kw
        assert "workers" in many.stats and many.stats["flows_expired"] == one.stats["flows_expired"]
        assert many.stats["key_pass_skips"] > many.stats["packets"]


def test_hellos_over_interleaved_segments():
    from test_stream_reassembly import pcap

    data = pcap(shuffled_hello_conns(12, seed=5))
    hellos = list(fp.client_hellos(data, workers=3))
    assert sorted(h.sni for h in hellos) == sorted("c%d.interleaved.example" % i for i in range(12))
    check_all(data, workers=(2, 3, 5))


def test_fragments_and_tunnels(tmp_path):
    """UDP datagrams in 3 fragments and TCP connections inside VXLAN (one VNI each),
    interleaved: every worker reassembles and decapsulates them (the key pass declines
    both), and the counts are what was built."""
    scapy = pytest.importorskip("scapy.all")
    from scapy.layers.inet import IP, TCP, UDP, fragment
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN

    pkts = []
    for i in range(60):
        dgram = Ether() / IP(src="10.1.0.%d" % (i + 1), dst="10.2.0.1", id=1000 + i) / \
            UDP(sport=5000 + i, dport=53) / (bytes([i]) * 2500)
        for frag in fragment(dgram[IP], fragsize=1000):
            pkts.append(Ether() / frag)
        c, sv = IP(src="192.168.0.1", dst="192.168.0.2"), IP(src="192.168.0.2", dst="192.168.0.1")
        conn = [c / TCP(sport=40000, dport=80, flags="S", seq=0),
                sv / TCP(sport=80, dport=40000, flags="SA", seq=0, ack=1),
                c / TCP(sport=40000, dport=80, flags="A", seq=1, ack=1),
                c / TCP(sport=40000, dport=80, flags="PA", seq=1, ack=1) / (b"x" * 100),
                c / TCP(sport=40000, dport=80, flags="FA", seq=101, ack=1),
                sv / TCP(sport=80, dport=40000, flags="FA", seq=1, ack=102),
                c / TCP(sport=40000, dport=80, flags="A", seq=102, ack=2)]
        for seg in conn:
            pkts.append(Ether() / IP(src="172.16.0.1", dst="172.16.0.2") / UDP(sport=4789, dport=4789) /
                        VXLAN(vni=i + 1) / Ether() / seg)
    path = write(tmp_path / "frag_tunnel.pcap", pkts)
    fl = fp.flows(path, workers=2)
    df = fl.to_pandas()
    assert fl.stats["defrag"]["reassembled"] == 60 and fl.stats["key_pass_skips"] == 0
    assert sorted(df.loc[df["tunnel_id"] > 0, "tunnel_id"]) == list(range(1, 61))
    assert int((df["protocol_name"] == "UDP").sum()) >= 60
    check_all(path)


def test_every_kind_of_input(generated, tmp_path):  # noqa: F811
    """A display filter reading frame.number, on_error='skip', a compressed file and several
    files: every worker reads the input itself, as for a plain file."""
    src = str(generated)
    gz = tmp_path / "g.pcap.gz"
    with open(src, "rb") as f, gzip.open(gz, "wb", compresslevel=1) as g:
        shutil.copyfileobj(f, g)
    half = tmp_path / "h.pcap"
    fp.write(str(half), fp.read(src)[:5000])
    for source, kw in ((src, {"display_filter": "frame.number > 9 && (tcp.port == 443 || udp)"}), (src, {"on_error": "skip"}),
                       (str(gz), {}), ([src, str(half)], {})):
        one = fp.flows(source, workers=1, **kw).to_pandas()
        two = fp.flows(source, workers=2, **kw)
        assert two.to_pandas().equals(one) and "workers" in two.stats
        # a display filter dissects every record it reads: no packet is left to the key pass
        assert (two.stats["key_pass_skips"] > 0) == ("display_filter" not in kw)


def tshark_count(tshark: str, path: str, expr: str) -> int:
    out = subprocess.run([tshark, "-r", path, "-Y", expr, "-T", "fields", "-e", "frame.number"],
                         check=True, capture_output=True, text=True).stdout
    return len(out.split())


@pytest.mark.parametrize("expr", ["tcp.port == 443 || udp", "ip.len > 500 && tcp", "frame.number > 100 && tcp"])
def test_filtered_flows(generated, tshark, expr):  # noqa: F811
    src = str(generated)
    one = fp.flows(src, workers=1, display_filter=expr)
    want = one.to_pandas()
    two = fp.flows(src, workers=2, display_filter=expr)
    assert two.to_pandas().equals(want) and "workers" in two.stats
    assert two.stats["packets"] == one.stats["packets"] == tshark_count(tshark, src, expr) > 0


def test_filters_reading_application_layers(generated):  # noqa: F811
    """The filter's dissection is the one the engines read: the hello search and the streams
    take their payloads from it."""
    src = str(generated)
    expr = "tls || tcp.len > 0"
    for n in (2, 3):
        assert [repr(tuple(h)) for h in fp.client_hellos(src, workers=n, display_filter=expr)] == \
            [repr(tuple(h)) for h in fp.client_hellos(src, workers=1, display_filter=expr)]
        one = stream_rows(fp.streams(src, workers=1, display_filter=expr))
        many = fp.streams(src, workers=n, display_filter=expr)
        assert stream_rows(many) == one and len(one) > 100 and "workers" in many.stats


def test_budget_stop_ends_every_worker(generated):  # noqa: F811
    """A worker that stops (here: evictions at max_flows): one engine decides what leaves."""
    single = fp.flows(str(generated), workers=1, max_flows=150)
    fl = fp.flows(str(generated), workers=3, max_flows=150)
    assert fl.to_pandas().equals(single.to_pandas())
    assert "workers" not in fl.stats and fl.stats["evicted"] == single.stats["evicted"] > 0


def test_cut_capture_raises_like_one_engine(generated, tmp_path):  # noqa: F811
    data = Path(generated).read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    with pytest.raises(fp.TruncatedError):
        fp.flows(str(cut), workers=1).to_pandas()
    with pytest.raises(fp.TruncatedError):
        fp.flows(str(cut), workers=2).to_pandas()
    one = fp.flows(str(cut), workers=1, on_error="stop").to_pandas()
    assert fp.flows(str(cut), workers=2, on_error="stop").to_pandas().equals(one)


def test_pcapng_with_interfaces_declared_mid_file(tmp_path):
    from test_source_chunks import pcapng_file

    pkts = [ETH_IP_UDP[:-8] + struct.pack(">HHHH", 1000 + i % 50, 2000, 8, 0) for i in range(2000)]
    for every in (0, 300):
        path = tmp_path / ("m%d.pcapng" % every)
        path.write_bytes(pcapng_file(pkts, every))
        one = fp.flows(str(path), workers=1).to_pandas()
        assert len(one) == 50
        two = fp.flows(str(path), workers=2)
        assert two.to_pandas().equals(one) and two.stats["key_pass_skips"] > 0


@pytest.mark.parametrize("shards", [2, 3, 4])
def test_port_sweep_between_one_address_pair_spreads_over_shards(tmp_path, shards):
    """A client opening many connections to one server (or a scanner sweeping its ports) is
    one address pair: the ports alone must spread its flows, or one worker does all the work."""
    pytest.importorskip("scapy.all")
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    E = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    sweep = [E / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1024 + i, dport=53) / b"q" for i in range(64)]
    path = write(tmp_path / "sweep.pcap", sweep)
    per_shard = []
    for i in range(shards):
        fl = fp.Flows([fp.Reader(path)], _shard=(i, shards))
        per_shard.append(len(fl.to_pandas()))
    assert sum(per_shard) == 64
    even = 64 / shards
    assert all(even / 2 <= n <= even * 1.5 for n in per_shard), per_shard
    check_all(path, workers=(shards,))
