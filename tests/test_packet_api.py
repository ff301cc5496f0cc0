"""Packet and PacketList surface: repr, summary, show, haslayer/in, __getitem__, payload,
anomalies, layers as views; PacketList len/index/slice/iterate/summary/to_pandas."""
from __future__ import annotations

import pytest
from scapy.all import IP, TCP, Ether, Raw

import fastpkt as fp
from _fphelpers import DATA, fixture_packets, load_expected, touch_all

EXP = load_expected()


def syn():
    return fixture_packets("be_usec.pcap")[0]


def test_repr_and_summary():
    p = syn()
    r = repr(p)
    assert r.startswith("<") and "10.0.0.1" in r and "10.0.0.2" in r
    s = p.summary()
    assert isinstance(s, str) and "\n" not in s
    for word in ("10.0.0.1", "10.0.0.2", "40000", "80", "S"):
        assert word in s, (word, s)
    assert "TCP" in s


def test_show_dump_and_print(capsys):
    p = syn()
    text = p.show(dump=True)
    assert isinstance(text, str)
    for word in ("Ether", "IP", "TCP", "src", "dst", "ttl", "sport", "dport", "flags",
                 "10.0.0.1", "40000"):
        assert word in text, word
    assert p.show() is None
    printed = capsys.readouterr().out
    assert printed.strip() == text.strip()


def test_haslayer_in_getitem():
    p = syn()
    assert p.haslayer("IP") and p.haslayer("TCP") and p.haslayer("Ether")
    assert "TCP" in p and "UDP" not in p and not p.haslayer("UDP")
    assert p["TCP"].sport == 40000
    assert p["IP"].src == "10.0.0.1"
    with pytest.raises(KeyError):
        p["UDP"]
    with pytest.raises(KeyError):
        p["NotALayer"]
    # type objects work like names (Scapy habit)
    assert p.haslayer(type(p.tcp)) and type(p.ip) in p
    assert p[type(p.tcp)].dport == 80


def test_layer_views_and_payloads():
    p = fixture_packets("be_usec.pcap")[2]
    assert p.eth.raw == p.raw
    assert p.ip.raw == p.raw[14:]
    assert bytes(p.udp) == p.raw[34:]
    assert p.udp.payload == p.payload == b"hello fastpkt"
    assert p.ip.payload == p.raw[34:]
    d = p.ip.fields_dict()
    assert d["src"] == "10.0.0.1" and d["ttl"] == 1 and set(p.ip.fields) <= set(d)
    assert p.layers == ("Ether", "IP", "UDP")
    assert [p[n].name for n in p.layers] == list(p.layers)


def test_absent_layers_are_none():
    p = fixture_packets("arp.pcap")[0]
    for a in ("ip", "ip6", "tcp", "udp", "icmp", "icmp6", "dns", "http", "tls", "sll",
              "loopback", "vlan"):
        assert getattr(p, a) is None, a
    assert p.sport is None and p.dport is None and p.proto is None


def test_anomalies_is_tuple_of_str():
    good = syn()
    assert good.anomalies == ()
    cut = fixture_packets("le_usec.pcap")[4]
    assert isinstance(cut.anomalies, tuple) and "snaplen" in cut.anomalies
    assert all(isinstance(a, str) for a in cut.anomalies)


def test_packet_outlives_list_and_reader():
    pl = fp.read(str(DATA / "be_usec.pcap"))
    p = pl[1]
    tcp = p.tcp
    del pl
    assert tcp.sport == 80 and p.ip.src == "10.0.0.2"
    with fp.open(str(DATA / "be_usec.pcap")) as r:
        q = next(r)
    assert q.tcp.dport == 80


def test_packet_constructor():
    raw = bytes(Ether() / IP(src="1.2.3.4", dst="4.3.2.1") / TCP(sport=1, dport=2, flags="PA") /
                Raw(b"xyz"))
    p = fp.Packet(raw)
    assert p.raw == raw and p.linktype == 1 and p.caplen == p.wirelen == len(raw)
    assert p.tcp.flags == "PA" and p.payload == b"xyz"
    p = fp.Packet(raw[14:], linktype=101)
    assert p.eth is None and p.ip.dst == "4.3.2.1"
    with pytest.raises(TypeError):
        fp.Packet("not bytes")


def test_verify_checksums_keys():
    v = syn().verify_checksums()
    assert v == {"ip": True, "tcp": True}


def test_touch_everything_on_fixtures():
    for name in EXP:
        for p in fp.read(str(DATA / name)):
            touch_all(p)


# ----------------------------------------------------------------------------- PacketList


def test_packetlist_sequence():
    pl = fp.read(str(DATA / "ipv6_ext_frag.pcap"))
    n = len(EXP["ipv6_ext_frag.pcap"]["packets"])
    assert len(pl) == n
    assert pl[0].raw == pl[-n].raw
    assert pl[-1].tcp is not None
    with pytest.raises(IndexError):
        pl[n]
    with pytest.raises(IndexError):
        pl[-n - 1]
    s = pl[1:7:2]
    assert isinstance(s, fp.PacketList) and len(s) == 3
    assert [p.raw for p in s] == [pl[i].raw for i in (1, 3, 5)]
    assert len(pl[::-1]) == n and pl[::-1][0].raw == pl[-1].raw
    assert len(pl[100:]) == 0
    assert [p.raw for p in pl] == [pl[i].raw for i in range(n)]
    assert s.linktype == pl.linktype == 1


def test_packetlist_summary():
    pl = fp.read(str(DATA / "be_usec.pcap"))
    s = pl.summary()
    assert isinstance(s, str)
    lines = s.strip().splitlines()
    assert len(lines) == 4
    assert all(p.summary() in line for p, line in zip(pl, lines))


