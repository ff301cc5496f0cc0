#!/usr/bin/env python3
"""Peak memory of fp.dns on a flood of DNS transactions, each from its own client port (a
resolver under load, or a scan): the engine's own accounting and the process's peak RSS.

    python benchmarks/bench_dns_memory.py [--transactions 500000] [--rate 10000] [--keep FILE]

The capture (LINKTYPE_RAW, UDP/53) holds one query and its answer (an A record, 1 ms
later) per transaction, `--rate` transactions per second of packet time, each from a new
(address, port). The default idle timeout (120 s) then keeps every client's flow in the
table for the length of a 50 s flood. Each measure runs in a fresh process:
  count      fp.open(path).count(): the reader alone, for the floor
  to_pandas  fp.dns(path).to_pandas()
  iterate    for t in fp.dns(path): ...  (records dropped as they come)
and prints ru_maxrss (peak RSS) and, for the engine, stats' memory_peak_bytes (the budget's
peak: flows, DNS state and the output queue) with the part that was DNS state.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def write_flood(path: str, n: int, rate: int) -> None:
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        gap_us = 1_000_000 // rate
        for i in range(n):
            client = bytes([10, 1 + (i >> 16 & 127), i >> 8 & 255, i & 255])
            server = bytes([10, 0, 0, 53])
            port = 1024 + i % 60000
            q = qname("h%d.example.com" % i) + struct.pack("!HH", 1, 1)
            query = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + q
            answer = struct.pack("!HHHHHH", i & 0xFFFF, 0x8180, 1, 1, 0, 0) + q + \
                struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + bytes([192, 0, 2, i & 255])
            t_us = i * gap_us
            for k, (src, dst, sport, dport, msg) in enumerate(((client, server, port, 53, query),
                                                               (server, client, 53, port, answer))):
                udp = struct.pack("!HHHH", sport, dport, 8 + len(msg), 0) + msg
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst) + udp
                ts = t_us + 1000 * k
                out.write(struct.pack("<IIII", 1_700_000_000 + ts // 1_000_000, ts % 1_000_000, len(ip), len(ip)))
                out.write(ip)


def measure(path: str, how: str) -> dict:
    import fastpkt as fp

    out: dict = {}
    if how == "count":
        out["packets"] = fp.open(path).count()
    else:
        tx = fp.dns(path, workers=1)  # one engine's state, as the module doc describes
        if how == "to_pandas":
            out["rows"] = len(tx.to_pandas())
        else:
            out["rows"] = sum(1 for _ in tx)
        st = tx.stats
        out["engine_peak_mb"] = st["memory_peak_bytes"] / 2**20
        out["dns_peak_mb"] = st["memory_peak"]["dns"] / 2**20
        out["flows_peak_mb"] = st["memory_peak"]["flows"] / 2**20
        out["dns_stats"] = {k: st["dns"][k] for k in ("transactions", "answered", "evicted")}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--transactions", type=int, default=500_000)
    ap.add_argument("--rate", type=int, default=10_000, help="transactions per second of packet time")
    ap.add_argument("--keep", help="write the capture here (and reuse it if it exists)")
    ap.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)  # internal: PATH HOW, in a fresh process
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    with tempfile.TemporaryDirectory() as d:
        path = args.keep or os.path.join(d, "flood.pcap")
        if not os.path.exists(path):
            write_flood(path, args.transactions, args.rate)
        print("capture: %d transactions, %.1f MB, load %.2f" % (args.transactions, os.path.getsize(path) / 1e6,
                                                                os.getloadavg()[0]))
        for how in ("count", "to_pandas", "iterate"):
            r = subprocess.run([sys.executable, __file__, "--measure", path, how], check=True,
                               capture_output=True, text=True)
            print("%-10s %s" % (how, r.stdout.strip()))


if __name__ == "__main__":
    main()
