"""Unit tests of the C flow engine (csrc/flow) on hand-built packets.

Expected values come from the protocol definitions and from Zeek's documented conn.log
semantics (conn_state table and history letters in base/protocols/conn/main.zeek), not
from fastpkt's own output.
"""
from __future__ import annotations

import math
import struct

import pytest

import fastpkt as fp

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
C6, S6 = "2001:db8::1", "2001:db8::2"
T0 = 1_700_000_000.0

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80


# ---- packet builders (RFC 791 / 8200 / 793 / 768 / 792 layouts) ------------------------

def _ip4(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def _ip6(a: str) -> bytes:
    import ipaddress
    return ipaddress.IPv6Address(a).packed


def ether(payload: bytes, ethertype: int, vlan: int | None = None) -> bytes:
    head = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    if vlan is not None:
        head += struct.pack("!HH", 0x8100, vlan)
    return head + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, l4: bytes, ident: int = 1, frag: int = 0, mf: bool = False,
         total: int | None = None) -> bytes:
    flags = (0x2000 if mf else 0) | (frag // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total or 20 + len(l4), ident, flags, 64, proto, 0,
                      _ip4(src), _ip4(dst))
    return hdr + l4


def ipv6(src: str, dst: str, proto: int, l4: bytes) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, 64, _ip6(src), _ip6(dst)) + l4


def tcp(sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0, payload: bytes = b"",
        window: int = 65535) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                       window, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(type_: int, code: int, ident: int = 0, seq: int = 0, payload: bytes = b"") -> bytes:
    return struct.pack("!BBHHH", type_, code, 0, ident, seq) + payload


def tcp4(src, dst, sport, dport, flags, seq=0, ack=0, payload=b"", vlan=None, window=65535) -> bytes:
    return ether(ipv4(src, dst, 6, tcp(sport, dport, flags, seq, ack, payload, window)), 0x0800, vlan)


def udp4(src, dst, sport, dport, payload=b"", vlan=None) -> bytes:
    return ether(ipv4(src, dst, 17, udp(sport, dport, payload)), 0x0800, vlan)


