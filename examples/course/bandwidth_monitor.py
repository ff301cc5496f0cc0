#!/usr/bin/env python3
"""
A simple real-time bandwidth monitor (the chapter's code/bandwidth_monitor.py).
"""
import time
from collections import defaultdict
from fastpkt.scapy import sniff, IP
from _course import source  # --pcap FILE | --iface IFACE (the chapter: iface="eth0")

traffic = defaultdict(lambda: {"bytes_in": 0, "bytes_out": 0, "packets": 0})
MY_IP = "192.168.1.42"


def monitor(pkt):
    if IP in pkt:
        size = len(pkt)
        if pkt[IP].dst == MY_IP:
            traffic[pkt[IP].src]["bytes_in"] += size
        elif pkt[IP].src == MY_IP:
            traffic[pkt[IP].dst]["bytes_out"] += size
        traffic[pkt[IP].src]["packets"] += 1


def print_stats():
    print(f"\n{'Host':20s} {'In (KB)':>10s} {'Out (KB)':>10s} {'Packets':>10s}")
    print("-" * 55)
    for host, stats in sorted(traffic.items(), key=lambda x: x[1]["bytes_in"], reverse=True)[:10]:
        print(f"{host:20s} {stats['bytes_in']/1024:10.1f} {stats['bytes_out']/1024:10.1f} {stats['packets']:10d}")


# Sniff for 30 seconds, then print stats
sniff(prn=monitor, timeout=30, **source())
print_stats()
