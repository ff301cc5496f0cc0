"""A tunnel that carries no IP packet (PPTP's LCP/CCP, GRE carrying CDP, VXLAN carrying ARP, a
PPPoE session's LCP): tables and flows read the innermost IP header there is, the one around the
tunnel, as tshark's last ip.src/ipv6.src and its conv,ip/conv,ipv6 do (csrc/dissect/dissect.h
fp_innermost_ip). The frames are the corpus's tunnel captures and ones Scapy builds."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import fastpkt as fp
from _fphelpers import tool_env, tshark_conv

CORPUS_TUNNELS = ("ppp-grepackets.pcap", "tcpdump-various_gre.pcap", "tcpdump-pptp.pcap",
                  "tcpdump-vxlan.pcap", "ndpi-reasm_segv_anon.pcapng", "zeek-baselines/gre-pptp.pcap")
FIELDS = ("frame.protocols", "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst")

SCAPY_FRAMES = """
import sys
from scapy.all import Ether, IP, IPv6, GRE, ARP, UDP, Raw, wrpcap
from scapy.layers.vxlan import VXLAN
from scapy.layers.ppp import PPPoE, PPP, PPP_LCP_Echo
from scapy.contrib.cdp import CDPv2_HDR, CDPMsgDeviceID
mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
arp = Ether(src="02:00:00:00:00:03", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="192.168.9.1", pdst="192.168.9.2")
frames = [
    Ether(**mac) / IP(src="10.0.0.1", dst="10.0.0.2") / GRE(proto=0x2000) /
    CDPv2_HDR(msg=[CDPMsgDeviceID(val=b"r1")]),
    Ether(**mac) / IP(src="10.0.1.1", dst="10.0.1.2") / UDP(sport=40000, dport=4789) / VXLAN(vni=7) / arp,
    Ether(**mac) / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=40001, dport=4789) / VXLAN(vni=8) / arp,
    Ether(**mac, type=0x8864) / PPPoE(sessionid=0x42) / PPP(proto=0xc021) / PPP_LCP_Echo(id=1, magic_number=5),
    Ether(**mac) / IP(src="10.0.2.1", dst="10.0.2.2") / GRE(version=1, key_present=1, proto=0x880B, key=6) /
    Raw(bytes.fromhex("ff03c021") + bytes(PPP_LCP_Echo(id=2, magic_number=9))),
    Ether(**mac) / IP(src="10.0.2.2", dst="10.0.2.1") / GRE(version=1, key_present=1, proto=0x880B, key=7) /
    Raw(bytes.fromhex("ff03c021") + bytes(PPP_LCP_Echo(id=2, magic_number=9))),
]
if sys.argv[2] == "keepalive":  # GRE carrying an IPv4 header carrying GRE back to the sender
    frames.append(Ether(**mac) / IP(src="10.0.0.1", dst="10.0.0.2") / GRE(proto=0x0800) /
                  IP(src="10.0.0.2", dst="10.0.0.1") / GRE(proto=0))
wrpcap(sys.argv[1], frames)
"""


def tshark_rows(path: Path) -> list[dict[str, str]]:
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def last_ip(row: dict[str, str]) -> tuple:
    """tshark's innermost IP header: (version, src, dst, IPv4 proto) from the last occurrences."""
    protos = row["frame.protocols"].split(":")
    versions = [p for p in protos if p in ("ip", "ipv6")]
    if not versions:
        return (0, None, None, None)
    if versions[-1] == "ip":
        return (4, row["ip.src"].split(",")[-1], row["ip.dst"].split(",")[-1], int(row["ip.proto"].split(",")[-1]))
    return (6, row["ipv6.src"].split(",")[-1], row["ipv6.dst"].split(",")[-1], None)


def table_ip(r) -> tuple:
    if r.ip_version == 0:
        assert pd.isna(r.proto) and pd.isna(r.src)
        return (0, None, None, None)
    return (int(r.ip_version), str(r.src), str(r.dst), int(r.proto) if r.ip_version == 4 else None)


