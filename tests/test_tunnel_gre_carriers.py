"""GRE carrying Frame Relay (0x6559), NSH (0x894F, RFC 8300: IPv4, IPv6, Ethernet, NSH or MPLS
inside) and WCCP's redirected packets (0x883E) is decapsulated as GRE's other payloads are: pkt.layers against tshark's
frame.protocols, the innermost addresses, ports and tunnel ids against its field dumps, flows
against its conversations, TCP bodies carried through each against the bytes sent, and every
frame cut at every length (no exception; what is decoded is what tshark decodes)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

import fastpkt as fp
from _fphelpers import have, tool_env, tshark_conv

MAC = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
FIELDS = ("frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport", "gre.key", "mpls.label", "_ws.malformed")
# pkt.layers' names as tshark's frame.protocols spells them
NAMES = {"Ether": "eth", "IP": "ip", "IPv6": "ipv6", "TCP": "tcp", "UDP": "udp", "GRE": "gre", "FR": "fr",
         "NSH": "nsh", "MPLS": "mpls", "VXLAN": "vxlan", "PPPoE": "pppoes", "PPP": "ppp", "Dot1Q": "vlan"}


@pytest.fixture(scope="module")
def sa():
    if not have("tshark"):
        pytest.skip("tshark is not installed")
    return pytest.importorskip("_scapy_ref").sa


def tshark_rows(path: Path) -> list[dict[str, list[str]]]:
    cmd = ["tshark", "-r", str(path), "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    return [{f: cell.split(";") if cell else [] for f, cell in zip(FIELDS, line.split("\t"))}
            for line in out.splitlines()]


def gre(sa, proto: int, payload: bytes, flags: int = 0, words: bytes = b"", outer=None):
    outer = outer if outer is not None else sa.IP(src="192.0.2.1", dst="192.0.2.2", proto=47)
    return sa.Ether(**MAC) / outer / sa.Raw(flags.to_bytes(2, "big") + proto.to_bytes(2, "big") + words + payload)


def nsh(next_proto: int, payload: bytes, md: int = 2, words: int = 2, extra: bytes = b"", spi: int = 1) -> bytes:
    return (((63 << 6) | words).to_bytes(2, "big") + bytes([md, next_proto]) + spi.to_bytes(3, "big") + b"\xff"
            + extra + payload)


def carriers(sa, inner4: bytes, inner6: bytes) -> list[tuple[int, bytes]]:
    """(GRE protocol, payload) for each way Frame Relay and NSH carry an IPv4 or IPv6 packet."""
    eth = bytes(sa.Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b", type=0x0800)) + inner4
    return [
        (0x6559, b"\x04\x01\x03\xcc" + inner4),                   # RFC 2427: UI, NLPID IPv4
        (0x6559, b"\x04\x01\x03\x8e" + inner6),                   # NLPID IPv6
        (0x6559, b"\x04\x01\x03\x00\xcc" + inner4),               # with the pad byte
        (0x6559, b"\x04\x01\x03\x80\x00\x00\x00\x08\x00" + inner4),  # SNAP, OUI 0, EtherType
        (0x6559, b"\x04\x01\x03\x80\x00\x00\x00\x86\xdd" + inner6),
        (0x6559, b"\x04\x00\x01\x03\xcc" + inner4),               # a 3-byte Q.922 address
        (0x6559, b"\x04\x01\x08\x00" + inner4),                   # Cisco's EtherType encapsulation
        (0x6559, b"\x04\x01\x86\xdd" + inner6),
        (0x894F, nsh(1, inner4)),                                 # MD type 2, no context headers
        (0x894F, nsh(1, inner4, md=1, words=6, extra=bytes(16))),  # MD type 1
        (0x894F, nsh(2, inner6)),
        (0x894F, nsh(3, eth)),
        (0x894F, nsh(5, b"\x00\x01\x41\x40" + inner4)),           # MPLS, one label (20)
        (0x894F, nsh(5, b"\x00\x0c\x80\x40\x00\x0d\x01\x40" + inner6)),  # two labels
        (0x894F, nsh(4, nsh(1, inner4))),                         # NSH in NSH
        (0x894F, nsh(1, inner4, words=1)),                        # a length under the base header's
        (0x883E, b"\x00\x00\x00\x00" + inner4),                   # WCCPv2's redirect header
        (0x883E, inner4),                                         # WCCPv1: none
    ]


def protocols(row: dict[str, list[str]]) -> list[str]:
    """tshark's frame.protocols without the EtherType and data nodes, a label stack once."""
    out: list[str] = []
    for x in row["frame.protocols"][0].split(":"):
        if x not in ("ethertype", "data") and not (x == "mpls" and out and out[-1] == "mpls"):
            out.append(x)
    return out


