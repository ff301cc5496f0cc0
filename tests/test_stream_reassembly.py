"""fp.streams on hand-built segment sequences: the expected bytes are the bytes the test
sent, so every case has an independent oracle (the application data before it was cut
into segments), never fastpkt's own output.

Packets are built here with struct (Ethernet/IPv4 or IPv6/TCP) so the cases do not depend
on fastpkt's writer or on Scapy.
"""
from __future__ import annotations

import random
import struct

import pytest

import fastpkt as fp

C4, S4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
C6, S6 = bytes(15) + b"\x01", bytes(15) + b"\x02"
CPORT, SPORT = 40000, 80
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp_frame(src, dst, sport, dport, seq, ack, flags, payload=b"", v6=False):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                      65535, 0, 0) + payload
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + src + dst
        return b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x86\xdd" + ip + tcp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst)
    return b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + tcp


def pcap(frames):
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1000 + i // 1000, (i % 1000) * 1000, len(f), len(f)) + f)
    return memoryview(b"".join(out))


class Conn:
    """A TCP connection written segment by segment; seq numbers given as offsets."""

    def __init__(self, cisn=1000, sisn=5000, v6=False):
        self.cisn, self.sisn, self.v6 = cisn, sisn, v6
        self.frames: list[bytes] = []

    def c(self, off, data=b"", flags=ACK | PSH, ack_off=0, raw_seq=None):
        """Client -> server: `off` bytes into the client's stream (0 = first data byte)."""
        seq = raw_seq if raw_seq is not None else self.cisn + 1 + off
        src, dst = (C6, S6) if self.v6 else (C4, S4)
        self.frames.append(tcp_frame(src, dst, CPORT, SPORT, seq, self.sisn + 1 + ack_off, flags, data, self.v6))

    def s(self, off, data=b"", flags=ACK | PSH, ack_off=0, raw_seq=None):
        seq = raw_seq if raw_seq is not None else self.sisn + 1 + off
        src, dst = (S6, C6) if self.v6 else (S4, C4)
        self.frames.append(tcp_frame(src, dst, SPORT, CPORT, seq, self.cisn + 1 + ack_off, flags, data, self.v6))

    def handshake(self):
        src, dst = (C6, S6) if self.v6 else (C4, S4)
        self.frames.append(tcp_frame(src, dst, CPORT, SPORT, self.cisn, 0, SYN, b"", self.v6))
        self.frames.append(tcp_frame(dst, src, SPORT, CPORT, self.sisn, self.cisn + 1, SYN | ACK, b"", self.v6))
        self.c(0, flags=ACK)
        return self

    @staticmethod
    def pcap_of(conn):
        return pcap(conn.frames)

    def streams(self, **kw):
        return list(fp.streams(pcap(self.frames), **kw))

    def one(self, **kw):
        ss = self.streams(**kw)
        assert len(ss) == 1, ss
        return ss[0]


def test_in_order_both_ways_closed():
    c = Conn().handshake()
    c.c(0, b"GET / HTTP/1.0\r\n\r\n")
    c.s(0, b"HTTP/1.0 200 OK\r\n\r\nhello", ack_off=0)
    c.s(24, flags=FIN | ACK, ack_off=18)
    c.c(18, flags=FIN | ACK, ack_off=25)
    c.s(25, flags=ACK, ack_off=19)
    s = c.one()
    assert s.client_data == b"GET / HTTP/1.0\r\n\r\n"
    assert s.server_data == b"HTTP/1.0 200 OK\r\n\r\nhello"
    assert (s.client_ip, s.client_port, s.server_ip, s.server_port) == ("10.0.0.1", CPORT, "10.0.0.2", SPORT)
    assert s.key == ("10.0.0.1", CPORT, "10.0.0.2", SPORT)
    assert s.state == "closed" and s.client_closed and s.server_closed and s.complete
    assert s.client_gaps == [] and s.server_gaps == [] and s.anomalies == ()
    assert not s.midstream and s.stored
    assert s.client_packets == 4 and s.server_packets == 4
    assert s.client_bytes == 18 and s.server_bytes == 24
    assert s.flow.conn_state == "SF"
    assert "closed" in repr(s)


