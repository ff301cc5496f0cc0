#!/usr/bin/env python3
"""
Capture packets and print key fields.
"""
from __future__ import annotations
from datetime import datetime
from fastpkt.scapy import sniff, IP, TCP
from _course import source  # --pcap FILE | --iface IFACE


def handle_packet(packet) -> None:
    """Callback for each sniffed packet."""
    if IP in packet:
        ip_layer = packet[IP]
        src = ip_layer.src
        dst = ip_layer.dst
        proto = ip_layer.proto
        timestamp = datetime.utcnow().isoformat()
        summary = f"{timestamp} IP {src} -> {dst} proto={proto}"
        if TCP in packet:
            summary += f" TCP dport={packet[TCP].dport} flags={packet[TCP].flags}"
        print(summary)


if __name__ == "__main__":
    print("[*] Sniffing 10 packets on default interface...")
    sniff(count=10, prn=handle_packet, **source())
