#!/usr/bin/env python3
"""
Search reconstructed streams for HTTP headers.
"""
from __future__ import annotations
from typing import Dict, Tuple


def find_http(streams: Dict[Tuple[str, int, str, int], bytes]) -> None:
    """
    Print HTTP headers found in reconstructed streams.
    """
    for flow, data in streams.items():
        if b"HTTP/" in data or data.startswith(b"GET") or data.startswith(b"POST"):
            try:
                header = data.split(b"\r\n\r\n", 1)[0]
                print(f"[HTTP] {flow}\n{header.decode(errors='ignore')}\n")
            except Exception:
                continue


if __name__ == "__main__":
    example_streams = {
        ("10.0.0.5", 51515, "93.184.216.34", 80): b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    }
    find_http(example_streams)
