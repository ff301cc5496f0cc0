#!/usr/bin/env python3
"""
Verify IP and TCP checksums in captured packets.
"""
from __future__ import annotations
from fastpkt.scapy import rdpcap, IP, TCP
from _course import pcap  # --pcap FILE


def verify_checksums(path: str) -> None:
    """
    Compare stored checksums with recomputed values.
    """
    packets = rdpcap(path)
    for packet in packets:
        if IP in packet and TCP in packet:
            ip = packet[IP]
            tcp = packet[TCP]
            original_ip = ip.chksum
            original_tcp = tcp.chksum
            del ip.chksum
            del tcp.chksum
            rebuilt = IP(bytes(ip))
            rebuilt_tcp = TCP(bytes(tcp))
            if rebuilt.chksum != original_ip or rebuilt_tcp.chksum != original_tcp:
                print(f"[!] Checksum mismatch: {ip.src} -> {ip.dst}")


if __name__ == "__main__":
    verify_checksums(pcap("capture.pcap"))
