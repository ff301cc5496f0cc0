#!/usr/bin/env python3
"""
Track TCP handshakes and identify incomplete connections.
"""
from __future__ import annotations
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Dict, Tuple
from fastpkt.scapy import sniff, IP, TCP
from _course import is_live, source  # --pcap FILE | --iface IFACE

FlowKey = Tuple[str, int, str, int]
handshakes: Dict[FlowKey, Dict[str, bool]] = defaultdict(lambda: {"syn": False, "synack": False, "ack": False})
timestamps: Dict[FlowKey, datetime] = {}


def handle_handshake(packet) -> None:
    if IP not in packet or TCP not in packet:
        return
    ip = packet[IP]
    tcp = packet[TCP]
    flow = (ip.src, tcp.sport, ip.dst, tcp.dport)
    flags = tcp.flags
    if flags & 0x02:  # SYN
        handshakes[flow]["syn"] = True
        timestamps[flow] = datetime.utcnow()
    elif flags & 0x12:  # SYN-ACK
        reverse = (ip.dst, tcp.dport, ip.src, tcp.sport)
        handshakes[reverse]["synack"] = True
    elif flags & 0x10:  # ACK
        handshakes[flow]["ack"] = True
    status = handshakes[flow]
    if status["syn"] and status["synack"] and status["ack"]:
        print(f"[✓] Complete handshake: {flow}")


def detect_incomplete(timeout_sec: int = 10) -> None:
    """
    Find SYNs that did not complete.
    """
    now = datetime.utcnow()
    for flow, started in list(timestamps.items()):
        if now - started > timedelta(seconds=timeout_sec):
            status = handshakes[flow]
            if status["syn"] and not status["ack"]:
                print(f"[!] Incomplete handshake: {flow} status={status}")
            timestamps.pop(flow, None)


def main() -> None:
    """
    Run live handshake tracker.
    """
    if not is_live():  # a capture is read once, in one pass (the loop would reread its first 20)
        sniff(prn=handle_handshake, store=False, **source())
        detect_incomplete()
        return
    while True:
        sniff(count=20, prn=handle_handshake, store=False, **source())
        detect_incomplete()


if __name__ == "__main__":
    main()
