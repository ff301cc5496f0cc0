#!/usr/bin/env python3
"""
Count packets per transport protocol in a capture (the chapter's protocol counter).
"""
from __future__ import annotations
from fastpkt.scapy import rdpcap, IP, TCP, UDP, ICMP
from collections import Counter
from _course import pcap  # --pcap FILE

packets = rdpcap(pcap("capture.pcap"))
protocols = Counter()
for pkt in packets:
    if TCP in pkt:
        protocols["TCP"] += 1
    elif UDP in pkt:
        protocols["UDP"] += 1
    elif ICMP in pkt:
        protocols["ICMP"] += 1
    else:
        protocols["Other"] += 1
for proto, count in protocols.most_common():
    print(f"{proto:10s}: {count}")
