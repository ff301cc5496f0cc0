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
from _fphelpers import have, tool_env, tshark_conv

TUNNEL_FIELDS = ("vxlan.vni", "gre.key", "gtp.teid", "mpls.label", "geneve.vni", "pppoe.session_id",
                 "erspan.spanid")
FIELDS = ("frame.number", "frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport",
          "tcp.dstport", "udp.srcport", "udp.dstport", "icmp.type", "gre.proto", "cmd.sgt") + TUNNEL_FIELDS
# tcpdump-various_gre: GRE with Cisco MetaData (0x8909) carrying IPv4 (ICMP, PIM, keepalives);
# PPTP's GRE: tcpdump-pptp (LCP, an acknowledgement alone), ppp-grepackets (CCP, and DNS in
# PPTP in 6in4), Zeek's gre-pptp (DNS).
CORPUS_TUNNELS = ("tcpdump-vxlan.pcap", "ppp-grepackets.pcap", "ndpi-reasm_segv_anon.pcapng",
                  "ppp-ip4_bad_fragment.pcap", "tcpdump-various_gre.pcap", "tcpdump-pptp.pcap",
                  "zeek-baselines/gre-pptp.pcap")


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
    """tshark's values of a tunnel id field (gre.key: of GRE headers left undecoded too,
    keepalives and CDP, as tshark lists them)."""
    return [int(v, 0) for v in split(row[name])]


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
    # a tunnel that carries no IP (VXLAN carrying ARP): pkt.ip is the header around it, as the
    # table and tshark's last ip.src read it (test_tunnel_no_ip), and pkt.outer_ip stays that header
    no_ip = [p for p in fp.open(path) if p.tunnels and "ARP" in p.layers]
    assert len(no_ip) == 2 and all(p.ip.src == p.outer_ip.src for p in no_ip)
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

def conv_of(path: Path, kind: str, disable: str, filt: str = "") -> dict:
    """tshark's conv,<kind>[,filter] with the tunnel dissector off."""
    return tshark_conv(path, "conv,%s,%s" % (kind, filt) if filt else "conv," + kind, disable=disable)


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
    assert outer_conv(udp, True) == conv_of(built, "udp", "vxlan")
    assert outer_conv(gre, False) == conv_of(built, "ip", "gre", "ip.proto==47")
    assert gre.src_port.isna().all()  # GRE has no ports: the IP pair and protocol 47
    inner = fp.flows(str(built), **NO_SPLIT).to_pandas()
    assert sorted(map(str, inner.tunnel)) == ["GRE", "GRE", "VXLAN", "VXLAN"]

    vxlan = corpus / "tcpdump-vxlan.pcap"
    got = outer_conv(fp.flows(str(vxlan), tunnel_key="outer", **NO_SPLIT).to_pandas(), True)
    assert got == conv_of(vxlan, "udp", "vxlan") and len(got) == 4
    for name in ("ppp-grepackets.pcap", "tcpdump-various_gre.pcap"):
        path = corpus / name
        if not path.exists():
            continue
        df = fp.flows(str(path), tunnel_key="outer", **NO_SPLIT).to_pandas()
        # the outermost IP header: tshark's IPv4 conversations of frames without IPv6 and its
        # IPv6 ones (these captures have 4in6 in GRE, no 6in4)
        want = conv_of(path, "ip", "gre", "!ipv6")
        want.update(conv_of(path, "ipv6", "gre"))
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


