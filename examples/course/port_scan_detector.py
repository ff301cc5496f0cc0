#!/usr/bin/env python3
"""
Detect potential port scans based on unique ports per source IP.
"""
from __future__ import annotations
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Dict, Set
from fastpkt.scapy import sniff, IP, TCP
from _course import source  # --pcap FILE | --iface IFACE

WINDOW = timedelta(seconds=30)
THRESHOLD = 15
seen_ports: Dict[str, Dict[str, Set[int]]] = defaultdict(lambda: {"ports": set(), "first_seen": None})


def handle_packet(packet) -> None:
    if IP not in packet or TCP not in packet:
        return
    ip = packet[IP].src
    dport = packet[TCP].dport
    entry = seen_ports[ip]
    if entry["first_seen"] is None:
        entry["first_seen"] = datetime.utcnow()
    entry["ports"].add(dport)
    if datetime.utcnow() - entry["first_seen"] > WINDOW:
        entry["ports"].clear()
        entry["first_seen"] = datetime.utcnow()
    if len(entry["ports"]) >= THRESHOLD:
        print(f"[ALERT] Port scan detected from {ip} ({len(entry['ports'])} ports)")


if __name__ == "__main__":
    sniff(filter="tcp", prn=handle_packet, store=False, **source())
