#!/usr/bin/env python3
"""
Track TCP connections by 4-tuple.
"""
from __future__ import annotations
from collections import defaultdict
from datetime import datetime
from fastpkt.scapy import sniff, IP, TCP
from _course import source  # --pcap FILE | --iface IFACE

connections = defaultdict(lambda: {"packets": 0, "start": None})


def handle_tcp(packet) -> None:
    """Count packets per TCP flow."""
    if IP in packet and TCP in packet:
        ip = packet[IP]
        tcp = packet[TCP]
        flow = (ip.src, tcp.sport, ip.dst, tcp.dport)
        if connections[flow]["start"] is None:
            connections[flow]["start"] = datetime.utcnow().isoformat()
        connections[flow]["packets"] += 1
        if tcp.flags & 1:  # FIN
            count = connections[flow]["packets"]
            print(f"[FIN] Flow {flow} - packets={count}")


if __name__ == "__main__":
    sniff(filter="tcp", prn=handle_tcp, store=False, **source())
