#!/usr/bin/env python3
"""Build packets: ports the course's Section 1 "Packet Anatomy Example" and "Layer Stacking
Examples" as written (only the import changed), then the same stacks the fastpkt way.

Nothing is sent: building only makes bytes (equal to Scapy's for the same fields). Send
packets only to hosts you own or are allowed to test.
"""
from __future__ import annotations

from _common import parser

# --- the course's code, import changed from scapy.all -----------------------------------
from fastpkt.scapy import DNS, DNSQR, ICMP, IP, TCP, UDP, Ether, Raw, hexdump, ls


def anatomy() -> None:
    packet = Ether() / IP(dst="8.8.8.8") / TCP(dport=443, sport=51515, flags="S")
    packet.show()
    # Accessing fields
    print(packet[Ether].src)
    print(packet[IP].dst)
    print(packet[TCP].flags)


def demo_stacks() -> None:
    """Print summaries of common packet stacks."""
    dns_packet = Ether() / IP(dst="8.8.8.8") / UDP(dport=53) / DNS(rd=1, qd=DNSQR(qname="example.com"))
    http_packet = Ether() / IP(dst="93.184.216.34") / TCP(dport=80, flags="S")
    icmp_packet = Ether() / IP(dst="1.1.1.1") / ICMP()
    udp_payload = Ether() / IP(dst="192.168.56.10") / UDP(dport=9999) / Raw(load=b"TEST")
    print(dns_packet.summary())
    print(http_packet.summary())
    print(icmp_packet.summary())
    print(udp_payload.summary())


# --- idiomatic fastpkt ----------------------------------------------------------------------
def idiomatic() -> None:
    import fastpkt as fp

    syn = fp.IP(dst="192.0.2.10") / fp.TCP(dport=22, sport=51515, flags="S",
                                          options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])
    syn.show2()               # as built: ihl, len, dataofs, checksums filled in
    hexdump(syn)
    probe = syn.copy()        # edit a copy; the original stays as it was
    probe[fp.TCP].dport = 80
    del probe.chksum          # unset fields are filled in again when built
    print(repr(probe))
    print(len(bytes(probe)), "bytes;", probe.verify_checksums())
    reply = fp.IP(bytes(syn))  # bytes back into editable layers
    print(reply[fp.TCP].options, reply[fp.TCP].flags)
    ls(fp.UDP)


def main() -> None:
    parser(__doc__).parse_args()
    anatomy()
    demo_stacks()
    idiomatic()


if __name__ == "__main__":
    main()
