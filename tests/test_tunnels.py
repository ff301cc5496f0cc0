"""Tunnel decapsulation (csrc/dissect/tunnel.c, on by default) against tshark: the
corpus captures with GRE, VXLAN, GTP-U, MPLS and IP in IP, and traffic that real kernels
encapsulate in network namespaces (VXLAN, GRE with a key, IP in IP), where the TCP bodies
carried through the tunnel must hash equal to the bytes served (root only). A kernel built
without a tunnel type (no module to load either) skips that type saying which option its
/proc/config.gz lacks; GRE (with a key and bridging Ethernet) and Geneve are then checked on
a real kernel's HTTP download over loopback that Scapy encapsulates frame by frame."""
from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import have, tool_env

TUNNEL_FIELDS = ("vxlan.vni", "gre.key", "gtp.teid", "mpls.label", "geneve.vni", "pppoe.session_id",
                 "erspan.spanid")
FIELDS = ("frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
          "tcp.dstport", "udp.srcport", "udp.dstport", "icmp.type", "gre.proto", "cmd.sgt") + TUNNEL_FIELDS
# tcpdump-various_gre: GRE with Cisco MetaData (0x8909) carrying IPv4 (ICMP, PIM, keepalives).
CORPUS_TUNNELS = ("tcpdump-vxlan.pcap", "ppp-grepackets.pcap", "ndpi-reasm_segv_anon.pcapng",
                  "ppp-ip4_bad_fragment.pcap", "tcpdump-various_gre.pcap")
# GRE payloads fastpkt leaves undecoded (no tunnel recorded, so no gre.key) where tshark still
# lists the header's key: keepalives (protocol 0: an IP header and GRE header to bounce back,
# which tshark shows as ip:gre with nothing after) and CDP (0x2000, a layer 2 protocol).
UNDECODED_GRE = (0x0000, 0x2000)


@pytest.fixture(scope="module")
def tshark_ok():
    if not have("tshark"):
        pytest.skip("tshark is not installed")


def tshark_frames(path: Path, decode_as: tuple[str, ...] = ()) -> list[dict[str, str]]:
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for rule in decode_as:
        cmd += ["-d", rule]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent"),
                         check=False).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def split(cell: str) -> list[str]:
    return cell.split(",") if cell else []


def ip_chain(row: dict[str, str], what: str) -> list[str]:
    """Every IPv4/IPv6 `what` (src or dst) of the frame, outer to inner, in tshark's order."""
    v4, v6 = split(row["ip." + what]), split(row["ipv6." + what])
    out = []
    for proto in row["frame.protocols"].split(":"):
        if proto == "ip" and v4:
            out.append(v4.pop(0))
        elif proto == "ipv6" and v6:
            out.append(v6.pop(0))
    return out


def tunnel_ids(row: dict[str, str], name: str) -> list[int]:
    """tshark's values of a tunnel id field, less the keys of GRE headers in UNDECODED_GRE."""
    ids = [int(v, 0) for v in split(row[name])]
    protos = [int(v, 0) for v in split(row["gre.proto"])]
    if name == "gre.key" and len(protos) == len(ids):  # every GRE header of the frame has a key
        ids = [k for k, proto in zip(ids, protos) if proto not in UNDECODED_GRE]
    return ids


def compare(path: Path, decode_as: tuple[str, ...] = ()) -> int:
    """Per frame: the tunnel ids, the outermost and the innermost decoded addresses, the inner
    ports. Returns the number of tunnelled frames compared. `decode_as`: tshark's -d rules."""
    ours = list(fp.open(str(path), on_error="stop"))
    rows = tshark_frames(path, decode_as)
    assert len(ours) == len(rows)
    n = 0
    for p, row in zip(ours, rows):
        where = "%s frame %s" % (path.name, row["frame.number"])
        for name in TUNNEL_FIELDS:
            assert p.field(name, all=True) == tunnel_ids(row, name), (where, name)
        if row["cmd.sgt"]:  # the Cisco MetaData shim is decapsulated with its GRE header
            assert "GRE" in p.layers and p.outer_ip is not None, where
        if not p.tunnels:
            continue
        n += 1
        ips = [x for x in p.layers if x in ("IP", "IPv6")]
        for what in ("src", "dst"):
            chain = ip_chain(row, what)
            if p.outer_ip is not None:
                assert getattr(p.outer_ip, what) == chain[0], where
            inner = p.ip if p.ip is not None else p.ip6
            if inner is not None and not (p.icmp is not None and p.icmp.type in (3, 11)):
                assert getattr(inner, what) == chain[len(ips) - 1], where
        for proto in ("tcp", "udp"):
            layer = getattr(p, proto)
            if layer is not None:
                k = sum(1 for x in p.layers if x == proto.upper()) - 1
                assert layer.sport == int(split(row[proto + ".srcport"])[k]), where
                assert layer.dport == int(split(row[proto + ".dstport"])[k]), where
    return n


