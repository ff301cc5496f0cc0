#!/usr/bin/env python3
"""ARP scan of a local subnet: the course's Section 4 / Lab Part 2 on fastpkt.

Run it only on networks you own (a lab): ARP scanning is noisy. Needs root or CAP_NET_RAW.
The course hands Scapy ARP(pdst="192.168.56.0/24"), which Scapy expands into one request
per address; fastpkt's ARP takes one address, so the course's function here builds the list
itself, and reads the answer's fields from its ARP layer (``response[ARP].psrc``: a fastpkt
Packet does not forward unknown attributes to its layers as Scapy's does). --idiomatic is fp.arping(network): the requests
go out on the interface that routes to the network, answers are matched in C.

    sudo python examples/arp_scan.py --network 10.13.1.0/24 [--idiomatic] [--json arp_results.json]
"""
from __future__ import annotations

import argparse
import ipaddress
import json
from typing import Dict, List

from fastpkt.scapy import ARP, Ether, arping, srp


def arp_scan(network: str) -> List[Dict[str, str]]:
    """
    Return list of hosts from ARP scan.
    """
    packet = [Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=str(ip)) for ip in ipaddress.ip_network(network)]
    answered, _ = srp(packet, timeout=2, verbose=False)
    results = []
    for _, response in answered:
        results.append({"ip": response[ARP].psrc, "mac": response[ARP].hwsrc})
    return results


def arp_scan_idiomatic(network: str) -> List[Dict[str, str]]:
    answered, _ = arping(network, timeout=2, verbose=0)
    return [{"ip": r.arp.psrc, "mac": r.arp.hwsrc} for _, r in answered]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", required=True, help="a subnet you own, e.g. 192.168.56.0/24")
    p.add_argument("--idiomatic", action="store_true")
    p.add_argument("--json", help="also write the results here (Lab Part 2)")
    args = p.parse_args()
    hosts = (arp_scan_idiomatic if args.idiomatic else arp_scan)(args.network)
    for host in sorted(hosts, key=lambda h: ipaddress.ip_address(h["ip"])):
        print(f"{host['ip']} - {host['mac']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(hosts, handle, indent=2)


if __name__ == "__main__":
    main()