def check_frame(p, row, where) -> None:
    assert [NAMES[x] for x in p.layers] == protocols(row), (where, p.layers)
    inner = p.ip if p.ip is not None else p.ip6
    v = "ip" if p.ip is not None else "ipv6"
    assert (inner.src, inner.dst) == (row[v + ".src"][-1], row[v + ".dst"][-1]), where
    for proto in ("tcp", "udp"):
        layer = getattr(p, proto)
        if layer is not None:
            assert (layer.sport, layer.dport) == (int(row[proto + ".srcport"][-1]),
                                                  int(row[proto + ".dstport"][-1])), where
    assert p.field("gre.key", all=True) == [int(k, 0) for k in row["gre.key"]], where
    assert p.field("mpls.label", all=True) == [int(k, 0) for k in row["mpls.label"]], where


def written_and_read(sa, path, frames) -> tuple[list, list]:
    """frames written to path: fastpkt's packets and tshark's rows of it, one each per frame."""
    sa.wrpcap(str(path), frames)
    ours, rows = list(fp.open(str(path))), tshark_rows(path)
    assert len(ours) == len(rows) == len(frames)
    return ours, rows


def syns(sa) -> tuple[bytes, bytes]:
    """An IPv4 and an IPv6 TCP SYN, the packets the cut tests carry."""
    return (bytes(sa.IP(src="10.0.0.1", dst="10.0.0.2") / sa.TCP(sport=40000, dport=80, flags="S")),
            bytes(sa.IPv6(src="fd00::1", dst="fd00::2") / sa.TCP(sport=40000, dport=80, flags="S")))


def test_layers_addresses_and_ids_against_tshark(sa, tmp_path):
    """Each carrier whole, with GRE's checksum, key and sequence words, under an IPv6 outer
    header, inside a VXLAN tunnel and a PPPoE session: tshark's frame.protocols, innermost
    addresses and ports, GRE keys and MPLS labels."""
    tcp4 = bytes(sa.IP(src="10.0.0.1", dst="10.0.0.2") / sa.TCP(sport=40000, dport=80, flags="S"))
    udp6 = bytes(sa.IPv6(src="fd00::1", dst="fd00::2") / sa.UDP(sport=40001, dport=40002) / sa.Raw(b"q" * 12))
    frames = [gre(sa, proto, payload) for proto, payload in carriers(sa, tcp4, udp6)]
    frames += [gre(sa, proto, payload, 0xB000, b"\x00\x00\x00\x00" + (7).to_bytes(4, "big") + bytes(4))
               for proto, payload in carriers(sa, tcp4, udp6)[::3]]
    six = sa.IPv6(src="2001:db8::1", dst="2001:db8::2", nh=47)
    frames += [gre(sa, 0x894F, nsh(1, tcp4), outer=six), gre(sa, 0x6559, b"\x04\x01\x03\x8e" + udp6, outer=six)]
    frames += [sa.Ether(**MAC) / sa.IP(src="192.0.2.1", dst="192.0.2.2") / sa.UDP(sport=1234, dport=4789)
               / sa.Raw(b"\x08\x00\x00\x00\x00\x00\x07\x00") / gre(sa, 0x6559, b"\x04\x01\x03\xcc" + tcp4),
               sa.Ether(**MAC) / sa.PPPoE(sessionid=4) / sa.PPP()
               / sa.Raw(bytes(gre(sa, 0x894F, nsh(3, bytes(sa.Ether(**MAC, type=0x0800)) + tcp4)))[14:])]
    path = tmp_path / "carriers.pcap"
    ours, rows = written_and_read(sa, path, frames)
    for i, (p, row) in enumerate(zip(ours, rows)):
        assert p.tunnels and p.tunnels[-1][0] in ("GRE", "MPLS") and not row["_ws.malformed"], i
        check_frame(p, row, i)
    # the GRE key identifies the tunnel; the carrier's headers are part of GRE's
    assert ours[len(carriers(sa, tcp4, udp6))].tunnels == (("GRE", 7),)
    assert ours[12].tunnels == (("GRE", None), ("MPLS", 20)) and ours[12].layers[-3:] == ("MPLS", "IP", "TCP")
    # decapsulate=False: the outer packet, GRE its payload, as for GRE's other protocols
    outer = next(iter(fp.open(str(path), decapsulate=False)))
    assert outer.layers == ("Ether", "IP") and outer.tunnels == () and outer.ip.src == "192.0.2.1"


