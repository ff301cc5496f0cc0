#!/usr/bin/env python3
"""
Sniff only DNS traffic and extract query names.
"""
from __future__ import annotations
from fastpkt.scapy import sniff, DNS, DNSQR
from _course import source  # --pcap FILE | --iface IFACE


def handle_dns(packet) -> None:
    """Print DNS queries."""
    if DNS in packet and packet[DNS].qd is not None:
        query = packet[DNSQR].qname.decode(errors="ignore")
        print(f"DNS Query: {query}")


if __name__ == "__main__":
    sniff(filter="udp port 53", prn=handle_dns, store=False, **source())
