#!/usr/bin/env python3
"""Build benchmark: build-and-serialize packets with fastpkt and with Scapy, same run.

    python benchmarks/bench_build.py [--seconds 1.0] [--repeats 3]

Rows (each: make the layers with keyword arguments, stack them with /, bytes()):
  syn      IP(dst=...)/TCP(dport=80, sport=..., flags="S")  (the course's send-SYN)
  dns      IP/UDP(dport=53)/DNS(rd=1, qd=DNSQR(qname="example.com"))
  arp      Ether(dst="ff:ff:ff:ff:ff:ff")/ARP(pdst=..., psrc=..., hwsrc=...)
  parse    IP(raw) of the SYN, del chksum, bytes()  (the course's checksum lesson)
Packets/s is the median of --repeats runs of about --seconds each. Target: >= 50x Scapy.
Addresses are given where Scapy would otherwise consult its routing and ARP tables.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time

perf = time.perf_counter


def cases(lib):
    IP, TCP, UDP, DNS, DNSQR, Ether, ARP = (getattr(lib, n) for n in ("IP", "TCP", "UDP", "DNS", "DNSQR", "Ether", "ARP"))
    syn_bytes = bytes(IP(src="192.0.2.1", dst="192.0.2.10") / TCP(dport=80, sport=51515, flags="S"))

    def syn(i):
        return bytes(IP(src="192.0.2.1", dst="192.0.2.10") / TCP(dport=80, sport=40000 + (i & 0x3fff), flags="S"))

    def dns(i):
        return bytes(IP(src="192.0.2.1", dst="192.0.2.53") / UDP(sport=40000 + (i & 0x3fff), dport=53)
                     / DNS(rd=1, qd=DNSQR(qname="example.com")))

    def arp(i):
        return bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
                     / ARP(pdst="192.0.2.%d" % (1 + (i & 0x7f)), psrc="192.0.2.1", hwsrc="02:00:00:00:00:01"))

    def parse(i):
        p = IP(syn_bytes)
        del p.chksum
        return bytes(p)

    return {"syn": syn, "dns": dns, "arp": arp, "parse": parse}


def rate(fn, seconds: float) -> float:
    n, batch = 0, 16
    t0 = perf()
    while True:
        for i in range(batch):
            fn(n + i)
        n += batch
        el = perf() - t0
        if el >= seconds:
            return n / el
        batch = min(batch * 2, 65536)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import fastpkt as fp

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    import scapy.all as sa

    ours, theirs = cases(fp), cases(sa)
    for name in ours:  # same bytes before timing anything
        assert ours[name](7) == theirs[name](7), name
    print("%-6s %14s %14s %8s" % ("case", "fastpkt pkt/s", "scapy pkt/s", "ratio"))
    for name in ours:
        f = statistics.median(rate(ours[name], args.seconds) for _ in range(args.repeats))
        s = statistics.median(rate(theirs[name], args.seconds / 4) for _ in range(args.repeats))
        print("%-6s %14.0f %14.0f %7.0fx" % (name, f, s, f / s), flush=True)


if __name__ == "__main__":
    main()
