#!/usr/bin/env python3
"""Print key fields of captured packets and log them to CSV: ports the course's Section 2
"Basic Sniffer with Callback" and Lab Part 1 "Custom Packet Sniffer" (BPF filter from the
command line, sniff_log.csv updated while traffic flows).

    sudo python3 packet_sniffer.py --iface eth0 --filter "tcp port 443" --csv sniff_log.csv
    python3 packet_sniffer.py --pcap trace.pcap --count 0

Timestamps are the packets' own capture times (the course printed the wall clock when the
callback ran, which lags the packet under load). IPv6 packets are printed too.
"""
from __future__ import annotations

import csv
from datetime import datetime, timezone

import fastpkt as fp
from _common import is_live, parser, source


class PacketLogger:
    """The callback: one line per IP packet on stdout, one row per packet in the CSV."""

    def __init__(self, csv_path: str | None, live: bool = True) -> None:
        self.live = live
        self.handle = open(csv_path, "a", newline="", encoding="utf-8") if csv_path else None
        self.writer = csv.writer(self.handle) if self.handle else None
        if self.handle is not None and self.writer is not None and self.handle.tell() == 0:
            self.writer.writerow(["timestamp", "src", "dst", "proto", "info"])

    def __call__(self, packet: fp.Packet) -> None:
        if packet.ip is None and packet.ip6 is None:
            return
        timestamp = datetime.fromtimestamp(packet.time, timezone.utc).isoformat()
        summary = f"{timestamp} IP {packet.src} -> {packet.dst} proto={packet.proto}"
        info = ""
        if packet.tcp is not None:
            info = f"TCP dport={packet.tcp.dport} flags={packet.tcp.flags}"
        elif packet.udp is not None:
            info = f"UDP dport={packet.udp.dport}"
        print(f"{summary} {info}".rstrip())
        if self.writer is not None and self.handle is not None:
            self.writer.writerow([timestamp, packet.src, packet.dst, packet.proto, info])
            if self.live:
                self.handle.flush()  # the CSV follows the traffic in real time (a file: at the end)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def main() -> None:
    p = parser(__doc__, live=True)
    p.add_argument("--filter", default=None, help="BPF filter, e.g. 'udp and port 53'")
    p.add_argument("--csv", metavar="FILE", help="also append rows to this CSV (e.g. sniff_log.csv)")
    p.set_defaults(count=10)  # the course sniffed 10 packets; --count 0 for no limit
    args = p.parse_args()
    where = f"interface {args.iface}" if is_live(args) else args.pcap
    print(f"[*] Sniffing {args.count or 'all'} packets on {where}...")
    logger = PacketLogger(args.csv, live=is_live(args))
    try:
        result = fp.sniff(filter=args.filter, prn=logger, store=False, **source(args))
    finally:
        logger.close()
    if result.stats:
        print(f"[*] capture stats: {result.stats}")


if __name__ == "__main__":
    main()
