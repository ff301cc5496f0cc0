#!/usr/bin/env python3
"""
Detect payload patterns in network traffic.
"""
from __future__ import annotations
from fastpkt.scapy import sniff, Raw
from _course import source  # --pcap FILE | --iface IFACE

SIGNATURES = [
    b"/etc/passwd",
    b"union select",
    b"powershell -enc",
]


def handle_payload(packet) -> None:
    if packet.haslayer(Raw):
        payload = packet[Raw].load.lower()
        for sig in SIGNATURES:
            if sig in payload:
                print(f"[ALERT] Signature match: {sig.decode(errors='ignore')}")
                break


if __name__ == "__main__":
    sniff(filter="tcp", prn=handle_payload, store=False, **source())
