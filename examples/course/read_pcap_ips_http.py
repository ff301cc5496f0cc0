#!/usr/bin/env python3
"""
Read a PCAP, list the IP addresses involved and print HTTP requests (the PCAP article's code).
"""
from fastpkt.scapy import *
from _course import pcap  # --pcap FILE

# Load the PCAP
packets = rdpcap(pcap('my_capture.pcap'))

print(f"Total packets: {len(packets)}")

# Get all IPs

ip_addresses = set()
for packet in packets:
    if packet.haslayer(IP):
        # add source and destination to the set --> ensures no duplicates
        ip_addresses.add(packet[IP].src)
        ip_addresses.add(packet[IP].dst)

print("IP addresses involved: ", ip_addresses) # {'34.107.221.82', '142.250.179.206', '10.0.2.15'}


# Finding HTTP requests

for packet in packets:
    if packet.haslayer(TCP) and packet.haslayer(Raw):
        payload = packet[Raw].load
        # HTTP requests start with methods like GET, POST
        if payload.startswith(b'GET') or payload.startswith(b'POST'):
            print(payload.decode('utf-8', errors='ignore'))
