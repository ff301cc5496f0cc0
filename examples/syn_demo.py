#!/usr/bin/env python3
"""Rate-limited SYN demo: the course's Section 3 / Lab Part 4 on fastpkt.

Educational, for a lab only: run it only against hosts you own. Needs root or CAP_NET_RAW.
The course's loop (one send() and a sleep per packet) is unchanged but for the import;
--idiomatic builds the packets first and hands them to one send(inter=delay), paced in C.

    sudo python examples/syn_demo.py --target 10.13.1.20 --port 80 --count 50 --delay 0.1 [--idiomatic]
"""
from __future__ import annotations

import argparse
import time

from fastpkt.scapy import IP, TCP, send


def syn_demo(target_ip: str, target_port: int, count: int = 50, delay: float = 0.1) -> None:
    """
    Send a low-rate stream of SYN packets for learning.
    """
    for i in range(count):
        packet = IP(dst=target_ip) / TCP(dport=target_port, sport=40000 + i, flags="S")
        send(packet, verbose=False)
        time.sleep(delay)
    print(f"[*] Completed demo ({count} packets)")


def syn_demo_paced(target_ip: str, target_port: int, count: int = 50, delay: float = 0.1) -> None:
    """The same packets, sent by one call that keeps `delay` between them (<= 10/s by default)."""
    packets = [IP(dst=target_ip) / TCP(dport=target_port, sport=40000 + i, flags="S") for i in range(count)]
    send(packets, inter=delay, verbose=False)
    print(f"[*] Completed demo ({count} packets)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="a host you own (lab)")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--delay", type=float, default=0.1, help="seconds between SYNs (course: <= 10 packets/s)")
    p.add_argument("--idiomatic", action="store_true")
    args = p.parse_args()
    if args.delay < 0.1:
        p.error("--delay below 0.1 s is more than the course's 10 packets/s")
    (syn_demo_paced if args.idiomatic else syn_demo)(args.target, args.port, args.count, args.delay)


if __name__ == "__main__":
    main()
