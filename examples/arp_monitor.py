#!/usr/bin/env python3
"""Watch ARP replies and flag IP-to-MAC changes (possible spoofing): ports the course's
Section 8 "ARP Monitor".

The bundled sample contains injected ARP replies for 127.0.0.2 with two MACs. Monitoring a
live interface (sniff(filter="arp")) comes with live capture in a later issue.
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser


def main() -> None:
    args = parser(__doc__).parse_args()
    arp_table: dict[str, str] = {}
    print("[*] Monitoring ARP traffic...")
    for packet in fp.open(args.pcap, filter="arp"):
        arp = packet.arp
        if arp is not None and arp.op == 2:  # is-at (reply)
            ip, mac = arp.psrc, arp.hwsrc
            if ip in arp_table and arp_table[ip] != mac:
                print(f"[!] ARP change detected: {ip} {arp_table[ip]} -> {mac}")
            arp_table[ip] = mac
    for ip, mac in sorted(arp_table.items()):
        print(f"{ip} is-at {mac}")


if __name__ == "__main__":
    main()
