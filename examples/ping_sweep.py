#!/usr/bin/env python3
"""ICMP echo sweep: the course's Section 11 "ICMP Echo Sweep" on fastpkt.

For lab discovery on networks you own only. Needs root or CAP_NET_RAW. The course's code
(one sr1() per host, each waiting up to its timeout) is unchanged but for the import;
--idiomatic sends one echo request per host in a single sr() call and collects every reply
in one wait: a /24 takes about the timeout, not 254 of them.

    sudo python examples/ping_sweep.py --network 10.13.1.0/24 [--idiomatic] [--timeout 1]
"""
from __future__ import annotations

import argparse
import ipaddress
from typing import List

from fastpkt.scapy import ICMP, IP, sr, sr1


def ping_host(ip: str, timeout: float = 1.0) -> bool:
    """
    Return True if host replies to ICMP.
    """
    packet = IP(dst=ip) / ICMP()
    response = sr1(packet, timeout=timeout, verbose=False)
    return response is not None


def sweep(network: str, timeout: float = 1.0) -> List[str]:
    """
    Sweep a subnet for live hosts.
    """
    live = []
    for host in ipaddress.ip_network(network).hosts():
        ip = str(host)
        if ping_host(ip, timeout):
            live.append(ip)
            print(f"[+] Alive: {ip}")
    return live


def sweep_at_once(network: str, timeout: float = 1.0) -> List[str]:
    probes = [IP(dst=str(h)) / ICMP(id=0x5eed, seq=i) for i, h in enumerate(ipaddress.ip_network(network).hosts())]
    answered, _ = sr(probes, timeout=timeout, verbose=False)
    live = sorted({r.src for _, r in answered}, key=ipaddress.ip_address)
    for ip in live:
        print(f"[+] Alive: {ip}")
    return live


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", required=True, help="a subnet you own, e.g. 192.168.56.0/24")
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--idiomatic", action="store_true")
    args = p.parse_args()
    (sweep_at_once if args.idiomatic else sweep)(args.network, args.timeout)


if __name__ == "__main__":
    main()