def test_out_of_order_and_retransmissions_deliver_each_byte_once():
    data = bytes(range(256)) * 40
    segs = [(o, data[o:o + 1000]) for o in range(0, len(data), 1000)]
    c = Conn().handshake()
    order = [3, 0, 2, 2, 1, 5, 4, 0, 9, 8, 7, 6, 10, 10, 3]
    for i in order:
        c.c(*segs[i])
    c.c(len(data), flags=FIN | ACK)
    s = c.one()
    assert s.client_data == data
    assert s.client_gaps == [] and s.client_closed
    assert "stream_overlap_inconsistent" not in s.anomalies
    st = fp.streams(pcap(c.frames))
    list(st)
    # copies seen again: segments 2, 0 and 3 (1000 bytes each) and 10 (the last 240 bytes)
    assert st.stats["reassembly"]["retransmitted_bytes"] == 3 * 1000 + (len(data) - 10000)


def test_overlap_with_different_bytes_first_copy_wins():
    c = Conn().handshake()
    c.c(0, b"AAAAAAAAAA")          # delivered
    c.c(5, b"bbbbbXXXXX")          # bytes 5..9 differ from what was delivered: A wins
    c.c(20, b"CCCCC")              # waits behind a hole at 15..19
    c.c(18, b"ddddd")              # 18,19 new; 20..22 overlap the waiting C's: C wins
    c.c(15, b"EEE")                # fills the hole
    c.c(25, flags=FIN | ACK)
    s = c.one()
    assert s.client_data == b"AAAAAAAAAA" + b"XXXXX" + b"EEE" + b"dd" + b"CCCCC"
    assert "stream_overlap_inconsistent" in s.anomalies
    st = fp.streams(pcap(c.frames))
    list(st)
    assert st.stats["reassembly"]["inconsistent_bytes"] == 5 + 3



def test_retransmissions_compared_with_the_whole_stored_stream():
    """Late copies of 60 KB windows anywhere in a 3 MiB stream (the store holds it in many
    pieces) are compared byte for byte with what was stored: the count of differing bytes is
    the number the test flipped, and the first copy is what comes out."""
    data = random.Random(17).randbytes(3 << 20)
    c = Conn().handshake()
    for off in range(0, len(data), 1400):
        c.c(off, data[off:off + 1400])
    starts = (0, 900, 3500, 7000, 1_000_000, 2_090_000, len(data) - 60000)
    for start in starts:
        late = bytearray(data[start:start + 60000])
        for k in (0, 1, 29999, 59999):
            late[k] ^= 0xFF
        c.c(start, bytes(late))
    c.c(len(data), flags=FIN | ACK)
    st = fp.streams(pcap(c.frames))
    (s,) = list(st)
    assert s.client_data == data and s.client_gaps == [] and s.client_closed
    assert st.stats["reassembly"]["retransmitted_bytes"] == len(starts) * 60000
    assert st.stats["reassembly"]["inconsistent_bytes"] == len(starts) * 4

def test_sequence_wraparound():
    data = b"0123456789abcdefghijKLMNOPQRST"
    c = Conn(cisn=0xFFFFFFF0).handshake()   # first data byte at 0xFFFFFFF1: wraps after 15 bytes
    c.c(20, data[20:])
    c.c(0, data[:10])
    c.c(10, data[10:20])
    c.c(len(data), flags=FIN | ACK)
    s = c.one()
    assert s.client_data == data and s.client_gaps == [] and s.client_closed


def test_hole_never_filled_is_a_gap_not_zero_bytes():
    c = Conn().handshake()
    c.c(0, b"first-")
    c.c(100, b"-third")            # bytes 6..99 never arrive
    c.c(106, flags=FIN | ACK)
    s = c.one()
    assert s.client_data == b"first--third"
    assert [tuple(g) for g in s.client_gaps] == [(6, 94)]
    assert s.client_gaps[0].offset == 6 and s.client_gaps[0].length == 94
    assert s.client_gap_bytes == 94
    assert not s.client_closed and not s.complete
    assert b"\x00" not in s.client_data


