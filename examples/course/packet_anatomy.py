#!/usr/bin/env python3
"""
Inspect basic packet fields with Scapy.
"""
from __future__ import annotations
from fastpkt.scapy import Ether, IP, TCP
packet = Ether() / IP(dst="8.8.8.8") / TCP(dport=443, sport=51515, flags="S")
packet.show()
# Accessing fields
print(packet[Ether].src)
print(packet[IP].dst)
print(packet[TCP].flags)
