#!/usr/bin/env python3
"""Inspect packet fields: ports the course's Section 1 "Packet Anatomy Example" and "Layer
Stacking Examples".

Scapy builds a packet (Ether()/IP()/TCP()) and shows it; fastpkt reads real ones: the first
TCP SYN of the capture, shown layer by layer, then field access the way the course does it.
(Crafting packets is not part of fastpkt, which reads and writes captures.)
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser


def main() -> None:
    args = parser(__doc__).parse_args()
    syn = next(fp.open(args.pcap, filter="tcp[tcpflags] & tcp-syn != 0"), None)
    if syn is None:
        print("no TCP SYN in", args.pcap)
        return
    syn.show()
    # Accessing fields (course: packet[Ether].src, packet[IP].dst, packet[TCP].flags)
    print(syn[fp.Ether].src)
    print(syn[fp.IP].dst if fp.IP in syn else syn[fp.IPv6].dst)
    print(syn[fp.TCP].flags)
    # the same through attributes
    eth, tcp = syn.eth, syn.tcp   # None when the packet lacks the layer
    if eth is not None and tcp is not None:
        print(eth.src, syn.dst, tcp.dport, tcp.flags.S, tcp.mss, tcp.options)
    # Layer stacks: one summary per kind of packet found in the capture
    seen = set()
    for pkt in fp.open(args.pcap):
        if pkt.layers not in seen:
            seen.add(pkt.layers)
            print(pkt.summary())


if __name__ == "__main__":
    main()