def pcap(packets: list[tuple[float, bytes]]) -> bytearray:
    """A microsecond little-endian pcap (LINKTYPE_ETHERNET) held in memory."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    for ts, frame in packets:
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    return out


def run(packets, **opts):
    opts.setdefault("progress", False)
    return list(fp.flows(pcap(packets), **opts))


def one(packets, **opts):
    flows = run(packets, **opts)
    assert len(flows) == 1, flows
    return flows[0]


# ---- a client/server TCP conversation, by side -----------------------------------------

class Conv:
    """Builds one TCP conversation; `c(...)` from the client, `s(...)` from the server."""

    def __init__(self, t: float = T0, step: float = 0.001, cport: int = 40000, sport: int = 80):
        self.t, self.step, self.cport, self.sport = t, step, cport, sport
        self.cseq, self.sseq = 1000, 5000
        self.pkts: list[tuple[float, bytes]] = []

    def _add(self, frame: bytes) -> "Conv":
        self.pkts.append((self.t, frame))
        self.t += self.step
        return self

    def c(self, flags: int, payload: bytes = b"", seq: int | None = None) -> "Conv":
        s = self.cseq if seq is None else seq
        self._add(tcp4(CLIENT, SERVER, self.cport, self.sport, flags, s, self.sseq, payload))
        if seq is None:
            self.cseq += len(payload) + (1 if flags & (SYN | FIN) else 0)
        return self

    def s(self, flags: int, payload: bytes = b"", seq: int | None = None) -> "Conv":
        s = self.sseq if seq is None else seq
        self._add(tcp4(SERVER, CLIENT, self.sport, self.cport, flags, s, self.cseq, payload))
        if seq is None:
            self.sseq += len(payload) + (1 if flags & (SYN | FIN) else 0)
        return self


# ---- keying and direction --------------------------------------------------------------

def test_bidirectional_key_joins_both_directions():
    pkts = [(T0, udp4(CLIENT, SERVER, 5000, 53, b"q" * 10)), (T0 + 0.5, udp4(SERVER, CLIENT, 53, 5000, b"r" * 30))]
    f = one(pkts)
    assert (f.src_ip, f.src_port, f.dst_ip, f.dst_port) == (CLIENT, 5000, SERVER, 53)
    assert (f.fwd_packets, f.rev_packets, f.packets) == (1, 1, 2)
    assert f.fwd_bytes == len(pkts[0][1]) and f.rev_bytes == len(pkts[1][1])
    assert (f.fwd_payload_bytes, f.rev_payload_bytes) == (10, 30)
    assert f.protocol == 17 and f.protocol_name == "UDP" and f.ip_version == 4
    assert f.conn_state == "SF"  # Zeek: UDP with packets both ways
    assert f.duration == pytest.approx(0.5)


def test_unidirectional_gives_one_flow_per_direction():
    pkts = [(T0, udp4(CLIENT, SERVER, 5000, 53)), (T0 + 0.1, udp4(SERVER, CLIENT, 53, 5000))]
    flows = run(pkts, bidirectional=False)
    assert len(flows) == 2
    assert {(f.src_ip, f.dst_ip) for f in flows} == {(CLIENT, SERVER), (SERVER, CLIENT)}
    assert all(f.rev_packets == 0 and f.conn_state == "S0" for f in flows)


def test_first_sender_is_client_even_with_higher_address():
    pkts = [(T0, udp4(SERVER, CLIENT, 9999, 1234)), (T0 + 0.1, udp4(CLIENT, SERVER, 1234, 9999))]
    f = one(pkts)
    assert (f.src_ip, f.src_port) == (SERVER, 9999)


def test_synack_first_is_corrected_so_the_syn_sender_is_client():
    cv = Conv()
    cv.s(SYN | ACK).c(ACK).c(PSH | ACK, b"GET")
    f = one(cv.pkts)
    assert (f.src_ip, f.src_port, f.dst_ip, f.dst_port) == (CLIENT, 40000, SERVER, 80)
    assert f.history.startswith("^")  # Zeek: direction flipped
    assert f.fwd_packets == 2 and f.rev_packets == 1


def test_vlan_is_part_of_the_key():
    pkts = [(T0, udp4(CLIENT, SERVER, 1, 2, vlan=10)), (T0 + 1, udp4(CLIENT, SERVER, 1, 2, vlan=20)),
            (T0 + 2, udp4(CLIENT, SERVER, 1, 2))]
    flows = fp.flows(pcap(pkts), progress=False).to_pandas()
    assert len(flows) == 3
    assert sorted(flows["vlan"].dropna().tolist()) == [10, 20]
    assert flows["vlan"].isna().sum() == 1


def test_ipv6_flow():
    pkts = [(T0, ether(ipv6(C6, S6, 17, udp(1000, 53, b"x")), 0x86DD)),
            (T0 + 1, ether(ipv6(S6, C6, 17, udp(53, 1000, b"yy")), 0x86DD))]
    f = one(pkts)
    assert (f.src_ip, f.dst_ip, f.ip_version, f.packets) == (C6, S6, 6, 2)


def test_non_ip_packets_are_counted_not_flowed():
    arp = ether(b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\x00" * 20, 0x0806)
    fl = fp.flows(pcap([(T0, arp), (T0 + 1, udp4(CLIENT, SERVER, 1, 2))]), progress=False)
    assert len(fl) == 1
    assert fl.stats["non_ip_packets"] == 1 and fl.stats["packets"] == 2


# ---- ICMP --------------------------------------------------------------------------------

def test_icmp_echo_request_and_reply_pair_by_identifier():
    pkts = [(T0, ether(ipv4(CLIENT, SERVER, 1, icmp(8, 0, 77, 1)), 0x0800)),
            (T0 + 0.01, ether(ipv4(SERVER, CLIENT, 1, icmp(0, 0, 77, 1)), 0x0800)),
            (T0 + 1, ether(ipv4(CLIENT, SERVER, 1, icmp(8, 0, 78, 1)), 0x0800))]
    df = fp.flows(pcap(pkts), progress=False).to_pandas().sort_values("flow_id")
    assert len(df) == 2  # two identifiers
    first = df.iloc[0]
    assert (first.src_ip, first.packets, first.fwd_packets, first.rev_packets) == (CLIENT, 2, 1, 1)
    assert (first.icmp_type, first.icmp_code) == (8, 0)
    assert first.src_port is pd_na() or first.src_port != first.src_port or first.src_port is None


def pd_na():
    import pandas as pd
    return pd.NA


def test_icmp_type_and_code_are_in_the_key():
    unreach = icmp(3, 3, 0, 0, b"\x00" * 28)
    pkts = [(T0, ether(ipv4(SERVER, CLIENT, 1, unreach), 0x0800)),
            (T0 + 1, ether(ipv4(SERVER, CLIENT, 1, icmp(3, 1, 0, 0, b"\x00" * 28)), 0x0800)),
            (T0 + 2, ether(ipv4(SERVER, CLIENT, 1, unreach), 0x0800))]
    flows = sorted(run(pkts), key=lambda f: f.flow_id)
    assert [(f.icmp_type, f.icmp_code, f.packets) for f in flows] == [(3, 3, 2), (3, 1, 1)]


def test_icmpv6_echo_reply_first_flips_to_the_requester():
    pkts = [(T0, ether(ipv6(S6, C6, 58, icmp(129, 0, 5, 1)), 0x86DD)),
            (T0 + 1, ether(ipv6(C6, S6, 58, icmp(128, 0, 5, 2)), 0x86DD))]
    f = one(pkts)
    assert f.protocol_name == "ICMPv6" and f.src_ip == C6 and f.fwd_packets == 1


# ---- Zeek conn_state and history ------------------------------------------------------------
# conn_state meanings and the history letters are Zeek's (base/protocols/conn/main.zeek):
# upper case = originator, lower case = responder.

def test_sf_normal_establishment_and_termination():
    cv = Conv()
    cv.c(SYN).s(SYN | ACK).c(ACK).c(PSH | ACK, b"hello").s(ACK).s(PSH | ACK, b"world!")
    cv.c(FIN | ACK).s(FIN | ACK).c(ACK)
    f = one(cv.pkts)
    assert f.conn_state == "SF"
    assert f.history == "ShADadFf"  # Zeek's canonical history of a complete connection
    assert (f.syn, f.synack, f.fin, f.rst, f.psh) == (1, 1, 2, 0, 2)
    assert f.expiration == "fin"
    assert f.packets == 9 and f.fwd_packets == 5  # the final ACK is counted


def test_s0_attempt_without_reply():
    f = one(Conv().c(SYN).pkts)
    assert (f.conn_state, f.history) == ("S0", "S")


def test_rej_attempt_rejected():
    f = one(Conv().c(SYN).s(RST | ACK).pkts)
    assert (f.conn_state, f.history, f.expiration) == ("REJ", "Sr", "rst")


def test_s1_established_not_terminated():
    f = one(Conv().c(SYN).s(SYN | ACK).c(ACK).c(PSH | ACK, b"x").pkts)
    assert (f.conn_state, f.history) == ("S1", "ShAD")


def test_s2_and_s3_one_side_closed():
    f = one(Conv().c(SYN).s(SYN | ACK).c(ACK).c(FIN | ACK).pkts)
    assert f.conn_state == "S2"
    f = one(Conv().c(SYN).s(SYN | ACK).c(ACK).s(FIN | ACK).pkts)
    assert f.conn_state == "S3"


def test_rsto_and_rstr_aborts_after_establishment():
    f = one(Conv().c(SYN).s(SYN | ACK).c(ACK).c(RST).pkts)
    assert (f.conn_state, f.history) == ("RSTO", "ShAR")
    f = one(Conv().c(SYN).s(SYN | ACK).c(ACK).s(RST).pkts)
    assert (f.conn_state, f.history) == ("RSTR", "ShAr")


def test_rstos0_syn_then_own_rst():
    f = one(Conv().c(SYN).c(RST).pkts)
    assert (f.conn_state, f.history) == ("RSTOS0", "SR")


def test_rstrh_synack_then_rst_without_syn():
    f = one(Conv().s(SYN | ACK).s(RST).pkts)
    assert f.conn_state == "RSTRH"
    assert f.history == "^hr" and f.src_ip == CLIENT


def test_sh_and_shr_half_open():
    f = one(Conv().c(SYN).c(FIN).pkts)
    assert (f.conn_state, f.history) == ("SH", "SF")
    f = one(Conv().s(SYN | ACK).s(FIN | ACK).pkts)
    assert (f.conn_state, f.history) == ("SHR", "^hf")


def test_oth_midstream():
    f = one(Conv().c(ACK).s(PSH | ACK, b"data").c(ACK).pkts)
    assert f.conn_state == "OTH"
    assert f.history == "Ad"
    assert f.syn == 0 and math.isnan(f.rtt_syn_synack)


def test_udp_one_way_is_s0():
    f = one([(T0, udp4(CLIENT, SERVER, 1, 2, b"x"))])
    assert (f.conn_state, f.history) == ("S0", "D")


def test_multi_flag_and_inconsistent_letters():
    f = one(Conv().c(SYN | FIN).c(FIN | RST).pkts)
    assert "Q" in f.history and "I" in f.history
    assert "flow_tcp_bad_flags" in f.anomalies


# ---- RTT, retransmissions, out-of-order ----------------------------------------------------

def test_handshake_rtt():
    cv = Conv(step=0)
    cv.t = T0
    cv.c(SYN)
    cv.t = T0 + 0.010
    cv.s(SYN | ACK)
    cv.t = T0 + 0.025
    cv.c(ACK)
    f = one(cv.pkts)
    assert f.rtt_syn_synack == pytest.approx(0.010, abs=2e-6)
    assert f.rtt_synack_ack == pytest.approx(0.015, abs=2e-6)


def test_retransmission_counted_and_logged_as_T():
    cv = Conv().c(SYN).s(SYN | ACK).c(ACK)
    start = cv.cseq
    cv.c(PSH | ACK, b"a" * 100).c(PSH | ACK, b"b" * 100)
    cv.c(PSH | ACK, b"a" * 100, seq=start)  # same range again
    f = one(cv.pkts)
    assert (f.retransmits, f.out_of_order) == (1, 0)
    assert "T" in f.history


def test_out_of_order_fills_a_gap():
    cv = Conv().c(SYN).s(SYN | ACK).c(ACK)
    start = cv.cseq
    cv.c(PSH | ACK, b"a" * 100, seq=start)
    cv.c(PSH | ACK, b"c" * 100, seq=start + 200)  # a gap of 100
    cv.c(PSH | ACK, b"b" * 100, seq=start + 100)  # fills it: below the highest, never seen
    cv.c(PSH | ACK, b"b" * 100, seq=start + 100)  # now seen: a retransmission
    f = one(cv.pkts)
    assert (f.out_of_order, f.retransmits) == (1, 1)


def test_sequence_wrap_is_not_a_retransmission():
    cv = Conv()
    cv.cseq = 0xFFFFFFFF - 149
    cv.c(SYN).s(SYN | ACK).c(ACK)
    for _ in range(4):  # crosses 2**32 after the second segment
        cv.cseq &= 0xFFFFFFFF
        cv.c(PSH | ACK, b"z" * 100)
    f = one(cv.pkts)
    assert (f.retransmits, f.out_of_order) == (0, 0)


def test_flag_counts():
    cv = Conv().c(SYN | ECE | CWR).s(SYN | ACK | ECE).c(ACK).c(PSH | ACK | URG, b"!")
    f = one(cv.pkts)
    assert (f.syn, f.synack, f.ece, f.cwr, f.urg, f.psh) == (1, 1, 2, 1, 1, 1)


# ---- size and inter-arrival statistics -------------------------------------------------------

def test_size_and_iat_statistics_per_direction():
    import statistics

    sizes = [10, 200, 50, 700]
    times = [0.0, 0.5, 0.75, 2.0]
    pkts = [(T0 + t, udp4(CLIENT, SERVER, 1, 2, b"p" * n)) for t, n in zip(times, sizes)]
    f = one(pkts)
    wire = [len(p[1]) for p in pkts]
    assert (f.fwd_size_min, f.fwd_size_max) == (min(wire), max(wire))
    assert f.fwd_size_mean == pytest.approx(statistics.mean(wire))
    assert f.fwd_size_std == pytest.approx(statistics.stdev(wire))
    iats = [b - a for a, b in zip(times, times[1:])]
    assert f.fwd_iat_min == pytest.approx(min(iats), abs=2e-6)
    assert f.fwd_iat_max == pytest.approx(max(iats), abs=2e-6)
    assert f.fwd_iat_mean == pytest.approx(statistics.mean(iats), abs=2e-6)
    assert f.fwd_iat_std == pytest.approx(statistics.stdev(iats), abs=2e-6)
    assert math.isnan(f.rev_size_min) and math.isnan(f.rev_iat_mean)


# ---- expiry ------------------------------------------------------------------------------------

def test_idle_timeout_splits_a_flow():
    pkts = [(T0, udp4(CLIENT, SERVER, 1, 2)), (T0 + 200, udp4(CLIENT, SERVER, 1, 2))]
    flows = run(pkts, idle_timeout=120)
    assert [f.expiration for f in flows] == ["idle", "end"]
    assert [f.packets for f in flows] == [1, 1]


def test_idle_flow_is_streamed_before_the_end_of_input():
    pkts = [(T0, udp4(CLIENT, SERVER, 1, 2))] + [(T0 + 10 + i, udp4(CLIENT, SERVER, 3, 4)) for i in range(5)]
    it = iter(fp.flows(pcap(pkts), idle_timeout=5, progress=False))
    first = next(it)
    assert (first.src_port, first.expiration) == (1, "idle")


def test_active_timeout_emits_and_continues_in_the_same_direction():
    pkts = []
    for i in range(10):  # every 10 s for 100 s, alternating directions
        src, dst, sp, dp = (CLIENT, SERVER, 1000, 2000) if i % 2 == 0 else (SERVER, CLIENT, 2000, 1000)
        pkts.append((T0 + 10 * i, udp4(src, dst, sp, dp)))
    flows = run(pkts, idle_timeout=60, active_timeout=30)
    assert [f.expiration for f in flows] == ["active", "active", "active", "end"]
    assert [f.packets for f in flows] == [3, 3, 3, 1]  # t=0..20, 30..50, 60..80, 90
    assert all(f.src_ip == CLIENT for f in flows)  # though t=30 and t=90 came from the server
    assert flows[1].fwd_packets == 1 and flows[1].rev_packets == 2
    assert len({f.flow_id for f in flows}) == 4


def test_fin_close_emitted_after_grace_before_later_traffic():
    cv = Conv().c(SYN).s(SYN | ACK).c(ACK).c(FIN | ACK).s(FIN | ACK).c(ACK)
    pkts = cv.pkts + [(cv.t + 6, udp4(CLIENT, SERVER, 7, 8))]  # past the 5 s grace
    flows = run(pkts)
    assert [f.expiration for f in flows] == ["fin", "end"]
    assert flows[0].packets == 6


def test_rst_expiration_and_port_reuse_starts_a_new_flow():
    cv = Conv().c(SYN).s(RST | ACK)
    cv.t += 0.1
    cv.c(SYN).s(SYN | ACK)  # same 5-tuple, new connection within the grace
    flows = run(cv.pkts)
    assert [f.expiration for f in flows] == ["rst", "end"]
    assert [f.conn_state for f in flows] == ["REJ", "S1"]


def test_memcap_max_flows_evicts_least_recently_seen():
    pkts = [(T0, udp4(CLIENT, SERVER, 1, 9)), (T0 + 1, udp4(CLIENT, SERVER, 2, 9)),
            (T0 + 2, udp4(CLIENT, SERVER, 1, 9)),  # port 1 is now more recent than port 2
            (T0 + 3, udp4(CLIENT, SERVER, 3, 9))]
    fl = fp.flows(pcap(pkts), max_flows=2, progress=False)
    flows = list(fl)
    assert (flows[0].src_port, flows[0].expiration) == (2, "evicted")
    assert fl.stats["evicted"] == 1 and fl.stats["max_flows_seen"] == 2
    assert fl.stats["flows_expired"]["evicted"] == 1


def test_memcap_max_memory_bounds_the_table():
    pkts = [(T0 + i * 0.001, udp4(CLIENT, SERVER, 1000 + i, 53)) for i in range(2000)]
    fl = fp.flows(pcap(pkts), max_memory=256 * 1024, progress=False)
    peak = 0
    n = 0
    for _ in fl:
        peak = max(peak, fl.stats["memory_bytes"])
        n += 1
    assert n == 2000
    assert fl.stats["evicted"] > 0
    assert fl.stats["max_flows_seen"] < 2000
    assert peak <= 256 * 1024


def test_stats_add_up():
    cv = Conv().c(SYN).s(SYN | ACK).c(ACK).c(RST)
    fl = fp.flows(pcap(cv.pkts + [(cv.t + 500, udp4(CLIENT, SERVER, 5, 6))]), progress=False)
    df = fl.to_pandas()
    st = fl.stats
    assert st["flows_created"] == len(df) == sum(st["flows_expired"].values())
    assert st["packets"] == df["packets"].sum() == 5
    assert set(st) >= {"packets", "bytes", "non_ip_packets", "flows_created", "flows_expired", "evicted",
                       "anomalies", "fragments", "max_flows_seen", "memory_bytes"}
    assert set(st["flows_expired"]) == {"idle", "active", "fin", "rst", "end", "evicted"}


# ---- IP fragments --------------------------------------------------------------------------------

def _fragments(src, dst, ident, data: bytes) -> list[bytes]:
    """A UDP datagram in three IPv4 fragments (RFC 791: offsets in 8-byte units)."""
    dgram = udp(4000, 5000, data)
    parts = [dgram[:24], dgram[24:48], dgram[48:]]
    out, off = [], 0
    for i, part in enumerate(parts):
        out.append(ether(ipv4(src, dst, 17, part, ident=ident, frag=off, mf=i < 2), 0x0800))
        off += len(part)
    return out


def test_fragments_are_attributed_to_their_flow():
    frames = _fragments(CLIENT, SERVER, 4242, b"x" * 60)
    pkts = [(T0 + i * 0.001, fr) for i, fr in enumerate(frames)]
    pkts.append((T0 + 1, udp4(SERVER, CLIENT, 5000, 4000, b"ok")))
    fl = fp.flows(pcap(pkts), progress=False, defragment=False)
    flows = list(fl)
    assert len(flows) == 1
    f = flows[0]
    assert (f.src_port, f.dst_port, f.fwd_packets, f.rev_packets) == (4000, 5000, 3, 1)
    assert f.fwd_payload_bytes == 60
    assert fl.stats["fragments"] == 2 and fl.stats["fragment_misses"] == 0


def test_orphan_fragment_is_counted():
    frames = _fragments(CLIENT, SERVER, 7, b"y" * 60)
    fl = fp.flows(pcap([(T0, frames[1]), (T0 + 0.001, frames[2])]), progress=False, defragment=False)
    flows = list(fl)
    assert fl.stats["fragment_misses"] == 2
    assert len(flows) == 1 and flows[0].src_port is None
    assert "flow_fragment_orphan" in flows[0].anomalies


def test_reassembled_datagram_counts_once():
    """Defragmented (the default), the datagram is one packet of the flow, as Zeek's conn.log
    and tshark's UDP conversations count it; fragments never completed stay out of flows."""
    frames = _fragments(CLIENT, SERVER, 4242, b"x" * 60)
    pkts = [(T0 + i * 0.001, fr) for i, fr in enumerate(frames)]
    pkts.append((T0 + 1, udp4(SERVER, CLIENT, 5000, 4000, b"ok")))
    pkts.append((T0 + 2, _fragments(CLIENT, SERVER, 7, b"y" * 60)[1]))  # an orphan
    fl = fp.flows(pcap(pkts), progress=False)
    flows = list(fl)
    assert len(flows) == 1
    f = flows[0]
    assert (f.src_port, f.dst_port, f.fwd_packets, f.rev_packets) == (4000, 5000, 1, 1)
    assert f.fwd_payload_bytes == 60
    assert fl.stats["fragments"] == 0
    assert {k: fl.stats["defrag"][k] for k in ("fragments", "reassembled", "pending")} == {
        "fragments": 4, "reassembled": 1, "pending": 1}


