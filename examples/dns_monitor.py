#!/usr/bin/env python3
"""Print the names of DNS queries: ports the course's Section 2 "Filtered Sniffer with BPF".

    sudo python3 dns_monitor.py --iface eth0
    python3 dns_monitor.py --pcap trace.pcap

The BPF filter runs in the kernel (live) or in C (files), so only DNS packets reach Python.
The course's qname was bytes with a trailing dot; fastpkt's qname is already a str.
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser, source


def handle_dns(packet: fp.Packet) -> None:
    """Print DNS queries."""
    dns = packet.dns
    if dns is not None and dns.qr == 0 and dns.qd:
        print(f"DNS Query: {dns.qd[0].qname}")


def main() -> None:
    args = parser(__doc__, live=True).parse_args()
    fp.sniff(filter="udp port 53", prn=handle_dns, store=False, **source(args))


if __name__ == "__main__":
    main()
