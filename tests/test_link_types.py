"""Link types from the field (csrc/dissect/wlan.c, loghdr.c) against tshark: 802.11 with
radiotap (FCS flag included) and PPI, plain 802.11, PFLOG, ENC, IPNET, NFLOG and NULL in
both byte orders. Frames are built by Scapy in a fresh interpreter (802.11, radiotap,
PFLog) or by hand from the headers' definitions (PPI, ENC, IPNET, NFLOG, NULL); tshark's
addresses and ports of each frame are what fastpkt must find. Also: link types registered
with fp.register_link_type against tshark's user_dlts, and a real kernel's NFLOG (iptables
-j NFLOG in a namespace, tcpdump -i nflog:N) against tshark."""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import have, tool_env
from _netns import Netns, NetnsError, requirements

FIELDS = ("ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport",
          "udp.dstport")

# Prints one hex frame per line for each link type: "<linktype> <hex>".
SCAPY_FRAMES = r"""
from scapy.all import IP, IPv6, TCP, UDP, Raw
from scapy.layers.dot11 import Dot11, Dot11Beacon, Dot11Elt, Dot11FCS, Dot11QoS, RadioTap
from scapy.layers.l2 import LLC, SNAP
from scapy.layers.pflog import PFLog

snap = LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800)
snap6 = LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x86DD)
a = dict(addr1="02:00:00:00:00:01", addr2="02:00:00:00:00:02", addr3="02:00:00:00:00:03")
tcp = IP(src="10.1.0.1", dst="10.1.0.2") / TCP(sport=40001, dport=443, flags="S")
udp6 = IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=5353, dport=9999) / Raw(b"x" * 12)
frames = [
    (127, RadioTap() / Dot11(type=2, subtype=0, FCfield="to_DS", **a) / snap / tcp),
    (127, RadioTap() / Dot11(type=2, subtype=8, FCfield="from_DS", **a) / Dot11QoS(TID=5) / snap6 / udp6),
    (127, RadioTap() / Dot11(type=0, subtype=8, **a) / Dot11Beacon() / Dot11Elt(ID=0, info=b"lab")),
    (127, RadioTap(present="Flags", Flags="FCS") / Dot11FCS(type=2, subtype=0, FCfield="to_DS+from_DS",
                                                        addr4="02:00:00:00:00:04", **a) / snap / tcp),
    (105, Dot11(type=2, subtype=0, FCfield="to_DS", **a) / snap6 / udp6),
    (105, Dot11(type=2, subtype=0, FCfield="to_DS+protected", **a) / Raw(b"\x00" * 40)),
    (117, PFLog(addrfamily=2, action=1) / tcp),
    (117, PFLog(addrfamily=24) / udp6),
]
for lt, f in frames:
    print(lt, bytes(f).hex())
print(105, bytes(Dot11(type=2, subtype=0, FCfield="to_DS", **a) / snap / tcp).hex())  # inside PPI
print(0, bytes(tcp).hex())
print(0, bytes(udp6).hex())
"""


def by_hand(ip4: bytes, ip6: bytes, wlan: bytes) -> list[tuple[int, bytes]]:
    """PPI around 802.11; ENC; IPNET; NFLOG; NULL in both byte orders."""
    def tlv(t: int, v: bytes) -> bytes:  # NFLOG TLV, little-endian host, padded to 4
        b = struct.pack("<HH", 4 + len(v), t) + v
        return b + b"\0" * (-len(b) % 4)

    nflog_hdr = tlv(1, struct.pack(">HBx", 0x0800, 3))  # NFULA_PACKET_HDR
    return [
        (192, struct.pack("<BBHI", 0, 0, 8, 105) + wlan),
        (109, struct.pack("<III", 2, 0x1234, 0) + ip4),
        (109, struct.pack(">III", 24, 0x1234, 0) + ip6),
        (226, bytes([1, 2, 0, 0]) + struct.pack(">I", len(ip4)) + b"\0" * 16 + ip4),  # dli_pktlen
        (226, bytes([1, 26, 0, 0]) + struct.pack(">I", len(ip6)) + b"\0" * 16 + ip6),
        (239, bytes([2, 0, 0, 0]) + nflog_hdr + tlv(10, b"lab\0") + tlv(9, ip4)),
        (239, bytes([10, 0, 0, 0]) + tlv(9, ip6)),
        (0, struct.pack("<I", 2) + ip4),
        (0, struct.pack(">I", 2) + ip4),
        (0, struct.pack("<I", 30) + ip6),
    ]