# ---- application hints -----------------------------------------------------------------------------

def _dns(qid: int, qname: str, response: bool, rcode: int = 0) -> bytes:
    flags = (0x8180 if response else 0x0100) | rcode
    q = b"".join(bytes([len(p)]) + p.encode() for p in qname.split(".")) + b"\x00" + struct.pack("!HH", 1, 1)
    return struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + q


def test_dns_qname_and_rcode():
    pkts = [(T0, udp4(CLIENT, SERVER, 33333, 53, _dns(9, "www.example.org", False))),
            (T0 + 0.01, udp4(SERVER, CLIENT, 53, 33333, _dns(9, "www.example.org", True, rcode=3)))]
    f = one(pkts)
    assert (f.dns_qname, f.dns_rcode) == ("www.example.org", 3)


def test_http_host_and_method():
    req = b"POST /x HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"
    cv = Conv().c(SYN).s(SYN | ACK).c(ACK).c(PSH | ACK, req)
    f = one(cv.pkts)
    assert (f.http_method, f.http_host) == ("POST", "example.com")
    assert f.sni is None


def _client_hello(sni: str) -> bytes:
    name = sni.encode()
    sni_ext = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    ext = struct.pack("!HH", 0, len(sni_ext)) + sni_ext
    body = struct.pack("!H", 0x0303) + b"\x00" * 32 + b"\x00" + struct.pack("!H", 2) + b"\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0301, len(hs)) + hs


