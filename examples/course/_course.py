"""The one thing the course's scripts get from outside: where their packets come from.

The course sniffs the default interface, reads "capture.pcap" and sends to 192.168.56.x.
Here every script takes, from its command line:

    --pcap FILE      read FILE instead (sniff(offline=FILE), rdpcap(FILE)); the default for
                     sniffing scripts is the bundled sample, so they all run offline
    --iface IFACE    sniff IFACE live instead (root, or CAP_NET_RAW + CAP_NET_ADMIN)
    --target HOST / --network CIDR    the lab host or subnet to send to (hosts you own only)
    --filter BPF     Lab Part 1's capture filter
    --speedup N      the script's clock (time.time, time.sleep) runs N times faster and moves
                     only with its sleeps: Lab Part 4's 60-second loop takes 60/N seconds and
                     ends after the same count of sends whatever each send costs (the rate on
                     the wire is N times the course's)

Only the lines that name an input call into this module; the rest is the course's code with
``from scapy.all import`` changed to ``from fastpkt.scapy import``.
"""
from __future__ import annotations

import argparse
import os
from typing import Any

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "data", "sample.pcap")

_parser = argparse.ArgumentParser(description="a course script on fastpkt.scapy")
_where = _parser.add_mutually_exclusive_group()
_where.add_argument("--pcap", help="capture to read (default: the bundled sample)")
_where.add_argument("--iface", help="sniff this interface live")
_parser.add_argument("--target", help="the lab host to send to (a host you own)")
_parser.add_argument("--network", help="the lab subnet to scan (one you own)")
_parser.add_argument("--filter", help="BPF filter (Lab Part 1 takes it from the command line)")
_parser.add_argument("--speedup", type=float, metavar="N",
                     help="run the script's clock N times faster, moving only with its sleeps")
ARGS = _parser.parse_args()


def _speed_up_clock(factor: float) -> None:
    """time.time() starts at this whole second and adds up the script's sleeps; each sleep
    lasts 1/factor of what was asked. A whole-second start keeps `time.time() - start` the
    same float sums in every run, so the count of loop turns is the same too."""
    import time

    real_sleep, start, slept = time.sleep, float(int(time.time())), [0.0]

    def sleep(seconds: float) -> None:
        real_sleep(seconds / factor)
        slept[0] += seconds

    time.time = lambda: start + slept[0]
    time.sleep = sleep


if ARGS.speedup:
    _speed_up_clock(ARGS.speedup)


def is_live() -> bool:
    return ARGS.iface is not None


def source() -> dict[str, Any]:
    """sniff() keyword arguments: iface=IFACE live, else offline=FILE."""
    if is_live():
        return {"iface": ARGS.iface}
    return {"offline": os.path.normpath(ARGS.pcap or SAMPLE)}


def pcap(course_default: str) -> str:
    """The capture an rdpcap() script reads: --pcap, else the course's own file name."""
    return ARGS.pcap or course_default


def bpf(course_default: str) -> str:
    return ARGS.filter or course_default


def target(course_default: str) -> str:
    return ARGS.target or course_default


def network(course_default: str) -> str:
    return ARGS.network or course_default
