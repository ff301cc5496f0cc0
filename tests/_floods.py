"""Generated hostile captures for the memory-budget tests and benchmarks/bench_memory.py.

Each flood is a classic pcap (Ethernet, IPv4) built in memory with struct: fast enough for
a million packets on a slow core (a few seconds), deterministic, with the facts a test
needs to check the engines' answers (connections, bytes sent). No pytest import here.
"""
from __future__ import annotations

import collections
import ctypes
import json
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
ETHER = bytes.fromhex("020000000002" "020000000001" "0800")
SERVER = bytes([192, 0, 2, 1])
T0 = 1_700_000_000


@dataclass
class Flood:
    name: str
    pcap: bytes
    packets: int
    connections: int
    payload: dict[int, bytes] = field(default_factory=dict)  # client bytes sent, by conn index


def client_ip(i: int) -> bytes:
    """10.0.0.0/8 addresses, one per connection."""
    return bytes([10, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])


def ipv4(src: bytes, dst: bytes, proto: int, l4: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0, src, dst) + l4


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535,
                       0, 0) + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


class Writer:
    """Records appended to one list, joined once."""

    def __init__(self) -> None:
        self.parts = [PCAP_HEADER]
        self.count = 0

    def add(self, t_us: int, ip: bytes) -> None:
        frame = ETHER + ip
        self.parts.append(struct.pack("<IIII", T0 + t_us // 1_000_000, t_us % 1_000_000, len(frame), len(frame)))
        self.parts.append(frame)
        self.count += 1

    def done(self) -> bytes:
        return b"".join(self.parts)


ACK, PSH, SYN = 0x10, 0x08, 0x02


def quic_initials(n: int) -> Flood:
    """n one-datagram UDP flows whose payload starts like a QUIC v1 client Initial (long
    header, fixed bit, type Initial, version 1, an 8-byte DCID) but is not one."""
    w = Writer()
    for i in range(n):
        dcid = struct.pack("!Q", i * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF)
        payload = b"\xc3\x00\x00\x00\x01\x08" + dcid + b"\x00\x00\x40\x20" + bytes(32)
        w.add(i, ipv4(client_ip(i), SERVER, 17, udp(20000 + i % 40000, 443, payload)))
    return Flood("quic_initials", w.done(), w.count, n)


def tcp_one_byte(n: int) -> Flood:
    """n TCP connections, each a handshake then one data byte from the client."""
    w = Writer()
    for i in range(n):
        src, sport, isn = client_ip(i), 1024 + i % 60000, 1000 + i
        w.add(3 * i, ipv4(src, SERVER, 6, tcp(sport, 80, isn, 0, SYN)))
        w.add(3 * i + 1, ipv4(SERVER, src, 6, tcp(80, sport, 5000, isn + 1, SYN | ACK)))
        w.add(3 * i + 2, ipv4(src, SERVER, 6, tcp(sport, 80, isn + 1, 5001, PSH | ACK, b"x")))
    return Flood("tcp_one_byte", w.done(), w.count, n, {i: b"x" for i in range(n)})


def client_hello_start(claimed: int) -> bytes:
    """A handshake record header claiming `claimed` bytes and a ClientHello header filling it."""
    return bytes([22, 3, 1]) + struct.pack("!H", min(claimed, 16384)) + b"\x01" + \
        struct.pack("!I", claimed - 4)[1:] + b"\x03\x03" + bytes(32)


def tls_claims(n: int) -> Flood:
    """n TCP connections (no SYN) whose first segment starts a TLS record claiming 16 KB."""
    w = Writer()
    head = client_hello_start(16384)
    for i in range(n):
        w.add(i, ipv4(client_ip(i), SERVER, 6, tcp(1024 + i % 60000, 443, 7, 1, PSH | ACK, head)))
    return Flood("tls_claims", w.done(), w.count, n)


def partial_hellos(n: int, size: int = 60 * 1024, mss: int = 1448) -> Flood:
    """n TLS connections each sending `size` bytes of a ClientHello that claims more (a
    multi-record hello that never completes), interleaved segment by segment."""
    start = client_hello_start(65000)  # under the parser's 64 KiB message cap: it waits for more
    body = start + bytes(size - len(start))
    # later records: each 16 KB of handshake data behind its own record header
    stream = bytearray()
    pos = 0
    first = 16384 + 5
    stream += body[:first]
    pos = first
    while pos < len(body):
        chunk = body[pos:pos + 16384]
        stream += bytes([22, 3, 3]) + struct.pack("!H", 16384) + chunk
        pos += 16384
    stream = bytes(stream[:size])
    segs = [stream[k:k + mss] for k in range(0, len(stream), mss)]
    w = Writer()
    t = 0
    for i in range(n):
        w.add(t, ipv4(client_ip(i), SERVER, 6, tcp(1024 + i % 60000, 443, 100, 0, SYN)))
        t += 1
    for k, seg in enumerate(segs):
        off = k * mss
        for i in range(n):
            w.add(t, ipv4(client_ip(i), SERVER, 6, tcp(1024 + i % 60000, 443, 101 + off, 1, ACK, seg)))
            t += 1
    return Flood("partial_hellos", w.done(), w.count, n)


def out_of_order(n: int) -> Flood:
    """One connection: a handshake, then n one-byte segments behind a one-byte hole."""
    w = Writer()
    src, sport, isn = client_ip(1), 40000, 1000
    w.add(0, ipv4(src, SERVER, 6, tcp(sport, 80, isn, 0, SYN)))
    w.add(1, ipv4(SERVER, src, 6, tcp(80, sport, 5000, isn + 1, SYN | ACK)))
    sent = bytearray(b"?")  # the byte at offset 0 is never sent: the hole
    for k in range(n):
        b = bytes([65 + k % 26])
        sent += b
        w.add(2 + k, ipv4(src, SERVER, 6, tcp(sport, 80, isn + 2 + k, 5001, ACK, b)))
    return Flood("out_of_order", w.done(), w.count, 1, {0: bytes(sent)})


def overlapping(n: int, segments: int = 8, size: int = 100) -> Flood:
    """n connections; each client segment is sent twice, the second copy with different
    bytes (first data wins: the stream holds the first copies)."""
    w = Writer()
    t = 0
    sent = {}
    for i in range(n):
        src, sport, isn = client_ip(i), 1024 + i % 60000, 1000
        w.add(t, ipv4(src, SERVER, 6, tcp(sport, 80, isn, 0, SYN)))
        w.add(t + 1, ipv4(SERVER, src, 6, tcp(80, sport, 5000, isn + 1, SYN | ACK)))
        t += 2
        data = bytearray()
        for k in range(segments):
            first = bytes([1 + (i + k) % 255]) * size
            w.add(t, ipv4(src, SERVER, 6, tcp(sport, 80, isn + 1 + k * size, 5001, ACK, first)))
            w.add(t + 1, ipv4(src, SERVER, 6, tcp(sport, 80, isn + 1 + k * size, 5001, ACK, bytes(size))))
            t += 2
            data += first
        sent[i] = bytes(data)
    return Flood("overlapping", w.done(), w.count, n, sent)


def complete_hellos(n: int) -> Flood:
    """n TLS connections whose client sends a whole ClientHello (SNI host{i}.test) that no
    server answers: each stays searched (for the ServerHello) until it ends or is evicted."""
    w = Writer()
    for i in range(n):
        name = b"host%d.test" % i
        sni = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
        body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + \
            struct.pack("!H", len(sni)) + sni
        msg = b"\x01" + len(body).to_bytes(3, "big") + body
        rec = b"\x16\x03\x01" + struct.pack("!H", len(msg)) + msg
        src, sport = client_ip(i), 1024 + i % 60000
        w.add(2 * i, ipv4(src, SERVER, 6, tcp(sport, 443, 100, 0, SYN)))
        w.add(2 * i + 1, ipv4(src, SERVER, 6, tcp(sport, 443, 101, 1, PSH | ACK, rec)))
    return Flood("complete_hellos", w.done(), w.count, n)


def udp_conversations(n: int) -> Flood:
    """n one-packet UDP conversations between distinct addresses (fp.stats' tables)."""
    w = Writer()
    for i in range(n):
        w.add(i, ipv4(client_ip(i), SERVER, 17, udp(1024 + i % 60000, 53, b"x" * 8)))
    return Flood("udp_conversations", w.done(), w.count, n)


def fragment(src: bytes, ident: int, offset: int, more: bool, payload: bytes) -> bytes:
    """An IPv4 UDP fragment (offset in bytes, a multiple of 8)."""
    flags = (0x2000 if more else 0) | offset // 8
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64, 17, 0, src,
                       SERVER) + payload


def open_fragments(n: int) -> Flood:
    """n datagrams that never complete: each sends one 8-byte first fragment (MF set)."""
    w = Writer()
    for i in range(n):
        w.add(i, fragment(client_ip(i >> 16), i & 0xFFFF, 0, True, bytes(8)))
    return Flood("open_fragments", w.done(), w.count, n)


def giant_fragments(n: int) -> Flood:
    """n datagrams whose only fragment is a last one at offset 65,000: each claims a 65 KB
    datagram (excessively_large_fragment) and holds 16 bytes of it."""
    w = Writer()
    for i in range(n):
        w.add(i, fragment(client_ip(i >> 16), i & 0xFFFF, 65000, False, bytes(16)))
    return Flood("giant_fragments", w.done(), w.count, n)


def overlapping_fragments(n: int, size: int = 65000, per_datagram: int = 200) -> Flood:
    """n first fragments of `size` bytes, `per_datagram` copies of each datagram's (all at
    offset 0, MF set): overlapping copies that never complete, ~13 MB per datagram."""
    w = Writer()
    payload = bytes(size)
    for i in range(n):
        w.add(i, fragment(client_ip(1), (i // per_datagram) & 0xFFFF, 0, True, payload))
    return Flood("overlapping_fragments", w.done(), w.count, n // per_datagram)


FLOODS = {"quic_initials": quic_initials, "tcp_one_byte": tcp_one_byte, "tls_claims": tls_claims,
          "partial_hellos": partial_hellos, "out_of_order": out_of_order, "overlapping": overlapping,
          "complete_hellos": complete_hellos, "udp_conversations": udp_conversations,
          "open_fragments": open_fragments, "giant_fragments": giant_fragments,
          "overlapping_fragments": overlapping_fragments}


def _status_kb(name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def run_engine(fp: Any, data: bytes, engine: str, max_memory: int | None, **options: object) -> Any:
    """One engine over an in-memory capture, records dropped as they come (streams: run());
    "stats" is fp.stats, "reader_defrag" a Reader iterated with defragment=True."""
    if engine == "stats":
        return fp.stats(memoryview(data), max_memory=max_memory, **options)
    if engine == "reader_defrag":
        with fp.open(memoryview(data), defragment=True) as r:
            seen = collections.Counter(a for p in r for a in p.anomalies)
            return {"anomalies": dict(seen), "defrag": r.defrag_stats}
    options = {"workers": 1, **options}  # one engine's memory unless asked: floods pass AUTO_MIN_BYTES
    if engine == "streams":
        eng = fp.streams(memoryview(data), max_memory=max_memory, progress=False, **options)
        eng.run()
    else:
        eng = getattr(fp, engine)(memoryview(data), max_memory=max_memory, progress=False, **options)
        for _ in eng:
            pass
    return eng


def measure(data: bytes, warmup: bytes, engine: str, max_memory: int | None,
            **options: object) -> dict[str, object]:
    """Run one engine over an in-memory capture in this process: peak RSS growth (VmHWM
    reset through /proc/self/clear_refs after a warm-up run on `warmup` and returning free
    heap to the system), the engine's own memory_peak_bytes, seconds and its stats."""
    import fastpkt as fp

    run_engine(fp, warmup, engine, max_memory, **options)  # libraries, caches: not the engine's growth
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status_kb("VmRSS")
    t = time.perf_counter()
    eng = run_engine(fp, data, engine, max_memory, **options)
    elapsed = time.perf_counter() - t
    peak = _status_kb("VmHWM")
    out: dict[str, object] = {"rss_growth": (peak - base) * 1024, "seconds": elapsed}
    if engine == "stats":
        conv = {layer: [int(x) for x in (eng.conversations(layer)[["frames"]].sum())]
                for layer in ("ip", "udp")}
        return {**out, "memory_peak_bytes": eng.peak_memory, "packets": eng.frames, "cut": eng.cut,
                "conversation_frames": {k: v[0] for k, v in conv.items()}}
    if engine == "reader_defrag":
        return {**out, **eng}
    st = eng.stats
    return {**out, "memory_peak_bytes": st["memory_peak_bytes"], "packets": st["packets"], "stats": st}


if __name__ == "__main__":
    # python tests/_floods.py FLOOD COUNT ENGINE MAX_MEMORY|none [OPTIONS_JSON]: one measurement as JSON
    kind, count, engine, limit = sys.argv[1:5]
    options = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    data = FLOODS[kind](int(count)).pcap
    warmup = FLOODS[kind](2).pcap
    print(json.dumps(measure(data, warmup, engine, None if limit == "none" else int(limit), **options),
                     default=str))