def test_ack_past_hole_reports_gap_at_once():
    """The server acknowledged bytes the capture never saw: they will not come again."""
    chunks = []
    c = Conn().handshake()
    c.c(0, b"aaaa")
    c.c(8, b"cccc")                 # 4..7 missing
    c.s(0, flags=ACK, ack_off=12)   # receiver got everything: the capture lost 4..7
    c.c(12, b"dddd")
    s = c.one(on_data=chunks.append)
    assert s.client_data == b"aaaaccccdddd"
    assert [tuple(g) for g in s.client_gaps] == [(4, 4)]
    assert "stream_acked_unseen" in s.anomalies
    client = [ch for ch in chunks if ch.direction == "client"]
    assert [(ch.offset, ch.data, ch.gap) for ch in client] == [(0, b"aaaa", 0), (8, b"cccc", 4), (12, b"dddd", 0)]


def test_trailing_bytes_acked_but_not_captured_are_a_gap():
    c = Conn().handshake()
    c.c(0, b"abc")
    c.s(0, flags=ACK, ack_off=10)   # 3..9 acknowledged, never captured
    s = c.one()
    assert s.client_data == b"abc"
    assert [tuple(g) for g in s.client_gaps] == [(3, 7)]


def test_midstream_pickup():
    c = Conn()
    c.c(50, b"middle of ")
    c.c(60, b"a stream")
    c.s(0, b"reply", ack_off=68)
    s = c.one()
    assert s.midstream and "stream_midstream" in s.anomalies
    assert s.client_data == b"middle of a stream" and s.server_data == b"reply"
    assert s.client_gaps == [] and not s.complete


def test_synack_gives_client_isn_when_syn_missing():
    """Capture starts at the SYN-ACK: the client's first data segment is lost, the second
    arrives. The SYN-ACK's ack number tells where the client's stream starts: a gap."""
    c = Conn()
    c.frames.append(tcp_frame(S4, C4, SPORT, CPORT, c.sisn, c.cisn + 1, SYN | ACK))
    c.c(5, b"world")
    c.c(10, flags=FIN | ACK)
    s = c.one()
    assert not s.midstream
    assert s.client_ip == "10.0.0.1"  # the SYN-ACK's receiver is the client
    assert s.client_data == b"world"
    assert [tuple(g) for g in s.client_gaps] == [(0, 5)]


def test_rst_mid_transfer():
    c = Conn().handshake()
    c.c(0, b"upload part 1 ")
    c.c(14, flags=RST | ACK)
    s = c.one()
    assert s.state == "reset" and s.client_data == b"upload part 1 "
    assert not s.client_closed


def test_keepalive_probe_ignored():
    c = Conn().handshake()
    c.c(0, b"hello")
    c.c(4, b"\x00")                 # keep-alive: seq = next - 1, one garbage byte
    c.c(4, flags=ACK)               # zero-length keep-alive
    c.c(5, b" world")
    c.c(11, flags=FIN | ACK)
    s = c.one()
    assert s.client_data == b"hello world" and s.anomalies == ()


def test_data_after_fin_is_cut():
    c = Conn().handshake()
    c.c(0, b"data", flags=FIN | ACK | PSH)
    c.c(5, b"ghost")                # after the FIN's sequence number
    s = c.one()
    assert s.client_data == b"data" and "stream_data_after_fin" in s.anomalies


def test_depth_truncates_and_counts():
    c = Conn().handshake()
    for off in range(0, 5000, 1000):
        c.c(off, b"x" * 1000)
    c.c(5000, flags=FIN | ACK)
    st = fp.streams(pcap(c.frames), depth=2500)
    (s,) = list(st)
    assert s.client_data == b"x" * 2500 and s.state == "truncated"
    assert "stream_depth_cut" in s.anomalies
    assert st.stats["reassembly"]["depth_cut_bytes"] == 2500


