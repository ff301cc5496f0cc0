#!/usr/bin/env python3
"""Extract HTTP request lines from plaintext traffic: ports the course's Section 9 "HTTP
Request Extractor".

    sudo python3 http_requests.py --iface eth0
    python3 http_requests.py --pcap trace.pcap

Each packet goes to two callbacks: the course's raw-payload check (pkt[Raw].load through the
Scapy facade, whose sniff() is fastpkt's) and the HTTP layer dissected in C (method, URI,
Host; responses too). Both look at one segment at a time: a request split over several TCP
segments needs stream reassembly (find_http.py, fp.streams).
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser, source
from fastpkt.scapy import TCP, Raw, sniff


def handle_http(packet: fp.Packet) -> None:
    """The course's callback, unchanged."""
    if packet.haslayer(TCP) and packet.haslayer(Raw):
        payload = packet[Raw].load
        if payload.startswith((b"GET", b"POST", b"HEAD")):
            try:
                request_line = payload.split(b"\r\n", 1)[0].decode()
                print(f"HTTP: {request_line}")
            except UnicodeDecodeError:
                return


def handle_http_layer(packet: fp.Packet) -> None:
    """The same from the HTTP layer fastpkt dissects in C."""
    http = packet.http
    if http is None:
        return
    if http.is_request:
        print(f"    {packet.src} -> {http.host}: {http.method} {http.uri} {http.version}")
    else:
        print(f"    {packet.src} <- {http.status} {http.reason}")


def both(packet: fp.Packet) -> None:
    handle_http(packet)
    handle_http_layer(packet)


def main() -> None:
    args = parser(__doc__, live=True).parse_args()
    sniff(filter="tcp port 80", prn=both, store=False, **source(args))


if __name__ == "__main__":
    main()
