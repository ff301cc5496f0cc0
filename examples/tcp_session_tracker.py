#!/usr/bin/env python3
"""Count packets per TCP flow (4-tuple) and report flows when a FIN is seen: ports the
course's Section 5 "TCP Session Tracker" and Lab Part 5 (top 10 flows by packets).

    sudo python3 tcp_session_tracker.py --iface eth0 --timeout 300   # the lab's 5 minutes
    python3 tcp_session_tracker.py --pcap trace.pcap

Flow start times are the first packet's capture time (the course used the wall clock when
its callback ran). For bidirectional flow records with states, RTT and byte counts, see
flow_report.py (fp.flows, which also runs on a live fp.Capture).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any
from datetime import datetime, timezone

import fastpkt as fp
from _common import parser, source


class SessionTracker:
    def __init__(self) -> None:
        self.connections: dict[tuple[object, ...], dict[str, Any]] = defaultdict(lambda: {"packets": 0, "start": None})

    def handle_tcp(self, packet: fp.Packet) -> None:
        """Count packets per TCP flow (the sniff callback)."""
        tcp = packet.tcp
        if tcp is None or packet.src is None:
            return
        flow = (packet.src, tcp.sport, packet.dst, tcp.dport)
        entry = self.connections[flow]
        if entry["start"] is None:
            entry["start"] = datetime.fromtimestamp(packet.time, timezone.utc).isoformat()
        entry["packets"] += 1
        if tcp.flags & 1:  # FIN
            print(f"[FIN] Flow {flow} - packets={entry['packets']}")

    def report(self, n: int = 10) -> None:
        print(f"\nTop {n} flows by packets:")
        top = sorted(self.connections.items(), key=lambda x: x[1]["packets"], reverse=True)[:n]
        for flow, stats in top:
            print(flow, stats)


def main() -> None:
    args = parser(__doc__, live=True).parse_args()
    tracker = SessionTracker()
    fp.sniff(filter="tcp", prn=tracker.handle_tcp, store=False, **source(args))
    tracker.report()


if __name__ == "__main__":
    main()
