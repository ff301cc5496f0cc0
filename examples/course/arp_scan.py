#!/usr/bin/env python3
"""
ARP scan to identify live hosts on a local subnet.
"""
from __future__ import annotations
from typing import List, Dict
from fastpkt.scapy import ARP, Ether, srp
from _course import network  # --network CIDR: a lab subnet you own


def arp_scan(network: str) -> List[Dict[str, str]]:
    """
    Return list of hosts from ARP scan.
    """
    packet = Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=network)
    answered, _ = srp(packet, timeout=2, verbose=False)
    results = []
    for _, response in answered:
        results.append({"ip": response.psrc, "mac": response.hwsrc})
    return results


if __name__ == "__main__":
    hosts = arp_scan(network("192.168.56.0/24"))
    for host in hosts:
        print(f"{host['ip']} - {host['mac']}")
