#!/usr/bin/env python3
"""Match DNS queries with responses by transaction id: ports the course's Section 5 "DNS
Query/Response Analyzer" and Lab Part 3 (timestamps, newly seen domains, the long-name
tunnelling heuristic).

    sudo python3 dns_analyzer.py --iface eth0          # live, until Ctrl+C
    python3 dns_analyzer.py --pcap trace.pcap

The course keyed pending queries by id alone; here by (id, client address, client port), so
two clients reusing an id do not swap answers. Queries still unanswered at the end are listed.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import fastpkt as fp
from _common import parser, source

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV"}


class DnsAnalyzer:
    def __init__(self) -> None:
        self.pending: dict[tuple[object, ...], list[str]] = defaultdict(list)
        self.seen: set[str] = set()

    def handle_dns(self, packet: fp.Packet) -> None:
        """Track DNS queries and responses (the sniff callback)."""
        dns = packet.dns
        if dns is None:
            return
        ts = datetime.fromtimestamp(packet.time, timezone.utc).strftime("%H:%M:%S.%f")
        if dns.qr == 0 and dns.qd:
            query = dns.qd[0].qname
            self.pending[(dns.id, packet.src, packet.sport)].append(query)
            print(f"{ts} [Q] {query} {TYPES.get(dns.qd[0].qtype, dns.qd[0].qtype)}")
            if query not in self.seen:
                print(f"{ts} [NEW] {query}")
                self.seen.add(query)
            if len(query) > 60 and query.count(".") >= 3:
                print(f"{ts} [SUSPECT] Long DNS query: {query}")
        elif dns.qr == 1:
            answers = [f"{TYPES.get(rr.type, rr.type)} {rr.rdata if isinstance(rr.rdata, str) else repr(rr.rdata)}"
                       for rr in dns.an]
            if dns.rcode == 3:
                answers.append("NXDOMAIN")
            for query in self.pending.pop((dns.id, packet.dst, packet.dport), []):
                print(f"{ts} [A] {query} -> {answers}")

    def report(self) -> None:
        for (qid, _, _), queries in self.pending.items():
            print(f"[!] no response for id {qid}: {queries}")


def main() -> None:
    args = parser(__doc__, live=True).parse_args()
    analyzer = DnsAnalyzer()
    fp.sniff(filter="udp port 53 or tcp port 53", prn=analyzer.handle_dns, store=False, **source(args))
    analyzer.report()


if __name__ == "__main__":
    main()
