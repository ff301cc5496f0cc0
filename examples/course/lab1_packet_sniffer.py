#!/usr/bin/env python3
"""
Lab Part 1: a sniffer that filters with a BPF expression from the command line and logs
src/dst IP, ports, protocol and flags to sniff_log.csv while traffic flows.
"""
from __future__ import annotations
from datetime import datetime
from fastpkt.scapy import sniff, IP, TCP, UDP
from _course import bpf, source  # --filter BPF, --pcap FILE | --iface IFACE


def handle_packet(packet) -> None:
    if IP not in packet:
        return
    ip = packet[IP]
    proto = str(ip.proto)
    info = ""
    if TCP in packet:
        proto = "TCP"
        info = f"{packet[TCP].sport}->{packet[TCP].dport} flags={packet[TCP].flags}"
    elif UDP in packet:
        proto = "UDP"
        info = f"{packet[UDP].sport}->{packet[UDP].dport}"
    timestamp = datetime.utcnow().isoformat()
    with open("sniff_log.csv", "a", encoding="utf-8") as handle:
        handle.write(f"{timestamp},{ip.src},{ip.dst},{proto},{info}\n")
        handle.flush()
    print(f"{ip.src} -> {ip.dst} {proto} {info}")


if __name__ == "__main__":
    with open("sniff_log.csv", "a", encoding="utf-8") as handle:
        handle.write("timestamp,src,dst,proto,info\n")
        handle.flush()
    sniff(filter=bpf("ip"), prn=handle_packet, store=False, **source())
