#!/usr/bin/env python3
"""Verify IP and TCP checksums by rebuilding: the course's Section 12 "Checksum Verification
Example" as written (only the import changed), on a capture.

Deleting a checksum field and rebuilding recomputes it (in C); a packet whose rebuilt
checksums differ from the captured ones is reported. On captures taken on the sending host
the kernel leaves TCP checksums to the NIC (offload), so those show as mismatches;
examples/verify_checksums.py is the idiomatic version (pkt.verify_checksums()).
"""
from __future__ import annotations

from _common import parser

from fastpkt.scapy import IP, TCP, rdpcap


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
    verify_checksums(parser(__doc__).parse_args().pcap)
