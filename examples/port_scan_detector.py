#!/usr/bin/env python3
"""Flag sources that try many destination ports within a window: ports the course's Section 16
"Scan Detector (Rolling Window)".

Uses packet timestamps for the 30 s window (the course used the wall clock while sniffing
live; live capture comes in a later issue). Counts SYNs only, so replies do not count as scans.
Also shows the same question answered with to_pandas in one groupby.
"""
from __future__ import annotations

from collections import defaultdict

import fastpkt as fp
from _common import parser

WINDOW = 30.0
THRESHOLD = 15


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--threshold", type=int, default=THRESHOLD)
    args = p.parse_args()
    seen: dict = defaultdict(lambda: {"ports": set(), "first_seen": None, "alerted": False})
    for packet in fp.open(args.pcap, filter="tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"):
        src, dport, now = packet.src, packet.dport, packet.time
        entry = seen[src]
        if entry["first_seen"] is None or now - entry["first_seen"] > WINDOW:
            entry["ports"].clear()
            entry["first_seen"] = now
            entry["alerted"] = False
        entry["ports"].add(dport)
        if len(entry["ports"]) >= args.threshold and not entry["alerted"]:
            entry["alerted"] = True
            print(f"[ALERT] Port scan detected from {src} ({len(entry['ports'])} ports)")
    df = fp.read(args.pcap, filter="tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn").to_pandas()
    if len(df):
        ports = df.groupby("src", observed=True)["dport"].nunique().sort_values(ascending=False)
        print("distinct destination ports per source (SYNs):")
        print(ports.to_string())


if __name__ == "__main__":
    main()
