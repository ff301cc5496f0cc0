#!/usr/bin/env python3
"""Find HTTP in reassembled TCP streams: ports the course's Section 15 "Extract HTTP Payloads
from Streams" (find_http).

Two ways: the course's byte search (b"HTTP/", GET/POST prefixes, head up to the blank line)
over the reassembled bytes of each direction, and stream.http_messages(), which parses every
request and response of the connection (pipelined ones too) and pairs responses with their
requests.
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser
from fastpkt.http import HttpRequest


def find_http(streams: dict[tuple[object, ...], bytes]) -> None:
    """The course's function, unchanged: {(src, sport, dst, dport): bytes}."""
    for flow, data in streams.items():
        if b"HTTP/" in data or data.startswith(b"GET") or data.startswith(b"POST"):
            try:
                header = data.split(b"\r\n\r\n", 1)[0]
                print(f"[HTTP] {flow}\n{header.decode(errors='ignore')}\n")
            except Exception:
                continue


def main() -> None:
    args = parser(__doc__).parse_args()
    streams = list(fp.streams(args.pcap))
    # the course's dict: one entry per direction, keyed (src, sport, dst, dport)
    by_direction: dict[tuple[object, ...], bytes] = {}
    for s in streams:
        by_direction[(s.client_ip, s.client_port, s.server_ip, s.server_port)] = s.client_data
        by_direction[(s.server_ip, s.server_port, s.client_ip, s.client_port)] = s.server_data
    find_http(by_direction)

    print("=== parsed (stream.http_messages())")
    for s in streams:
        for msg in s.http_messages():
            if isinstance(msg, HttpRequest):
                print(f"[{s.stream_id}] {s.client_ip}:{s.client_port} -> {s.server_ip}:"
                      f"{s.server_port}  {msg.method} {msg.uri} "
                      f"({len(msg.body or b'')} body bytes)")
            else:
                req = f" to {msg.request.method} {msg.request.uri}" if msg.request else ""
                more = "" if msg.body_complete else ", incomplete"
                print(f"[{s.stream_id}]   <- {msg.status} {msg.reason}{req} "
                      f"({len(msg.body or b'')} body bytes{more})")
            for name, value in msg.headers.fields:  # wire order, repeats kept
                print(f"      {name}: {value}")


if __name__ == "__main__":
    main()