# ---- PPTP's enhanced GRE, GRE routing, Cisco MetaData fields (issues 14 and 18) ----
# Built in a fresh interpreter (see SCAPY_TUNNELS). PPTP (RFC 2637 section 4.1) with and
# without sequence/acknowledgement numbers and HDLC framing, carrying IPv4, IPv6 and LCP;
# RFC 1701 routing (two SREs and the terminator, with and without the checksum bit); Cisco
# MetaData in GRE and right after Ethernet (EtherType 0x8909: version, length, option, SGT,
# then the EtherType), also in front of an 802.1Q tag.
SCAPY_GRE_MORE = r"""
import sys
from scapy.all import IP, IPv6, TCP, UDP, Ether, Raw, wrpcap
from scapy.layers.l2 import GRE, GRE_PPTP, GRErouting, Dot1Q
from scapy.layers.ppp import HDLC, PPP

mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
outer = IP(src="192.0.2.1", dst="192.0.2.2")
inner = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=4000, dport=4001) / Raw(b"q" * 12)
inner6 = IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=40000, dport=443, flags="S")
sres = GRErouting(address_family=0x0800, SRE_offset=4, routing_info=bytes(range(1, 9))) / \
    GRErouting(address_family=0x0800, routing_info=b"\xc0\x00\x02\x63") / GRErouting()
wrpcap(sys.argv[1], [
    Ether(**mac) / outer / GRE_PPTP(seqnum_present=1, acknum_present=1, call_id=7, sequence_number=5,
                                    ack_number=4) / HDLC() / PPP(proto=0x0021) / inner,
    Ether(**mac) / outer / GRE_PPTP(seqnum_present=1, call_id=9, sequence_number=6) / PPP(proto=0x0021) / inner,
    Ether(**mac) / outer / GRE_PPTP(acknum_present=1, call_id=9, ack_number=6),
    Ether(**mac) / outer / GRE_PPTP(seqnum_present=1, call_id=9, sequence_number=7) / HDLC()
    / PPP(proto=0x0057) / inner6,
    Ether(**mac) / outer / GRE_PPTP(seqnum_present=1, call_id=9, sequence_number=8) / HDLC()
    / PPP(proto=0xc021) / Raw(bytes.fromhex("0101000a0506a1b2c3d4")),
    Ether(**mac) / outer / GRE(routing_present=1, key_present=1, key=77, proto=0x0800) / sres / inner,
    Ether(**mac) / outer / GRE(routing_present=1, chksum_present=1, seqnum_present=1, sequence_number=3,
                               proto=0x86DD) / GRErouting() / inner6,
    Ether(**mac) / outer / GRE(proto=0x8909, key_present=1, key=0x28) / Raw(bytes.fromhex("0800010100010105"))
    / inner,
    Ether(**mac, type=0x8909) / Raw(bytes.fromhex("0101000100a80800")) / inner,
    Ether(**mac, type=0x8909) / Raw(bytes.fromhex("010100000fff8100")) / Dot1Q(vlan=5) / inner6,
])
"""
GRE_MORE_FIELDS = ("gre.flags_and_version", "gre.flags.checksum", "gre.flags.routing", "gre.flags.key",
                   "gre.flags.sequence_number", "gre.flags.strict_source_route",
                   "gre.flags.recursion_control", "gre.flags.ack", "gre.flags.reserved",
                   "gre.flags.version", "gre.proto", "gre.checksum", "gre.offset", "gre.key",
                   "gre.key.payload_length", "gre.key.call_id", "gre.sequence_number", "gre.ack_number",
                   "gre.routing.address_family", "gre.routing.sre_offset", "gre.routing.src_length",
                   "gre.routing.information", "cmd.type", "cmd.version", "cmd.length", "cmd.options",
                   "cmd.sgt")
INNER_FIELDS = ("ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport",
                "udp.dstport", "vlan.id")


def tshark_values(path: Path, fields: tuple[str, ...]) -> list[dict[str, list[str]]]:
    """Every occurrence of each field, per frame, as tshark prints them (-E occurrence=a)."""
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent"),
                         check=True).stdout
    return [{f: cell.split(";") if cell else [] for f, cell in zip(fields, line.split("\t"))}
            for line in out.splitlines()]


