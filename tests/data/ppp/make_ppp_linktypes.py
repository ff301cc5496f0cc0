#!/usr/bin/env python3
"""Build tests/data/ppp/ppp_linktypes.pcapng: one interface per PPP link type of tcpdump.org's
registry, PPP 9, PPP_HDLC 50 (RFC 1662 framing), PPP_ETHER 51 (a PPPoE session header
first, RFC 2516) and PPP_WITH_DIR 204 (a direction byte, then HDLC framing or the protocol),
each carrying IPv4, IPv6 and PPP's control protocols. Frames are built with Scapy's classes
(PPP, HDLC, PPPoE, DIR_PPP) or, where the framing itself is the point (a one-byte
protocol, RFC 1661 section 2; HDLC bytes on link type 9), packed by hand from the RFCs.
Nothing here uses fastpkt; test_ppp_linktypes reads the file with tshark and Scapy.

Run from anywhere:  python tests/data/ppp/make_ppp_linktypes.py   (deterministic output)
"""
from __future__ import annotations

import struct
from pathlib import Path

from scapy.all import (
    DIR_PPP, DNS, DNSQR, HDLC, ICMP, IP, PPP, TCP, UDP, IPv6, PPP_IPCP, PPP_IPCP_Option_IPAddress,
    PPP_LCP_Configure, PPP_LCP_Echo, PPP_LCP_MRU_Option, PPPoE,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "ppp_linktypes.pcapng"

V4 = IP(src="10.0.0.1", dst="10.0.0.2", id=7)
V4R = IP(src="10.0.0.2", dst="10.0.0.1", id=8)
V6 = IPv6(src="fd00::1", dst="fd00::2")
TCP_SYN = TCP(sport=40000, dport=80, flags="S", seq=1)
DNS_Q = UDP(sport=5353, dport=53) / DNS(id=1, qd=DNSQR(qname="ppp.example"))
LCP_CONF = PPP(proto=0xC021) / PPP_LCP_Configure(id=1, options=[PPP_LCP_MRU_Option(max_recv_unit=1492)])
LCP_ECHO = PPP(proto=0xC021) / PPP_LCP_Echo(code=9, id=2, magic_number=0x01020304)
IPCP = PPP(proto=0x8021) / PPP_IPCP(code=1, id=3, options=[PPP_IPCP_Option_IPAddress(data="10.0.0.1")])
IPV6CP = b"\x80\x57" + bytes.fromhex("01040010" "010a0011223344556677")   # Configure-Request, interface id


def ppp_frames() -> list[bytes]:
    """PPP frames (protocol field first) with IPv4, IPv6, the compressed protocol and the
    control protocols."""
    return [bytes(PPP() / V4 / TCP_SYN), bytes(PPP(proto=0x57) / V6 / DNS_Q),
            b"\x21" + bytes(V4R / ICMP(id=1, seq=1) / b"ping"),   # RFC 1661 section 2: one byte
            bytes(LCP_CONF), bytes(LCP_ECHO), bytes(IPCP), IPV6CP]


def frames() -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    ppp = ppp_frames()
    out += [(9, f) for f in ppp]
    out += [(9, bytes(HDLC() / PPP() / V4 / UDP(sport=1, dport=2) / b"hdlc on 9"))]
    out += [(50, b"\xff\x03" + f) for f in ppp]   # RFC 1662 section 3.1: address, control
    out += [(51, bytes(PPPoE(sessionid=0x1234) / PPP() / V4 / TCP_SYN)),
            (51, bytes(PPPoE(sessionid=0x1234) / PPP(proto=0x57) / V6 / DNS_Q)),
            (51, bytes(PPPoE(sessionid=0x1234) / LCP_ECHO)),
            (51, bytes(PPPoE(sessionid=0x1234) / IPCP))]
    out += [(204, bytes(DIR_PPP(direction=d) / HDLC() / f)) for d, f in ((0, ppp[0]), (1, ppp[1]), (1, ppp[3]))]
    out += [(204, bytes(DIR_PPP(direction=0)) + f) for f in (ppp[0], ppp[2], ppp[4])]
    return out


def block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def main() -> None:
    linktypes = [9, 50, 51, 204]
    data = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for lt in linktypes:
        data += block(1, struct.pack("<HHI", lt, 0, 0))
    for i, (lt, f) in enumerate(frames()):
        t = (1_700_000_000 + i) * 1_000_000
        data += block(6, struct.pack("<IIIII", linktypes.index(lt), t >> 32, t & 0xFFFFFFFF, len(f), len(f)) + f)
    OUT.write_bytes(data)


if __name__ == "__main__":
    main()