def test_out_of_order_flood_stays_within_cap():
    """A flood of one-byte segments above a hole that never fills: the buffer stays under
    its cap, holes are skipped (counted), and every byte that arrived is delivered."""
    c = Conn().handshake()
    rng = random.Random(7)
    offs = list(range(1, 20001, 2))   # odd offsets only: every even byte is missing
    rng.shuffle(offs)
    for o in offs:
        c.c(o, bytes([o & 0xFF]))
    cap = 16 << 10
    st = fp.streams(pcap(c.frames), max_buffered=cap)
    (s,) = list(st)
    r = st.stats["reassembly"]
    assert r["buffered_peak_bytes"] <= cap + 33
    assert r["forced_gaps"] > 0 and "stream_buffer_cut" in s.anomalies
    assert s.state == "truncated"
    # bytes skipped past by a forced gap and arriving later are old: nothing invented
    assert len(s.client_data) + s.client_gap_bytes >= 20000 - 1
    assert set(s.client_data) <= {o & 0xFF for o in offs}


def test_total_cap_across_streams():
    frames = []
    for k in range(20):
        c = Conn()
        c.frames = []
        c.handshake()
        for o in range(1000, 5000, 500):   # all above a 1000-byte hole
            c.c(o, b"y" * 500)
        frames += [f[:34] + struct.pack("!H", CPORT + k) + f[36:] if f[26:30] == C4 else
                   f[:36] + struct.pack("!H", CPORT + k) + f[38:] for f in c.frames]
    st = fp.streams(pcap(frames), max_buffered_total=20000)
    ss = list(st)
    assert len(ss) == 20
    assert st.stats["reassembly"]["buffered_peak_bytes"] <= 20000 + 600
    assert all(len(s.client_data) == 4000 for s in ss)


def test_ipv6():
    c = Conn(v6=True).handshake()
    c.c(0, b"over six")
    c.c(8, flags=FIN | ACK)
    s = c.one()
    assert s.ip_version == 6 and s.client_ip == "::1" and s.client_data == b"over six"
    assert "[::1]" in repr(s)


@pytest.mark.parametrize("seed", range(40))
def test_random_orderings_recover_the_bytes(seed):
    """Random segmentation, reordering, duplication and (some seeds) loss: the recovered
    bytes are the original with exactly the lost ranges missing, each reported as a gap."""
    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(1, 60000))
    cuts = sorted({0, len(data), *(rng.randrange(len(data)) for _ in range(rng.randrange(1, 80)))})
    segs = [(a, data[a:b]) for a, b in zip(cuts, cuts[1:])]
    lost = set()
    if seed % 3 == 0 and len(segs) > 2:
        lost = {rng.randrange(1, len(segs) - 1) for _ in range(2)}
    sent = [s for i, s in enumerate(segs) if i not in lost]
    sent += rng.sample(sent, k=min(len(sent), rng.randrange(0, 10)))   # retransmissions
    rng.shuffle(sent)
    c = Conn(cisn=rng.randrange(1 << 32)).handshake()
    for off, chunk in sent:
        c.c(off, chunk)
    c.c(len(data), flags=FIN | ACK)
    chunks = []
    s = c.one(on_data=chunks.append, max_buffered=1 << 20)
    expect = b"".join(chunk for i, (_, chunk) in enumerate(segs) if i not in lost)
    assert s.client_data == expect
    want_gaps, pos, run = [], 0, None
    for i, (_, chunk) in enumerate(segs):
        if i in lost:
            if run is not None and run[0] == pos:
                run[1] += len(chunk)
            else:
                run = [pos, len(chunk)]
                want_gaps.append(run)
        else:
            pos += len(chunk)
    assert [list(g) for g in s.client_gaps] == want_gaps
    assert "stream_overlap_inconsistent" not in s.anomalies
    got = b"".join(ch.data for ch in chunks if ch.direction == "client" and ch.stream_id == s.stream_id)
    assert got == expect


