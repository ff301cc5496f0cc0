"""The ``fastpkt`` command line.

    fastpkt summary FILE [--filter BPF] [--top N]   protocols, talkers, ports, DNS/TLS/HTTP names
    fastpkt read FILE [--count N] [--filter BPF]    one line per packet (like tcpdump / Scapy)
    fastpkt info FILE                               format, link type, snaplen, packets, span
"""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
from typing import Sequence

import fastpkt as fp

LINKTYPES = {0: "NULL (BSD loopback)", 1: "EN10MB (Ethernet)", 101: "RAW (IP)",
             108: "LOOP (OpenBSD loopback)", 113: "LINUX_SLL", 228: "IPV4", 229: "IPV6",
             276: "LINUX_SLL2"}


def _source(path: str) -> str:
    return path


def cmd_summary(args: argparse.Namespace) -> int:
    from .summary import format_summary, summarize

    print(format_summary(summarize(_source(args.file), filter=args.filter, top=args.top,
                                   on_error=args.on_error)))
    return 0


def _stamp(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%H:%M:%S.%f")


def cmd_read(args: argparse.Namespace) -> int:
    out = sys.stdout
    with fp.open(_source(args.file), filter=args.filter, count=args.count,
                 on_error=args.on_error) as reader:
        for pkt in reader:
            out.write("%s %s\n" % (_stamp(pkt.time), pkt.summary()))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    with fp.open(_source(args.file), on_error=args.on_error) as reader:
        n = 0
        nbytes = 0
        first = last = None
        for pkt in reader:
            t = pkt.time
            if first is None:
                first = t
            last = t
            n += 1
            nbytes += pkt.wirelen
        fmt, lt, snap, nano = reader.format, reader.linktype, reader.snaplen, reader.nanosecond
        size = reader.size
        problem = reader.error
        skipped = reader.skipped
    rows = [
        ("File", args.file),
        ("Format", "%s (%s timestamps)" % (fmt, "nanosecond" if nano else "microsecond")),
        ("Link type", "%d %s" % (lt, LINKTYPES.get(lt, ""))),
        ("Snaplen", str(snap)),
        ("File size", "%d bytes" % size if size else "(stream)"),
        ("Packets", str(n)),
        ("Bytes on wire", str(nbytes)),
    ]
    if first is not None:
        rows.append(("First packet", _dt.datetime.fromtimestamp(first, _dt.timezone.utc).isoformat()))
        rows.append(("Last packet", _dt.datetime.fromtimestamp(last, _dt.timezone.utc).isoformat()))
        rows.append(("Duration", "%.6f s" % (last - first)))
    if problem is not None:
        rows.append(("Stopped at", str(problem)))
    if skipped:
        rows.append(("Skipped", "%d bad records" % skipped))
    for k, v in rows:
        print("%-14s %s" % (k + ":", v))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastpkt",
        description="Fast packet analysis: summarise and print pcap/pcapng captures.",
        epilog="FILE may be '-' to read a capture from stdin. BPF filters use tcpdump syntax, "
               "e.g. 'tcp port 443' or 'udp and port 53'.",
    )
    parser.add_argument("--version", action="version", version="fastpkt " + fp.__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("summary", help="packets per protocol, top talkers, ports, DNS/TLS/HTTP names",
                       description="Summarise a capture: packets and bytes, capture span, "
                                   "packets per protocol, top talkers, top destination ports, "
                                   "DNS names queried, TLS SNIs, HTTP hosts and anomalies.")
    p.add_argument("file", metavar="FILE", help="pcap or pcapng file ('-' for stdin)")
    p.add_argument("--filter", "-f", metavar="BPF", help="only packets matching this BPF filter")
    p.add_argument("--top", type=int, default=10, metavar="N", help="rows per table (default 10)")
    p.add_argument("--on-error", choices=("raise", "stop", "skip"), default="raise",
                   help="a corrupt or truncated record: fail (default), stop there, or skip it")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("read", help="one summary line per packet",
                       description="Print one summary line per packet, like tcpdump or Scapy's "
                                   "summary().")
    p.add_argument("file", metavar="FILE", help="pcap or pcapng file ('-' for stdin)")
    p.add_argument("--count", "-c", type=int, metavar="N", help="stop after N packets")
    p.add_argument("--filter", "-f", metavar="BPF", help="only packets matching this BPF filter")
    p.add_argument("--on-error", choices=("raise", "stop", "skip"), default="raise",
                   help="a corrupt or truncated record: fail (default), stop there, or skip it")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("info", help="format, link type, snaplen, packets, span",
                       description="Describe a capture file (like capinfos).")
    p.add_argument("file", metavar="FILE", help="pcap or pcapng file ('-' for stdin)")
    p.add_argument("--on-error", choices=("raise", "stop", "skip"), default="raise",
                   help="a corrupt or truncated record: fail (default), stop there, or skip it")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `fastpkt read big.pcap | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except fp.Error as exc:
        print("fastpkt %s: %s: %s" % (args.command, args.file, exc), file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print("fastpkt %s: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # bad filter, unreadable file
        print("fastpkt %s: %s: %s" % (args.command, getattr(args, "file", ""), exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
