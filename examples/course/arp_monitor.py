#!/usr/bin/env python3
"""
Monitor ARP traffic and detect potential spoofing.
"""
from __future__ import annotations
from typing import Dict
from fastpkt.scapy import sniff, ARP
from _course import source  # --pcap FILE | --iface IFACE

arp_table: Dict[str, str] = {}


def handle_arp(packet) -> None:
    if ARP in packet and packet[ARP].op == 2:  # is-at (reply)
        ip = packet[ARP].psrc
        mac = packet[ARP].hwsrc
        if ip in arp_table and arp_table[ip] != mac:
            print(f"[!] ARP change detected: {ip} {arp_table[ip]} -> {mac}")
        arp_table[ip] = mac


if __name__ == "__main__":
    print("[*] Monitoring ARP traffic...")
    sniff(filter="arp", prn=handle_arp, store=False, **source())
