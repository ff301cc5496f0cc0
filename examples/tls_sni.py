#!/usr/bin/env python3
"""Extract the TLS Server Name Indication from ClientHellos: ports the course's Section 9
"TLS SNI Extractor (Metadata Only)", then does what it cannot.

1. The course's approach: look at each TCP port-443 segment on its own and parse a
   ClientHello that starts there. fastpkt parses it in C (pkt.tls.sni), so the
   hand-written parse_sni is not needed.
2. fp.client_hellos(): every ClientHello of the capture. TCP bytes are reassembled, so
   hellos spread over several segments (large post-quantum key shares, many extensions)
   are found too, on any port; QUIC Initials are decrypted (their keys come from the
   connection ID). Each hello comes with its ALPN, TLS version and JA3/JA4 fingerprints.

The last part lists the hellos the per-packet approach misses and why. Try it on a capture
with QUIC or big hellos, e.g. one of ../shared/corpus/fingerprints/*.pcap*.

    sudo python3 tls_sni.py --iface eth0      # both live, side by side, until Ctrl+C
    python3 tls_sni.py --pcap trace.pcap

Live, the course's per-packet sniffer runs in a background fp.AsyncSniffer while the main
thread iterates fp.client_hellos(fp.Capture(...)), which hands out each hello as soon as
the server answers; Ctrl+C ends both captures and the comparison is printed.
"""
from __future__ import annotations

import argparse

import threading
from collections import Counter

import fastpkt as fp
from _common import capture, is_live, parser, source


def endpoint(ip: str | None, port: int | None) -> str:
    return f"[{ip}]:{port}" if ip and ":" in ip else f"{ip}:{port}"


class PerPacket:
    """The course's approach: one segment at a time (it sniffed with filter "tcp port 443")."""

    def __init__(self) -> None:
        self.found: Counter[tuple[str | None, int | None, str | None, int | None, str]] = Counter()  # (client, client port, server, server port, sni) -> hellos
        self.started: dict[tuple[str | None, int | None, str | None, int | None], bool] = {}          # connection -> the hello starting there was cut short
        self.lock = threading.Lock()

    def handle(self, pkt: fp.Packet) -> None:
        tls = pkt.tls
        if tls is None or not tls.is_client_hello:
            return
        conn = (pkt.src, pkt.sport, pkt.dst, pkt.dport)
        with self.lock:
            self.started[conn] = not tls.hello_complete
            if tls.sni:
                self.found[conn + (tls.sni,)] += 1
        if tls.sni:
            print(f"TLS SNI: {tls.sni}  ({endpoint(pkt.src, pkt.sport)} -> "
                  f"{endpoint(pkt.dst, pkt.dport)})")
        elif not tls.hello_complete:
            print(f"[i] a ClientHello starts here but its SNI is not in this segment "
                  f"({endpoint(pkt.src, pkt.sport)} -> {endpoint(pkt.dst, pkt.dport)})")


def print_hello(h: fp.ClientHello) -> None:
    print(f"{h.transport:4} {endpoint(h.client_ip, h.client_port)} -> "
          f"{endpoint(h.server_ip, h.server_port)}  SNI {h.sni or '-'}  "
          f"ALPN {','.join(h.alpn) or '-'}  {h.version_name}")
    print(f"     JA3 {h.ja3_hash or '-'}  JA4 {h.ja4 or '-'}  ({h.hello_size} bytes"
          f"{'; ' + ', '.join(h.anomalies) if h.anomalies else ''})")


def live_hellos(args: argparse.Namespace, per_packet: PerPacket) -> list[fp.ClientHello]:
    """Both approaches at once on the interface; returns the hellos."""
    sniffer = fp.AsyncSniffer(filter="tcp port 443", prn=per_packet.handle, store=False, **source(args))
    sniffer.start()
    cap = capture(args)  # every port: hellos are found by content
    engine = fp.client_hellos(cap)
    hellos = []
    try:
        for h in engine:
            print_hello(h)
            hellos.append(h)
    except KeyboardInterrupt:
        cap.stop()           # end of input: the engine hands out the hellos it still holds
        for h in engine:
            print_hello(h)
            hellos.append(h)
    finally:
        sniffer.stop()
        cap.close()
    return hellos


def main() -> None:
    args = parser(__doc__, live=True).parse_args()
    per_packet = PerPacket()
    if is_live(args):
        print("== per packet (pkt.tls.sni on 'tcp port 443') and fp.client_hellos() (every "
              "port, reassembled TCP and QUIC), live")
        hellos = live_hellos(args, per_packet)
    else:
        # 1. The course's approach: one segment at a time.
        print("== per packet (the course's approach): pkt.tls.sni on 'tcp port 443' segments")
        fp.sniff(filter="tcp port 443", prn=per_packet.handle, store=False, **source(args))
        # 2. Every hello, reassembled (TCP, any port) or decrypted (QUIC).
        print("\n== fp.client_hellos(): reassembled TCP and QUIC")
        hellos = []
        for h in fp.client_hellos(args.pcap):
            print_hello(h)
            hellos.append(h)
    per_packet_found, started = per_packet.found, per_packet.started

    # 3. What the per-packet approach misses, and why.
    missed = []
    seen = per_packet_found.copy()
    for h in hellos:
        if not h.sni:
            continue
        key = (h.client_ip, h.client_port, h.server_ip, h.server_port, h.sni)
        if h.transport == "tcp" and seen[key] > 0:
            seen[key] -= 1
            continue
        conn = key[:4]
        if h.transport == "quic":
            why = "QUIC: UDP, the hello is inside an encrypted Initial"
        elif 443 not in (h.client_port, h.server_port):
            why = "not on port 443"
        elif started.get(conn):
            why = f"the hello spans segments ({h.hello_size} bytes), its SNI is not in the first"
        else:
            why = "its first segment was not seen in order (lost, reordered or tagged)"
        missed.append((h, why))
    # ... and the other way round: an SNI read from a first segment whose hello never
    # completes (the rest was not captured), which client_hellos does not report
    only_per_packet = [k for k, n in seen.items() for _ in range(n)]
    with_sni = sum(1 for h in hellos if h.sni)
    print(f"\nper packet: {sum(per_packet_found.values())} SNIs; client_hellos: {len(hellos)} "
          f"ClientHellos, {with_sni} with an SNI "
          f"({sum(h.transport == 'quic' for h in hellos)} over QUIC); "
          f"missed by the per-packet approach: {len(missed)}")
    for h, why in missed:
        print(f"  missed: {h.sni}  ({h.transport} {endpoint(h.client_ip, h.client_port)} -> "
              f"{endpoint(h.server_ip, h.server_port)}): {why}")
    reported = {(h.client_ip, h.client_port, h.server_ip, h.server_port) for h in hellos}
    for src, sport, dst, dport, sni in only_per_packet:
        why = ("a second hello on this connection (after a HelloRetryRequest); client_hellos "
               "reports the first" if (src, sport, dst, dport) in reported else
               "the rest of this hello is not in the capture, so client_hellos has no record")
        print(f"  per packet only: {sni}  ({endpoint(src, sport)} -> {endpoint(dst, dport)}): {why}")


if __name__ == "__main__":
    main()