def test_to_pandas_dtypes_and_values():
    pd = pytest.importorskip("pandas")
    pl = fp.read(str(DATA / "be_usec.pcap"))
    df = pl.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    want = {
        "time": "datetime64[ns, UTC]", "ttl": "UInt8", "sport": "UInt16", "dport": "UInt16",
        "tcp_flags": "UInt16", "tcp_seq": "UInt32", "tcp_ack": "UInt32", "vlan": "UInt16",
    }
    for col, dt in want.items():
        assert str(df[col].dtype) == dt, (col, df[col].dtype)
    for col in ("src", "dst", "eth_src", "eth_dst", "dns_qname", "tls_sni", "http_host"):
        assert isinstance(df[col].dtype, pd.CategoricalDtype), (col, df[col].dtype)
    for col in ("caplen", "wirelen", "linktype", "interface", "ip_version", "proto",
                "payload_len", "anomalies"):
        assert col in df.columns, col
    assert list(df["src"].astype(str)) == ["10.0.0.1", "10.0.0.2", "10.0.0.1", "2001:db8::1"]
    assert list(df["sport"]) == [40000, 80, 5000, 1234]
    assert list(df["ip_version"]) == [4, 4, 4, 6]
    assert list(df["proto"]) == [6, 6, 17, 17]
    assert list(df["caplen"]) == [p.caplen for p in pl]
    assert list(df["time"].astype("int64")) == [p.time_ns for p in pl]
    assert df["tcp_seq"].iloc[0] == 1000 and pd.isna(df["tcp_seq"].iloc[2])
    assert str(df["tcp_flags"].iloc[1]) == "18"
    assert list(df["payload_len"]) == [len(p.payload) for p in pl]
    assert df["ttl"].iloc[3] == 255  # IPv6 hop limit in the ttl column
    assert df["vlan"].isna().all()
    assert list(df["eth_src"].astype(str)) == [p.eth.src for p in pl]


def test_to_pandas_app_columns_and_vlan():
    pytest.importorskip("pandas")
    df = fp.read(str(DATA / "dns.pcap")).to_pandas()
    assert list(df["dns_qname"].astype(str))[:3] == ["www.example.com"] * 2 + ["tcp.example.net"]
    df = fp.read(str(DATA / "tls.pcap")).to_pandas()
    assert df["tls_sni"].iloc[0] == "www.example.org" and df["tls_sni"].isna().iloc[3]
    df = fp.read(str(DATA / "http.pcap")).to_pandas()
    assert df["http_host"].iloc[0] == "www.example.com"
    df = fp.read(str(DATA / "qinq.pcap")).to_pandas()
    assert df["vlan"].iloc[0] == 100  # outer tag
    df = fp.read(str(DATA / "two_if.pcapng")).to_pandas()
    assert list(df["interface"]) == [0, 1, 0, 1, 0, 2, 3]
    assert list(df["linktype"]) == [1, 101, 1, 101, 1, 1, 101]


def test_to_pandas_empty_and_slice():
    pytest.importorskip("pandas")
    pl = fp.read(str(DATA / "be_usec.pcap"))
    assert len(pl[0:0].to_pandas()) == 0
    df = pl[2:].to_pandas()
    assert list(df["sport"]) == [5000, 1234]


def _ns_of(seconds: float) -> int:
    """A float time in integer ns, exactly (Fraction), clamped to 64 bits as readers clamp."""
    from fractions import Fraction
    if seconds in (float("inf"), float("-inf")):
        return (1 << 63) - 1 if seconds > 0 else -(1 << 63)
    ns = round(Fraction(seconds) * 10**9)
    return max(-(1 << 63), min((1 << 63) - 1, ns))


def _pcapng_at(tmp_path, frames: list[bytes], ts_us: int):
    """A pcapng of Ethernet frames stamped ts_us microseconds after the epoch (64 bits in the
    EPB, so years past 2262 are writable)."""
    import struct
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 0) + struct.pack("<I", 20)
    body = b""
    for f in frames:
        pad = f + b"\0" * (-len(f) % 4)
        n = 32 + len(pad)
        body += struct.pack("<IIIIIII", 6, n, 0, ts_us >> 32, ts_us & 0xFFFFFFFF, len(f), len(f))
        body += pad + struct.pack("<I", n)
    path = tmp_path / "far.pcapng"
    path.write_bytes(shb + idb + body)
    return path


def test_time_past_2262(tmp_path):
    """Packet(time=) saturates outside int64 nanoseconds as the readers do, so a packet made
    again from a read packet's time keeps it; Scapy's sessions rebuild packets that way."""
    import fastpkt.scapy as fs
    for t in (1422527998.5784023, -1.25, 1e10, 9223372036.854776, 9223372036.854774,
              -9223372036.854774, -9223372036.854776, -1e19, float("inf"), float("-inf")):
        assert fp.Packet(b"\0" * 14, time=t).time_ns == _ns_of(t), t
    with pytest.raises(ValueError, match="NaN"):
        fp.Packet(b"\0" * 14, time=float("nan"))
    seg = bytes(Ether() / IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=1, dport=2, flags="PA") / Raw(b"data"))
    path = _pcapng_at(tmp_path, [seg], 10_413_792_000 * 10**6)   # 2300-01-01
    read = fp.read(str(path))[0]
    assert read.time_ns == (1 << 63) - 1
    again = fp.Packet(read.raw, time=read.time)
    assert again.time_ns == read.time_ns
    for session in (fs.IPSession, fs.TCPSession):
        (p,) = fs.sniff(offline=str(path), session=session)
        assert p.time_ns == read.time_ns and p.time > 0, session
