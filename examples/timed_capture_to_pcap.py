#!/usr/bin/env python3
"""Save packets matching a filter (and optionally a time window) to a new pcap: the offline
variant of the course's Section 2 "Timed Capture to PCAP" and Section 6 "Saving Packets to PCAP".

The live version (sniff(timeout=...) on an interface) comes with live capture in a later
issue; here the "timer" is a window over the capture's own timestamps.
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--filter", default="tcp port 80", help="BPF filter (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=15.0, help="window from the first match")
    p.add_argument("--out", default="capture_filtered.pcap")
    args = p.parse_args()
    print(f"[*] Keeping {args.seconds}s with filter: {args.filter}")
    packets = fp.read(args.pcap, filter=args.filter)
    if len(packets):
        start = packets[0].time
        packets = [pkt for pkt in packets if pkt.time - start <= args.seconds]
    written = fp.write(args.out, packets, linktype=fp.read(args.pcap, count=1).linktype)
    print(f"[*] Wrote {written} packets to {args.out}")
    check = fp.read(args.out)
    assert len(check) == written, "read back a different number of packets"


if __name__ == "__main__":
    main()