def test_flows_and_streams_against_tshark(sa, tmp_path):
    """TCP connections through Frame Relay and through NSH (Ethernet inside, and MPLS inside)
    in GRE with a key: fp.flows keys them on the inner 5-tuple and the key, with tshark's
    inner conversation counts; fp.streams gives back the bytes each side sent."""
    body_c, body_s = b"GET / HTTP/1.0\r\n\r\n", bytes(range(256)) * 9

    def conversation(cport, wrap):
        a, b = ("10.1.0.1", cport), ("10.1.0.2", 80)
        seqs = {a: 1000, b: 5000}
        out = []

        def seg(src, dst, flags, data=b""):
            ip = sa.IP(src=src[0], dst=dst[0]) / sa.TCP(sport=src[1], dport=dst[1], flags=flags, seq=seqs[src],
                                                           ack=seqs[dst]) / sa.Raw(data)
            seqs[src] += len(data) + (1 if "S" in flags or "F" in flags else 0)
            out.append(wrap(bytes(ip), src is a))

        seg(a, b, "S")
        seg(b, a, "SA")
        seg(a, b, "A")
        seg(a, b, "PA", body_c)
        for k in range(0, len(body_s), 1000):
            seg(b, a, "A", body_s[k:k + 1000])
        seg(b, a, "FA")
        seg(a, b, "FA")
        seg(b, a, "A")
        return out

    def keyed(proto, payload, fwd, key):
        o = sa.IP(src="192.0.2.1", dst="192.0.2.2", proto=47) if fwd else sa.IP(src="192.0.2.2", dst="192.0.2.1",
                                                                                  proto=47)
        return gre(sa, proto, payload, 0x2000, key.to_bytes(4, "big"), outer=o)

    eth = bytes(sa.Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b", type=0x0800))
    frames = conversation(40001, lambda ip, fwd: keyed(0x6559, b"\x04\x01\x03\xcc" + ip, fwd, 11))
    frames += conversation(40002, lambda ip, fwd: keyed(0x894F, nsh(3, eth + ip, spi=1 if fwd else 2), fwd, 12))
    frames += conversation(40003, lambda ip, fwd: keyed(0x894F, nsh(5, b"\x00\x01\x41\x40" + ip), fwd, 13))
    frames += conversation(40001, lambda ip, fwd: keyed(0x6559, b"\x04\x01\x08\x00" + ip, fwd, 14))
    for i, f in enumerate(frames):
        f.time = 1000 + i
    path = tmp_path / "conns.pcap"
    sa.wrpcap(str(path), frames)
    df = fp.flows(str(path), idle_timeout=1e9, active_timeout=1e9, progress=False).to_pandas()
    # the innermost tunnel is keyed on, as for MPLS right in GRE: labels are chosen per direction
    got = sorted((str(t), None if pd.isna(i) else int(i)) for t, i in zip(df.tunnel, df.tunnel_id))
    assert got == [("GRE", 11), ("GRE", 12), ("GRE", 14), ("MPLS", None)]
    # tshark's conversations have no tunnel key: the two on port 40001 are one of its rows
    theirs = tshark_conv(path, "conv,tcp")
    ours: dict = {}
    for r in df.itertuples(index=False):
        a, b = "%s:%d" % (r.src_ip, r.src_port), "%s:%d" % (r.dst_ip, r.dst_port)
        row = ours.setdefault(tuple(sorted((a, b))), {a: (0, 0), b: (0, 0)})
        row[a] = (row[a][0] + int(r.fwd_packets), row[a][1] + int(r.fwd_bytes))
        row[b] = (row[b][0] + int(r.rev_packets), row[b][1] + int(r.rev_bytes))
    assert ours == theirs and len(theirs) == 3
    bodies = sorted((s.flow.tunnel, s.flow.tunnel_id or 0, s.client_data, s.server_data)
                    for s in fp.streams(str(path), progress=False))
    assert bodies == [("GRE", k, body_c, body_s) for k in (11, 12, 14)] + [("MPLS", 0, body_c, body_s)]


def test_cut_at_every_length_against_tshark(sa, tmp_path):
    """Every carrier frame cut at every length (a snap length): no exception, and a frame is
    decapsulated when tshark's frame.protocols goes past the carrier: its names, addresses and
    ports are then tshark's; a carrier cut before its packet is left as GRE (not a tunnel) with
    the outer packet's views."""
    tcp4, tcp6 = syns(sa)
    cut = []
    for proto, payload in carriers(sa, tcp4, tcp6):
        whole = bytes(gre(sa, proto, payload))
        for n in range(14 + 20 + 4, len(whole)):  # from the GRE header on
            f = sa.Ether(whole[:n])
            f.wirelen = len(whole)
            cut.append(f)
    ours, rows = written_and_read(sa, tmp_path / "cut.pcap", cut)
    decoded = 0
    for i, (p, row) in enumerate(zip(ours, rows)):
        repr(p), p.summary() if hasattr(p, "summary") else None, p.fields() if hasattr(p, "fields") else None
        names = protocols(row)
        if not p.tunnels:
            assert p.ip.src == "192.0.2.1" and p.layers[-1] == "GRE", i
            # tshark names nothing past the carrier, or a packet cut inside its first bytes
            inner = names[names.index("gre") + 1:]
            assert (not inner or inner[-1] in ("fr", "nsh", "ip", "ipv6", "mpls", "eth")) and "tcp" not in inner, (i, names)
            continue
        decoded += 1
        if p.tcp is not None:
            check_frame(p, row, i)
        else:  # the inner packet cut short: the names tshark gives as far as fastpkt decoded
            mine = [NAMES[x] for x in p.layers]
            assert names[:len(mine)] == mine, (i, mine, names)
    assert decoded > 600


def test_lying_ip_length_against_tshark_malformed(sa, tmp_path):
    """Each carrier frame whose outer IP length ends it early, at every length: a carrier cut
    inside its headers (or before the packet an NLPID names) is tunnel_malformed, as tshark's
    malformed packet; one that names no packet, or ends where its packet would start, is
    not (tshark reads no more). Where tshark finds the packet inside malformed, the
    decapsulated one has an anomaly too."""
    tcp4, tcp6 = syns(sa)
    frames = [gre(sa, proto, payload[:n]) for proto, payload in carriers(sa, tcp4, tcp6)
              for n in range(len(payload))]
    ours, rows = written_and_read(sa, tmp_path / "short.pcap", frames)
    flagged = 0
    for i, (p, row) in enumerate(zip(ours, rows)):
        malformed = bool(row["_ws.malformed"])
        if not p.tunnels:
            assert ("tunnel_malformed" in p.anomalies) == malformed, (i, row["frame.protocols"], p.anomalies)
            flagged += malformed
        elif malformed and not row["frame.protocols"][0].endswith(":mpls"):
            # (an MPLS stack with nothing after it is not flagged, in GRE as here: left alone)
            assert p.anomalies, (i, row["frame.protocols"])
    assert flagged > 100


def test_stats_inside_wccp_against_tshark(sa, tmp_path):
    """fp.stats goes on inside WCCP's redirected packets (it stopped at `gre`): tshark's
    io,phs hierarchy and its UDP conversations, which count the inner headers."""
    from test_stats import tshark_phs

    frames = []
    for k in range(3):
        for fwd in (True, False):
            a, b = ("10.2.0.1", 40000 + k), ("10.2.0.2", 50000)
            src, dst = (a, b) if fwd else (b, a)
            ip = bytes(sa.IP(src=src[0], dst=dst[0]) / sa.UDP(sport=src[1], dport=dst[1]) / sa.Raw(b"w" * (k + 1)))
            frames.append(gre(sa, 0x883E, (b"\x00\x00\x00\x00" if k else b"") + ip))
    path = tmp_path / "wccp.pcap"
    sa.wrpcap(str(path), frames)
    st = fp.stats(str(path))
    assert {r.path: (r.frames, r.bytes) for r in st.phs().itertuples()} == tshark_phs(path)
    theirs = tshark_conv(path, "conv,udp")
    ours = {}
    for r in st.conversations("udp").itertuples():
        ours[tuple(sorted((r.a, r.b)))] = {r.a: (r.frames_ab, r.bytes_ab), r.b: (r.frames_ba, r.bytes_ba)}
    assert ours == theirs and len(theirs) == 3


def test_stats_conversations_inside_fr_and_nsh_against_tshark(sa, tmp_path):
    """fp.stats counts the conversations inside Frame Relay and NSH on GRE (it named their
    hierarchy but counted the outer packet's alone): tshark's conv,eth/ip/ipv6/tcp/udp tap
    every header, the inner Ethernet NSH carries too. Each carrier of carriers() with a TCP
    segment over IPv4 and a UDP datagram over IPv6 inside, both ways, one conversation per
    carrier; the hierarchy stays tshark's io,phs."""
    from test_stats import tshark_phs

    frames = []
    for k in range(len(carriers(sa, b"", b""))):
        for fwd in (True, False):
            a4, b4 = ("10.3.0.1", 41000 + k), ("10.3.0.2", 5001)
            a6, b6 = ("fd00::1", 42000 + k), ("fd00::2", 5002)
            (s4, d4), (s6, d6) = ((a4, b4), (a6, b6)) if fwd else ((b4, a4), (b6, a6))
            inner4 = bytes(sa.IP(src=s4[0], dst=d4[0]) / sa.TCP(sport=s4[1], dport=d4[1], flags="A")
                           / sa.Raw(b"t" * (k + 1)))
            inner6 = bytes(sa.IPv6(src=s6[0], dst=d6[0]) / sa.UDP(sport=s6[1], dport=d6[1]) / sa.Raw(b"u" * (k + 1)))
            proto, payload = carriers(sa, inner4, inner6)[k]
            frames.append(gre(sa, proto, payload))
    path = tmp_path / "carried_conv.pcap"
    sa.wrpcap(str(path), frames)
    st = fp.stats(str(path))
    assert {r.path: (r.frames, r.bytes) for r in st.phs().itertuples()} == tshark_phs(path)
    for layer in ("eth", "ip", "ipv6", "tcp", "udp"):
        theirs = tshark_conv(path, "conv," + layer)
        ours = {}
        for r in st.conversations(layer).itertuples():
            ours[tuple(sorted((r.a, r.b)))] = {r.a: (r.frames_ab, r.bytes_ab), r.b: (r.frames_ba, r.bytes_ba)}
        assert ours == theirs, layer
    # inner ones beside the outer: NSH's Ethernet, the TCP and UDP conversations of each carrier
    assert len(tshark_conv(path, "conv,eth")) == 2 and len(tshark_conv(path, "conv,tcp")) >= 10
