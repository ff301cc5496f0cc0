#!/usr/bin/env python3
"""
ICMP ping sweep for lab discovery (authorized only).
"""
from __future__ import annotations
import ipaddress
from typing import List
from fastpkt.scapy import IP, ICMP, sr1
from _course import network  # --network CIDR: a lab subnet you own


def ping_host(ip: str, timeout: float = 1.0) -> bool:
    """
    Return True if host replies to ICMP.
    """
    packet = IP(dst=ip) / ICMP()
    response = sr1(packet, timeout=timeout, verbose=False)
    return response is not None


def sweep(network: str) -> List[str]:
    """
    Sweep a subnet for live hosts.
    """
    live = []
    for host in ipaddress.ip_network(network).hosts():
        ip = str(host)
        if ping_host(ip):
            live.append(ip)
            print(f"[+] Alive: {ip}")
    return live


if __name__ == "__main__":
    sweep(network("192.168.56.0/24"))