def compare_table(path: Path) -> int:
    """The table's ip_version/src/dst/proto against tshark's last occurrences, frame by frame;
    frames quoting a packet in an ICMP error are left out (tshark lists the quoted header last).
    Returns how many frames have a tunnel carrying no IP."""
    rows = tshark_rows(path)
    df = fp.read(str(path)).to_pandas()
    assert len(df) == len(rows)
    no_ip = 0
    for i, (row, r) in enumerate(zip(rows, df.itertuples(index=False))):
        if "icmp" in row["frame.protocols"].split(":") or "icmpv6" in row["frame.protocols"].split(":"):
            continue
        assert table_ip(r) == last_ip(row), (path.name, i + 1, row)
        protos = row["frame.protocols"].split(":")
        tunnel_at = max((k for k, p in enumerate(protos) if p in ("gre", "vxlan", "gtp", "pppoes")), default=-1)
        no_ip += tunnel_at >= 0 and not {"ip", "ipv6"} & set(protos[tunnel_at:])
    return no_ip


def test_corpus_tunnels_table_against_tshark(corpus, tshark):
    no_ip = {}
    for name in CORPUS_TUNNELS:
        path = corpus / name
        if path.exists():
            no_ip[name] = compare_table(path)
    # frames 1 and 2 of ppp-grepackets (PPTP carrying CCP, an acknowledgement alone), the
    # keepalives and CDP of various_gre, the LCP of tcpdump-pptp
    assert no_ip["ppp-grepackets.pcap"] >= 2 and no_ip["tcpdump-pptp.pcap"] > 0, no_ip


def test_ppp_grepackets_first_frames(corpus):
    """The issue's frames, spelled out: tshark's eth:ip:gre:ppp:ccp and eth:ip:gre."""
    df = fp.read(str(corpus / "ppp-grepackets.pcap")).to_pandas()
    for k in (0, 1):
        r = df.iloc[k]
        assert (r.ip_version, r.proto, r.ttl, str(r.src), str(r.dst)) == (4, 47, 128, "192.168.2.65", "192.168.2.254")
        assert pd.isna(r.sport)


def flows_conv(path: Path) -> dict:
    """fp.flows summed per address pair, in tshark_conv's shape."""
    conv: dict = {}
    df = fp.flows(str(path), idle_timeout=1e9, active_timeout=1e9, progress=False).to_pandas()
    for r in df.itertuples(index=False):
        a, b = str(r.src_ip), str(r.dst_ip)
        side = conv.setdefault(tuple(sorted((a, b))), {a: (0, 0), b: (0, 0)})
        side[a] = (side[a][0] + int(r.fwd_packets), side[a][1] + int(r.fwd_bytes))
        side[b] = (side[b][0] + int(r.rev_packets), side[b][1] + int(r.rev_bytes))
    return conv


def build(tmp_path: Path, keepalive: bool) -> Path:
    path = tmp_path / ("keepalive.pcap" if keepalive else "no_ip.pcap")
    subprocess.run([sys.executable, "-c", SCAPY_FRAMES, str(path), "keepalive" if keepalive else "-"], check=True)
    return path


def test_scapy_built_tunnels_without_ip(tmp_path, tshark):
    path = build(tmp_path, keepalive=True)
    # every frame (the keepalive's inner GRE carries nothing: its inner IPv4 header is the last)
    assert compare_table(path) == 7
    pkts = list(fp.open(str(path)))
    # GRE carrying CDP is no tunnel (left undecoded, pkt.layers ends with 'GRE'): its IP is the only one
    assert [p.tunnels for p in pkts] == [(), (("VXLAN", 7),), (("VXLAN", 8),),
                                         (("PPPoE", 0x42),), (("PPTP", 6),), (("PPTP", 7),), (("GRE", None),)]


def test_flows_count_them_as_tshark_conv_ip(tmp_path, tshark):
    """One IP header per frame (no keepalive: tshark's conv,ip counts each header of a frame),
    so tshark's IP conversations are the innermost ones; the PPPoE LCP frame has none."""
    path = build(tmp_path, keepalive=False)
    want = tshark_conv(path, "conv,ip", "conv,ipv6")
    assert len(want) == 4
    assert flows_conv(path) == want