def write_pcap(path: Path, linktype: int, frames: list[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, b in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(b), len(b)) + b)


def tshark_rows(path: Path) -> list[dict[str, str]]:
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=f"]
    for name in FIELDS:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def ours(p) -> dict[str, str]:
    out = dict.fromkeys(FIELDS, "")
    if p.ip is not None:
        out["ip.src"], out["ip.dst"] = p.ip.src, p.ip.dst
    if p.ip6 is not None:
        out["ipv6.src"], out["ipv6.dst"] = p.ip6.src, p.ip6.dst
    for proto in ("tcp", "udp"):
        layer = getattr(p, proto)
        if layer is not None:
            out[proto + ".srcport"], out[proto + ".dstport"] = str(layer.sport), str(layer.dport)
    return out


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict[int, Path]:
    if not have("tshark"):
        pytest.skip("tshark is not installed")
    text = subprocess.run([sys.executable, "-c", SCAPY_FRAMES], capture_output=True, text=True,
                          check=True).stdout
    frames: dict[int, list[bytes]] = {}
    made = [(int(lt), bytes.fromhex(h)) for lt, h in (line.split() for line in text.splitlines())]
    ip4, ip6, wlan = made[-2][1], made[-1][1], made[-3][1]
    for lt, b in made[:-3] + by_hand(ip4, ip6, wlan):
        frames.setdefault(lt, []).append(b)
    d = tmp_path_factory.mktemp("linktypes")
    paths = {}
    for lt, fs in frames.items():
        paths[lt] = d / ("lt%d.pcap" % lt)
        write_pcap(paths[lt], lt, fs)
    return paths


@pytest.mark.parametrize("linktype", [127, 105, 192, 117, 109, 226, 239, 0])
def test_addresses_and_ports_match_tshark(captures, linktype):
    path = captures[linktype]
    pkts = list(fp.open(str(path)))
    rows = tshark_rows(path)
    assert len(pkts) == len(rows)
    assert [ours(p) for p in pkts] == rows
    assert all(p.linktype == linktype for p in pkts)
    if linktype != 105:  # the protected 802.11 frame has nothing decodable
        assert all(p.ip is not None or p.ip6 is not None for p in pkts
                   if not (p.wlan is not None and p.wlan.type == 0))  # the beacon


def test_flows_and_filters_on_802_11(captures):
    path = str(captures[127])
    df = fp.flows(path, progress=False).to_pandas()
    assert sorted(map(str, df.src_ip)) == ["10.1.0.1", "fd00::1"]
    assert [p.tcp.dport for p in fp.open(path, display_filter="tcp.dstport == 443")] == [443, 443]


def test_truncated_headers_do_not_crash():
    for lt in (127, 105, 192, 117, 109, 226, 239):
        for n in range(0, 40):
            p = fp.Packet(bytes([0xAA] * n), linktype=lt)
            assert p.ip is None or n >= 20


# ---- fp.register_link_type: DLT_USER rules against tshark's user_dlts -----------------------
# Registration is process-wide: these use DLT_USER8-13 (155-160), which no other test reads.
USER_FRAMES = r"""
from scapy.all import Ether, Dot1Q, IP, IPv6, TCP, UDP, Raw
v4 = [IP(src="10.9.0.1", dst="10.9.0.2") / TCP(sport=40000 + i, dport=80, flags="S") for i in range(3)]
v6 = [IPv6(src="fd09::1", dst="fd09::2") / UDP(sport=5000 + i, dport=53) / Raw(b"q" * i) for i in range(3)]
eth = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / v4[0],
       Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=7) / v6[1]]
for kind, frames in (("v4", v4), ("v6", v6), ("eth", eth)):
    for f in frames:
        print(kind, bytes(f).hex())
"""


