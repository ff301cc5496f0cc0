#!/usr/bin/env python3
"""Print key fields of captured packets and log them to CSV: ports the course's Section 2
"Basic Sniffer with Callback" and Lab Part 1 "Custom Packet Sniffer" (BPF filter from the
command line, sniff_log.csv updated while traffic flows).

    sudo python3 packet_sniffer.py --iface eth0 --filter "tcp port 443" --csv sniff_log.csv
    python3 packet_sniffer.py --pcap trace.pcap --count 0

Timestamps are the packets' own capture times (the course printed the wall clock when the
callback ran, which lags the packet under load). IPv6 packets are printed too. The CSV rows
are Lab Part 1's (timestamp,src,dst,proto,info with proto TCP/UDP/the IP protocol number and
info "sport->dport flags=..."). Live, a callback prints and logs each packet as it comes; a
capture file is read as the packet table in batches (fp.open(...).record_batches()): the
lines and rows are made column by column in C (pyarrow.compute) and written in one call per
batch, with no Python per packet.
"""
from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import fastpkt as fp
from _common import is_live, parser, source

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
CSV_HEADER = "timestamp,src,dst,proto,info\n"  # Lab Part 1's columns


def _csv_handle(csv_path: str | None, mode: str = "a") -> Any:
    """The CSV opened for appending (text or "ab"), its header written when the file is new."""
    if not csv_path:
        return None
    handle = open(csv_path, mode)
    if handle.tell() == 0:
        handle.write(CSV_HEADER.encode() if "b" in mode else CSV_HEADER)
    return handle


