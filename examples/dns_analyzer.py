#!/usr/bin/env python3
"""Match DNS queries with responses by transaction id: ports the course's Section 5 "DNS
Query/Response Analyzer" and Lab Part 3 (timestamps, newly seen domains, the long-name
tunnelling heuristic).

Live sniffing (sniff(filter="udp port 53")) comes with live capture in a later issue; this
reads a capture with the same BPF filter.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import fastpkt as fp
from _common import parser

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV"}


def main() -> None:
    args = parser(__doc__).parse_args()
    pending: dict = defaultdict(list)
    seen: set[str] = set()
    for packet in fp.open(args.pcap, filter="udp port 53 or tcp port 53"):
        dns = packet.dns
        if dns is None:
            continue
        ts = datetime.fromtimestamp(packet.time, timezone.utc).strftime("%H:%M:%S.%f")
        if dns.qr == 0 and dns.qd:
            query = dns.qd[0].qname
            pending[(dns.id, packet.src, packet.sport)].append(query)
            print(f"{ts} [Q] {query} {TYPES.get(dns.qd[0].qtype, dns.qd[0].qtype)}")
            if query not in seen:
                print(f"{ts} [NEW] {query}")
                seen.add(query)
            if len(query) > 60 and query.count(".") >= 3:
                print(f"{ts} [SUSPECT] Long DNS query: {query}")
        elif dns.qr == 1:
            answers = [f"{TYPES.get(rr.type, rr.type)} {rr.rdata}" for rr in dns.an]
            if dns.rcode == 3:
                answers.append("NXDOMAIN")
            for query in pending.pop((dns.id, packet.dst, packet.dport), []):
                print(f"{ts} [A] {query} -> {answers}")
    for (qid, _, _), queries in pending.items():
        print(f"[!] no response for id {qid}: {queries}")


if __name__ == "__main__":
    main()
