"""The per-packet attribute path (csrc/py/hotcache.c, the packet's own layer views in
csrc/py/layer.c): shared address text and ints stay bounded and equal to independent
references (socket.inet_ntop, struct on the bytes written), and views handed out from a
packet's block stay valid however long they are kept."""
from __future__ import annotations

import gc
import random
import socket
import struct
import sys

import fastpkt as fp
from fastpkt import _fastpkt


def _pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)))
            f.write(frame)


def _udp4(src, dst, sport, dport, payload=b"x"):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


def _tcp6(src, dst, sport, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 1024, 0, 0)
    ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, 64, src, dst)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + ip + tcp


def _expected(frames):
    out = []
    for fr in frames:
        if fr[12:14] == b"\x08\x00":
            ip = fr[14:34]
            out.append((socket.inet_ntop(socket.AF_INET, ip[12:16]), socket.inet_ntop(socket.AF_INET, ip[16:20]),
                        *struct.unpack("!HH", fr[34:38]), len(fr)))
        else:
            ip = fr[14:54]
            out.append((socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40]),
                        *struct.unpack("!HH", fr[54:58]), len(fr)))
    return out


def _many_frames(n, seed=7):
    rnd = random.Random(seed)
    frames = []
    for i in range(n):
        if i % 3 == 2:
            frames.append(_tcp6(rnd.randbytes(16), rnd.randbytes(16), rnd.randrange(65536), rnd.randrange(65536)))
        else:
            frames.append(_udp4(rnd.randbytes(4), rnd.randbytes(4), rnd.randrange(65536), rnd.randrange(65536),
                                b"y" * rnd.randrange(1, 1400)))
    return frames


def test_hot_values_match_references_and_tables_stay_bounded(tmp_path):
    frames = _many_frames(12_000)
    _pcap(tmp_path / "many.pcap", frames)
    before = _fastpkt._hot_cache_info()
    got = []
    # random UDP ports hit tunnel ports (VXLAN, GTP-U...): read the headers as written
    for pkt in fp.open(tmp_path / "many.pcap", decapsulate=False):
        ip = pkt.ip or pkt.ip6
        l4 = pkt.tcp or pkt.udp
        got.append((ip.src, ip.dst, l4.sport, l4.dport, pkt.wirelen))
        assert (pkt.src, pkt.dst, pkt.sport, pkt.dport) == got[-1][:4]
    assert got == _expected(frames)
    info = _fastpkt._hot_cache_info()
    # every address and most ports are distinct: far more values than slots went through
    assert info["address_misses"] - before["address_misses"] > info["address_slots"]
    assert 0 < info["addresses"] <= info["address_slots"]
    assert 0 < info["ints"] <= info["int_slots"]
    # the bytes counted are the objects held: at most a slot's worth of the longest text each
    longest_str = sys.getsizeof("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert info["address_bytes"] <= info["address_slots"] * longest_str
    assert info["int_bytes"] <= info["int_slots"] * 32  # a one-digit int: a 32-byte block
    assert info["bytes"] > info["address_bytes"] + info["int_bytes"]  # plus the tables themselves


def test_repeated_values_are_shared(tmp_path):
    a, b = socket.inet_pton(socket.AF_INET, "192.0.2.1"), socket.inet_pton(socket.AF_INET, "198.51.100.7")
    _pcap(tmp_path / "same.pcap", [_udp4(a, b, 40000, 443) for _ in range(50)])
    before = _fastpkt._hot_cache_info()
    pkts = list(fp.open(tmp_path / "same.pcap"))
    srcs = {id(p.ip.src) for p in pkts}
    ports = {id(p.udp.sport) for p in pkts}
    assert [p.ip.src for p in pkts] == ["192.0.2.1"] * 50 and len(srcs) == 1
    assert [p.udp.sport for p in pkts] == [40000] * 50 and len(ports) == 1
    assert _fastpkt._hot_cache_info()["address_hits"] - before["address_hits"] >= 49


def test_views_kept_after_reader_moves_on_closes_and_file_goes(tmp_path):
    frames = _many_frames(300, seed=3)
    path = tmp_path / "keep.pcap"
    _pcap(path, frames)
    kept = []
    with fp.open(path, decapsulate=False) as r:
        for pkt in r:  # the packet itself is dropped at the next iteration
            kept.append(((pkt.ip or pkt.ip6), (pkt.tcp or pkt.udp), pkt.eth))
    del pkt
    gc.collect()
    path.unlink()
    assert [(ip.src, ip.dst, l4.sport, l4.dport) for ip, l4, _ in kept] == [e[:4] for e in _expected(frames)]
    assert all(eth.src == "04:04:04:04:04:04" for _, _, eth in kept)


def test_views_of_one_packet(tmp_path):
    path = tmp_path / "one.pcap"
    _pcap(path, _many_frames(1))
    pkt = next(iter(fp.open(path)))
    ip = pkt.ip
    assert pkt.ip is ip  # the view already out is handed out again
    eth, udp = pkt.eth, pkt.udp  # the third view held at once is made on its own
    assert (eth.type, ip.proto, udp.dport) == (0x0800, 17, struct.unpack("!H", _many_frames(1)[0][36:38])[0])
    del pkt
    gc.collect()
    assert ip.raw == udp._packet.ip.raw and ip.payload == udp.raw
    assert ip._packet.udp.len == udp.len == len(udp.raw)
    del ip, udp
    gc.collect()
    assert eth.type == 0x0800
