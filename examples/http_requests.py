#!/usr/bin/env python3
"""Extract HTTP request lines from plaintext traffic: ports the course's Section 9 "HTTP
Request Extractor".

Two ways: the course's raw-payload check (pkt[Raw].load through the Scapy facade) and the
HTTP layer dissected in C (method, URI, Host). Requests split over several TCP segments need
stream reassembly, which comes in a later issue; live sniffing comes later too.
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser
from fastpkt.scapy import TCP, Raw, sniff


def handle_http(packet) -> None:
    if packet.haslayer(TCP) and packet.haslayer(Raw):
        payload = packet[Raw].load
        if payload.startswith((b"GET", b"POST", b"HEAD")):
            try:
                request_line = payload.split(b"\r\n", 1)[0].decode()
                print(f"HTTP: {request_line}")
            except UnicodeDecodeError:
                return


def main() -> None:
    args = parser(__doc__).parse_args()
    sniff(offline=args.pcap, filter="tcp port 80", prn=handle_http, store=False)
    print()
    for pkt in fp.open(args.pcap, filter="tcp port 80"):
        http = pkt.http
        if http is None:
            continue
        if http.is_request:
            print(f"{pkt.src} -> {http.host}: {http.method} {http.uri} {http.version}")
        else:
            print(f"{pkt.src} <- {http.status} {http.reason}")


if __name__ == "__main__":
    main()
