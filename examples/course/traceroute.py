#!/usr/bin/env python3
"""
Simple traceroute implementation using TTL.
"""
from __future__ import annotations
from fastpkt.scapy import IP, ICMP, sr1
from _course import target  # --target HOST: a lab host you own


def traceroute(target: str, max_hops: int = 20) -> None:
    """
    Print hop-by-hop route.
    """
    for ttl in range(1, max_hops + 1):
        packet = IP(dst=target, ttl=ttl) / ICMP()
        response = sr1(packet, timeout=1, verbose=False)
        if response is None:
            print(f"{ttl}: *")
            continue
        print(f"{ttl}: {response.src}")
        if response.src == target:
            break


if __name__ == "__main__":
    traceroute(target("8.8.8.8"))
