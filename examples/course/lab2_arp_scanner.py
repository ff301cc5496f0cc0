#!/usr/bin/env python3
"""
Lab Part 2: discover live hosts in the lab subnet and save IP and MAC to arp_results.json.
"""
from __future__ import annotations
import json
from fastpkt.scapy import ARP, Ether, srp
from _course import network  # --network CIDR: a lab subnet you own


def arp_scan(network: str) -> list[dict[str, str]]:
    packet = Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=network)
    answered, _ = srp(packet, timeout=2, verbose=False)
    return [{"ip": response.psrc, "mac": response.hwsrc} for _, response in answered]


if __name__ == "__main__":
    results = arp_scan(network("192.168.56.0/24"))
    with open("arp_results.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    for host in results:
        print(f"{host['ip']} - {host['mac']}")
    print(f"[*] Saved {len(results)} hosts to arp_results.json")
