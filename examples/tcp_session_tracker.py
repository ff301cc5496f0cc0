#!/usr/bin/env python3
"""Count packets per TCP flow (4-tuple) and report flows when a FIN is seen: ports the
course's Section 5 "TCP Session Tracker" and Lab Part 5 (top 10 flows by packets).

Flow start times come from the packet timestamps (the course used the wall clock because it
sniffed live; live capture comes in a later issue). Bidirectional flow tables built in C
(fp.flows) also come later.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import fastpkt as fp
from _common import parser


def main() -> None:
    args = parser(__doc__).parse_args()
    connections: dict = defaultdict(lambda: {"packets": 0, "start": None})
    for packet in fp.open(args.pcap, filter="tcp"):
        tcp = packet.tcp
        if tcp is None or packet.src is None:
            continue
        flow = (packet.src, tcp.sport, packet.dst, tcp.dport)
        entry = connections[flow]
        if entry["start"] is None:
            entry["start"] = datetime.fromtimestamp(packet.time, timezone.utc).isoformat()
        entry["packets"] += 1
        if tcp.flags & 1:  # FIN
            print(f"[FIN] Flow {flow} - packets={entry['packets']}")
    print("\nTop 10 flows by packets:")
    top = sorted(connections.items(), key=lambda x: x[1]["packets"], reverse=True)[:10]
    for flow, stats in top:
        print(flow, stats)


if __name__ == "__main__":
    main()