class PacketLogger:
    """The live callback: one line per IP packet on stdout, one row per packet in the CSV."""

    def __init__(self, csv_path: str | None) -> None:
        self.handle = _csv_handle(csv_path)

    def __call__(self, packet: fp.Packet) -> None:
        if packet.ip is None and packet.ip6 is None:
            return
        timestamp = (EPOCH + timedelta(microseconds=(packet.time_ns + 500) // 1000)).isoformat()
        summary = f"{timestamp} IP {packet.src} -> {packet.dst} proto={packet.proto}"
        info, proto, ports = "", str(packet.proto), ""
        if packet.tcp is not None:
            info = f"TCP dport={packet.tcp.dport} flags={packet.tcp.flags}"
            proto, ports = "TCP", f"{packet.tcp.sport}->{packet.tcp.dport} flags={packet.tcp.flags}"
        elif packet.udp is not None:
            info = f"UDP dport={packet.udp.dport}"
            proto, ports = "UDP", f"{packet.udp.sport}->{packet.udp.dport}"
        print(f"{summary} {info}".rstrip())
        if self.handle is not None:
            self.handle.write(f"{timestamp},{packet.src},{packet.dst},{proto},{ports}\n")
            self.handle.flush()  # the CSV follows the traffic in real time

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _joined(*parts: Any) -> memoryview:
    """Row-wise concatenation of string columns, each row ending in a newline, as one buffer:
    the joined array's data buffer is exactly that text."""
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(*parts, "\n", "")
    offsets = memoryview(joined.buffers()[1]).cast("i")
    return memoryview(joined.buffers()[2])[offsets[joined.offset]:offsets[joined.offset + len(joined)]]


def _texts(values: Any, before: str = "", after: str = "") -> Any:
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(before, values, after, "")


class _Texts:
    """Every text a column's value can turn into, made once; rows take theirs by index (the
    row-wise joins, which cost per row and per part, are left with few parts)."""

    def __init__(self) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        numbers = pc.cast(pa.array(np.arange(65536, dtype=np.uint16)), pa.string())
        flags = pa.array([str(fp.TCPFlags(v)) for v in range(512)])  # Scapy's letters: 'SA', 'PA'
        self.proto = _texts(numbers[:256], " proto=")
        self.proto_csv = _texts(numbers[:256], after=",")
        self.tcp = _texts(numbers, " TCP dport=")
        self.udp = _texts(numbers, " UDP dport=")
        self.flags = _texts(flags, " flags=")
        self.sport = _texts(numbers, after="->")
        self.dport = numbers
        # isoformat() leaves the microseconds out when they are zero
        micros = pa.array(np.arange(1_000_000, dtype=np.int64))
        self.micros = pc.if_else(pc.equal(micros, pa.scalar(0, pa.int64())), "",
                                 _texts(pc.utf8_lpad(pc.cast(micros, pa.string()), 6, "0"), "."))

    def stamps(self, ns: Any) -> Any:
        """isoformat() of capture times (int64 ns) in UTC, to the microsecond rounded exactly
        (datetime's float is off by one now and then on nanosecond captures): each distinct
        second is formatted once."""
        import pyarrow as pa
        import pyarrow.compute as pc

        def n(v: int) -> Any:
            return pa.scalar(v, pa.int64())

        us = pc.divide(pc.add(ns, n(500)), n(1000))
        sec = pc.divide(us, n(1_000_000))
        seconds = pc.dictionary_encode(sec)
        whole = pc.strftime(seconds.dictionary.view(pa.timestamp("s")), "%Y-%m-%dT%H:%M:%S")
        return pc.binary_join_element_wise(pc.take(whole, seconds.indices),
                                           pc.take(self.micros, pc.subtract(us, pc.multiply(sec, n(1_000_000)))),
                                           "+00:00", "")


def _decoded(column: Any, before: str = "", after: str = "") -> Any:
    """A dictionary column's strings with text around them, joined once per distinct value."""
    import pyarrow.compute as pc

    return pc.take(_texts(column.dictionary, before, after), column.indices)


def log_file(path: str, bpf: str | None, count: int, csv_path: str | None) -> None:
    """A capture file, one batch of rows at a time: what PacketLogger does for each packet."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tx = _Texts()
    no_ip, tcp, udp = (pa.scalar(v, pa.uint8()) for v in (0, 6, 17))
    handle = _csv_handle(csv_path, "ab")
    out = sys.stdout.buffer
    sys.stdout.flush()
    try:
        # a damaged record ends the capture there: every packet before it is printed and logged
        reader = fp.open(path, filter=bpf, count=count or None, on_error="stop")
        for b in reader.record_batches(1 << 16):
            b = b.filter(pc.not_equal(b["ip_version"], no_ip))
            if b.num_rows == 0:
                continue
            stamp = tx.stamps(b["time"].view(pa.int64()))
            proto, sport, dport, bits = b["proto"], b["sport"], b["dport"], b["tcp_flags"]
            is_tcp = pc.and_(pc.equal(proto, tcp), pc.is_valid(sport))
            is_udp = pc.and_(pc.equal(proto, udp), pc.is_valid(sport))
            info = pc.if_else(is_tcp, pc.binary_join_element_wise(pc.take(tx.tcp, dport), pc.take(tx.flags, bits), ""),
                              pc.if_else(is_udp, pc.take(tx.udp, dport), ""))
            out.write(_joined(stamp, _decoded(b["src"], " IP ", " -> "), _decoded(b["dst"]),
                              pc.take(tx.proto, proto), info))
            if handle is not None:
                ports = pc.binary_join_element_wise(pc.take(tx.sport, sport), pc.take(tx.dport, dport), "")
                log = pc.if_else(is_tcp, pc.binary_join_element_wise(ports, pc.take(tx.flags, bits), ""),
                                 pc.if_else(is_udp, ports, ""))
                name = pc.if_else(is_tcp, "TCP,", pc.if_else(is_udp, "UDP,", pc.take(tx.proto_csv, proto)))
                handle.write(_joined(stamp, _decoded(b["src"], ",", ","), _decoded(b["dst"], "", ","), name, log))
        if reader.error is not None:
            print(f"[!] the capture stops after {reader.packets_read} packets: {reader.error}", file=sys.stderr)
    finally:
        out.flush()
        if handle is not None:
            handle.close()


def main() -> None:
    p = parser(__doc__, live=True)
    p.add_argument("--filter", default=None, help="BPF filter, e.g. 'udp and port 53'")
    p.add_argument("--csv", metavar="FILE", help="also append rows to this CSV (e.g. sniff_log.csv)")
    p.set_defaults(count=10)  # the course sniffed 10 packets; --count 0 for no limit
    args = p.parse_args()
    where = f"interface {args.iface}" if is_live(args) else args.pcap
    print(f"[*] Sniffing {args.count or 'all'} packets on {where}...")
    if not is_live(args):
        log_file(args.pcap, args.filter, args.count, args.csv)
        return
    logger = PacketLogger(args.csv)
    try:
        result = fp.sniff(filter=args.filter, prn=logger, store=False, **source(args))
    finally:
        logger.close()
    if result.stats:
        print(f"[*] capture stats: {result.stats}")


if __name__ == "__main__":
    main()
