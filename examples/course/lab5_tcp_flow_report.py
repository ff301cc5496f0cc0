#!/usr/bin/env python3
"""
Lab Part 5: capture TCP for 5 minutes, count packets per flow (4-tuple), print the top 10 flows.
"""
from __future__ import annotations
from collections import defaultdict
from fastpkt.scapy import sniff, IP, TCP
from _course import source  # --pcap FILE | --iface IFACE

flows = defaultdict(lambda: {"packets": 0, "bytes": 0})


def handle_tcp(packet) -> None:
    if IP in packet and TCP in packet:
        flow = (packet[IP].src, packet[TCP].sport, packet[IP].dst, packet[TCP].dport)
        flows[flow]["packets"] += 1
        flows[flow]["bytes"] += len(packet)


if __name__ == "__main__":
    sniff(filter="tcp", prn=handle_tcp, store=False, timeout=300, **source())
    top = sorted(flows.items(), key=lambda x: x[1]["packets"], reverse=True)[:10]
    for flow, stats in top:
        print(flow, stats)
