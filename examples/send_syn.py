#!/usr/bin/env python3
"""Send one TCP SYN: the course's Section 3 "Custom Packet Builder" on fastpkt.

Run it only against hosts you own or are allowed to test (a lab); it needs root or
CAP_NET_RAW. The course's function is unchanged but for the import; --idiomatic sends the
same SYN with sr1() and says what came back (SYN-ACK: open, RST: closed, nothing: filtered).

    sudo python examples/send_syn.py --target 10.13.1.20 --port 22 [--idiomatic]
"""
from __future__ import annotations

import argparse

from fastpkt.scapy import IP, TCP, send, sr1


def send_syn(target_ip: str, target_port: int, source_port: int = 51515) -> None:
    """
    Send a single SYN packet for testing.
    """
    packet = IP(dst=target_ip) / TCP(dport=target_port, sport=source_port, flags="S")
    send(packet, verbose=False)
    print(f"[*] Sent SYN to {target_ip}:{target_port}")


def send_syn_and_listen(target_ip: str, target_port: int, source_port: int = 51515) -> str:
    """The same SYN, and its answer matched in C: the port's state."""
    reply = sr1(IP(dst=target_ip) / TCP(dport=target_port, sport=source_port, flags="S"), timeout=1, verbose=0)
    state = "filtered" if reply is None else "open" if reply[TCP].flags == "SA" else "closed"
    print(f"[*] SYN to {target_ip}:{target_port}: {state}")
    return state


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="a host you own (lab)")
    p.add_argument("--port", type=int, default=22)
    p.add_argument("--idiomatic", action="store_true")
    args = p.parse_args()
    (send_syn_and_listen if args.idiomatic else send_syn)(args.target, args.port)


if __name__ == "__main__":
    main()
