#!/usr/bin/env python3
"""
Capture DNS queries and match with responses.
"""
from __future__ import annotations
from collections import defaultdict
from fastpkt.scapy import sniff, DNS, DNSQR, DNSRR
from _course import source  # --pcap FILE | --iface IFACE

pending = defaultdict(list)


def handle_dns(packet) -> None:
    """Track DNS queries and responses."""
    if DNS in packet:
        dns = packet[DNS]
        if dns.qr == 0 and dns.qd is not None:
            query = dns[DNSQR].qname.decode(errors="ignore")
            pending[dns.id].append(query)
            print(f"[Q] {query}")
        elif dns.qr == 1 and dns.an is not None:
            answers = []
            for i in range(dns.ancount):
                rr = dns.an[i]
                if isinstance(rr, DNSRR):
                    answers.append(rr.rdata)
            queries = pending.pop(dns.id, [])
            for query in queries:
                print(f"[A] {query} -> {answers}")


if __name__ == "__main__":
    sniff(filter="udp port 53", prn=handle_dns, store=False, **source())