def test_corpus_tunnels(corpus, tshark_ok):
    seen = 0
    for name in CORPUS_TUNNELS:
        if (corpus / name).exists():
            seen += compare(corpus / name)
    assert seen >= 10


def test_decapsulate_false_keeps_the_outer_packet(corpus):
    path = str(corpus / "tcpdump-vxlan.pcap")
    outer = next(iter(fp.open(path, decapsulate=False)))
    inner = next(iter(fp.open(path)))
    assert outer.layers == ("Ether", "IP", "UDP") and outer.tunnels == () and outer.outer_ip is None
    assert inner.layers == ("Ether", "IP", "UDP", "VXLAN", "Ether", "IP", "ICMP")
    assert inner.outer_ip.src == outer.ip.src and inner.ip.src != outer.ip.src
    assert inner.outer_ip.checksum_ok() == outer.ip.checksum_ok()
    assert inner.wire == outer.raw
    # Packet() from bytes decapsulates the same way, unless told not to
    made = fp.Packet(outer.raw, 1, decapsulate=False)
    assert made.layers == outer.layers and made.tunnels == () and made.ip.src == outer.ip.src
    assert fp.Packet(outer.raw, 1).layers == inner.layers


def test_flows_key_on_the_inner_packet(corpus, tshark_ok):
    """The GTP-U capture's inner TCP connection is one flow (TEIDs differ by direction), with
    tshark's inner conversation counts."""
    path = corpus / "ndpi-reasm_segv_anon.pcapng"
    if not path.exists():
        pytest.skip("ndpi-reasm_segv_anon.pcapng is not in the vendored corpus (LGPL): needs ../shared/corpus")
    df = fp.flows(str(path), progress=False).to_pandas()
    tcp = df[df.protocol_name == "TCP"]
    assert len(tcp) == 1
    f = tcp.iloc[0]
    assert str(f.tunnel) == "GTP_U"
    out = subprocess.run(["tshark", "-r", str(path), "-n", "-q", "-z", "conv,tcp"], capture_output=True,
                         text=True, env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    line = next(x for x in out.splitlines() if "<->" in x)
    a, _, b = line.split()[:3]
    # after the addresses: frames and bytes (number and unit) for <-, -> and the total
    total = int(re.findall(r"(\d+) \S+ \S+", line.split("<->")[1])[2])
    assert int(f.packets) == total
    ends = {(ip, int(port)) for ip, port in (a.rsplit(":", 1), b.rsplit(":", 1))}
    assert {(f.src_ip, int(f.src_port)), (f.dst_ip, int(f.dst_port))} == ends
    outer = fp.flows(str(path), decapsulate=False, progress=False).to_pandas()
    assert set(outer.protocol_name.astype(str)) == {"UDP"} and outer.tunnel.isna().all()


# ---- real kernels encapsulate ---------------------------------------------------------

SERVER = r"""
import socket, sys
data = bytes(range(251)) * 800  # 200,800 bytes
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080)); s.listen(4)
print("ready", flush=True)
for _ in range(int(sys.argv[2])):
    c, _ = s.accept(); c.sendall(data); c.close()
"""
CLIENT = r"""
import socket, sys
for host in sys.argv[1:]:
    c = socket.create_connection((host, 8080), timeout=30)
    got = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += b
    assert got == bytes(range(251)) * 800, len(got)
"""
# link name -> (type and options, inner addresses of a and b, the tunnel pkt.tunnels reports)
TUNNELS = {
    "vx0": (["type", "vxlan", "id", "42", "dstport", "4789"], ("10.98.0.1", "10.98.0.2"), ("VXLAN", 42)),
    # Linux's own VXLAN port (iproute2's default without dstport): decoded after set_tunnel_ports
    "vx1": (["type", "vxlan", "id", "43", "dstport", "8472"], ("10.95.0.1", "10.95.0.2"), ("VXLAN", 43)),
    "gre1": (["type", "gre", "key", "77"], ("10.97.0.1", "10.97.0.2"), ("GRE", 77)),
    "ipip1": (["type", "ipip"], ("10.96.0.1", "10.96.0.2"), ("IPIP", None)),
}


# the kernel option each link type needs (Kconfig names)
KERNEL_OPTIONS = {"vxlan": "CONFIG_VXLAN", "gre": "CONFIG_NET_IPGRE", "ipip": "CONFIG_NET_IPIP"}


def kernel_lacks(kind: str, error: str) -> str:
    """Why this kernel cannot make `kind` links, from its build configuration."""
    option = KERNEL_OPTIONS[kind]
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            config = f.read()
    except OSError:
        return "this kernel cannot make %s links (ip link add: %s); no /proc/config.gz says why" % (kind, error)
    have_it = re.search(r"^%s=[ym]$" % option, config, re.M)
    modules = not re.search(r"^# CONFIG_MODULES is not set$", config, re.M)
    why = "%s is %s" % (option, "set" if have_it else "not set")
    if not modules:
        why += " and CONFIG_MODULES is not set (no module can add it)"
    return "kernel config: this kernel cannot make %s links (ip link add: %s): %s in /proc/config.gz" % (
        kind, error, why)


@pytest.mark.parametrize("name", list(TUNNELS))
def test_kernel_tunnels_in_namespaces(tmp_path, tshark_ok, name):
    from _netns import Netns, NetnsError, requirements, run

    why = requirements()
    if why:
        pytest.skip(why)
    pcap = tmp_path / "underlay.pcap"
    under = {"a": "10.99.0.1", "b": "10.99.0.2"}
    try:
        with Netns("fptuna") as a, Netns("fptunb") as b:
            ns = {"a": a, "b": b}
            va, vb = "fpt%da" % (id(a) % 10000), "fpt%db" % (id(a) % 10000)
            r = run(["ip", "link", "add", va, "type", "veth", "peer", "name", vb])
            if r.returncode != 0:
                pytest.skip("cannot create a veth pair: %s" % r.stderr.strip())
            for side, dev in (("a", va), ("b", vb)):
                run(["ip", "link", "set", dev, "netns", ns[side].name])
                for cmd in (["ip", "link", "set", dev, "name", "under0"], ["ip", "link", "set", "under0", "up"],
                            ["ip", "addr", "add", under[side] + "/24", "dev", "under0"]):
                    r = ns[side].exec(cmd)
                    assert r.returncode == 0, r.stderr
                ns[side].exec(["ethtool", "-K", "under0", "tso", "off", "gso", "off", "gro", "off"])
            made = {}
            opts, inner, tun = TUNNELS[name]
            cmds = {side: ["ip", "link", "add", name] + opts[:2] + ["remote", under[peer], "local", under[side]]
                    + opts[2:] + (["dev", "under0"] if name.startswith("vx") else [])
                    for side, peer in (("a", "b"), ("b", "a"))}
            r = a.exec(cmds["a"])
            if r.returncode != 0:
                pytest.skip(kernel_lacks(opts[1], r.stderr.strip()))
            r = b.exec(cmds["b"])
            assert r.returncode == 0, r.stderr
            for side, addr in (("a", inner[0]), ("b", inner[1])):
                for cmd in (["ip", "addr", "add", addr + "/24", "dev", name], ["ip", "link", "set", name, "up"]):
                    r = ns[side].exec(cmd)
                    assert r.returncode == 0, r.stderr
            made[name] = (inner, tun)
            a.add_capture("under0", pcap)
            servers = [b.popen([sys.executable, "-c", SERVER, inner[1], "1"], stdout=subprocess.PIPE, text=True)
                       for inner, _ in made.values()]
            for s in servers:
                assert s.stdout.readline().strip() == "ready"
            r = a.exec([sys.executable, "-c", CLIENT] + [inner[1] for inner, _ in made.values()])
            assert r.returncode == 0, r.stderr
            for s in servers:
                s.wait(timeout=60)
            a.stop_capture()
    except NetnsError as e:
        pytest.skip(str(e))
    served = hashlib.sha256(bytes(range(251)) * 800).hexdigest()
    if "vx1" in made:  # on its default port only the UDP underlay shows
        assert not any(p.tunnels == (("VXLAN", 43),) for p in fp.open(str(pcap)))
    fp.set_tunnel_ports(vxlan=(4789, 8472))
    try:
        kernel_tunnels_decoded(pcap, made, served)
    finally:
        fp.set_tunnel_ports(**fp.DEFAULT_TUNNEL_PORTS)


def kernel_tunnels_decoded(pcap: Path, made: dict, served: str) -> None:
    streams = list(fp.streams(str(pcap), progress=False))
    got = {}
    for s in streams:
        pkt = next(p for p in fp.open(str(pcap)) if p.tcp is not None and p.ip.src in (
            s.client_ip, s.server_ip) and p.tcp.dport == 8080)
        got[pkt.tunnels[-1]] = (hashlib.sha256(s.server_data).hexdigest(), s.server_ip, s.server_port)
    assert got == {tun: (served, inner[1], 8080) for inner, tun in made.values()}
    assert compare(pcap, ("udp.port==8472,vxlan",)) > 50
    # without decapsulation only the underlay shows: no TCP connection at all
    assert not list(fp.streams(str(pcap), decapsulate=False, progress=False))


# A real kernel's TCP: an HTTP download over loopback in a namespace, the file served hashed.
DOWNLOAD = r"""
import functools, hashlib, http.client, http.server, sys, threading
root = sys.argv[1]
data = bytes((i * 7 + i // 251) % 256 for i in range(300000))
with open(root + "/file.bin", "wb") as f:
    f.write(data)
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 8080), functools.partial(Quiet, directory=root))
threading.Thread(target=srv.serve_forever, daemon=True).start()
c = http.client.HTTPConnection("127.0.0.1", 8080, timeout=30)
c.request("GET", "/file.bin")
assert c.getresponse().read() == data
srv.shutdown()
"""
# Scapy encapsulates each captured frame as it is (fresh interpreter: scapy.contrib rebinds
# ports); each direction gets its own outer addresses, each kind 100 s of its own.
ENCAPSULATE = r"""
import sys
from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap
from scapy.contrib.geneve import GENEVE
from scapy.layers.l2 import GRE
frames = rdpcap(sys.argv[1])
out = []
for k, kind in enumerate(("gre", "gretap", "geneve")):
    for f in frames:
        frame = bytes(f)
        ihl = (frame[14] & 15) * 4
        back = int.from_bytes(frame[14 + ihl:16 + ihl], "big") == 8080  # from the server
        a, b = ("192.0.2.2", "192.0.2.1") if back else ("192.0.2.1", "192.0.2.2")
        outer = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=a, dst=b)
        if kind == "gre":
            pkt = outer / GRE(key_present=1, key=0x77, proto=0x0800) / Raw(frame[14:])
        elif kind == "gretap":
            pkt = outer / GRE(key_present=1, key=5, proto=0x6558) / Raw(frame)
        else:
            pkt = outer / UDP(sport=50000 + back, dport=6081) / GENEVE(vni=4242, proto=0x6558) / Raw(frame)
        pkt.time = f.time + 100 * k
        out.append(pkt)
wrpcap(sys.argv[2], out)
"""


def test_kernel_tcp_through_scapy_built_gre_and_geneve(tmp_path, tshark_ok):
    """Where the kernel cannot make GRE or Geneve links: the frames of a real kernel's HTTP
    download (loopback, in a namespace) encapsulated by Scapy in GRE with a key, GRE bridging
    Ethernet and Geneve. The bodies fp.streams finds through each tunnel hash equal to the
    file served; addresses, ports and tunnel ids equal tshark's field dumps."""
    from _netns import NetnsCapture, NetnsError, requirements

    why = requirements()
    if why:
        pytest.skip(why)
    plain = tmp_path / "download.pcap"
    try:
        with NetnsCapture("fptunscapy", plain) as ns:
            r = ns.exec([sys.executable, "-c", DOWNLOAD, str(tmp_path)])
            assert r.returncode == 0, r.stderr
    except NetnsError as e:
        pytest.skip(str(e))
    served = hashlib.sha256((tmp_path / "file.bin").read_bytes()).hexdigest()
    path = tmp_path / "tunnelled.pcap"
    subprocess.run([sys.executable, "-c", ENCAPSULATE, str(plain), str(path)], check=True)
    n = len(list(fp.open(str(plain))))
    assert compare(path) == 3 * n
    bodies = {}
    for s in fp.streams(str(path), progress=False):
        head, _, body = s.server_data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200")
        bodies[(s.flow.tunnel, s.flow.tunnel_id)] = hashlib.sha256(body).hexdigest()
    assert bodies == {("GRE", 0x77): served, ("GRE", 5): served, ("Geneve", 4242): served}
    tunnels = {p.tunnels for p in fp.open(str(path))}
    assert tunnels == {(("GRE", 0x77),), (("GRE", 5),), (("Geneve", 4242),)}


# Built in a fresh interpreter: importing scapy.contrib's MPLS, GTP and ERSPAN rebinds
# EtherTypes and ports for the whole process, which would change what later Scapy
# comparisons (test_scapy_compare, test_scapy_text) decode.
SCAPY_TUNNELS = r"""
import sys
from scapy.all import IP, TCP, UDP, Ether, ICMP, IPv6, Raw, wrpcap
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.contrib.geneve import GENEVE
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer
from scapy.contrib.mpls import MPLS
from scapy.layers.l2 import GRE
from scapy.layers.ppp import PPP, PPPoE


mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
outer = IP(src="192.0.2.1", dst="192.0.2.2")
inner = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80, flags="S")
inner6 = IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=5000, dport=6000) / Raw(b"x" * 8)
frames = [
    Ether(**mac) / outer / GRE(key_present=1, key=0x1234, seqnum_present=1, sequence_number=7,
                               chksum_present=1) / inner,
    Ether(**mac) / outer / GRE(proto=0x6558, key_present=1, key=9) / Ether(**mac) / inner,
    Ether(**mac) / outer / GRE(proto=0x88BE, seqnum_present=1) / ERSPAN_II(session_id=33) / Ether(**mac) / inner,
    Ether(**mac) / outer / GRE(proto=0x22EB) / ERSPAN_III(session_id=44) / Ether(**mac) / inner,
    Ether(**mac) / outer / UDP(sport=1234, dport=6081) / GENEVE(vni=77, proto=0x6558, options=b"\x01\x02\x03\x04" * 2)
    / Ether(**mac) / inner,
    Ether(**mac) / outer / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=0xdeadbeef, E=1, next_ex=0x85)
    / GTPPDUSessionContainer(type=0, QFI=5) / inner,
    Ether(**mac, type=0x8847) / MPLS(label=100, s=0) / MPLS(label=200, s=1) / inner,
    Ether(**mac) / outer / inner6,                                    # 6in4
    Ether(**mac) / IPv6(src="fd01::1", dst="fd01::2") / inner,        # 4in6
    Ether(**mac) / PPPoE(sessionid=0x42) / PPP(proto=0x0021) / inner,
    Ether(**mac) / outer / UDP(sport=999, dport=4789) / Raw(bytes([8, 0, 0, 0, 0, 0, 5, 0]))
    / Ether(**mac) / IP(src="10.1.1.1", dst="10.1.1.2") / ICMP(),
    # Cisco MetaData in GRE (Scapy has no layer for it): EtherType, version 1, length 1,
    # option 0x0001, SGT 0x0105, then IPv6 and, in the second, Ethernet
    Ether(**mac) / outer / GRE(proto=0x8909, key_present=1, key=0x28) / Raw(bytes.fromhex("86dd010100010105"))
    / inner6,
    Ether(**mac) / outer / GRE(proto=0x8909) / Raw(bytes.fromhex("6558010100010105")) / Ether(**mac) / inner,
]
wrpcap(sys.argv[1], frames)
"""


def test_scapy_built_tunnels(tmp_path, tshark_ok):
    path = tmp_path / "tunnels.pcap"
    subprocess.run([sys.executable, "-c", SCAPY_TUNNELS, str(path)], check=True)
    frames = list(fp.open(str(path)))
    assert compare(path) == len(frames) == 13
    got = [p.tunnels for p in fp.open(str(path))]
    assert got == [(("GRE", 0x1234),), (("GRE", 9),), (("GRE", None), ("ERSPAN", 33)),
                   (("GRE", None), ("ERSPAN", 44)), (("Geneve", 77),), (("GTP_U", 0xdeadbeef),),
                   (("MPLS", 200),), (("IPIP", None),), (("IPIP", None),), (("PPPoE", 0x42),),
                   (("VXLAN", 5),), (("GRE", 0x28),), (("GRE", None),)]
    assert [p.udp.payload for p in frames[11:12]] == [b"x" * 8]


def test_cisco_metadata_cut_short(tmp_path):
    """GRE naming Cisco MetaData with fewer than its 8 bytes after the GRE header: flagged
    tunnel_malformed, the outer packet left as it is."""
    from scapy.all import IP, Ether, Raw, wrpcap
    from scapy.layers.l2 import GRE

    path = tmp_path / "cut.pcap"
    wrpcap(str(path), [Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / GRE(proto=0x8909) / Raw(bytes.fromhex("86dd0101"))])
    (p,) = list(fp.open(str(path)))
    assert p.tunnels == () and "tunnel_malformed" in p.anomalies and p.ip.dst == "192.0.2.2"


def test_read_and_the_facade(corpus):
    """fp.read()'s PacketList decapsulates as iteration does (views and columns); the Scapy
    facade keeps the outer headers, as Scapy's pkt[IP] does."""
    from scapy.all import IP, rdpcap

    path = str(corpus / "tcpdump-vxlan.pcap")

    def src(p):
        return p.ip.src if p.ip is not None else None

    it = [src(p) for p in fp.open(path)]
    assert any(p.tunnels for p in fp.open(path)) and any(it)
    pl = fp.read(path)
    assert [src(p) for p in pl] == it
    assert [None if v != v else str(v) for v in pl.to_pandas().src] == it
    scapy = [p[IP].src if IP in p else None for p in rdpcap(path)]
    assert [src(p) for p in fp.read(path, decapsulate=False)] == scapy != it
    import fastpkt.scapy as fs

    assert [p[fs.IP].src if fs.IP in p else None for p in fs.rdpcap(path)] == scapy


# Built in a fresh interpreter (see SCAPY_TUNNELS): each encapsulation on a port of its own.
SCAPY_PORTS = r"""
import sys
from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap
from scapy.contrib.geneve import GENEVE
from scapy.contrib.gtp import GTP_U_Header

mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
outer = IP(src="192.0.2.1", dst="192.0.2.2")
inner = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80, flags="S")
vx = lambda vni: Raw(bytes([8, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\0")
wrpcap(sys.argv[1], [
    Ether(**mac) / outer / UDP(sport=999, dport=4789) / vx(5) / Ether(**mac) / inner,
    Ether(**mac) / outer / UDP(sport=999, dport=8472) / vx(6) / Ether(**mac) / inner,
    Ether(**mac) / outer / UDP(sport=1234, dport=6082) / GENEVE(vni=77, proto=0x6558) / Ether(**mac) / inner,
    Ether(**mac) / outer / UDP(sport=3386, dport=3386) / GTP_U_Header(teid=0xbeef) / inner,
    Ether(**mac) / outer / UDP(sport=3386, dport=40000) / GTP_U_Header(teid=0xcafe) / inner,
])
"""


def test_configurable_tunnel_ports(tmp_path, tshark_ok):
    """fp.set_tunnel_ports against tshark's Decode As (-d udp.port==N,proto)."""
    path = tmp_path / "ports.pcap"
    subprocess.run([sys.executable, "-c", SCAPY_PORTS, str(path)], check=True)
    assert fp.tunnel_ports() == fp.DEFAULT_TUNNEL_PORTS
    assert [p.tunnels for p in fp.open(str(path))] == [(("VXLAN", 5),), (), (), (), ()]
    decode_as = ("udp.port==8472,vxlan", "udp.port==6082,geneve", "udp.port==3386,gtp")
    try:
        fp.set_tunnel_ports(vxlan=(4789, 8472), geneve=(6081, 6082), gtpu=(2152, 3386))
        assert fp.tunnel_ports() == {"vxlan": (4789, 8472), "geneve": (6081, 6082), "gtpu": (2152, 3386)}
        assert compare(path, decode_as) == 5
        assert [p.tunnels for p in fp.open(str(path))] == [
            (("VXLAN", 5),), (("VXLAN", 6),), (("Geneve", 77),), (("GTP_U", 0xbeef),), (("GTP_U", 0xcafe),)]
        # the flow engine reads the same table
        flows = fp.flows(str(path), progress=False).to_pandas()
        assert set(flows.tunnel.astype(str)) == {"VXLAN", "Geneve", "GTP_U"}
        fp.set_tunnel_ports(vxlan=())  # off: only the UDP underlay
        assert [p.tunnels[:1] for p in fp.open(str(path))][:2] == [(), ()]
        with pytest.raises(ValueError, match="both vxlan and geneve"):
            fp.set_tunnel_ports(vxlan=(6082,))
        with pytest.raises(ValueError, match="out of range"):
            fp.set_tunnel_ports(gtpu=(70000,))
        assert fp.tunnel_ports()["vxlan"] == ()  # a refused change changes nothing
    finally:
        fp.set_tunnel_ports(**fp.DEFAULT_TUNNEL_PORTS)
    assert [p.tunnels for p in fp.open(str(path))][:2] == [(("VXLAN", 5),), ()]


# ---- tunnel_key="outer": flows of the outermost headers ---------------------------------

# Two inner TCP connections (both ways) in one VXLAN tunnel and in one GRE tunnel with a key
SCAPY_OUTER = r"""
import sys
from scapy.all import IP, TCP, UDP, Ether, wrpcap
from scapy.layers.l2 import GRE
from scapy.layers.vxlan import VXLAN

mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
frames = []
for sport in (40000, 40001):
    for a, b, flags in (("10.0.0.1", "10.0.0.2", "S"), ("10.0.0.2", "10.0.0.1", "SA")):
        fwd = a == "10.0.0.1"
        tcp = TCP(sport=sport if fwd else 80, dport=80 if fwd else sport, flags=flags)
        o = IP(src="192.0.2.1", dst="192.0.2.2") if fwd else IP(src="192.0.2.2", dst="192.0.2.1")
        # VXLAN goes to port 4789 both ways (the source port is a hash of the inner flow)
        frames.append(Ether(**mac) / o / UDP(sport=50000, dport=4789)
                      / VXLAN(vni=7) / Ether(**mac) / IP(src=a, dst=b) / tcp)
        o = IP(src="198.51.100.1", dst="198.51.100.2") if fwd else IP(src="198.51.100.2", dst="198.51.100.1")
        frames.append(Ether(**mac) / o / GRE(key_present=1, key=5) / IP(src=a, dst=b) / tcp)
for i, f in enumerate(frames):
    f.time = 1000 + i
wrpcap(sys.argv[1], frames)
"""

_CONV = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+) (\d+) bytes\s+(\d+) (\d+) bytes\s+")


