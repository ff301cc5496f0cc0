"""Shared bits of the example scripts: where the packets come from.

Every example reads a capture with ``--pcap FILE`` (default: the bundled sample, so
``run_all.sh`` runs them all offline). The live sniffers also take ``--iface IFACE`` to sniff
an interface instead (root, or CAP_NET_RAW + CAP_NET_ADMIN; ``any`` for all interfaces),
plus ``--count N`` and ``--timeout S``; Ctrl+C ends a live run and prints the report.
``source(args)`` turns those into fp.sniff / fp.AsyncSniffer keyword arguments, so one call
works both ways: ``fp.sniff(filter=..., prn=handle, store=False, **source(args))``.
"""
from __future__ import annotations

import argparse
import os
from typing import Any

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sample.pcap")


def parser(doc: str | None, live: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    if not live:
        p.add_argument("--pcap", default=SAMPLE, help="capture to read (default: %(default)s)")
        return p
    where = p.add_mutually_exclusive_group()
    where.add_argument("--pcap", default=SAMPLE, help="capture to read (default: %(default)s)")
    where.add_argument("--iface", metavar="IFACE",
                       help="sniff this interface live instead ('any': all; needs root or "
                            "CAP_NET_RAW+CAP_NET_ADMIN; fastpkt.interfaces() lists them)")
    p.add_argument("--count", type=int, default=0, help="stop after N packets (0: no limit)")
    p.add_argument("--timeout", type=float, default=None,
                   help="stop after S seconds (live: default until Ctrl+C)")
    return p


def source(args: argparse.Namespace) -> dict[str, Any]:
    """fp.sniff()/fp.AsyncSniffer() keyword arguments for --iface (live) or --pcap (offline)."""
    where = {"iface": args.iface} if getattr(args, "iface", None) else {"offline": args.pcap}
    return dict(where, count=getattr(args, "count", 0), timeout=getattr(args, "timeout", None))


def is_live(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "iface", None))


def capture(args: argparse.Namespace, filter: str | None = None) -> Any:  # noqa: A002
    """A source for the engines (fp.flows / fp.streams / fp.client_hellos): a live
    fp.Capture for --iface (ending after --timeout / --count), else the --pcap path."""
    import fastpkt as fp

    if not is_live(args):
        return args.pcap
    return fp.Capture(args.iface, filter=filter, duration=args.timeout, count=args.count or None)
