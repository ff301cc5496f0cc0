"""Editing packets: parse bytes into builders, edit, rebuild (csrc/py/build.c).

References: Scapy's own rebuild of the same bytes (round trips, `del chksum`), tshark's
checksum validation of a capture of built packets, and the checksums the capture holds.
"""
from __future__ import annotations

import struct
import subprocess

import pytest

import fastpkt as fp
from _fphelpers import corpus_dir
from test_build_layers import CASES, build

sa = pytest.importorskip("scapy.all", reason="Scapy is the reference for rebuilt bytes")

PER_FILE = 400  # packets per corpus file (Scapy is slow)


def scapy_of(pkt):
    """Scapy's parse of a fastpkt Packet's bytes by its link type, or None."""
    b = pkt.raw
    if pkt.linktype == 1:
        return sa.Ether(b)
    if pkt.linktype in (101, 228, 229, 12, 14) and b:
        return sa.IPv6(b) if b[0] >> 4 == 6 else sa.IP(b)
    return None


def test_corpus_round_trips(corpus_file):
    """bytes(pkt.copy()) and bytes(IP(ip bytes)) give the capture's bytes back wherever
    Scapy's own parse-and-rebuild does."""
    path = corpus_dir() / corpus_file
    compared = 0
    try:
        pkts = list(fp.open(path, on_error="stop"))[:PER_FILE]
    except fp.Error:
        pytest.skip("known disagreement: the corpus file is unreadable")
    for i, pkt in enumerate(pkts):
        s = scapy_of(pkt)
        if s is None:
            continue
        try:
            scapy_ok = bytes(s) == pkt.raw
        except Exception:  # Scapy cannot rebuild some frames at all
            continue
        if not scapy_ok:
            continue
        assert bytes(pkt.copy()) == pkt.raw, (corpus_file, i)
        if pkt.ip is not None and sa.IP in s:
            ip = pkt.ip.raw
            if bytes(sa.IP(ip)) == ip:
                assert bytes(fp.IP(ip)) == ip, (corpus_file, i)
        compared += 1
    if compared == 0:
        pytest.skip("known disagreement: no frame of this file that Scapy rebuilds as it was")


def test_checksum_ok_matches_rebuild(corpus_file):
    """checksum_ok() says True exactly when deleting the checksum and rebuilding gives the
    value the packet carries (IPv4 header, TCP, UDP), and the rebuilt value is Scapy's."""
    path = corpus_dir() / corpus_file
    try:
        # the build model (copy, del, c["IP"]) is Scapy's, whose first IP is the outer header
        pkts = list(fp.open(path, on_error="stop", decapsulate=False))[:PER_FILE]
    except fp.Error:
        pytest.skip("known disagreement: the corpus file is unreadable")
    checked = 0
    for i, pkt in enumerate(pkts):
        if pkt.ip is None or pkt.linktype != 1 or pkt.ip.MF or pkt.ip.frag:
            continue
        for name, view in (("IP", pkt.ip), ("TCP", pkt.tcp), ("UDP", pkt.udp)):
            if view is None or view.checksum_ok() is None:
                continue
            c = pkt.copy()
            try:
                del c[name].chksum
            except KeyError:
                continue
            rebuilt = fp.Ether(bytes(c))[name].chksum
            assert (rebuilt == view.chksum) == view.checksum_ok(), (corpus_file, i, name)
            s = sa.Ether(pkt.raw)
            if name in s:
                del s[name].chksum
                assert rebuilt == sa.Ether(bytes(s))[name].chksum, (corpus_file, i, name)
            checked += 1
    if checked == 0:
        pytest.skip("known disagreement: no checkable IPv4 checksum in this file")


def test_course_checksum_lesson():
    """The course's script: del ip.chksum / tcp.chksum on dissected layers, rebuild, compare."""
    wire = bytes(sa.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                 / sa.IP(src="192.0.2.1", dst="192.0.2.2") / sa.TCP(dport=80, flags="PA") / b"GET /")
    for corrupt in (False, True):
        b = bytearray(wire)
        if corrupt:
            b[-1] ^= 0xFF  # payload changed, TCP checksum now wrong
        packet = fp.Packet(bytes(b))
        ip, tcp = packet[fp.IP], packet[fp.TCP]
        original_ip, original_tcp = ip.chksum, tcp.chksum
        del ip.chksum
        del tcp.chksum
        assert ip.chksum is None and tcp.chksum is None
        rebuilt, rebuilt_tcp = fp.IP(bytes(ip)), fp.TCP(bytes(tcp))
        s = sa.Ether(bytes(b))
        del s[sa.IP].chksum
        del s[sa.TCP].chksum
        assert rebuilt.chksum == sa.IP(bytes(s[sa.IP])).chksum == original_ip
        assert rebuilt_tcp.chksum == sa.TCP(bytes(s[sa.TCP])).chksum
        assert (rebuilt_tcp.chksum != original_tcp) == corrupt


def test_edit_fields_and_rebuild():
    b = bytes(sa.IP(src="192.0.2.1", dst="192.0.2.2", ttl=9) / sa.UDP(sport=5, dport=6) / b"hello")
    ours, ref = fp.IP(b), sa.IP(b)
    assert bytes(ours) == b
    for p in (ours, ref):
        p.ttl = 1
        p.dst = "198.51.100.1"
        del p.chksum
        del p.len
        p[p.__class__.__module__.startswith("fastpkt") and fp.UDP or sa.UDP].dport = 53
        del p.payload.chksum
    assert bytes(ours) == bytes(ref)
    assert ours.ttl == 1 and ours.chksum is None and ours[fp.UDP].dport == 53


