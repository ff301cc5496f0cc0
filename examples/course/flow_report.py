#!/usr/bin/env python3
"""
Convert PCAP to a flow summary and output CSV.
"""
from __future__ import annotations
from collections import Counter
from typing import Dict, Tuple
import pandas as pd
from fastpkt.scapy import rdpcap, IP, TCP, UDP
from _course import pcap  # --pcap FILE

FlowKey = Tuple[str, int, str, int, str]


def pcap_to_flows(path: str) -> pd.DataFrame:
    """
    Aggregate packets into 5-tuple flows.
    """
    packets = rdpcap(path)
    flow_counts: Counter[FlowKey] = Counter()
    for packet in packets:
        if IP not in packet:
            continue
        ip = packet[IP]
        if TCP in packet:
            proto = "TCP"
            sport, dport = packet[TCP].sport, packet[TCP].dport
        elif UDP in packet:
            proto = "UDP"
            sport, dport = packet[UDP].sport, packet[UDP].dport
        else:
            continue
        key = (ip.src, sport, ip.dst, dport, proto)
        flow_counts[key] += 1
    rows = []
    for (src, sport, dst, dport, proto), count in flow_counts.items():
        rows.append({
            "src": src,
            "sport": sport,
            "dst": dst,
            "dport": dport,
            "proto": proto,
            "packets": count,
        })
    df = pd.DataFrame(rows)
    return df.sort_values("packets", ascending=False)


def main() -> None:
    df = pcap_to_flows(pcap("capture.pcap"))
    df.to_csv("flow_summary.csv", index=False)
    print(df.head(10))


if __name__ == "__main__":
    main()
