#!/usr/bin/env python3
"""Match payloads against IDS-style signatures: ports the course's Section 13 "Simple Payload
Signature" and "Basic Signature Config" (signatures.txt, one pattern per line).

    sudo python3 signature_matcher.py --iface eth0 --signatures signatures.txt
    python3 signature_matcher.py --pcap trace.pcap

Patterns are matched case-insensitively in each packet's payload (pkt.payload, Scapy's
Raw.load). A display filter (`frame matches "(?i)..."`, PCRE in C) passes only the packets
whose bytes hold some pattern, so Python looks at those alone; the callback then checks the
payload itself. A pattern split across TCP segments is missed by any per-packet matcher; match
on reassembled streams for that (fp.streams(..., on_data=...) runs on a live fp.Capture too).
"""
from __future__ import annotations

import re

import fastpkt as fp
from _common import parser, source

SIGNATURES = [b"/etc/passwd", b"union select", b"powershell -enc", b"../../../../",
              b"cmd.exe /c", b"curl http"]


def load_signatures(path: str | None) -> list[bytes]:
    if not path:
        return SIGNATURES
    with open(path, "rb") as handle:
        return [line.strip().lower() for line in handle if line.strip() and not line.startswith(b"#")]


class SignatureMatcher:
    def __init__(self, signatures: list[bytes]) -> None:
        self.signatures = signatures
        self.alerts = 0

    def handle_payload(self, packet: fp.Packet) -> None:
        payload = packet.payload
        if not payload:
            return
        lowered = payload.lower()
        # the course URL-decodes nothing; '+' for spaces is common in query strings
        candidates = (lowered, lowered.replace(b"+", b" "))
        for sig in self.signatures:
            if any(sig in c for c in candidates):
                self.alerts += 1
                print(f"[ALERT] Signature match: {sig.decode(errors='ignore')} "
                      f"{packet.src}:{packet.sport} -> {packet.dst}:{packet.dport}")
                break


def prefilter(signatures: list[bytes]) -> str:
    """A display filter passing the frames that hold any pattern (case-insensitive, '+' for a
    space as the callback allows): a superset of the alerts, checked in C."""
    alternatives = []
    for sig in signatures:
        text = sig.decode("latin-1")
        alternatives.append("".join("[ +]" if c == " " else "\\\\x%02x" % ord(c) if not (c.isascii() and c.isalnum()) else c
                                    for c in text))
    return 'frame matches "(?i)(%s)"' % "|".join(alternatives)


def main() -> None:
    p = parser(__doc__, live=True)
    p.add_argument("--signatures", help="file with one pattern per line (default: built-in list)")
    p.add_argument("--filter", default="tcp or udp", help="BPF filter (default: %(default)s)")
    args = p.parse_args()
    matcher = SignatureMatcher(load_signatures(args.signatures))
    fp.sniff(filter=args.filter, display_filter=prefilter(matcher.signatures), prn=matcher.handle_payload,
             store=False, **source(args))
    print(f"[*] {matcher.alerts} alerts")


if __name__ == "__main__":
    main()
