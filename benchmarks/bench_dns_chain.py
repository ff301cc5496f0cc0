#!/usr/bin/env python3
"""CPU per byte of DNS messages built around compression-pointer chains, against ordinary
DNS responses of the same total size, in one run.

    python benchmarks/bench_dns_chain.py [--messages 20000] [--repeats 5]

Three captures of UDP/53 packets (LINKTYPE_RAW), written to a temporary directory:
  normal   responses like a resolver's: a question and two or three answers, names
           compressed the usual way (answers point at the question name)
  chain    each message holds a name, then 62 questions whose name is a pointer to the
           previous question's (question k needs k-1 hops), then questions pointing at the
           last one (62 hops each) up to ~1,400 bytes
  deep     one question whose name is a 62-hop chain (the per-name worst case)
Each is read two ways: the plain read loop (`for p in fp.open(path): p.anomalies`; every
UDP/53 packet's names are walked when it is dissected) and fp.flows(path, tls=False) (names
walked again for the dns_qname column). The best of --repeats runs is reported as ns per
captured byte and as a ratio to `normal`. Before the per-message budget the read loop took
1.77 ns/byte on `normal` and 36.5 on `chain` (20.6x); with it, about the same for both.
"""
from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fastpkt as fp  # noqa: E402


def qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def normal_message(rng: random.Random) -> bytes:
    name = "%s.%s.example.com" % (rng.choice(["www", "api", "cdn", "mail"]), rng.randbytes(4).hex())
    n = rng.randint(2, 3)
    q = qname(name) + struct.pack("!HH", 1, 1)
    answers = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + rng.randbytes(4) for _ in range(n))
    return struct.pack("!HHHHHH", rng.randrange(65536), 0x8180, 1, n, 0, 0) + q + answers


def chain_message(size: int = 1400, deep_only: bool = False) -> bytes:
    """Questions whose names are pointers to the previous question's name."""
    body = qname("a.example.com") + struct.pack("!HH", 1, 1)
    starts = [12]
    count = 1
    while True:
        target = starts[min(len(starts) - 1, 62)]
        q = struct.pack("!H", 0xC000 | target) + struct.pack("!HH", 1, 1)
        if 12 + len(body) + len(q) > size or (deep_only and count > 63):
            break
        starts.append(12 + len(body))
        body += q
        count += 1
    if deep_only:  # only the 62-hop question stays a question; the chain is padding around it
        return struct.pack("!HHHHHH", 1, 0x0100, count, 0, 0, 0) + body
    return struct.pack("!HHHHHH", 1, 0x0100, count, 0, 0, 0) + body


def pcap(messages) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for i, m in enumerate(messages):
        udp = struct.pack("!HHHH", 40000 + i % 1000, 53, 8 + len(m), 0) + m
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([10, 0, i >> 8 & 255, i & 255]), bytes([10, 9, 9, 9])) + udp
        out.append(struct.pack("<IIII", 1_000_000 + i // 1000, i % 1000 * 1000, len(ip), len(ip)) + ip)
    return b"".join(out)


def best_ns_per_byte(path: str, repeats: int, how: str) -> tuple[float, list]:
    size = os.path.getsize(path)
    best = float("inf")
    anomalies: set = set()
    for _ in range(repeats):
        t = time.perf_counter_ns()
        if how == "read":
            for p in fp.open(path):
                anomalies.update(p.anomalies)
        else:
            for f in fp.flows(path, tls=False, workers=1):
                anomalies.update(a for a in f.anomalies.split(",") if a)
        best = min(best, (time.perf_counter_ns() - t) / size)
    return best, sorted(anomalies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(1)
    chain = chain_message()
    deep = chain_message(deep_only=True)
    normal = []
    total = 0
    while total < len(chain) * args.messages:  # the same captured bytes as `chain`
        normal.append(normal_message(rng))
        total += len(normal[-1])
    with tempfile.TemporaryDirectory() as d:
        files = {}
        for name, msgs in (("normal", normal), ("chain", [chain] * args.messages),
                           ("deep", [deep] * (args.messages * len(chain) // len(deep)))):
            files[name] = os.path.join(d, name + ".pcap")
            with open(files[name], "wb") as f:
                f.write(pcap(msgs))
        print("%-6s %-8s %12s %10s %8s  %s" % ("how", "capture", "bytes", "ns/byte", "ratio", "anomalies"))
        for how in ("read", "flows"):
            base = None
            for name, path in files.items():
                ns, anomalies = best_ns_per_byte(path, args.repeats, how)
                base = base or ns
                print("%-6s %-8s %12d %10.2f %8.2f  %s" % (how, name, os.path.getsize(path), ns, ns / base,
                                                         ",".join(anomalies) or "-"))


if __name__ == "__main__":
    main()
