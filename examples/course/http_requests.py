#!/usr/bin/env python3
"""
Extract HTTP request lines from plaintext traffic.
"""
from __future__ import annotations
from fastpkt.scapy import sniff, TCP, Raw
from _course import source  # --pcap FILE | --iface IFACE


def handle_http(packet) -> None:
    if packet.haslayer(TCP) and packet.haslayer(Raw):
        payload = packet[Raw].load
        if payload.startswith(b"GET") or payload.startswith(b"POST") or payload.startswith(b"HEAD"):
            try:
                request_line = payload.split(b"\r\n", 1)[0].decode()
                print(f"HTTP: {request_line}")
            except UnicodeDecodeError:
                return


if __name__ == "__main__":
    sniff(filter="tcp port 80", prn=handle_http, store=False, **source())
