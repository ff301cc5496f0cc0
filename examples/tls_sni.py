#!/usr/bin/env python3
"""Extract the TLS Server Name Indication from ClientHellos: ports the course's Section 9
"TLS SNI Extractor (Metadata Only)".

The course parsed the ClientHello by hand; fastpkt parses it in C (pkt.tls.sni). Only
ClientHellos that fit in one TCP segment are seen here; hellos spread over several segments
(large post-quantum key shares) and QUIC need reassembly, which comes in a later issue (as
does live sniffing).
"""
from __future__ import annotations

import fastpkt as fp
from _common import parser


def main() -> None:
    args = parser(__doc__).parse_args()
    for pkt in fp.open(args.pcap, filter="tcp"):
        tls = pkt.tls
        if tls is not None and tls.sni:
            print(f"TLS SNI: {tls.sni}  ({pkt.src}:{pkt.sport} -> {pkt.dst}:{pkt.dport})")
        elif tls is not None and tls.is_client_hello and not tls.hello_complete:
            print(f"[i] ClientHello continues in the next segment ({pkt.src} -> {pkt.dst})")


if __name__ == "__main__":
    main()
