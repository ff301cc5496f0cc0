#!/usr/bin/env python3
"""
Demonstrate common layer stacks in Scapy.
"""
from __future__ import annotations
from fastpkt.scapy import Ether, IP, UDP, TCP, ICMP, DNS, DNSQR, Raw


def demo_stacks() -> None:
    """
    Print summaries of common packet stacks.
    """
    dns_packet = Ether() / IP(dst="8.8.8.8") / UDP(dport=53) / DNS(rd=1, qd=DNSQR(qname="example.com"))
    http_packet = Ether() / IP(dst="93.184.216.34") / TCP(dport=80, flags="S")
    icmp_packet = Ether() / IP(dst="1.1.1.1") / ICMP()
    udp_payload = Ether() / IP(dst="192.168.56.10") / UDP(dport=9999) / Raw(load=b"TEST")
    print(dns_packet.summary())
    print(http_packet.summary())
    print(icmp_packet.summary())
    print(udp_payload.summary())


if __name__ == "__main__":
    demo_stacks()