def tshark_text(value) -> str:
    """A field value as tshark -T fields prints it (-n: numbers in decimal; bytes in hex;
    booleans 1/0 as tshark 4 does, True/False as tshark 3)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def same_values(mine: list, theirs: list[str]) -> bool:
    if len(mine) != len(theirs):
        return False
    for m, t in zip(mine, theirs):
        if t in ("True", "False") and isinstance(m, bool):
            t = str(int(t == "True"))
        if tshark_text(m) != (str(int(t, 16)) if t.startswith("0x") else t):
            return False
    return True


def test_pptp_routing_and_cisco_metadata_fields_against_tshark(tmp_path, tshark_ok):
    path = tmp_path / "gre_more.pcap"
    subprocess.run([sys.executable, "-c", SCAPY_GRE_MORE, str(path)], check=True)
    frames = list(fp.open(str(path)))
    rows = tshark_values(path, GRE_MORE_FIELDS + INNER_FIELDS)
    assert len(frames) == len(rows) == 10
    for i, (p, row) in enumerate(zip(frames, rows)):
        for name in GRE_MORE_FIELDS:
            assert same_values(p.field(name, all=True), row[name]), (i + 1, name, p.field(name, all=True), row[name])
        # the innermost addresses and ports: tshark's last occurrence
        for name in INNER_FIELDS:
            if (name.startswith("ip.") and p.ip is None) or (name.startswith("ipv6.") and p.ip6 is None):
                continue  # no header of that version in the frame
            want = row[name][-1:]
            assert same_values(p.field(name, all=True)[-1:], want), (i + 1, name)
        assert p.anomalies == [] or p.anomalies == (), (i + 1, p.anomalies)
    assert [p.tunnels for p in frames] == [
        (("PPTP", 7),), (("PPTP", 9),), (("PPTP", 9),), (("PPTP", 9),), (("PPTP", 9),),
        (("GRE", 77),), (("GRE", None),), (("GRE", 0x28),), (), ()]
    # tshark's frame.protocols: eth:ip:gre:ppp:ip:udp, eth:ip:gre:ppp:lcp, eth:cmd:ip:udp
    assert frames[0].layers == ("Ether", "IP", "PPTP", "PPP", "IP", "UDP")
    assert frames[2].layers == ("Ether", "IP", "PPTP")   # an acknowledgement alone: no PPP
    # no inner packet: pkt.ip is the header around the tunnel, as tshark's last ip.src
    assert frames[4].layers == ("Ether", "IP", "PPTP", "PPP", "LCP") and frames[4].ip.src == frames[4].outer_ip.src
    assert frames[4].outer_ip.dst == "192.0.2.2"
    assert frames[7].layers == ("Ether", "IP", "GRE", "CMD", "IP", "UDP")
    assert frames[8].layers == ("Ether", "CMD", "IP", "UDP") and frames[8].udp.payload == b"q" * 12
    # display filters over the new fields select tshark's frames
    for expr in ("gre.key.call_id == 9 && gre.flags.ack == 1", "gre.flags.ack", "cmd.sgt == 168",
                 "gre.routing.address_family == 2048", "gre.key.payload_length > 30"):
        want = subprocess.run(["tshark", "-r", str(path), "-n", "-Y", expr, "-T", "fields", "-e", "frame.number"],
                              capture_output=True, text=True, check=True,
                              env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout.split()
        flt = fp.compile_filter(expr)
        assert [str(i + 1) for i, p in enumerate(frames) if flt.match(p)] == want, expr


def test_gre_more_cut_at_every_length(tmp_path, tshark_ok):
    """Each frame cut at every length (a snap length): never an exception; a header cut short
    is tunnel_malformed with the outer packet kept; what is decoded has tshark's fields."""
    from scapy.all import rdpcap, wrpcap

    built = tmp_path / "gre_more.pcap"
    subprocess.run([sys.executable, "-c", SCAPY_GRE_MORE, str(built)], check=True)
    cut = []
    for frame in rdpcap(str(built)):
        whole = bytes(frame)
        for n in range(14, len(whole)):
            p = frame.__class__(whole[:n])
            p.wirelen = len(whole)
            cut.append(p)
    path = tmp_path / "cut.pcap"
    wrpcap(str(path), cut)
    rows = tshark_values(path, GRE_MORE_FIELDS)
    frames = list(fp.open(str(path)))
    assert len(frames) == len(rows) == len(cut)
    decoded = 0
    for i, (p, row) in enumerate(zip(frames, rows)):
        if not p.tunnels:
            continue
        decoded += 1
        for name in GRE_MORE_FIELDS:
            assert same_values(p.field(name, all=True), row[name]), (i, name)
    assert decoded > 250


