#!/usr/bin/env python3
"""Verify IPv4, TCP, UDP and ICMP checksums: ports the course's Section 12 "Checksum
Verification Example".

Scapy deleted the checksum fields and rebuilt the packets; fastpkt recomputes them in C
(pkt.verify_checksums()). Note: captures taken on the sending host (and all of the loopback
sample) show TCP/UDP checksums as "bad" because the kernel leaves them to the NIC (checksum
offload); the IPv4 header checksums are always filled in.
"""
from __future__ import annotations

from collections import Counter

import fastpkt as fp
from _common import parser


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--verbose", "-v", action="store_true", help="list every TCP/UDP mismatch")
    args = p.parse_args()
    results: Counter[tuple[str, bool | None]] = Counter()
    for packet in fp.open(args.pcap):
        if packet.ip is None and packet.ip6 is None:
            continue
        checks = packet.verify_checksums()
        for layer, ok in checks.items():
            results[(layer, ok)] += 1
        bad_l4 = any(checks.get(k) is False for k in ("tcp", "udp", "icmp"))
        if checks.get("ip") is False or (bad_l4 and args.verbose):
            print(f"[!] Checksum mismatch: {packet.src} -> {packet.dst} {checks}")
    for (layer, ok), n in sorted(results.items(), key=lambda x: (x[0][0], str(x[0][1]))):
        state = {True: "ok", False: "BAD", None: "not checked"}[ok]
        print(f"{layer:5s} {state:12s} {n}")


if __name__ == "__main__":
    main()
