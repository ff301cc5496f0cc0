"""A Scapy-compatible facade backed by fastpkt: reading, writing, sniffing and building.

    from fastpkt.scapy import rdpcap, sniff, IP, TCP, DNS, Raw

    for pkt in rdpcap("trace.pcap"):
        if IP in pkt and TCP in pkt:
            print(pkt[IP].src, pkt[TCP].dport, pkt[TCP].flags)
        if pkt.haslayer(Raw):
            data = pkt[Raw].load

    syn = IP(dst="192.0.2.10") / TCP(dport=80, flags="S")   # bytes(syn) == Scapy's
    syn.show2(); hexdump(syn); ls(TCP)

Differences from Scapy worth knowing: dissected packets are zero-copy views until a field is
set or deleted (``del pkt[IP].chksum`` turns that packet's bytes into editable layers, once);
``DNSQR.qname`` is ``str`` (Scapy: bytes with a trailing dot) and DNS records are immutable
(replace ``dns.qd`` rather than editing a record); ``pkt[X]`` raises KeyError when the layer
is absent (Scapy: IndexError; both are LookupError); unset Ether addresses are
ff:ff:ff:ff:ff:ff and 00:00:00:00:00:00 (Scapy looks them up by route and ARP); IP options
are bytes. ``sniff()`` is ``fastpkt.sniff``: live (``sniff(iface=...)``, root or
CAP_NET_RAW) and offline (``sniff(offline=...)``). ``send``/``sendp``/``sr``/``sr1``/``srp``/
``srp1``/``arping``/``traceroute`` are ``fastpkt.probe``'s: answers come back as fastpkt
Packets (``sr`` answers start at the IP header, as Scapy's), unanswered probes as a list.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import fastpkt as _fp
from fastpkt.writers import OpenedOnWrite
from fastpkt import (  # noqa: F401  (layer names, as Scapy spells them)
    ARP,
    DNS,
    DNSQR,
    DNSRR,
    ICMP,
    IP,
    TCP,
    UDP,
    Dot1Q,
    Ether,
    ICMPv6,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    Packet,
    PacketList,
)
from fastpkt.netif import conf, get_if_addr, get_if_hwaddr, get_if_list  # noqa: F401
from fastpkt.probe import arping, send, sendp, sr, sr1, srp, srp1, traceroute  # noqa: F401
from fastpkt.craft import hexdump, ls, raw  # noqa: F401

__all__ = [
    "rdpcap", "wrpcap", "PcapReader", "PcapWriter", "sniff",
    "Ether", "Dot1Q", "ARP", "IP", "IPv6", "TCP", "UDP", "ICMP", "ICMPv6",
    "DNS", "DNSQR", "DNSRR", "Raw", "Packet", "PacketList",
    "send", "sendp", "sr", "sr1", "srp", "srp1", "arping", "traceroute",
    "conf", "get_if_list", "get_if_addr", "get_if_hwaddr",
    "ICMPv6EchoRequest", "ICMPv6EchoReply", "IPv6ExtHdrHopByHop", "IPv6ExtHdrRouting",
    "IPv6ExtHdrFragment", "IPv6ExtHdrDestOpt", "hexdump", "ls", "raw",
]


class _RawLayer:
    """``pkt[Raw]``: the innermost payload, as Scapy's Raw layer exposes it (``.load``)."""

    __slots__ = ("load",)
    name = "Raw"

    def __init__(self, load: bytes) -> None:
        self.load = load

    def __bytes__(self) -> bytes:
        return self.load

    def __len__(self) -> int:
        return len(self.load)

    def __repr__(self) -> str:
        return "<Raw  load=%r |>" % (self.load,)


