#!/usr/bin/env python3
"""Synthetic capture for the benchmarks: deterministic, standard library only.

    python benchmarks/gen_capture.py --packets 1000000 --seed 1 --out x.pcap

Writes an Ethernet, microsecond pcap and OUT.truth.json describing what was written. The
same --packets and --seed always give the same bytes (the tests hash two runs).

What the traffic holds (conversations interleaved, 128 open at a time):
  * TCP: handshake (MSS option), HTTP/1.1 exchanges on port 80 with Content-Length bodies,
    bulk transfers on other server ports (client requests, server MSS-sized segments, a
    delayed ACK every second segment), FIN teardown, 5 % ending in RST instead;
  * TLS on TCP/443: the first client segment is a TLS 1.3 ClientHello (SNI, ALPN,
    supported_versions, key_share), then application-data records both ways;
  * DNS on UDP/53: an A or AAAA query and its answer (compressed name), 5 % NXDOMAIN;
  * other UDP (443, 3478, 5004, 10001), ICMP and ICMPv6 echo, ARP request and reply;
  * 10 % of conversations over IPv6, 2 % tagged 802.1Q.
Every IPv4 header and TCP/UDP/ICMP checksum is valid; timestamps strictly increase; every
TCP/UDP conversation has its own 5-tuple. When --packets is reached, open conversations are
cut: the truth file counts only what was written.

Truth keys: total_packets, total_bytes, flows / tcp_flows / udp_flows (bidirectional
5-tuples), snis (every SNI written, in capture order), sni_count, events (tcp_payload_bytes,
udp_payload_bytes, tls_client_hello, http_requests, dns_queries, dns_responses, icmp_echo,
arp), protocol_counts (packets per layer name).

The benchmarks call cached(n, seed): benchmarks/out/gen_<n>_s<seed>.pcap, generated once
(FASTPKT_BENCH_DIR moves the directory).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.environ.get("FASTPKT_BENCH_DIR", os.path.join(HERE, "out"))

OPEN_CONVERSATIONS = 128
# (kind, weight): picked when a conversation ends; long TCP ones dominate the packet count.
KINDS = (("http", 20), ("bulk", 10), ("tls", 12), ("dns", 40), ("udp", 8), ("icmp", 6), ("arp", 4))
BULK_PORTS = (22, 445, 3306, 5432, 6379, 9000)
UDP_PORTS = (443, 3478, 5004, 10001)  # none whose dissector would judge random bytes malformed
WORDS = ("alder", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo",
         "juniper", "kestrel", "lumen", "meadow", "nimbus", "orchid", "pebble", "quartz",
         "raven", "sierra", "tundra", "umber", "violet", "willow", "yonder", "zephyr")
SUFFIXES = ("com", "net", "org", "io", "dev", "example")
PREFIXES = ("www", "api", "cdn", "static", "mail", "")

ETH_IP4, ETH_IP6, ETH_ARP, ETH_VLAN = 0x0800, 0x86DD, 0x0806, 0x8100
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
GATEWAY_MAC = bytes.fromhex("00005e0001fe")


def _sum16(data: bytes) -> int:
    """One's complement sum of data's 16-bit big-endian words, reduced modulo 0xffff: the
    words are the digits of one number in base 0x10000, and 0x10000 = 1 (mod 0xffff), so
    the number itself has the same remainder as the sum of its digits (RFC 1071)."""
    if len(data) & 1:
        data += b"\0"
    return int.from_bytes(data, "big") % 0xFFFF


def _fold(total: int) -> int:
    """Checksum field for a header whose words (checksum field zero) sum to total mod 0xffff."""
    total %= 0xFFFF
    return 0xFFFF - total if total else 0


class Side:
    """One direction of a conversation: its link header and addresses."""
    __slots__ = ("link", "src", "dst", "v6", "ttl", "ip_id", "addr_sum")

    def __init__(self, link: bytes, src: bytes, dst: bytes, ttl: int, ip_id: int):
        self.link, self.src, self.dst, self.ttl, self.ip_id = link, src, dst, ttl, ip_id
        self.v6 = len(src) == 16
        self.addr_sum = _sum16(src + dst)


class Generator:
    def __init__(self, packets: int, seed: int):
        self.limit = packets
        self.rng = random.Random(seed)
        self.tuples: set = set()
        self.snis: list[str] = []
        self.events = dict(tcp_payload_bytes=0, udp_payload_bytes=0, tls_client_hello=0,
                           http_requests=0, dns_queries=0, dns_responses=0, icmp_echo=0, arp=0)
        self.layers: dict[str, int] = {}
        self.flows = {"tcp": 0, "udp": 0}
        names = []
        for i in range(400):
            a, b = self.rng.sample(WORDS, 2)
            prefix = PREFIXES[i % len(PREFIXES)]
            names.append("%s%s%s.%s" % (prefix + "." if prefix else "", a, b, SUFFIXES[i % len(SUFFIXES)]))
        self.names = names

    # ---------------------------------------------------------------- addresses
    def hosts(self, v6: bool) -> tuple[bytes, bytes]:
        r = self.rng
        if v6:
            client = bytes.fromhex("fd000000000000a1") + r.randrange(1, 1 << 16).to_bytes(8, "big")
            server = bytes.fromhex("20010db800000000") + r.randrange(1, 1 << 12).to_bytes(8, "big")
        else:
            client = bytes((10, 20, r.randrange(256), r.randrange(1, 255)))
            server = bytes((198, 51, 100, r.randrange(1, 255))) if r.random() < 0.3 else \
                bytes((203, 0, r.randrange(113, 114), r.randrange(1, 255)))
        return client, server

    @staticmethod
    def host_mac(addr: bytes) -> bytes:
        return b"\x02\x00" + (int.from_bytes(addr, "big") % (1 << 32)).to_bytes(4, "big")

    def sides(self, client: bytes, server: bytes, vlan: int) -> tuple[Side, Side]:
        etype = ETH_IP6 if len(client) == 16 else ETH_IP4
        cmac = self.host_mac(client)
        tag = struct.pack("!HH", ETH_VLAN, vlan) if vlan else b""
        up = GATEWAY_MAC + cmac + tag + struct.pack("!H", etype)
        down = cmac + GATEWAY_MAC + tag + struct.pack("!H", etype)
        r = self.rng
        return (Side(up, client, server, 64, r.randrange(1 << 16)),
                Side(down, server, client, r.choice((52, 57, 116, 245)), r.randrange(1 << 16)))

    def five_tuple(self, proto: int, v6: bool, server_port: int):
        """Fresh (client, server, client port): no two conversations share a 5-tuple."""
        while True:
            client, server = self.hosts(v6)
            port = self.rng.randrange(32768, 61000)
            key = (proto, client, server, port, server_port)
            if key not in self.tuples:
                self.tuples.add(key)
                return client, server, port

    # ---------------------------------------------------------------- packets
    def count(self, *layers: str) -> None:
        for name in layers:
            self.layers[name] = self.layers.get(name, 0) + 1

    def ip(self, side: Side, proto: int, l4: bytes) -> bytes:
        vlan = len(side.link) == 18
        if side.v6:
            frame = side.link + struct.pack("!IHBB", 0x60000000, len(l4), proto, side.ttl) + \
                side.src + side.dst + l4
            self.count("eth", "ipv6", *(("vlan",) if vlan else ()))
            return frame
        side.ip_id = (side.ip_id + 1) & 0xFFFF
        head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), side.ip_id, 0x4000, side.ttl, proto, 0)
        check = _fold(_sum16(head) + side.addr_sum)
        self.count("eth", "ipv4", *(("vlan",) if vlan else ()))
        return side.link + head[:10] + struct.pack("!H", check) + side.src + side.dst + l4

    def l4_check(self, side: Side, proto: int, segment: bytes) -> int:
        """TCP/UDP/ICMPv6 checksum: the pseudo-header's words are the addresses, the
        protocol and the length (RFC 793, 768, 8200 section 8.1)."""
        return _fold(side.addr_sum + proto + len(segment) + _sum16(segment))

    def tcp(self, side: Side, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: bytes = b"", options: bytes = b"") -> bytes:
        head = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                           (5 + len(options) // 4) << 4, flags, 64240, 0, 0) + options
        check = self.l4_check(side, 6, head + payload)
        self.events["tcp_payload_bytes"] += len(payload)
        self.count("tcp")
        return self.ip(side, 6, head[:16] + struct.pack("!H", check) + head[18:] + payload)

    def udp(self, side: Side, sport: int, dport: int, payload: bytes) -> bytes:
        head = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
        check = self.l4_check(side, 17, head + payload) or 0xFFFF  # 0 means "no checksum"
        self.events["udp_payload_bytes"] += len(payload)
        self.count("udp")
        return self.ip(side, 17, head[:6] + struct.pack("!H", check) + payload)

    # ---------------------------------------------------------------- conversations
    def new_sides(self, proto: int, server_port: int):
        r = self.rng
        v6 = r.random() < 0.10
        vlan = r.choice((10, 20, 30)) if r.random() < 0.02 else 0
        client, server, port = self.five_tuple(proto, v6, server_port)
        up, down = self.sides(client, server, vlan)
        return up, down, port

    def tcp_conversation(self, kind: str):
        r = self.rng
        server_port = {"http": 80, "tls": 443}.get(kind) or r.choice(BULK_PORTS)
        up, down, cport = self.new_sides(6, server_port)
        mss = 1440 if up.v6 else 1460
        cseq, sseq = r.randrange(1 << 32), r.randrange(1 << 32)
        mss_opt = struct.pack("!BBH", 2, 4, mss)
        self.flows["tcp"] += 1
        yield self.tcp(up, cport, server_port, cseq, 0, SYN, options=mss_opt)
        yield self.tcp(down, server_port, cport, sseq, cseq + 1, SYN | ACK, options=mss_opt)
        cseq, sseq = cseq + 1, sseq + 1
        yield self.tcp(up, cport, server_port, cseq, sseq, ACK)
        for request, response in self.exchanges(kind):
            yield self.tcp(up, cport, server_port, cseq, sseq, PSH | ACK, request)
            cseq += len(request)
            for i in range(0, len(response), mss):
                chunk = response[i:i + mss]
                last = i + mss >= len(response)
                yield self.tcp(down, server_port, cport, sseq, cseq, (PSH | ACK) if last else ACK, chunk)
                sseq += len(chunk)
                if last or (i // mss) % 2:
                    yield self.tcp(up, cport, server_port, cseq, sseq, ACK)
        if r.random() < 0.05:
            yield self.tcp(up, cport, server_port, cseq, sseq, RST | ACK)
            return
        yield self.tcp(up, cport, server_port, cseq, sseq, FIN | ACK)
        yield self.tcp(down, server_port, cport, sseq, cseq + 1, FIN | ACK)
        yield self.tcp(up, cport, server_port, cseq + 1, sseq + 1, ACK)

    def exchanges(self, kind: str):
        """(client bytes, server bytes) pairs of one conversation, made when reached."""
        r = self.rng
        if kind == "http":
            host = self.names[int(r.random() ** 2 * len(self.names))]
            for n in range(r.randint(1, 4)):
                body = r.randbytes(int(r.expovariate(1 / 6000)) + 1)
                self.events["http_requests"] += 1
                request = ("GET /%s/%d HTTP/1.1\r\nHost: %s\r\nUser-Agent: gen_capture\r\n"
                           "Accept: */*\r\n\r\n" % (r.choice(WORDS), n, host)).encode()
                yield request, (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                b"Content-Length: %d\r\n\r\n" % len(body)) + body
        elif kind == "tls":
            sni = self.names[int(r.random() ** 2 * len(self.names))]
            self.snis.append(sni)
            self.events["tls_client_hello"] += 1
            yield self.client_hello(sni), self.tls_records(r.randint(1, 3), 1400)
            for _ in range(r.randint(0, 3)):
                yield self.tls_records(1, 600), self.tls_records(r.randint(1, 20), 4000)
        else:
            for _ in range(r.randint(1, 3)):
                yield r.randbytes(r.randint(20, 400)), r.randbytes(int(r.expovariate(1 / 40000)) + 1)

    def tls_records(self, n: int, size: int) -> bytes:
        r = self.rng
        out = []
        for _ in range(n):
            body = r.randbytes(r.randint(32, size))
            out.append(struct.pack("!BHH", 23, 0x0303, len(body)) + body)
        return b"".join(out)

    def client_hello(self, sni: str) -> bytes:
        """A TLS 1.3 ClientHello record (RFC 8446 section 4.1.2; SNI: RFC 6066 section 3;
        ALPN: RFC 7301)."""
        r = self.rng
        name = sni.encode()

        def ext(kind: int, data: bytes) -> bytes:
            return struct.pack("!HH", kind, len(data)) + data

        alpn = b"\x02h2\x08http/1.1"
        extensions = b"".join((
            ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name),
            ext(10, struct.pack("!HHHH", 6, 0x001D, 0x0017, 0x0018)),
            ext(13, struct.pack("!HHHH", 6, 0x0403, 0x0804, 0x0401)),
            ext(16, struct.pack("!H", len(alpn)) + alpn),
            ext(43, b"\x04\x03\x04\x03\x03"),
            ext(45, b"\x01\x01"),
            ext(51, struct.pack("!HHH", 36, 0x001D, 32) + r.randbytes(32)),
        ))
        body = (b"\x03\x03" + r.randbytes(32) + b"\x20" + r.randbytes(32)
                + struct.pack("!HHHH", 6, 0x1301, 0x1302, 0x1303) + b"\x01\x00"
                + struct.pack("!H", len(extensions)) + extensions)
        handshake = b"\x01" + len(body).to_bytes(3, "big") + body
        return struct.pack("!BHH", 22, 0x0301, len(handshake)) + handshake

    def dns_conversation(self):
        r = self.rng
        up, down, cport = self.new_sides(17, 53)
        self.flows["udp"] += 1
        name = self.names[int(r.random() ** 2 * len(self.names))]
        qtype = 28 if r.random() < 0.3 else 1
        qid = r.randrange(1 << 16)
        question = b"".join(bytes((len(p),)) + p.encode() for p in name.split(".")) + b"\0" + \
            struct.pack("!HH", qtype, 1)
        self.events["dns_queries"] += 1
        self.count("dns")
        yield self.udp(up, cport, 53, struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question)
        self.events["dns_responses"] += 1
        self.count("dns")
        if r.random() < 0.05:
            yield self.udp(down, 53, cport, struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question)
            return
        rdata = r.randbytes(16) if qtype == 28 else bytes((192, 0, 2, r.randrange(1, 255)))
        answer = struct.pack("!HHHIH", 0xC00C, qtype, 1, r.randrange(60, 3600), len(rdata)) + rdata
        yield self.udp(down, 53, cport, struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer)

    def udp_conversation(self):
        r = self.rng
        port = r.choice(UDP_PORTS)
        up, down, cport = self.new_sides(17, port)
        self.flows["udp"] += 1
        for _ in range(r.randint(2, 60)):
            side, sport, dport = (up, cport, port) if r.random() < 0.5 else (down, port, cport)
            yield self.udp(side, sport, dport, r.randbytes(r.randint(40, 1200)))

    def icmp_conversation(self):
        r = self.rng
        v6 = r.random() < 0.10
        client, server = self.hosts(v6)
        up, down = self.sides(client, server, 0)
        ident = r.randrange(1 << 16)
        data = r.randbytes(56)
        for seq in range(1, r.randint(2, 6)):
            for side, kind in ((up, 128 if v6 else 8), (down, 129 if v6 else 0)):
                head = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
                if v6:
                    check = self.l4_check(side, 58, head + data)
                    self.count("icmpv6")
                else:
                    check = _fold(_sum16(head + data))
                    self.count("icmp")
                self.events["icmp_echo"] += 1
                yield self.ip(side, 58 if v6 else 1, head[:2] + struct.pack("!H", check) + head[4:] + data)

    def arp_conversation(self):
        r = self.rng
        asker = bytes((10, 20, r.randrange(256), r.randrange(1, 255)))
        target = asker[:3] + bytes((254,))
        mac = self.host_mac(asker)
        pad = bytes(18)  # to Ethernet's 60-byte minimum
        self.count("eth", "arp")
        self.events["arp"] += 1
        yield b"\xff" * 6 + mac + struct.pack("!HHHBBH", ETH_ARP, 1, ETH_IP4, 6, 4, 1) + mac + \
            asker + bytes(6) + target + pad
        self.count("eth", "arp")
        self.events["arp"] += 1
        yield mac + GATEWAY_MAC + struct.pack("!HHHBBH", ETH_ARP, 1, ETH_IP4, 6, 4, 2) + GATEWAY_MAC + \
            target + mac + asker + pad

    def conversation(self):
        kinds, weights = zip(*KINDS)
        kind = self.rng.choices(kinds, weights)[0]
        if kind in ("http", "bulk", "tls"):
            return self.tcp_conversation(kind)
        return getattr(self, kind + "_conversation")()

    # ---------------------------------------------------------------- output
    def write(self, f) -> dict:
        r = self.rng
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        open_ = [self.conversation() for _ in range(OPEN_CONVERSATIONS)]
        t_us = 1_700_000_000_000_000
        written = total = 0
        batch = []
        while written < self.limit:
            i = int(r.random() * len(open_))
            frame = next(open_[i], None)
            if frame is None:
                open_[i] = self.conversation()
                continue
            t_us += 1 + int(r.random() * 40)
            batch.append(struct.pack("<IIII", t_us // 1_000_000, t_us % 1_000_000, len(frame), len(frame)))
            batch.append(frame)
            written += 1
            total += len(frame)
            if len(batch) >= 32768:
                f.write(b"".join(batch))
                batch.clear()
        f.write(b"".join(batch))
        return self.truth(written, total)

    def truth(self, written: int, total: int) -> dict:
        return {
            "generator": "benchmarks/gen_capture.py",
            "total_packets": written,
            "total_bytes": total,
            "flows": self.flows["tcp"] + self.flows["udp"],
            "tcp_flows": self.flows["tcp"],
            "udp_flows": self.flows["udp"],
            "flow_definition": "TCP/UDP 5-tuple, direction independent, VLAN ignored",
            "snis": self.snis,
            "sni_count": len(self.snis),
            "events": self.events,
            "protocol_counts": dict(sorted(self.layers.items())),
        }


def generate(out: str, packets: int, seed: int = 1, truth: bool = True) -> dict:
    """Write the capture (and OUT.truth.json unless truth is False); return the truth."""
    gen = Generator(packets, seed)
    # Counters run ahead of the writer by at most the frame a conversation is building, and
    # the writer stops exactly at `packets`: frames are only made when written.
    with open(out, "wb") as f:
        result = gen.write(f)
    result["args"] = {"packets": packets, "seed": seed}
    if truth:
        with open(out + ".truth.json", "w") as f:
            json.dump(result, f, indent=1)
    return result


def cached(packets: int, seed: int = 1) -> str:
    """OUT_DIR/gen_<packets>_s<seed>.pcap with its truth file, generated when missing."""
    path = os.path.join(OUT_DIR, "gen_%d_s%d.pcap" % (packets, seed))
    if not (os.path.exists(path) and os.path.exists(path + ".truth.json")):
        os.makedirs(OUT_DIR, exist_ok=True)
        print("generating %s (%d packets) ..." % (path, packets), file=sys.stderr, flush=True)
        tmp = path + ".part"
        generate(tmp, packets, seed)
        os.replace(tmp + ".truth.json", path + ".truth.json")
        os.replace(tmp, path)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="synthetic.pcap")
    ap.add_argument("--no-truth", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    t = generate(a.out, a.packets, a.seed, truth=not a.no_truth)
    dt = time.perf_counter() - t0
    print("wrote %s: %d packets, %d bytes, %d flows, %d SNIs in %.1f s" % (
        a.out, t["total_packets"], t["total_bytes"], t["flows"], t["sni_count"], dt), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