def test_show2_fills_auto_fields():
    p = fp.IP(src="192.0.2.1", dst="192.0.2.2") / fp.TCP(dport=80)
    text = p.show2(dump=True)
    ref = sa.IP(bytes(p))
    assert "chksum    = 0x%04x" % ref.chksum in text
    assert "len       = %d" % ref.len in text
    assert "ihl       = None" in p.show(dump=True)


def test_copy_is_independent():
    a = fp.IP(dst="192.0.2.9") / fp.TCP()
    b = a.copy()
    b.ttl = 1
    b[fp.TCP].dport = 22
    assert a.ttl == 64 and a[fp.TCP].dport == 80
    assert bytes(b) != bytes(a)


def test_dissected_packet_copy():
    wire = bytes(sa.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / sa.IP(src="192.0.2.1", dst="192.0.2.2")
                 / sa.UDP(dport=53) / sa.DNS(qd=sa.DNSQR(qname="example.com")))
    pkt = fp.Packet(wire)
    c = pkt.copy()
    assert bytes(c) == wire
    assert c[fp.DNS].qd[0].qname == "example.com"
    c[fp.DNS].qd = [fp.DNSQR(qname="example.org")]
    s = sa.Ether(wire)
    s[sa.DNS].qd = [sa.DNSQR(qname="example.org")]
    del s[sa.IP].len, s[sa.IP].chksum, s[sa.UDP].len, s[sa.UDP].chksum
    for layer in (fp.IP, fp.UDP):
        del c[layer].chksum
    del c[fp.IP].len, c[fp.UDP].len
    assert bytes(c) == bytes(s)
    assert bytes(pkt) == wire  # the packet itself is unchanged


def write_pcap(path, frames, linktype=1):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)) + fr)


def test_tshark_validates_built_checksums(tmp_path, tshark):
    frames = []
    for name, stack in CASES:
        if "chksum" in name or "cksum" in name or "len" in name or "plen" in name or "qdcount" in name:
            continue  # explicit (possibly wrong on purpose) checksums and lengths
        top = stack[0]
        if isinstance(top, tuple) and top[0] == "Ether":
            frames.append(bytes(build(fp, stack)))
        elif isinstance(top, tuple) and top[0] in ("IP", "IPv6"):
            frames.append(bytes(fp.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / build(fp, stack)))
    path = tmp_path / "built.pcap"
    write_pcap(path, frames)
    fields = ["ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "icmp.checksum.status",
              "icmpv6.checksum.status"]
    cmd = [tshark, "-r", str(path), "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
           "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "occurrence=f"]
    for fl in fields:
        cmd += ["-e", fl]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(frames)
    good = 0
    for i, line in enumerate(out):
        for fl, v in zip(fields, line.split("\t")):
            assert v in ("", "1", "2"), (i, fl, v, frames[i].hex())  # 0 would be "Bad"
            good += v == "1"
    assert good > len(frames)


def course_checksum_mismatches(lib, path):
    """The course's verify_checksums() body, run with `lib`'s rdpcap/IP/TCP."""
    out = []
    for packet in lib.rdpcap(str(path)):
        if lib.IP in packet and lib.TCP in packet:
            ip = packet[lib.IP]
            tcp = packet[lib.TCP]
            original_ip = ip.chksum
            original_tcp = tcp.chksum
            del ip.chksum
            del tcp.chksum
            rebuilt = lib.IP(bytes(ip))
            rebuilt_tcp = lib.TCP(bytes(tcp))
            out.append((ip.src, ip.dst, rebuilt.chksum != original_ip or rebuilt_tcp.chksum != original_tcp))
    return out


def test_course_checksum_script_matches_scapy(data):
    """examples/checksum_lesson.py's code gives Scapy's verdict on every packet of a capture
    with good and offloaded (wrong) TCP checksums."""
    import fastpkt.scapy as fs

    path = data.parent.parent / "examples" / "data" / "sample.pcap"
    ours = course_checksum_mismatches(fs, path)
    assert ours == course_checksum_mismatches(sa, path)
    assert any(bad for _, _, bad in ours) and not all(bad for _, _, bad in ours)


def test_parsed_tcp_options_read_like_a_view():
    opts = [("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b""), ("Timestamp", (5, 6))]
    b = bytes(fp.IP(src="192.0.2.1", dst="192.0.2.2") / fp.TCP(options=opts))
    assert fp.IP(b)[fp.TCP].options == fp.Packet(b, linktype=228).tcp.options
    assert fp.IP(b)[fp.TCP].options == [tuple(o) for o in sa.IP(b)[sa.TCP].options]


@pytest.mark.parametrize("wire", [
    bytes.fromhex("4f00002c0001000040060000c0000201c000020201020304"),  # IHL 15, 4 option bytes there
    bytes.fromhex("450000280001000040060000c0000201c0000202") + bytes.fromhex("00140050000000000000000000f02000000000000102"),
    bytes.fromhex("45000030000100004011") + bytes(10) + bytes.fromhex("0035003500ff0000") + b"short",  # UDP len > bytes
    bytes.fromhex("4500001c00010000400100007f0000017f000001"),  # ICMP header cut: raw
], ids=["ihl-past-end", "dataofs-past-end", "udp-len-past-end", "icmp-cut"])
def test_cut_headers_rebuild_as_they_were(wire):
    assert bytes(fp.IP(wire)) == wire
    assert bytes(fp.Packet(wire, linktype=228).copy()) == wire
