#!/usr/bin/env python3
"""TCP SYN port scan: the course's "Scan a single TCP port using SYN scan" on fastpkt.

Scan only hosts you own or are authorised to test (a lab). Needs root or CAP_NET_RAW. The
course's code (one sr1() per port, then a RST for open ones) is unchanged but for the import;
--idiomatic sends every SYN in one sr() call, classifies the answers, and resets the open
ports with one send().

    sudo python examples/syn_port_scanner.py --target 10.13.1.20 [--ports 22,80,443,8080,3306] [--idiomatic]
"""
from __future__ import annotations

import argparse
from typing import Dict, List

from fastpkt.scapy import IP, TCP, send, sr, sr1


def scan_port(target: str, port: int) -> str:
    """Scan a single TCP port using SYN scan."""
    pkt = IP(dst=target) / TCP(dport=port, flags="S")
    resp = sr1(pkt, timeout=1, verbose=0)
    if resp is None:
        return "filtered"
    if resp.haslayer(TCP):
        if resp[TCP].flags == "SA":  # SYN-ACK
            # Send RST to close
            sr1(IP(dst=target) / TCP(dport=port, flags="R"), timeout=1, verbose=0)
            return "open"
        elif resp[TCP].flags == "RA":  # RST-ACK
            return "closed"
    return "unknown"


def scan_ports(target: str, ports: List[int]) -> Dict[int, str]:
    answered, _ = sr([IP(dst=target) / TCP(dport=p, flags="S") for p in ports], timeout=1, verbose=0)
    status = {p: "filtered" for p in ports}
    for sent, resp in answered:
        flags = resp[TCP].flags if resp.haslayer(TCP) else None  # else an ICMP error: unknown
        status[sent[TCP].dport] = "open" if flags == "SA" else "closed" if flags == "RA" else "unknown"
    send([IP(dst=target) / TCP(dport=p, flags="R") for p, s in status.items() if s == "open"], verbose=0)
    return status


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="a host you own (lab)")
    p.add_argument("--ports", default="22,80,443,8080,3306")
    p.add_argument("--idiomatic", action="store_true")
    args = p.parse_args()
    ports = [int(x) for x in args.ports.split(",")]
    status = scan_ports(args.target, ports) if args.idiomatic else {port: scan_port(args.target, port) for port in ports}
    for port in ports:
        print(f"Port {port:5d}: {status[port]}")


if __name__ == "__main__":
    main()
