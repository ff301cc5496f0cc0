#!/usr/bin/env python3
"""
Reconstruct TCP payload streams from a PCAP.
"""
from __future__ import annotations
from collections import defaultdict
from typing import Dict, Tuple
from fastpkt.scapy import rdpcap, IP, TCP, Raw
from _course import pcap  # --pcap FILE

FlowKey = Tuple[str, int, str, int]


def reconstruct_streams(path: str) -> Dict[FlowKey, bytes]:
    """
    Reassemble payloads in order of capture (simplified).
    """
    packets = rdpcap(path)
    streams: Dict[FlowKey, bytes] = defaultdict(bytes)
    for packet in packets:
        if IP in packet and TCP in packet and Raw in packet:
            ip = packet[IP]
            tcp = packet[TCP]
            flow = (ip.src, tcp.sport, ip.dst, tcp.dport)
            streams[flow] += packet[Raw].load
    return streams


def save_streams(streams: Dict[FlowKey, bytes]) -> None:
    """
    Save reconstructed streams to files.
    """
    for idx, (flow, data) in enumerate(streams.items(), start=1):
        src, sport, dst, dport = flow
        filename = f"stream_{idx}_{src}_{sport}_to_{dst}_{dport}.bin"
        with open(filename, "wb") as handle:
            handle.write(data)
        print(f"[*] Wrote {filename} ({len(data)} bytes)")


if __name__ == "__main__":
    streams = reconstruct_streams(pcap("capture.pcap"))
    save_streams(streams)