def user_dlt_rows(path: Path, dlt: int, proto: str, header_len: int) -> list[dict[str, str]]:
    uat = '"User %d (DLT=%d)","%s","%d","","0",""' % (dlt - 147, dlt, proto, header_len)
    cmd = ["tshark", "-r", str(path), "-n", "-o", "uat:user_dlts:" + uat, "-T", "fields", "-E", "occurrence=f"]
    for name in FIELDS:
        cmd += ["-e", name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


@pytest.fixture(scope="module")
def user_frames() -> dict[str, list[bytes]]:
    if not have("tshark"):
        pytest.skip("tshark is not installed")
    pytest.importorskip("scapy")
    text = subprocess.run([sys.executable, "-c", USER_FRAMES], capture_output=True, text=True,
                          check=True).stdout
    out: dict[str, list[bytes]] = {}
    for kind, h in (line.split() for line in text.splitlines()):
        out.setdefault(kind, []).append(bytes.fromhex(h))
    return out


# (dlt, name, our rule, frames, header bytes before each frame, tshark's payload dissector)
def user_cases(frames: dict[str, list[bytes]]):
    def tagged(etype: int) -> bytes:  # an 8-byte probe header with the EtherType at offset 6
        return b"PROBE\x00" + struct.pack(">H", etype)
    return [
        (155, dict(header_len=4, next="ip"), [b"HDR!" + f for f in frames["v4"]], "ip", 4),
        (156, dict(header_len=0, next="ipv6"), frames["v6"], "ipv6", 0),
        (157, dict(header_len=6, next="ether"), [b"\xaa" * 6 + f for f in frames["eth"]], "eth_withoutfcs", 6),
        (158, dict(header_len=2, next="raw"), [b"\0\0" + f for f in frames["v4"] + frames["v6"]], "raw_ip", 2),
        (159, dict(header_len=8, ethertype_offset=6), [tagged(0x0800) + f for f in frames["v4"]], "ip", 8),
        (160, dict(header_len=8, ethertype_offset=6), [tagged(0x86DD) + f for f in frames["v6"]], "ipv6", 8),
    ]


def test_registered_link_types_match_tshark(user_frames, tmp_path):
    for dlt, rule, frames, proto, hlen in user_cases(user_frames):
        fp.register_link_type(dlt, "lab%d" % dlt, **rule)
        path = tmp_path / ("user%d.pcap" % dlt)
        write_pcap(path, dlt, frames)
        rows = user_dlt_rows(path, dlt, proto, hlen)
        pkts = list(fp.open(str(path)))
        assert len(pkts) == len(rows) == len(frames)
        assert [ours(p) for p in pkts] == rows, dlt
        assert all(p.ip is not None or p.ip6 is not None for p in pkts)
    assert fp.link_types()[159] == fp.LinkType("lab159", 8, "ethertype", 6)
    assert fp.link_types()[157].next == "ether"
    eth = list(fp.open(str(tmp_path / "user157.pcap")))
    assert eth[1].layers == ("Ether", "Dot1Q", "IPv6", "UDP") and eth[1].vlan.vlan == 7
    # engines and display filters read the same rule (C, no Python per packet)
    path = str(tmp_path / "user155.pcap")
    assert len(fp.flows(path, progress=False).to_pandas()) == 3
    assert [p.tcp.sport for p in fp.read(path, display_filter="tcp.srcport == 40001")] == [40001]


def test_register_link_type_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="decoded by fastpkt itself"):
        fp.register_link_type(1, "ethernet", next="ip")
    with pytest.raises(ValueError, match="one of next="):
        fp.register_link_type(161, "both", header_len=4, next="ip", ethertype_offset=0)
    with pytest.raises(ValueError, match="one of next="):
        fp.register_link_type(161, "neither", header_len=4)
    with pytest.raises(ValueError, match="next='ppp'"):
        fp.register_link_type(161, "ppp", next="ppp")
    with pytest.raises(ValueError, match="inside the 4-byte header"):
        fp.register_link_type(161, "outside", header_len=4, ethertype_offset=3)
    with pytest.raises(ValueError, match="out of range"):
        fp.register_link_type(70000, "big", next="ip")
    with pytest.raises(ValueError, match="header_len"):
        fp.register_link_type(161, "long", header_len=1 << 20, next="ip")
    assert 161 not in fp.link_types()
    # a header longer than the record: flagged, the record kept as payload
    fp.register_link_type(162, "short", header_len=40, next="ip")
    p = fp.Packet(b"\x45" * 20, linktype=162)
    assert "link_trunc" in p.anomalies and p.ip is None and p.payload == b"\x45" * 20


