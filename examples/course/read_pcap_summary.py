#!/usr/bin/env python3
"""
Read a PCAP and summarize protocols.
"""
from __future__ import annotations
from collections import Counter
from fastpkt.scapy import rdpcap, IP, TCP, UDP
from _course import pcap  # --pcap FILE


def summarize_pcap(path: str) -> None:
    """Summarize packets by protocol."""
    packets = rdpcap(path)
    proto_counts = Counter()
    for packet in packets:
        if IP in packet:
            proto = packet[IP].proto
            proto_counts[proto] += 1
    print("Protocol counts:")
    for proto, count in proto_counts.items():
        print(f" - {proto}: {count}")


if __name__ == "__main__":
    summarize_pcap(pcap("capture.pcap"))
