#!/usr/bin/env python3
"""
Send a UDP packet with payload.
"""
from __future__ import annotations
from fastpkt.scapy import IP, UDP, Raw, send
from _course import target  # --target HOST: a lab host you own


def send_udp(target_ip: str, target_port: int, payload: bytes) -> None:
    """
    Send a UDP packet with payload for testing.
    """
    packet = IP(dst=target_ip) / UDP(dport=target_port) / Raw(load=payload)
    send(packet, verbose=False)
    print(f"[*] Sent UDP payload to {target_ip}:{target_port}")


if __name__ == "__main__":
    send_udp(target("192.168.56.10"), 9999, b"TEST-UDP-PAYLOAD")