def tshark_conv(path: Path, kind: str, disable: str, filt: str = "") -> dict:
    """tshark -z conv,<kind>[,filter] with the tunnel dissector off: {sorted endpoints:
    {endpoint: (frames, bytes) it sent}} (endpoints 'addr' or 'addr:port')."""
    z = "conv,%s,%s" % (kind, filt) if filt else "conv," + kind
    out = subprocess.run(["tshark", "-r", str(path), "-n", "-q", "--disable-protocol", disable, "-z", z],
                         capture_output=True, text=True, env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent"),
                         check=True).stdout
    conv: dict = {}
    for line in out.splitlines():
        m = _CONV.match(line)
        if m:
            a, b = m.group(1), m.group(2)
            # "<-" is B -> A, "->" is A -> B
            conv[tuple(sorted((a, b)))] = {a: (int(m.group(5)), int(m.group(6))),
                                           b: (int(m.group(3)), int(m.group(4)))}
    return conv


def outer_conv(df, ports: bool) -> dict:
    """fastpkt's flows in tshark_conv's shape (one flow per 5-tuple: no timeout splits)."""
    conv: dict = {}
    for r in df.itertuples(index=False):
        a = "%s:%d" % (r.src_ip, r.src_port) if ports else r.src_ip
        b = "%s:%d" % (r.dst_ip, r.dst_port) if ports else r.dst_ip
        key = tuple(sorted((a, b)))
        assert key not in conv, key
        conv[key] = {a: (int(r.fwd_packets), int(r.fwd_bytes)), b: (int(r.rev_packets), int(r.rev_bytes))}
    return conv