# ---- real kernel NFLOG: iptables -j NFLOG in a namespace, `tcpdump -i nflog:N` ---------------
NFLOG_SENDER = r"""
import socket, sys
v6 = sys.argv[1] == "1"
for fam, host in [(socket.AF_INET, "127.0.0.1")] + ([(socket.AF_INET6, "::1")] if v6 else []):
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.bind((host, 7101))
    srv.listen(1)
    c = socket.create_connection((host, 7101))
    a, _ = srv.accept()
    c.sendall(b"nflog" * 40)
    a.recv(4096)
    c.close(); a.close(); srv.close()
    u = socket.socket(fam, socket.SOCK_DGRAM)
    # 3000 bytes: fragmented on lo's MTU 1500; IPv4 reassembles before INPUT (one packet
    # logged), IPv6 after it (fragments logged, which tshark and fastpkt number differently)
    for n in (1, 100, 3000) if fam == socket.AF_INET else (1, 100):
        u.sendto(b"u" * n, (host, 7100))
    u.close()
"""


def test_real_kernel_nflog_matches_tshark(tmp_path):
    why = requirements(("ip", "tcpdump", "iptables"))
    if why:
        pytest.skip(why)
    if not have("tshark"):
        pytest.skip("tshark is not installed")
    pcap = tmp_path / "nflog.pcap"
    try:
        with Netns("fpnflog") as ns:
            rules = [["-p", "udp", "--dport", "7100"], ["-p", "tcp", "--dport", "7101"],
                     ["-p", "tcp", "--sport", "7101"]]
            log = ["-j", "NFLOG", "--nflog-group", "9", "--nflog-prefix", "fastpkt"]
            if not all(ns.iptables(["-A", "INPUT"] + r + log) for r in rules):
                pytest.skip("no NFLOG rule: %s" % ns.iptables_error)
            v6 = ns.has_ipv6 and all(ns.iptables(["-A", "INPUT"] + r + log, v6=True) for r in rules)
            ns.add_capture("nflog:9", pcap)
            r = ns.exec([sys.executable, "-c", NFLOG_SENDER, "1" if v6 else "0"])
            assert r.returncode == 0, r.stderr
            ns.stop_capture()
            assert not ns.incomplete, ns.incomplete
    except NetnsError as e:
        pytest.skip(str(e))
    rows = tshark_rows(pcap)
    pkts = list(fp.open(str(pcap)))
    assert len(pkts) == len(rows) >= 9  # TCP handshake, data, teardown and the datagrams
    assert [ours(p) for p in pkts] == rows
    assert all(p.linktype == 239 for p in pkts)
    big = [p for p in pkts if p.udp is not None and len(p.udp.payload) == 3000]
    assert len(big) == 1 and big[0].ip is not None and not big[0].anomalies
    flows = fp.flows(str(pcap), progress=False).to_pandas()
    assert set(flows.dst_port) == {7100, 7101}
