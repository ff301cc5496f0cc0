#!/usr/bin/env python3
"""Match payloads against IDS-style signatures: ports the course's Section 13 "Simple Payload
Signature" and "Basic Signature Config" (signatures.txt, one pattern per line).

Patterns are matched case-insensitively in each packet's payload (pkt.payload, Scapy's
Raw.load). Patterns split across TCP segments need stream reassembly (a later issue); live
sniffing comes later too.
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser

SIGNATURES = [b"/etc/passwd", b"union select", b"powershell -enc", b"../../../../",
              b"cmd.exe /c", b"curl http"]


def load_signatures(path: str | None) -> list[bytes]:
    if not path:
        return SIGNATURES
    with open(path, "rb") as handle:
        return [line.strip().lower() for line in handle if line.strip() and not line.startswith(b"#")]


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--signatures", help="file with one pattern per line (default: built-in list)")
    args = p.parse_args()
    signatures = load_signatures(args.signatures)
    alerts = 0
    for packet in fp.open(args.pcap, filter="tcp or udp"):
        payload = packet.payload
        if not payload:
            continue
        lowered = payload.lower()
        # the course URL-decodes nothing; '+' for spaces is common in query strings
        candidates = (lowered, lowered.replace(b"+", b" "))
        for sig in signatures:
            if any(sig in c for c in candidates):
                alerts += 1
                print(f"[ALERT] Signature match: {sig.decode(errors='ignore')} "
                      f"{packet.src}:{packet.sport} -> {packet.dst}:{packet.dport}")
                break
    print(f"[*] {alerts} alerts")


if __name__ == "__main__":
    main()
