#!/usr/bin/env python3
"""Read a PCAP and count packets per IP protocol: ports the course's Section 6 "Reading PCAP
Files" (summarize_pcap with a Counter over packet[IP].proto).

IPv6 packets count under their upper-layer protocol too (the course only looked at IPv4).
"""
from __future__ import annotations

from collections import Counter

import fastpkt as fp
from _common import parser

NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}


def summarize_pcap(path: str) -> Counter[int]:
    proto_counts: Counter[int] = Counter()
    for packet in fp.open(path):
        if fp.IP in packet:
            proto_counts[packet[fp.IP].proto] += 1
        elif fp.IPv6 in packet:
            proto_counts[packet[fp.IPv6].proto] += 1
    return proto_counts


def main() -> None:
    args = parser(__doc__).parse_args()
    counts = summarize_pcap(args.pcap)
    print("Protocol counts:")
    for proto, count in counts.most_common():
        print(f" - {proto}: {count}  # {NAMES.get(proto, '?')}")
    # The same from a DataFrame built in C (no Python loop):
    df = fp.read(args.pcap).to_pandas()
    print(df["proto"].value_counts().to_string())


if __name__ == "__main__":
    main()
