#!/usr/bin/env python3
"""Watch ARP replies and flag IP-to-MAC changes (possible spoofing): ports the course's
Section 8 "ARP Monitor".

    sudo python3 arp_monitor.py --iface eth0     # until Ctrl+C, then the table
    python3 arp_monitor.py --pcap trace.pcap

The bundled sample contains injected ARP replies for 127.0.0.2 with two MACs.
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser, source


class ArpMonitor:
    def __init__(self) -> None:
        self.arp_table: dict[str, str] = {}

    def handle_arp(self, packet: fp.Packet) -> None:
        arp = packet.arp
        if arp is not None and arp.op == 2:  # is-at (reply)
            ip, mac = arp.psrc, arp.hwsrc
            if ip in self.arp_table and self.arp_table[ip] != mac:
                print(f"[!] ARP change detected: {ip} {self.arp_table[ip]} -> {mac}")
            self.arp_table[ip] = mac


def main() -> None:
    args = parser(__doc__, live=True).parse_args()
    monitor = ArpMonitor()
    print("[*] Monitoring ARP traffic...")
    fp.sniff(filter="arp", prn=monitor.handle_arp, store=False, **source(args))
    for ip, mac in sorted(monitor.arp_table.items()):
        print(f"{ip} is-at {mac}")


if __name__ == "__main__":
    main()