def test_pptp_flows_against_tshark_conversations(tmp_path, tshark_ok):
    """A PPTP session's two directions use each peer's call id: the inner connections are one
    flow each (not keyed on the call id), with tshark's inner conversation counts."""
    script = r"""
import sys
from scapy.all import IP, TCP, UDP, Ether, Raw, wrpcap
from scapy.layers.l2 import GRE_PPTP
from scapy.layers.ppp import HDLC, PPP

mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
a, b = IP(src="192.0.2.1", dst="192.0.2.2"), IP(src="192.0.2.2", dst="192.0.2.1")
frames, seq = [], 0
for i in range(6):
    for out, call, src, dst in ((a, 0x1111, "10.0.0.1", "10.0.0.2"), (b, 0x2222, "10.0.0.2", "10.0.0.1")):
        seq += 1
        l4 = UDP(sport=5000 if src == "10.0.0.1" else 53, dport=53 if src == "10.0.0.1" else 5000)
        frames.append(Ether(**mac) / out / GRE_PPTP(seqnum_present=1, call_id=call, sequence_number=seq)
                      / HDLC() / PPP(proto=0x21) / IP(src=src, dst=dst) / l4 / Raw(b"d" * (10 + i)))
        frames.append(Ether(**mac) / out / GRE_PPTP(seqnum_present=1, call_id=call, sequence_number=seq)
                      / PPP(proto=0x21) / IP(src=src, dst=dst)
                      / TCP(sport=40000 if src == "10.0.0.1" else 80, dport=80 if src == "10.0.0.1" else 40000,
                            flags="A", seq=i) / Raw(b"t" * i))
wrpcap(sys.argv[1], frames)
"""
    path = tmp_path / "pptp.pcap"
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    df = fp.flows(str(path), **NO_SPLIT).to_pandas()
    assert len(df) == 2 and list(map(str, df.tunnel)) == ["PPTP", "PPTP"] and df.tunnel_id.isna().all()
    for proto, kind in ((17, "udp"), (6, "tcp")):
        assert outer_conv(df[df.protocol == proto], True) == conv_of(path, kind, "vxlan"), kind
    two = fp.flows(str(path), workers=2, **NO_SPLIT).to_pandas()   # the shard pass dissects GRE whole
    key = ["src_ip", "src_port", "dst_ip", "dst_port", "fwd_packets", "rev_packets", "fwd_bytes", "rev_bytes"]
    assert sorted(map(tuple, two[key].values.tolist())) == sorted(map(tuple, df[key].values.tolist()))


