#!/usr/bin/env python3
"""
Save captured packets to a PCAP file for offline analysis.
"""
from __future__ import annotations
from fastpkt.scapy import sniff, wrpcap
from _course import source  # --pcap FILE | --iface IFACE

if __name__ == "__main__":
    packets = sniff(count=50, **source())
    wrpcap("capture.pcap", packets)
    print("[*] Saved 50 packets to capture.pcap")
