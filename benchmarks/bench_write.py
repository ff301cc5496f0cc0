#!/usr/bin/env python3
"""Write benchmark: the C pcap and pcapng writers next to a pure-Python encoder (struct.pack
per record, kept here as the reference), on one capture, in one run.

    python benchmarks/bench_write.py [--pcap FILE | --packets N] [--repeats 3]

Default file: benchmarks/out/bench_200000.pcap (generated with benchmarks/gen_capture.py
--seed 1 when missing). Every row writes all packets of one PacketList (read once, mmap'd)
to a new file in --out-dir and reports the best of --repeats runs. Ratios are to `fp.write pcap`.

Rows:
  fp.write pcap          fp.write(path, plist): the C loop over the list, header copied
  fp.write pcapng        fp.write(path.pcapng, plist): EPBs with a nanosecond interface
  fp.write replace       fp.write over an existing file: temporary file, fsync, rename
  Writer loop pcap       for p in plist: w.write(p) (a Python call per packet)
  Writer loop pcapng     the same with format="pcapng"
  old Python pcap        struct.pack per record + b"".join, then a write
  old Python pcapng      the same for pcapng blocks, then a write
"""
from __future__ import annotations

import argparse
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import fastpkt as fp  # noqa: E402

sys.path.insert(0, HERE)
import gen_capture  # noqa: E402



def old_pcap_bytes(packets, linktype):
    record = struct.Struct("<IIII").pack
    snaplen = max([262144] + [p.caplen for p in packets])
    parts = [struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, snaplen, linktype)]
    for p in packets:
        data = bytes(p)
        sec, nsec = divmod(p.time_ns, 1_000_000_000)
        parts.append(record(sec & 0xFFFFFFFF, nsec, len(data), p.wirelen))
        parts.append(data)
    return b"".join(parts)


def old_pcapng_bytes(packets, linktypes):
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    parts = [struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)), shb_body, struct.pack("<I", 12 + len(shb_body))]
    index = {}
    for i, lt in enumerate(linktypes):
        index[lt] = i
        body = struct.pack("<HHI", lt, 0, 262144) + struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
        parts += [struct.pack("<II", 1, 12 + len(body)), body, struct.pack("<I", 12 + len(body))]
    for p in packets:
        data = bytes(p)
        pad = b"\0" * (-len(data) % 4)
        ts = p.time_ns & 0xFFFFFFFFFFFFFFFF
        total = 32 + len(data) + len(pad)
        parts += [struct.pack("<IIIIIII", 6, total, index[p.linktype], ts >> 32, ts & 0xFFFFFFFF,
                              len(data), p.wirelen), data, pad, struct.pack("<I", total)]
    return b"".join(parts)


def writer_loop(path, plist, **kw):
    with fp.Writer(path, **kw) as w:
        for p in plist:
            w.write(p)


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcap")
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out-dir", default=os.path.join(HERE, "out"))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    src = args.pcap or os.path.join(args.out_dir, "bench_%d.pcap" % args.packets)
    if not os.path.exists(src):
        gen_capture.generate(src, args.packets, seed=1, truth=False)
    plist = fp.read(src)
    n = len(plist)
    mb = sum(p.caplen for p in plist) / 1e6
    out = os.path.join(args.out_dir, "bench_write_out")
    rows = [
        ("fp.write pcap", lambda: fp.write(out + ".pcap", plist)),
        ("fp.write pcapng", lambda: fp.write(out + ".pcapng", plist)),
        ("fp.write replace", lambda: fp.write(out + ".keep.pcap", plist)),
        ("Writer loop pcap", lambda: writer_loop(out + ".pcap", plist, linktype=plist.linktype)),
        ("Writer loop pcapng", lambda: writer_loop(out + ".pcapng", plist, format="pcapng")),
        ("old Python pcap", lambda: write_bytes(out + ".pcap", old_pcap_bytes(plist, plist.linktype))),
        ("old Python pcapng", lambda: write_bytes(out + ".pcapng", old_pcapng_bytes(plist, [plist.linktype]))),
    ]
    print("%d packets, %.0f MB of packet data, best of %d" % (n, mb, args.repeats))
    print("%-20s %12s %10s %8s" % ("what", "packets/s", "MB/s", "vs first"))
    base = None
    fp.write(out + ".keep.pcap", plist)
    for name, fn in rows:
        best = min(_timed(fn, out) for _ in range(args.repeats))
        base = base or best
        print("%-20s %12.0f %10.0f %7.2fx" % (name, n / best, mb / best, best / base))
    for ext in (".pcap", ".pcapng", ".keep.pcap"):
        if os.path.exists(out + ext):
            os.unlink(out + ext)
    return 0


def _timed(fn, out: str) -> float:
    """Seconds for fn, writing new files (the .keep output is replaced on purpose)."""
    for ext in (".pcap", ".pcapng"):
        if os.path.exists(out + ext):
            os.unlink(out + ext)
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.exit(main())
