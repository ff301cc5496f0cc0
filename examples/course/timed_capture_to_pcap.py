#!/usr/bin/env python3
"""
Capture packets for a fixed duration and save to PCAP.
"""
from __future__ import annotations
import time
from fastpkt.scapy import sniff, wrpcap
from _course import source  # --pcap FILE | --iface IFACE


def capture_for(seconds: int, bpf: str = "tcp") -> None:
    """
    Capture packets for a fixed time window.
    """
    print(f"[*] Capturing {seconds}s with filter: {bpf}")
    packets = sniff(timeout=seconds, filter=bpf, **source())
    ts = int(time.time())
    filename = f"capture_{ts}.pcap"
    wrpcap(filename, packets)
    print(f"[*] Wrote {len(packets)} packets to {filename}")


if __name__ == "__main__":
    capture_for(15, bpf="tcp port 80")
