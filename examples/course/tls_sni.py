#!/usr/bin/env python3
"""
Extract TLS Server Name Indication (SNI) without decrypting payloads.
"""
from __future__ import annotations
from fastpkt.scapy import sniff, TCP, Raw
from _course import source  # --pcap FILE | --iface IFACE


def parse_sni(payload: bytes) -> str | None:
    """
    Simple TLS ClientHello SNI parser.
    """
    try:
        if payload[0] != 0x16:  # TLS Handshake
            return None
        # Skip record header (5 bytes) and handshake header (4 bytes)
        pointer = 5 + 4
        # Skip version (2) + random (32) + session ID length (1) + session ID
        pointer += 2 + 32
        session_len = payload[pointer]
        pointer += 1 + session_len
        # Cipher suites
        cs_len = int.from_bytes(payload[pointer:pointer+2], "big")
        pointer += 2 + cs_len
        # Compression methods
        comp_len = payload[pointer]
        pointer += 1 + comp_len
        # Extensions length
        ext_len = int.from_bytes(payload[pointer:pointer+2], "big")
        pointer += 2
        end = pointer + ext_len
        while pointer + 4 <= end:
            ext_type = int.from_bytes(payload[pointer:pointer+2], "big")
            ext_size = int.from_bytes(payload[pointer+2:pointer+4], "big")
            pointer += 4
            if ext_type == 0x00:  # SNI
                # Skip list length (2) and name type (1)
                pointer += 2 + 1
                name_len = int.from_bytes(payload[pointer:pointer+2], "big")
                pointer += 2
                return payload[pointer:pointer+name_len].decode()
            pointer += ext_size
    except (IndexError, UnicodeDecodeError):
        return None
    return None


def handle_tls(packet) -> None:
    if packet.haslayer(TCP) and packet.haslayer(Raw):
        sni = parse_sni(packet[Raw].load)
        if sni:
            print(f"TLS SNI: {sni}")


if __name__ == "__main__":
    sniff(filter="tcp port 443", prn=handle_tls, store=False, **source())
