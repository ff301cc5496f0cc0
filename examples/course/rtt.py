#!/usr/bin/env python3
"""
Measure ICMP round-trip times and compute statistics.
"""
from __future__ import annotations
import statistics
import time
from typing import List
from fastpkt.scapy import IP, ICMP, sr1
from _course import target  # --target HOST: a lab host you own


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


if __name__ == "__main__":
    results = ping_rtt(target("8.8.8.8"))
    summarize_rtt(results)
