#!/usr/bin/env python3
"""Reassemble TCP streams and save each direction to a file: ports the course's Section 15
"Reassemble TCP Streams (Simple)" (reconstruct_streams + save_streams).

The course concatenated Raw loads in capture order per (src, sport, dst, dport), IPv4 only,
so retransmissions were duplicated and out-of-order segments scrambled. fp.streams
reassembles in sequence order, in C: each byte once, holes reported as gaps (never filled).
Files keep the course's names: stream_{id}_{src}_{sport}_to_{dst}_{dport}.bin.
"""
from __future__ import annotations

import os
import tempfile

import fastpkt as fp
from _common import parser


def reconstruct_streams(path: str) -> list[fp.Stream]:
    """Every TCP connection of the capture, both directions reassembled."""
    return list(fp.streams(path))


def save_streams(streams: list[fp.Stream], directory: str) -> None:
    """Save each direction that carried data; report what is missing."""
    for stream in streams:
        for path in stream.save(directory):
            print(f"[*] Wrote {os.path.basename(path)} ({os.path.getsize(path)} bytes)")
        for side, gaps in (("client", stream.client_gaps), ("server", stream.server_gaps)):
            for gap in gaps:
                print(f"    [!] stream {stream.stream_id} {side} data: {gap.length} bytes "
                      f"missing at offset {gap.offset}")


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--out", help="directory for the .bin files (default: a new temp dir)")
    args = p.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="fastpkt-streams-")
    os.makedirs(out, exist_ok=True)
    streams = reconstruct_streams(args.pcap)
    print(f"[*] {len(streams)} TCP streams, writing to {out}")
    save_streams(streams, out)
    gaps = sum(s.client_gap_bytes + s.server_gap_bytes for s in streams)
    still_open = sum(1 for s in streams if s.state == "open")
    print(f"[*] {gaps} bytes missing (gaps); {still_open} streams still open at the end "
          f"of the capture")


if __name__ == "__main__":
    main()
