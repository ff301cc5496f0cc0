#!/usr/bin/env python3
"""Traceroute with increasing TTL: the course's Section 11 on fastpkt.

Run it only toward hosts you own (a lab). Needs root or CAP_NET_RAW. The course's loop (one
ICMP echo per TTL with sr1()) is unchanged but for the import; --idiomatic is
fp.traceroute(): a TCP SYN per TTL, all sent at once, routers' time-exceeded messages matched
to their probe by the header they quote.

    sudo python examples/traceroute.py --target 10.13.2.20 [--max-hops 20] [--idiomatic]
"""
from __future__ import annotations

import argparse

from fastpkt.scapy import ICMP, IP, sr1, traceroute as tcp_traceroute


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


def traceroute_at_once(target: str, max_hops: int = 20) -> None:
    result, _ = tcp_traceroute(target, maxttl=max_hops, timeout=2, verbose=0)
    hops = result.get_trace().get(target, {})
    for ttl in range(1, max(hops, default=0) + 1):
        print(f"{ttl}: {hops[ttl][0]}" if ttl in hops else f"{ttl}: *")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="a host you own (lab)")
    p.add_argument("--max-hops", type=int, default=20)
    p.add_argument("--idiomatic", action="store_true")
    args = p.parse_args()
    (traceroute_at_once if args.idiomatic else traceroute)(args.target, args.max_hops)


if __name__ == "__main__":
    main()
