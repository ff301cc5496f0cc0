#!/usr/bin/env python3
"""Track TCP three-way handshakes and list incomplete ones: ports the course's Section 7
"Handshake Tracker".

The course's flag tests were ordered so that a SYN-ACK counted as a SYN (flags & 0x02 is true
for both); here SYN, SYN-ACK and ACK are told apart with the flag attributes. "Incomplete"
means a SYN whose handshake did not finish by the end of the capture (the course used a
wall-clock timeout while sniffing live; live capture comes in a later issue).
"""
from __future__ import annotations

from collections import defaultdict

import fastpkt as fp
from _common import parser


def main() -> None:
    args = parser(__doc__).parse_args()
    handshakes: dict = defaultdict(lambda: {"syn": False, "synack": False, "ack": False,
                                            "rst": False, "done": False})
    for packet in fp.open(args.pcap, filter="tcp"):
        tcp = packet.tcp
        if tcp is None:
            continue
        flow = (packet.src, tcp.sport, packet.dst, tcp.dport)
        reverse = (packet.dst, tcp.dport, packet.src, tcp.sport)
        flags = tcp.flags
        if flags.S and not flags.A:
            handshakes[flow]["syn"] = True
            continue
        if flags.S and flags.A:
            if reverse in handshakes:
                handshakes[reverse]["synack"] = True
            continue
        if flags.R:
            for key in (flow, reverse):
                if key in handshakes:
                    handshakes[key]["rst"] = True
            continue
        status = handshakes.get(flow)
        if status and flags.A and status["syn"] and status["synack"] and not status["done"]:
            status["ack"] = status["done"] = True
            print(f"[✓] Complete handshake: {flow}")
    for flow, status in handshakes.items():
        if status["syn"] and not status["ack"]:
            why = "refused (RST)" if status["rst"] else "no answer"
            print(f"[!] Incomplete handshake: {flow} {why} status={status}")


if __name__ == "__main__":
    main()
