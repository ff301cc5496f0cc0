#!/usr/bin/env python3
"""
Craft and send a custom TCP SYN packet (lab only).
"""
from __future__ import annotations
from fastpkt.scapy import IP, TCP, send
from _course import target  # --target HOST: a lab host you own


def send_syn(target_ip: str, target_port: int, source_port: int = 51515) -> None:
    """
    Send a single SYN packet for testing.
    """
    packet = IP(dst=target_ip) / TCP(dport=target_port, sport=source_port, flags="S")
    send(packet, verbose=False)
    print(f"[*] Sent SYN to {target_ip}:{target_port}")


if __name__ == "__main__":
    send_syn(target("192.168.56.10"), 22)
