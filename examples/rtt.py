#!/usr/bin/env python3
"""ICMP round-trip times: the course's Section 17 "Measuring RTT with ICMP" on fastpkt.

Run it only against hosts you own (a lab). Needs root or CAP_NET_RAW. The course's code
(time.time() around each sr1(), so Python's own overhead is in every sample) is unchanged but
for the import; --idiomatic sends the requests with one sr(inter=0.2) and takes each RTT from
the kernel's capture timestamp of the reply minus the moment its request left.

    sudo python examples/rtt.py --target 10.13.1.20 [--count 5] [--idiomatic]
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import List

from fastpkt.scapy import ICMP, IP, sr, sr1


def ping_rtt(host: str, count: int = 5) -> List[float]:
    """
    Return RTT measurements in milliseconds.
    """
    rtts = []
    for _ in range(count):
        start = time.time()
        reply = sr1(IP(dst=host) / ICMP(), timeout=1, verbose=False)
        if reply:
            rtts.append((time.time() - start) * 1000)
    return rtts


def ping_rtt_timestamps(host: str, count: int = 5) -> List[float]:
    answered, _ = sr([IP(dst=host) / ICMP(id=0x5254, seq=i) for i in range(count)], inter=0.2, timeout=1,
                     verbose=False)
    return [pair.rtt * 1000 for pair in answered]


def summarize_rtt(rtts: List[float]) -> None:
    """
    Print RTT statistics.
    """
    if not rtts:
        print("[!] No replies")
        return
    print(f"Min: {min(rtts):.2f} ms")
    print(f"Max: {max(rtts):.2f} ms")
    print(f"Avg: {statistics.mean(rtts):.2f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="a host you own (lab)")
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--idiomatic", action="store_true")
    args = p.parse_args()
    summarize_rtt((ping_rtt_timestamps if args.idiomatic else ping_rtt)(args.target, args.count))


if __name__ == "__main__":
    main()