# UDP tunnels carrying no IP: a VXLAN ARP (IPv4 and IPv6 outside), a GTP-U echo request, Geneve
# carrying LLDP's EtherType (no tunnel to tshark or us) and Geneve bridging an ARP frame
UDP_FRAMES = """
import sys
from scapy.all import Ether, IP, IPv6, ARP, UDP, Raw, wrpcap
from scapy.layers.vxlan import VXLAN
from scapy.contrib.gtp import GTP_U_Header, GTPEchoRequest
from scapy.contrib.geneve import GENEVE
mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
arp = Ether(src="02:00:00:00:00:03", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="192.168.9.1", pdst="192.168.9.2")
wrpcap(sys.argv[1], [
    Ether(**mac) / IP(src="10.0.1.1", dst="10.0.1.2") / UDP(sport=40000, dport=4789) / VXLAN(vni=7) / arp,
    Ether(**mac) / IP(src="10.0.1.2", dst="10.0.1.1") / UDP(sport=4789, dport=40000) / VXLAN(vni=7) / arp,
    Ether(**mac) / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=40001, dport=4789) / VXLAN(vni=8) / arp,
    Ether(**mac) / IP(src="10.0.3.1", dst="10.0.3.2") / UDP(sport=2152, dport=2152) /
    GTP_U_Header(gtp_type=1, teid=0, S=1, seq=5) / GTPEchoRequest(),
    Ether(**mac) / IP(src="10.0.4.1", dst="10.0.4.2") / UDP(sport=50000, dport=6081) /
    GENEVE(vni=9, proto=0x88CC) / Raw(b"\\x02\\x07\\x04" + bytes(6) + b"\\x00\\x00"),
    Ether(**mac) / IP(src="10.0.4.2", dst="10.0.4.1") / UDP(sport=50001, dport=6081) / GENEVE(vni=9, proto=0x6558) / arp,
])
"""


def tshark_last_ports(path: Path) -> list[tuple]:
    """tshark's last udp.srcport/udp.dstport per frame, (None, None) where it has none."""
    out = subprocess.run(["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=l",
                          "-e", "udp.srcport", "-e", "udp.dstport"], capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [tuple(int(v) if v else None for v in line.split("\t")) for line in out.splitlines()]


def table_ports(path: Path) -> list[tuple]:
    df = fp.read(str(path)).to_pandas()
    return [(None, None) if pd.isna(r.sport) else (int(r.sport), int(r.dport)) for r in df.itertuples(index=False)]


def flows_conv_udp(path: Path) -> dict:
    """fp.flows' UDP flows in tshark_conv's conv,udp shape ('addr:port' endpoints)."""
    conv: dict = {}
    df = fp.flows(str(path), idle_timeout=1e9, active_timeout=1e9, progress=False).to_pandas()
    for r in df[df.protocol == 17].itertuples(index=False):
        a, b = f"{r.src_ip}:{r.src_port}", f"{r.dst_ip}:{r.dst_port}"  # tshark's spelling, IPv6 too
        side = conv.setdefault(tuple(sorted((a, b))), {a: (0, 0), b: (0, 0)})
        side[a] = (side[a][0] + int(r.fwd_packets), side[a][1] + int(r.fwd_bytes))
        side[b] = (side[b][0] + int(r.rev_packets), side[b][1] + int(r.rev_bytes))
    return conv


def test_vxlan_corpus_ports_against_tshark(corpus, tshark):
    """tcpdump-vxlan: its two ARP frames carry the tunnel's UDP ports (tshark's last udp.srcport),
    and their flows are tshark's conv,udp over the ARP frames; the ICMP frames inside keep no ports
    (the innermost IP's protocol is ICMP, tshark's last udp is the outer one: left out)."""
    path = corpus / "tcpdump-vxlan.pcap"
    rows = tshark_rows(path)
    want = tshark_last_ports(path)
    got = table_ports(path)
    no_ip = [i for i, row in enumerate(rows) if "ip" not in row["frame.protocols"].split(":")[5:]]
    assert len(no_ip) == 2
    assert [got[i] for i in no_ip] == [want[i] for i in no_ip] == [(42710, 4789), (52102, 4789)]
    assert all(got[i] == (None, None) for i in range(len(rows)) if i not in no_ip)
    assert flows_conv_udp(path) == tshark_conv(path, "conv,udp,arp")


def test_scapy_udp_tunnels_ports_against_tshark(tmp_path, tshark):
    path = tmp_path / "udp_tunnels.pcap"
    subprocess.run([sys.executable, "-c", UDP_FRAMES, str(path)], check=True)
    assert table_ports(path) == tshark_last_ports(path)
    assert compare_table(path) >= 3  # addresses too: the header around the tunnel
    want = tshark_conv(path, "conv,udp")
    assert len(want) == 5  # the two VXLAN directions are one conversation
    assert flows_conv_udp(path) == want
    pkts = list(fp.open(str(path)))
    # the reply from port 4789 is no tunnel to us (decoded on the destination port): plain UDP
    assert [p.tunnels for p in pkts] == [(("VXLAN", 7),), (), (("VXLAN", 8),), (), (), (("Geneve", 9),)]
