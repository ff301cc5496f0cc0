#!/usr/bin/env python3
"""Flag sources that try many destination ports within a window: ports the course's Section 16
"Scan Detector (Rolling Window)".

    sudo python3 port_scan_detector.py --iface eth0
    python3 port_scan_detector.py --pcap trace.pcap

The 30 s window runs on packet timestamps (live they are the capture clock). Only SYNs are
looked at (the BPF filter keeps SYN without ACK), so replies do not count as scans, and each
source alerts once per window. Offline, the same question is then answered with to_pandas
in one groupby.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import fastpkt as fp
from _common import is_live, parser, source

WINDOW = 30.0
THRESHOLD = 15
SYN_ONLY = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"


class ScanDetector:
    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.seen: dict[str | None, dict[str, Any]] = defaultdict(lambda: {"ports": set(), "first_seen": None, "alerted": False})

    def handle_packet(self, packet: fp.Packet) -> None:
        src, dport, now = packet.src, packet.dport, packet.time
        entry = self.seen[src]
        if entry["first_seen"] is None or now - entry["first_seen"] > WINDOW:
            entry["ports"].clear()
            entry["first_seen"] = now
            entry["alerted"] = False
        entry["ports"].add(dport)
        if len(entry["ports"]) >= self.threshold and not entry["alerted"]:
            entry["alerted"] = True
            print(f"[ALERT] Port scan detected from {src} ({len(entry['ports'])} ports)")


def main() -> None:
    p = parser(__doc__, live=True)
    p.add_argument("--threshold", type=int, default=THRESHOLD)
    args = p.parse_args()
    detector = ScanDetector(args.threshold)
    fp.sniff(filter=SYN_ONLY, prn=detector.handle_packet, store=False, **source(args))
    if is_live(args):
        return
    df = fp.read(args.pcap, filter=SYN_ONLY).to_pandas()
    if len(df):
        ports = df.groupby("src", observed=True)["dport"].nunique().sort_values(ascending=False)
        print("distinct destination ports per source (SYNs):")
        print(ports.to_string())


if __name__ == "__main__":
    main()