class _RawMeta(type):
    """``isinstance(pkt[Raw], Raw)`` holds for the payload objects the facade returns."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, (_RawLayer, _fp._fastpkt.Raw))


class Raw(metaclass=_RawMeta):
    """Scapy's Raw layer name. ``pkt[Raw].load`` is ``pkt.payload`` (bytes after the last
    decoded header). ``Raw(load=b'...')`` builds a standalone payload object."""

    def __new__(cls, load: bytes = b"") -> _RawLayer:  # type: ignore[misc]
        return _RawLayer(bytes(load))


# ---------------------------------------------------------------- reading and writing
def rdpcap(filename: str | os.PathLike[str], count: int = -1) -> PacketList:
    """Read a pcap/pcapng file into a PacketList (Scapy: ``rdpcap(filename, count=-1)``)."""
    return _fp.read(filename, count=None if count is None or count < 0 else count)


def wrpcap(filename: str | os.PathLike[str], pkt: Any, linktype: int | None = None,
           nano: bool = False, **_ignored: Any) -> None:
    """Write packets to a pcap file (Scapy: ``wrpcap(filename, pkt)``). A single packet works too."""
    if isinstance(pkt, (Packet, bytes, bytearray)):
        pkt = [pkt]
    _fp.write(filename, pkt, linktype=linktype, nanosecond=nano or None, format="pcap")


class PcapReader:
    """Iterate a capture lazily (Scapy: ``with PcapReader(path) as r: for pkt in r``)."""

    def __init__(self, filename: Any) -> None:
        self._reader = _fp.open(filename)
        self.linktype = self._reader.linktype

    def __iter__(self) -> Iterator[Packet]:
        return iter(self._reader)

    def __next__(self) -> Packet:
        return next(self._reader)

    def read_packet(self) -> Packet | None:
        try:
            return self.__next__()
        except StopIteration:
            return None

    def read_all(self, count: int = -1) -> Any:
        return self._reader.read_all(None if count < 0 else count)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> PcapReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapWriter(OpenedOnWrite):
    """Streaming writer (Scapy: ``PcapWriter(filename, linktype=..., nano=...)``)."""

    def __init__(self, filename: Any, linktype: int | None = None, nano: bool = False,
                 **_ignored: Any) -> None:
        self._filename = filename
        self._linktype = linktype
        self._nano = nano

    def write(self, pkt: Any) -> None:
        items = [pkt] if isinstance(pkt, (Packet, bytes, bytearray)) else pkt
        for p in items:
            if self._writer is None:
                lt = self._linktype if self._linktype is not None else getattr(p, "linktype", 1)
                self._writer = _fp.Writer(self._filename, linktype=lt, nanosecond=self._nano, format="pcap")
            self._writer.write(p)


def sniff(count: int = 0, store: bool = True, offline: Any = None,
          prn: Callable[[Packet], Any] | None = None,
          lfilter: Callable[[Packet], bool] | None = None,
          filter: str | None = None,  # noqa: A002
          stop_filter: Callable[[Packet], bool] | None = None,
          iface: Any = None, timeout: float | None = None, **kwargs: Any) -> _fp.SniffResult:
    """Scapy's ``sniff()``, in Scapy's argument order: ``fastpkt.sniff``.

    Live: ``sniff(iface="eth0", filter="tcp", prn=..., store=False)`` (iface=None captures
    on all interfaces); offline: ``sniff(offline="trace.pcap", ...)``, a list of paths or a
    list of packets. ``filter`` is BPF (the kernel's live, C offline); ``lfilter`` a Python
    predicate; ``prn`` is called for every kept packet and, as in Scapy, its non-None return
    value is printed; ``stop_filter`` ends the loop after the packet it returns True for;
    ``count`` (0 = all) counts kept packets; ``timeout`` is seconds. Returns the kept packets
    (a ``fastpkt.SniffResult`` list; empty with ``store=False``). Other keyword arguments
    are ``fastpkt.sniff``'s (write=, rotate_bytes=, capture options such as snaplen=).
    """
    return _fp.sniff(iface=iface, count=count, timeout=timeout, filter=filter, prn=prn,
                     lfilter=lfilter, store=store, stop_filter=stop_filter, offline=offline,
                     **kwargs)