def test_tls_sni_single_segment():
    cv = Conv(sport=443).c(SYN).s(SYN | ACK).c(ACK).c(PSH | ACK, _client_hello("api.example.net"))
    assert one(cv.pkts).sni == "api.example.net"


# ---- the Python surface ------------------------------------------------------------------------------

def _mixed():
    cv = Conv().c(SYN).s(SYN | ACK).c(ACK).c(PSH | ACK, b"x").c(FIN | ACK).s(FIN | ACK).c(ACK)
    return cv.pkts + [(cv.t + 1, udp4(CLIENT, SERVER, 1, 2, b"u")), (cv.t + 2, udp4(SERVER, CLIENT, 2, 1))]


def test_flow_records_match_dataframe_columns():
    pd = pytest.importorskip("pandas")
    df = fp.flows(pcap(_mixed()), progress=False).to_pandas()
    recs = run(_mixed())
    assert list(df.columns) == list(recs[0]._fields if hasattr(recs[0], "_fields") else fp._fastpkt.FLOW_COLUMNS)
    assert list(df.columns) == list(fp._fastpkt.FLOW_COLUMNS)
    assert str(df["first_seen"].dtype) == "datetime64[ns, UTC]"
    assert str(df["src_port"].dtype) == "UInt16" and str(df["flow_id"].dtype) == "uint64"
    assert isinstance(df["conn_state"].dtype, pd.CategoricalDtype)
    for rec, (_, row) in zip(recs, df.iterrows()):
        assert rec.flow_id == row.flow_id and rec.packets == row.packets and rec.src_ip == row.src_ip
        assert rec.first_seen == pytest.approx(row.first_seen.value / 1e9)
    assert "conn_state=" in repr(recs[0])