NO_SPLIT = dict(idle_timeout=1e9, active_timeout=1e9, progress=False)


def test_tunnel_key_outer_against_tshark(corpus, tmp_path, tshark_ok):
    """tunnel_key='outer' keys on the outermost IP 5-tuple, as tshark's conversations with the
    tunnel dissector disabled; the default keys the inner connections."""
    built = tmp_path / "outer.pcap"
    subprocess.run([sys.executable, "-c", SCAPY_OUTER, str(built)], check=True)
    df = fp.flows(str(built), tunnel_key="outer", **NO_SPLIT).to_pandas()
    assert len(df) == 3 and df.tunnel.isna().all()  # VXLAN: one outer flow per direction
    udp, gre = df[df.protocol == 17], df[df.protocol == 47]
    assert outer_conv(udp, True) == tshark_conv(built, "udp", "vxlan")
    assert outer_conv(gre, False) == tshark_conv(built, "ip", "gre", "ip.proto==47")
    assert gre.src_port.isna().all()  # GRE has no ports: the IP pair and protocol 47
    inner = fp.flows(str(built), **NO_SPLIT).to_pandas()
    assert sorted(map(str, inner.tunnel)) == ["GRE", "GRE", "VXLAN", "VXLAN"]

    vxlan = corpus / "tcpdump-vxlan.pcap"
    got = outer_conv(fp.flows(str(vxlan), tunnel_key="outer", **NO_SPLIT).to_pandas(), True)
    assert got == tshark_conv(vxlan, "udp", "vxlan") and len(got) == 4
    for name in ("ppp-grepackets.pcap", "tcpdump-various_gre.pcap"):
        path = corpus / name
        if not path.exists():
            continue
        df = fp.flows(str(path), tunnel_key="outer", **NO_SPLIT).to_pandas()
        # the outermost IP header: tshark's IPv4 conversations of frames without IPv6 and its
        # IPv6 ones (these captures have 4in6 in GRE, no 6in4)
        want = tshark_conv(path, "ip", "gre", "!ipv6")
        want.update(tshark_conv(path, "ipv6", "gre"))
        assert outer_conv(df, False) == want, name


def test_tunnel_key_outer_workers_and_refusals(corpus):
    path = str(corpus / "tcpdump-vxlan.pcap")
    one = fp.flows(path, tunnel_key="outer", workers=1, **NO_SPLIT).to_pandas()
    two = fp.flows(path, tunnel_key="outer", workers=2, **NO_SPLIT).to_pandas()
    assert one.equals(two)
    with pytest.raises(ValueError, match="tunnel_key"):
        fp.flows(path, tunnel_key="outermost")
    with pytest.raises(ValueError, match="decapsulate=False"):
        fp.flows(path, tunnel_key="outer", decapsulate=True)
    with fp.open(path) as reader, pytest.raises(ValueError, match="decapsulate=False"):
        fp.flows(reader, tunnel_key="outer")
    # one outer tunnel carries many connections: no stream, hello or HTTP message per tunnel
    for engine in (fp.streams, fp.client_hellos, fp.http):
        with pytest.raises(ValueError, match="tunnel_key='outer'"):
            engine(path, tunnel_key="outer")