# Built in a fresh interpreter (see SCAPY_TUNNELS): tunnels whose innermost packet is a PPP
# control protocol, data or nothing.
SCAPY_CONTROL = r"""
import sys
from scapy.all import IP, IPv6, Ether, Raw, wrpcap
from scapy.layers.l2 import GRE_PPTP, Dot1Q
from scapy.layers.ppp import (HDLC, PPP, PPPoE, PPP_CHAP_ChallengeResponse, PPP_IPCP, PPP_LCP_Echo,
                              PPP_PAP_Request)

mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
o4 = IP(src="192.0.2.1", dst="192.0.2.2")
o6 = IPv6(src="2001:db8::1", dst="2001:db8::2")
wrpcap(sys.argv[1], [
    Ether(**mac) / o4 / GRE_PPTP(seqnum_present=1, call_id=7) / HDLC() / PPP(proto=0xC021)
    / PPP_LCP_Echo(code=9, id=2, magic_number=7),
    Ether(**mac) / Dot1Q(vlan=3) / o6 / GRE_PPTP(call_id=8) / HDLC() / PPP(proto=0x8021) / PPP_IPCP(code=1, id=3),
    Ether(**mac) / o4 / GRE_PPTP(call_id=9) / PPP(proto=0xC223)
    / PPP_CHAP_ChallengeResponse(code=1, id=1, value=b"abcd", optional_name=b"x"),
    Ether(**mac) / o4 / GRE_PPTP(seqnum_present=0, acknum_present=1, call_id=7, ack_number=5),
    Ether(**mac) / o4 / GRE_PPTP(call_id=7) / HDLC() / PPP(proto=0x1235) / Raw(b"unknown"),
    Ether(**mac) / PPPoE(sessionid=1) / PPP(proto=0xC023) / PPP_PAP_Request(username="u", password="p"),
    # a discovery code and version 2 on a session's EtherType: tshark reads a session all the same
    Ether(**mac) / PPPoE(sessionid=2, code=9) / PPP(proto=0xC021) / PPP_LCP_Echo(code=9, id=2, magic_number=7),
    Ether(**mac) / PPPoE(version=2, sessionid=3) / PPP(proto=0x8021) / PPP_IPCP(code=1, id=3),
])
"""
REPR = re.compile(r"<Packet (.*?)(?: (\S+) > (\S+))?( / Raw)? len=\d+>$")
# repr's and pkt.layers' names as tshark's frame.protocols spells them
TSHARK_NAMES = {"Ether": "eth", "Dot1Q": "vlan", "IP": "ip", "IPv6": "ipv6", "PPTP": "gre", "PPPoE": "pppoes",
                "PPP": "ppp", "LCP": "lcp", "IPCP": "ipcp", "CHAP": "chap", "PAP": "pap", "CCP": "ccp",
                "Raw": "data"}


def carries_no_ip(p: fp.Packet) -> bool:
    """The packet's innermost tunnel carries no IP header (its pkt.ip is the one around it)."""
    k = last = -1  # the innermost tunnel's place in pkt.layers, whose names come in pkt.tunnels' order
    for i, x in enumerate(p.layers):
        if k + 1 < len(p.tunnels) and x == p.tunnels[k + 1][0]:
            k, last = k + 1, i
    return last >= 0 and not {"IP", "IPv6"} & set(p.layers[last + 1:])


def test_repr_of_tunnels_carrying_no_packet(tmp_path, tshark_ok, corpus):
    """A PPTP or PPPoE tunnel carrying a PPP control protocol, data or nothing (an
    acknowledgement alone) has no innermost packet for repr to show (it printed `Ether / Raw`):
    it shows the packet around the tunnel, the tunnel and what it carries, and the addresses
    of that packet. Against tshark's frame.protocols and ip/ipv6 addresses, on Scapy-built
    frames and the corpus's PPTP frames; the names are pkt.layers' too."""
    path = tmp_path / "control.pcap"
    subprocess.run([sys.executable, "-c", SCAPY_CONTROL, str(path)], check=True)
    n = 0
    for f in (path, corpus / "tcpdump-pptp.pcap", corpus / "ppp-grepackets.pcap"):
        for p, row in zip(fp.open(str(f)), tshark_frames(f), strict=True):
            if not carries_no_ip(p):
                continue
            n += 1
            m = REPR.match(repr(p))
            assert m, repr(p)
            names = m.group(1).split(" / ") + (["Raw"] if m.group(4) else [])
            protocols = [x for x in row["frame.protocols"].split(":") if x != "ethertype"]
            assert [TSHARK_NAMES[x] for x in names] == protocols, repr(p)
            assert [x for x in names if x != "Raw"] == list(p.layers), repr(p)
            outer = split(row["ip.src"]) + split(row["ipv6.src"]), split(row["ip.dst"]) + split(row["ipv6.dst"])
            assert (m.group(2), m.group(3)) == ((outer[0][0], outer[1][0]) if outer[0] else (None, None)), repr(p)
    assert n == 8 + 1 + 2