def test_store_false_with_on_data_and_run():
    c = Conn().handshake()
    c.c(0, b"abc")
    c.c(3, b"def", flags=FIN | ACK | PSH)
    got = []
    st = fp.streams(pcap(c.frames), store=False, on_data=got.append)
    assert st.run() == 1
    assert b"".join(ch.data for ch in got) == b"abcdef"
    assert got[0].client == ("10.0.0.1", CPORT) and got[0].server == ("10.0.0.2", SPORT)
    assert st.finished
    (s,) = list(fp.streams(pcap(c.frames), store=False))
    assert not s.stored and s.client_data == b"" and s.client_bytes == 6
    with pytest.raises(ValueError, match="store=False"):
        s.save("/nonexistent")


def test_on_data_exception_propagates():
    c = Conn().handshake()
    c.c(0, b"abc")

    def boom(chunk):
        raise KeyError("from callback")

    with pytest.raises(KeyError, match="from callback"):
        list(fp.streams(pcap(c.frames), on_data=boom))


def test_save_writes_course_names(tmp_path):
    c = Conn().handshake()
    c.c(0, b"req")
    c.s(0, b"resp")
    paths = fp.save_streams(pcap(c.frames), tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["stream_0_10.0.0.1_40000_to_10.0.0.2_80.bin", "stream_0_10.0.0.2_80_to_10.0.0.1_40000.bin"]
    assert (tmp_path / names[0]).read_bytes() == b"req"
    assert (tmp_path / names[1]).read_bytes() == b"resp"


def test_save_makes_its_directory(tmp_path):
    """Stream.save makes the directory on its first write (not checked per stream)."""
    c = Conn().handshake()
    c.c(0, b"req")
    (s,) = fp.streams(pcap(c.frames))
    (path,) = s.save(tmp_path / "new" / "dir")
    assert path.parent == tmp_path / "new" / "dir" and path.read_bytes() == b"req"
    assert s.save(tmp_path / "new" / "dir") == [path] and path.read_bytes() == b"req"  # rewritten, not appended


def test_non_tcp_traffic_makes_no_streams():
    udp = (b"\x00" * 12 + b"\x08\x00" + struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, 17, 0, C4, S4)
           + struct.pack("!HHHH", 5353, 53, 8, 0))
    st = fp.streams(pcap([udp]))
    assert list(st) == [] and st.stats["reassembly"]["streams"] == 0


def test_bad_options():
    with pytest.raises(ValueError, match="depth"):
        fp.streams(pcap([]), depth=0)
    with pytest.raises(TypeError, match="on_data"):
        fp.streams(pcap([]), on_data=5)


def _zeek_cases():
    from _fphelpers import CORPUS_SKIP_REASON, corpus_dir
    from test_flows_reference import ZEEK_CASES

    if corpus_dir() is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(CORPUS_SKIP_REASON), id="no-corpus")]
    return [pytest.param(t, log, id=t.split("/")[-1]) for t, log in ZEEK_CASES.items()]


@pytest.mark.parametrize("trace,log", _zeek_cases())
def test_gap_bytes_equal_zeek_missed_bytes(trace, log):
    """Zeek's conn.log missed_bytes counts the bytes of content gaps in both directions:
    the stream's reported gaps must add up to the same number, connection by connection."""
    from _fphelpers import corpus_dir
    from test_flows_reference import norm_ip, read_zeek_log

    corpus = corpus_dir()
    ours = {}
    for s in fp.streams(str(corpus / trace), idle_timeout=1e6):
        k = tuple(sorted([(norm_ip(s.client_ip), s.client_port), (norm_ip(s.server_ip), s.server_port)]))
        ours[k] = ours.get(k, 0) + s.client_gap_bytes + s.server_gap_bytes
    compared = 0
    for z in read_zeek_log(corpus / "zeek-baselines" / log):
        if z.get("proto", "tcp") != "tcp" or "missed_bytes" not in z:
            continue
        k = tuple(sorted([(norm_ip(z["id.orig_h"]), int(z["id.orig_p"])),
                          (norm_ip(z["id.resp_h"]), int(z["id.resp_p"]))]))
        if k not in ours:
            continue  # no payload-carrying stream (e.g. a lone SYN still makes one; UDP never)
        assert ours[k] == int(z["missed_bytes"]), (k, ours[k], z["missed_bytes"])
        compared += 1
    if compared == 0:
        pytest.skip("no TCP connection with missed_bytes in this baseline")