def test_streamed_flows_are_not_kept():
    fl = fp.flows(pcap(_mixed()), progress=False)
    assert "not read yet" in repr(fl)
    n = sum(1 for _ in fl)
    assert n == 2 and len(fl) == 2
    with pytest.raises(RuntimeError):
        fl.to_pandas()


def test_kept_flows_can_be_iterated_again():
    fl = fp.flows(pcap(_mixed()), progress=False)
    assert len(fl) == 2
    assert [f.flow_id for f in fl] == [f.flow_id for f in fl] == [fl[0].flow_id, fl[1].flow_id]


def test_list_of_sources_is_merged_in_time_order(tmp_path):
    pkts = _mixed()
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    a.write_bytes(pcap(pkts[0::2]))
    b.write_bytes(pcap(pkts[1::2]))
    merged = [(f.flow_id, f.packets, f.conn_state, f.history) for f in fp.flows([a, b], progress=False)]
    single = [(f.flow_id, f.packets, f.conn_state, f.history) for f in run(pkts)]
    assert merged == single


def test_open_reader_as_source():
    with fp.open(pcap(_mixed())) as r:
        assert len(fp.flows(r, progress=False)) == 2


def test_progress_callback_sees_bytes():
    seen = []
    fp.flows(pcap(_mixed()), progress=lambda pos, total: seen.append((pos, total))).flush()
    assert seen and seen[-1][0] == seen[-1][1] > 0


def test_bad_options_raise():
    with pytest.raises(ValueError):
        fp.flows(pcap(_mixed()), idle_timeout=-1)
    with pytest.raises(ValueError):
        fp.flows(pcap(_mixed()), max_flows=0)
