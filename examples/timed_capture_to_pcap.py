#!/usr/bin/env python3
"""Capture packets matching a filter for a fixed time and save them to a pcap: ports the
course's Section 2 "Timed Capture to PCAP" and Section 6 "Saving Packets to PCAP".

    sudo python3 timed_capture_to_pcap.py --iface eth0 --seconds 15 --filter "tcp port 80"
    sudo python3 timed_capture_to_pcap.py --iface eth0 --seconds 3600 --rotate-mb 100
    sudo python3 timed_capture_to_pcap.py --iface eth0 --count 50 --out capture.pcap
    python3 timed_capture_to_pcap.py --pcap trace.pcap --seconds 15

Live, packets go to the file as they are captured (sniff(write=...), store=False: memory
stays flat however long the capture runs) instead of being kept in a list and written at the
end as the course did; --rotate-mb / --rotate-seconds start numbered files (out-0001.pcap,
...). Offline, the "timer" is a window over the capture's own timestamps, from the first
matching packet, written with fp.RotatingWriter.
"""
from __future__ import annotations

import fastpkt as fp
from _common import is_live, parser


class Window:
    """lfilter keeping packets less than `seconds` after the first one it sees."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start: float | None = None

    def __call__(self, packet: fp.Packet) -> bool:
        if self.start is None:
            self.start = packet.time
        return packet.time - self.start <= self.seconds


def main() -> None:
    p = parser(__doc__, live=True)
    p.add_argument("--filter", default="tcp port 80", help="BPF filter (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=15.0, help="how long to capture (default 15)")
    p.add_argument("--out", default="capture_filtered.pcap")
    p.add_argument("--rotate-mb", type=float, help="start a new numbered file every N MB")
    p.add_argument("--rotate-seconds", type=float, help="start a new numbered file every N seconds")
    args = p.parse_args()
    rotate_bytes = int(args.rotate_mb * 1e6) if args.rotate_mb else None
    print(f"[*] Capturing {args.seconds}s with filter: {args.filter}")
    if is_live(args):
        sniffer = fp.AsyncSniffer(iface=args.iface, filter=args.filter, timeout=args.seconds,
                                  count=args.count, store=False, write=args.out,
                                  rotate_bytes=rotate_bytes, rotate_seconds=args.rotate_seconds)
        sniffer.start()
        try:
            sniffer.join()
        except KeyboardInterrupt:
            sniffer.stop()
        writer = sniffer.writer
        print(f"[*] capture stats: {sniffer.stats()}")
    else:
        packets = fp.sniff(offline=args.pcap, filter=args.filter, lfilter=Window(args.seconds),
                           count=args.count)
        with fp.RotatingWriter(args.out, linktype=packets.linktype, nanosecond=True,
                               rotate_bytes=rotate_bytes,
                               rotate_seconds=args.rotate_seconds) as writer:
            for pkt in packets:
                writer.write(pkt)
    if writer is None:  # nothing captured: the sniffer opened no file
        print("[*] No packets written")
        return
    print(f"[*] Wrote {writer.packets_written} packets to {', '.join(writer.paths)}")
    check = sum(len(fp.read(path)) for path in writer.paths)
    assert check == writer.packets_written, "read back a different number of packets"


if __name__ == "__main__":
    main()
