#!/usr/bin/env python3
"""Reassemble TCP streams and save each direction to a file: ports the course's Section 15
"Reassemble TCP Streams (Simple)" (reconstruct_streams + save_streams).

The course concatenated Raw loads in capture order per (src, sport, dst, dport), IPv4 only,
so retransmissions were duplicated and out-of-order segments scrambled. fp.streams
reassembles in sequence order, in C: each byte once, holes reported as gaps (never filled).
Files keep the course's names: stream_{id}_{src}_{sport}_to_{dst}_{dport}.bin.
Each connection is saved as it ends and then dropped: memory holds the open connections,
not the capture's every byte.
"""
from __future__ import annotations

import os
import tempfile
from typing import Iterable

import fastpkt as fp
from _common import parser


def reconstruct_streams(path: str) -> fp.Streams:
    """Every TCP connection of the capture, both directions reassembled, as each ends."""
    return fp.streams(path)


def save_streams(streams: Iterable[fp.Stream], directory: str) -> tuple[int, int, int]:
    """Save each direction that carried data; report what is missing. Returns the count of
    streams, the bytes missing (gaps) and the streams still open at the end."""
    n = gap_bytes = still_open = 0
    for stream in streams:
        sizes = [len(d) for d in (stream.client_data, stream.server_data) if d]
        for path, size in zip(stream.save(directory), sizes):
            print(f"[*] Wrote {path.name} ({size} bytes)")
        for side, gaps in (("client", stream.client_gaps), ("server", stream.server_gaps)):
            for gap in gaps:
                print(f"    [!] stream {stream.stream_id} {side} data: {gap.length} bytes "
                      f"missing at offset {gap.offset}")
        n += 1
        gap_bytes += stream.client_gap_bytes + stream.server_gap_bytes
        still_open += stream.state == "open"
    return n, gap_bytes, still_open


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--out", help="directory for the .bin files (default: a new temp dir)")
    args = p.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="fastpkt-streams-")
    os.makedirs(out, exist_ok=True)
    print(f"[*] Reassembling TCP streams, writing to {out}")
    n, gaps, still_open = save_streams(reconstruct_streams(args.pcap), out)
    print(f"[*] {n} TCP streams")
    print(f"[*] {gaps} bytes missing (gaps); {still_open} streams still open at the end of the "
          f"capture")


if __name__ == "__main__":
    main()
