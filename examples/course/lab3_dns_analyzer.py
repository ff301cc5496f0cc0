#!/usr/bin/env python3
"""
Lab Part 3: log DNS queries and the response IPs with timestamps, highlight newly seen domains
and flag long query names (the DNS tunnelling heuristic of the stretch challenges).
"""
from __future__ import annotations
from collections import defaultdict
from datetime import datetime
from fastpkt.scapy import sniff, DNS, DNSQR, DNSRR
from _course import source  # --pcap FILE | --iface IFACE

pending = defaultdict(list)
seen = set()


def handle_dns(packet) -> None:
    if DNS not in packet:
        return
    dns = packet[DNS]
    ts = datetime.fromtimestamp(float(packet.time)).strftime("%H:%M:%S")
    if dns.qr == 0 and dns.qd is not None:
        query = dns[DNSQR].qname.decode(errors="ignore")
        pending[dns.id].append(query)
        print(f"{ts} [Q] {query}")
        if query not in seen:
            print(f"[NEW] {query}")
            seen.add(query)
        if len(query) > 60 and query.count('.') >= 3:
            print(f"[SUSPECT] Long DNS query: {query}")
    elif dns.qr == 1:
        ips = [dns.an[i].rdata for i in range(dns.ancount) if isinstance(dns.an[i], DNSRR) and dns.an[i].type in (1, 28)]
        for query in pending.pop(dns.id, []):
            print(f"{ts} [A] {query} -> {ips}")


if __name__ == "__main__":
    sniff(filter="udp port 53", prn=handle_dns, store=False, **source())
