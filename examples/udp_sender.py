#!/usr/bin/env python3
"""Send a UDP datagram with a payload: the course's Section 3 "Custom UDP Packet" on fastpkt.

Run it only against hosts you own (a lab); needs root or CAP_NET_RAW. The course's function
is unchanged but for the import; --idiomatic asks with sr1() whether anything answered (a
closed port answers with ICMP port unreachable, matched to the datagram by the header it
quotes).

    sudo python examples/udp_sender.py --target 10.13.1.20 --port 9999 [--idiomatic]
"""
from __future__ import annotations

import argparse

from fastpkt.scapy import ICMP, IP, UDP, Raw, send, sr1


def send_udp(target_ip: str, target_port: int, payload: bytes) -> None:
    """
    Send a UDP packet with payload for testing.
    """
    packet = IP(dst=target_ip) / UDP(dport=target_port) / Raw(load=payload)
    send(packet, verbose=False)
    print(f"[*] Sent UDP payload to {target_ip}:{target_port}")


def send_udp_and_listen(target_ip: str, target_port: int, payload: bytes) -> None:
    reply = sr1(IP(dst=target_ip) / UDP(dport=target_port) / payload, timeout=1, verbose=0)
    if reply is None:
        print(f"[*] Sent UDP payload to {target_ip}:{target_port}: no answer (open or filtered)")
    elif reply.haslayer(ICMP):
        print(f"[*] Sent UDP payload to {target_ip}:{target_port}: ICMP type {reply[ICMP].type} "
              f"code {reply[ICMP].code} from {reply.src}")
    else:
        print(f"[*] Sent UDP payload to {target_ip}:{target_port}: {reply.summary()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="a host you own (lab)")
    p.add_argument("--port", type=int, default=9999)
    p.add_argument("--payload", default="TEST-UDP-PAYLOAD")
    p.add_argument("--idiomatic", action="store_true")
    args = p.parse_args()
    (send_udp_and_listen if args.idiomatic else send_udp)(args.target, args.port, args.payload.encode())


if __name__ == "__main__":
    main()
