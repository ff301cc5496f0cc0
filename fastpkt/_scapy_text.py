"""Scapy's text for fastpkt packets: ``repr``, ``summary()``, ``show()``, ``sprintf()``,
``hexdump``, ``ls`` and ``PacketList.conversations()``'s graph, character for character.

``hexdump`` and ``raw`` are ``fastpkt.craft``'s (already Scapy's layout). Functions over
fastpkt's own ``Packet`` (its layer views and bytes), so the facade's classes
call them without Scapy installed. A packet is first described as Scapy dissects it: a chain
of layer nodes, each a Scapy class name, its ``show()`` title and its fields with the value
and the text Scapy's ``i2repr`` gives (``proto=tcp``, ``dport=http``, ``flags=DF``). The
layers rendered here are the ones both decode: Ether, 802.1Q/802.1ad, Linux cooked v1/v2,
BSD loopback, ARP, IPv4 without options, IPv6 (extension headers: a later fragment's, hop-by-hop
and destination options before ICMPv6, TCP or UDP), TCP, UDP, ICMP and ICMPv6 echo, ICMP timestamp,
information and address mask messages, ICMP errors with the
datagram they quote, DNS (A, AAAA, NS, CNAME, PTR, MX, SOA, SRV, TXT, OPT and its EDNS0 options;
over UDP and TCP), LLMNR (DNS's records under LLMNRQuery/LLMNRResponse), Raw and Padding; and the layers
``fastpkt._scapy_layers`` reads from bytes (ICMPv6 ND/MLD/errors, RFC 4884 extensions, BOOTP/DHCP, NTP (header,
extensions, control and private messages), Dot3/LLC/SNAP/STP, EAPOL/EAP/EAPOL-Key/MKA, GRE (GRE_PPTP, GRErouting), VXLAN, PPPoE/HDLC/PPP, the PPP link types with DIR_PPP), from the fields its walk reads, formatted here as Scapy's
fields do; tunnels Scapy decodes (IP in IP/IPv6, GRE, VXLAN) with the inner packet described from
its bytes; a header the bytes end inside as Scapy's Raw.
Anything else Scapy would decode (a port or type it binds a layer to, IP options, other ICMP
types, a DNS record cut short...) makes the description ``None``; the text then comes from ``to_scapy(pkt)`` when
Scapy is installed, else from the nearest fastpkt text (README, "Coming from Scapy").

Names come from where Scapy takes them: ports from /etc/services, IP protocols from
/etc/protocols, ethertypes from /etc/ethertypes (Scapy's ``fixname`` spelling: ``n_802_1Q``).
"""
from __future__ import annotations

import re
import socket
import struct
import time as _time
from typing import Any, Callable, Iterable

from fastpkt import craft as _craft
from fastpkt._fastpkt import Packet as _Packet
from fastpkt.craft import hexdump, raw

__all__ = [
    "describe", "packet_repr", "packet_summary", "packet_show", "packet_sprintf",
    "hexdump", "ls", "raw", "to_scapy", "conversation_graph", "do_graph",
    "make_table", "make_lined_table", "make_tex_table",
]


# ---------------------------------------------------------------- name tables
def _fixname(name: str) -> str:
    """Scapy's attribute-safe spelling of a name read from a system table."""
    if name and name[0].isdigit():
        name = "n_" + name
    return "".join(c if c.isalnum() and c.isascii() else "_" for c in name)


def _load_table(path: str, base: int = 10) -> dict[int, str]:
    """``name number`` lines (/etc/protocols, /etc/ethertypes); later lines win, as in Scapy."""
    out: dict[int, str] = {}
    try:
        with open(path, errors="backslashreplace") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2:
                    try:
                        out[int(fields[1], base)] = _fixname(fields[0])
                    except ValueError:
                        continue
    except OSError:
        pass
    return out


def _load_services(path: str = "/etc/services") -> tuple[dict[int, str], dict[int, str]]:
    tcp: dict[int, str] = {}
    udp: dict[int, str] = {}
    try:
        with open(path, "rb") as f:
            for line in f:
                fields = line.split(b"#", 1)[0].split()
                if len(fields) < 2 or b"/" not in fields[1]:
                    continue
                port, proto = fields[1].split(b"/", 1)
                table = tcp if proto == b"tcp" else udp if proto == b"udp" else None
                if table is None:
                    continue
                name = _fixname(fields[0].decode("latin-1"))
                try:
                    if b"-" in port:
                        lo, hi = port.split(b"-")
                        for i in range(int(lo), int(hi) + 1):
                            table[i] = name
                    else:
                        table[int(port)] = name
                except ValueError:
                    continue
    except OSError:
        pass
    return tcp, udp


class _Names:
    """The system tables, read once on first use."""

    def __init__(self) -> None:
        self.protocols = _load_table("/etc/protocols")
        # Scapy's layers rename a few ethertypes after reading the file
        self.ethertypes = {**_load_table("/etc/ethertypes", 16), **_SCAPY_ETHERTYPE_NAMES}
        self.tcp, self.udp = _load_services()


_SCAPY_ETHERTYPE_NAMES = {0x88A8: "802_1AD", 0x88E7: "802_1AH", 0x88E5: "802_1AE",
                          0xA0ED: "6LoWPAN"}
_names_cache: list[_Names] = []


def _names() -> _Names:
    if not _names_cache:
        _names_cache.append(_Names())
    return _names_cache[0]


_DNS_TYPES = {
    0: "RESERVED", 1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG",
    9: "MR", 10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT",
    17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR",
    24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID",
    32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6",
    39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY",
    46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM",
    52: "TLSA", 53: "SMIMEA", 55: "HIP", 56: "NINFO", 57: "RKEY", 58: "TALINK", 59: "CDS",
    60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS",
    99: "SPF", 100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC", 104: "NID", 105: "L32",
    106: "L64", 107: "LP", 108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG", 256: "URI",
    257: "CAA", 258: "AVC", 259: "DOA", 260: "AMTRELAY", 32768: "TA", 32769: "DLV",
    65535: "RESERVED"}
_DNS_QTYPES = {**_DNS_TYPES, 251: "IXFR", 252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "ALL"}
_DNS_CLASSES = {1: "IN", 2: "CS", 3: "CH", 4: "HS", 255: "ANY"}
_DNS_OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS"}
_DNS_RCODES = {0: "ok", 1: "format-error", 2: "server-failure", 3: "name-error",
               4: "not-implemented", 5: "refused"}
_ARP_HWTYPES = {1: "Ethernet (10Mb)"}
_ARP_OPS = {1: "who-has", 2: "is-at", 3: "RARP-req", 4: "RARP-rep", 5: "Dyn-RARP-req",
            6: "Dyn-RAR-rep", 7: "Dyn-RARP-err", 8: "InARP-req", 9: "InARP-rep"}
_ICMP_ECHO = {0: "echo-reply", 8: "echo-request"}
_IPV6_NH = {0: "Hop-by-Hop Option Header", 4: "IP", 6: "TCP", 17: "UDP", 41: "IPv6",
            43: "Routing Header", 44: "Fragment Header", 47: "GRE", 50: "ESP Header",
            51: "AH Header", 58: "ICMPv6", 59: "No Next Header", 60: "Destination Option Header",
            112: "VRRP", 132: "SCTP", 135: "Mobility Header"}

# What Scapy's default layers (scapy.all) bind above Ethernet, IPv4 and IPv6 besides the ones
# rendered here: a packet carrying one of them is left to Scapy.
_SCAPY_ETHERTYPES = {122, 0x8870, 0x88a8, 0x88e7, 1, 0x88a4, 0x888e, 0x8863, 0x8864, 0x8021,
                     0x8053, 0x88d9, 0xa0ed}
_SCAPY_IP_PROTOS = {4, 47, 41, 2, 51, 50, 132, 112}
# IPv4 protocols Scapy decodes in any fragment, not only the first (its bindings without frag=0)
_SCAPY_ANY_FRAGMENT = {41, 2, 51, 50, 132, 112}
# TCP and UDP ports Scapy binds a layer to (field -> port), in its lookup order; DNS is ours.
_TCP_BINDS: list[tuple[dict[str, int], str]] = [
    ({"dport": 53}, "DNS"), ({"sport": 53}, "DNS")] + [
    ({k: port}, "") for port in (88, 464, 135, 445, 139, 389, 3268, 1723, 2000)
    for k in ("sport", "dport")]
_UDP_BINDS: list[tuple[dict[str, int], str]] = [
    ({"dport": 4754}, "GRE"), ({"dport": 5353}, "DNS"), ({"sport": 5353}, "DNS"),
    ({"dport": 53}, "DNS"), ({"sport": 53}, "DNS")] + [
    ({k: port}, "") for port in (88, 464) for k in ("sport", "dport")] + [
    ({"dport": 67, "sport": 68}, "BOOTP"), ({"dport": 68, "sport": 67}, "BOOTP"),
    ({"dport": 67, "sport": 67}, "BOOTP"), ({"dport": 547}, ""), ({"dport": 546}, "")] + [
    ({k: port}, "") for port in (1985, 2029, 4500, 500, 1701, 137, 138, 389, 5355, 2727, 434,
                                 2055, 2056, 9995, 9996, 6343, 123, 1812, 1813, 3799, 520, 161,
                                 162)
    for k in ("sport", "dport")] + [({"dport": 69}, "")] + [
    ({k: port}, "VXLAN") for k in ("dport", "sport") for port in (4789, 4790, 6633, 8472, 48879)
    if (k, port) != ("sport", 48879)] + [({"sport": 17754}, "")]
_UDP_BINDS = [(cond, "NTP" if 123 in cond.values() else layer) for cond, layer in _UDP_BINDS]
_UDP_BINDS = [(cond, "LLMNR" if 5355 in cond.values() else layer) for cond, layer in _UDP_BINDS]


_bound_memo: dict[tuple[bool, int, int], str | None] = {}


def _bound(binds: list[tuple[dict[str, int], str]], sport: int, dport: int) -> str | None:
    """The layer Scapy guesses for these ports: "DNS", "BOOTP", "NTP", "" (another Scapy
    layer) or None. Answers are remembered (at most 65,536 port pairs): the walk is slow."""
    key = (binds is _UDP_BINDS, sport, dport)
    if key in _bound_memo:
        return _bound_memo[key]
    found = None
    for cond, layer in binds:
        if cond.get("sport", sport) == sport and cond.get("dport", dport) == dport:
            found = layer
            break
    if len(_bound_memo) < 65536:
        _bound_memo[key] = found
    return found


# ---------------------------------------------------------------- values as Scapy shows them
class _Flags(int):
    """A flags value: ``str()`` as Scapy's FlagValue (``SA``, ``MF+DF``), ``int()`` the bits."""

    names: tuple[str, ...] = ()
    multi = False

    def __str__(self) -> str:
        out, x, i = [], int(self), 0
        while x:
            if x & 1:
                out.append(self.names[i] if i < len(self.names) else "?")
            i += 1
            x >>= 1
        return ("+" if self.multi else "").join(out)

    def __repr__(self) -> str:
        return "<Flag %d (%s)>" % (int(self), self)


class _TCPFlags(_Flags):
    names = tuple("FSRPAUECN")


class _IPFlags(_Flags):
    names = ("MF", "DF", "evil")
    multi = True


def _hex(v: int) -> str:
    return hex(v)


def _enum(table: dict[int, str], v: int, unknown: Callable[[int], str] = repr) -> str:
    name = table.get(v)
    return name if name is not None else unknown(v)


_DNS_ESCAPE = re.compile(rb"\\([0-9]{3}|.)", re.S)


def _dns_unescape(m: re.Match[bytes]) -> bytes:
    return bytes((int(m[1]),)) if len(m[1]) == 3 else m[1]


def _dns_name(name: str) -> bytes:
    """fastpkt's text name as Scapy's DNSStrField value: the label bytes, ending in a dot.
    fastpkt's text escapes a label's non-printable bytes as \\DDD and a backslash or a dot
    inside a label as \\X (as dig prints them); Scapy hands the bytes as they are."""
    if name in ("", "."):
        return b"."
    raw = name.encode("latin-1")
    if b"\\" in raw:
        raw = _DNS_ESCAPE.sub(_dns_unescape, raw)
    elif raw.endswith(b"."):
        raw = raw.rstrip(b".")
    return raw + b"."


# ---------------------------------------------------------------- layer nodes
class _Node:
    """One layer as Scapy dissects it. ``fields``: (name, value, text, in_repr); a field
    holding records has a list of nodes as value and None as text."""

    __slots__ = ("cls", "title", "fields", "by_name", "summary", "needs")

    def __init__(self, cls: str, title: str, fields: list[tuple[str, Any, Any, bool]],
                 summary: str = "") -> None:
        self.cls = cls
        self.title = title
        self.fields = fields
        self.by_name = {f[0]: f for f in fields}
        self.summary = summary   # Scapy's mysummary(), "" for none
        # the classes under which mysummary() asks for their summary too (its tuple form)
        self.needs: tuple[str, ...] = ()

    def value(self, name: str) -> Any:
        return self.by_name[name][1]

    def text(self, name: str) -> str:
        return str(self.by_name[name][2])


def _f(name: str, value: Any, text: Any = None, in_repr: bool = True) -> tuple[str, Any, Any, bool]:
    return (name, value, str(value) if text is None else text, in_repr)


def _raw_node(cls: str, load: bytes) -> _Node:
    # Scapy leaves a Raw of no bytes undissected (a list field's empty padding): load is
    # then its default, shown but not in repr
    return _Node(cls, cls, [("load", load, repr(load), bool(load))])


def _ether(eth: Any) -> _Node:
    t = eth.type
    return _Node("Ether", "Ethernet", [
        _f("dst", eth.dst), _f("src", eth.src),
        _f("type", t, _enum(_names().ethertypes, t, _hex))])


def _dot1q(tag: Any) -> _Node:
    t = tag.type
    cls, title = ("Dot1AD", "802_1AD") if tag.tpid == 0x88A8 else ("Dot1Q", "802.1Q")
    return _Node(cls, title, [
        _f("prio", tag.prio), _f("dei", tag.dei), _f("vlan", tag.vlan),
        _f("type", t, _enum(_names().ethertypes, t, _hex))])


def _arp(arp: Any) -> _Node | None:
    if (arp.hwtype, arp.hwlen, arp.ptype, arp.plen) != (1, 6, 0x0800, 4):
        return None
    return _Node("ARP", "ARP", [
        _f("hwtype", 1, _ARP_HWTYPES[1]),
        _f("ptype", 0x0800, _enum(_names().ethertypes, 0x0800, _hex)),
        _f("hwlen", 6), _f("plen", 4), _f("op", arp.op, _enum(_ARP_OPS, arp.op)),
        _f("hwsrc", arp.hwsrc), _f("psrc", arp.psrc), _f("hwdst", arp.hwdst),
        _f("pdst", arp.pdst)])


def _ip(ip: Any, data: bytes) -> _Node:
    o = ip.offset
    flags = _IPFlags(data[o + 6] >> 5)
    return _Node("IP", "IP", [
        _f("version", ip.version), _f("ihl", ip.ihl), _f("tos", ip.tos, _hex(ip.tos)),
        _f("len", ip.len), _f("id", ip.id), _f("flags", flags, str(flags)),
        _f("frag", ip.frag), _f("ttl", ip.ttl),
        _f("proto", ip.proto, _enum(_names().protocols, ip.proto)),
        _f("chksum", ip.chksum, _hex(ip.chksum)), _f("src", ip.src), _f("dst", ip.dst),
        ("options", [], None, True)])


def _ip6_later_fragment(ip6: Any, data: bytes, start: int, end: int) -> _Node | None:
    """IPv6ExtHdrFragment of a fragment past the first: the only extension header rendered."""
    if [h[0] for h in ip6.ext_headers] != [44] or end - start < 8:
        return None
    nh, res1, word, ident = struct.unpack_from("!BBHI", data, start)
    if word >> 3 == 0:
        return None   # the first fragment: Scapy decodes the upper layer from a part of it
    return _Node("IPv6ExtHdrFragment", "IPv6 Extension Header - Fragmentation header", [
        _f("nh", nh, _enum(_IPV6_NH, nh)), _f("res1", res1), _f("offset", word >> 3),
        _f("res2", word >> 1 & 3), _f("m", word & 1), _f("id", ident)])


def _icmp6_echo(icmp6: Any, data: bytes, start: int, end: int) -> _Node | None:
    """ICMPv6EchoRequest/Reply (the echo data is their last field, not a Raw layer)."""
    if icmp6 is None or icmp6.offset != start or icmp6.type not in (128, 129) or end - start < 8:
        return None
    kind = "Request" if icmp6.type == 128 else "Reply"
    ident, seq = struct.unpack_from("!HH", data, start + 4)
    load = data[start + 8:end]
    node = _Node("ICMPv6Echo" + kind, "ICMPv6 Echo " + kind, [
        _f("type", icmp6.type, "Echo " + kind), _f("code", icmp6.code),
        _f("cksum", icmp6.chksum, _hex(icmp6.chksum)), _f("id", ident, _hex(ident)),
        _f("seq", seq, _hex(seq)), _f("data", load, repr(load))])
    node.summary = "ICMPv6 Echo %s (id: %s seq: %s)" % (kind, _hex(ident), _hex(seq))
    return node


def _ip6(ip6: Any) -> _Node:
    return _Node("IPv6", "IPv6", [
        _f("version", ip6.version), _f("tc", ip6.tc), _f("fl", ip6.fl), _f("plen", ip6.plen),
        _f("nh", ip6.nh, _enum(_IPV6_NH, ip6.nh)), _f("hlim", ip6.hlim),
        _f("src", ip6.src), _f("dst", ip6.dst)])


def _tcp(tcp: Any, data: bytes) -> _Node:
    o = tcp.offset
    flags = _TCPFlags(((data[o + 12] & 1) << 8) | data[o + 13])
    tcp_names = _names().tcp
    options = list(tcp.options)
    return _Node("TCP", "TCP", [
        _f("sport", tcp.sport, _enum(tcp_names, tcp.sport)),
        _f("dport", tcp.dport, _enum(tcp_names, tcp.dport)),
        _f("seq", tcp.seq), _f("ack", tcp.ack), _f("dataofs", tcp.dataofs),
        _f("reserved", data[o + 12] >> 1 & 7), _f("flags", flags, str(flags)),
        _f("window", tcp.window), _f("chksum", tcp.chksum, _hex(tcp.chksum)),
        _f("urgptr", tcp.urgptr), _f("options", options, repr(options))])


def _udp(udp: Any) -> _Node:
    udp_names = _names().udp
    return _Node("UDP", "UDP", [
        _f("sport", udp.sport, _enum(udp_names, udp.sport)),
        _f("dport", udp.dport, _enum(udp_names, udp.dport)),
        _f("len", udp.len), _f("chksum", udp.chksum, _hex(udp.chksum))])


def _icmp(icmp: Any) -> _Node | None:
    if icmp.type not in _ICMP_ECHO or icmp.header_len != 8:
        return None
    return _Node("ICMP", "ICMP", [
        _f("type", icmp.type, _ICMP_ECHO[icmp.type]), _f("code", icmp.code),
        _f("chksum", icmp.chksum, _hex(icmp.chksum)), _f("id", icmp.id, _hex(icmp.id)),
        _f("seq", icmp.seq, _hex(icmp.seq)), _f("unused", b"", "b''")])


# RFC 792's error messages (and RFC 4884's trailer on 3, 11, 12), as Scapy's ICMP class names
# their types and codes
_ICMP_ERROR_TYPES = frozenset((3, 4, 5, 11, 12))
_ICMP_TYPES = {
    0: "echo-reply", 3: "dest-unreach", 4: "source-quench", 5: "redirect", 8: "echo-request",
    9: "router-advertisement", 10: "router-solicitation", 11: "time-exceeded",
    12: "parameter-problem", 13: "timestamp-request", 14: "timestamp-reply",
    15: "information-request", 16: "information-response", 17: "address-mask-request",
    18: "address-mask-reply", 30: "traceroute", 31: "datagram-conversion-error",
    32: "mobile-host-redirect", 33: "ipv6-where-are-you", 34: "ipv6-i-am-here",
    35: "mobile-registration-request", 36: "mobile-registration-reply", 37: "domain-name-request",
    38: "domain-name-reply", 39: "skip", 40: "photuris"}
_ICMP_CODES = {
    3: {0: "network-unreachable", 1: "host-unreachable", 2: "protocol-unreachable",
        3: "port-unreachable", 4: "fragmentation-needed", 5: "source-route-failed",
        6: "network-unknown", 7: "host-unknown", 9: "network-prohibited", 10: "host-prohibited",
        11: "TOS-network-unreachable", 12: "TOS-host-unreachable", 13: "communication-prohibited",
        14: "host-precedence-violation", 15: "precedence-cutoff"},
    5: {0: "network-redirect", 1: "host-redirect", 2: "TOS-network-redirect", 3: "TOS-host-redirect"},
    11: {0: "ttl-zero-during-transit", 1: "ttl-zero-during-reassembly"},
    12: {0: "ip-header-bad", 1: "required-option-missing"},
    40: {0: "bad-spi", 1: "authentication-failed", 2: "decompression-failed",
         3: "decryption-failed", 4: "need-authentification", 5: "need-authorization"}}


def _icmp_timestamp(ms: int) -> str:
    """RFC 792's milliseconds since midnight UT as Scapy's ICMPTimeStampField prints them
    (hours not wrapped: a value past a day shows as more than 24 hours)."""
    sec, milli = divmod(ms, 1000)
    minutes, sec = divmod(sec, 60)
    hours, minutes = divmod(minutes, 60)
    return "%d:%d:%d.%d" % (hours, minutes, sec, milli)


# how ICMP's fields print, by name (others: the number)
_ICMP_FIELD_TEXT: dict[str, Callable[[Any], str]] = {
    "chksum": _hex, "id": _hex, "seq": _hex, "gw": str, "addr_mask": str, "extpad": repr,
    "ts_ori": _icmp_timestamp, "ts_rx": _icmp_timestamp, "ts_tx": _icmp_timestamp}


def _icmp_fields_node(cls: str, title: str, fields: dict[str, Any]) -> _Node | None:
    """An ICMP or ICMPerror layer from fastpkt._scapy_model's fields of it (Scapy's order),
    or None for a header cut short (Scapy's Raw)."""
    t = fields["type"]
    if "unused" not in fields:
        return None
    out = [_f("type", t, _enum(_ICMP_TYPES, t)),
           _f("code", fields["code"], _enum(_ICMP_CODES.get(t, {}), fields["code"]))]
    for name, v in list(fields.items())[2:]:
        if name == "ext":
            if v is None:
                out.append(_f("ext", None, "None"))
                continue
            chain = _held_chain(v)
            if chain is None:
                return None
            out.append(("ext", tuple(chain), None, True))
        else:
            out.append(_f(name, v, repr(v) if isinstance(v, bytes) else _ICMP_FIELD_TEXT.get(name, str)(v)))
    if "extpad" in fields and "ext" not in fields:   # not read (under 144 bytes): its default
        out.append(_f("ext", None, "None", False))
    return _Node(cls, title, out)


def _icmp_error(nodes: list[_Node], body: bytes, padding: bytes, l3_addrs: tuple[str, str]) -> bool:
    """An ICMP error (RFC 792) and the datagram it quotes (IPerror, TCPerror, UDPerror,
    ICMPerror) with its RFC 4884 extension, as the facade reads them; False where a layer
    is not rendered here."""
    from fastpkt import _scapy_model as m

    if len(body) < 8:
        return False
    fields = m._icmp_header_fields(body[:8])
    if body[0] in m._ICMP_EXT_TYPES:
        fields.update(m._icmp_trailer(body, b""))
    node = _icmp_fields_node("ICMP", "ICMP", fields)
    if node is None:
        return False
    nodes.append(node)
    chain: list[Any] = []
    if len(body) > 8:
        m._quoted_datagram(body[0], body[8:], chain)
    for layer in chain:
        quoted = _quoted_node(layer)
        if quoted is None:
            return False
        nodes.append(quoted)
    _tail(nodes, b"", padding)
    if fields.get("ext") is not None:
        # Scapy's post-dissection, once per ICMP layer, moves the last Padding into the
        # outer ICMP's extpad (the last one moved is its value)
        for _ in range(sum(1 for n in nodes if n.cls in ("ICMP", "ICMPerror"))):
            if nodes[-1].cls == "Padding":
                _set_text(node, "extpad", nodes.pop().value("load"), _extpad)
    ext = node.by_name.get("ext")
    more = ""
    if ext is not None and ext[1] is not None:
        held = ext[1][1] if len(ext[1]) > 1 else None
        more = " ext:%s" % (held.text("classnum") if held is not None and "classnum" in held.by_name else "??")
    node.summary = "ICMP %s > %s %s %s%s" % (l3_addrs[0], l3_addrs[1], node.text("type"),
                                            node.text("code"), more)
    return True


# RFC 792's timestamp and information messages and RFC 950's address mask: Scapy's ICMP
# with id and seq, then the timestamps or the mask
_ICMP_QUERY_TYPES = frozenset(range(13, 19))


def _icmp_query(nodes: list[_Node], body: bytes, l3_addrs: tuple[str, str]) -> None:
    """A timestamp, information or address mask request or reply and the Raw after its
    header; a header the bytes end inside is Raw (Scapy's ICMP fails to read it)."""
    from fastpkt import _scapy_model as m

    hlen = 8 + m._ICMP_EXTRA.get(body[0], 0)
    node = _icmp_fields_node("ICMP", "ICMP", m._icmp_header_fields(body[:hlen])) if len(body) >= hlen else None
    if node is None:
        _tail(nodes, body, b"")
        return
    node.summary = "ICMP %s > %s %s %s" % (l3_addrs[0], l3_addrs[1], node.text("type"), node.text("code"))
    nodes.append(node)
    _tail(nodes, body[hlen:], b"")


def _quoted_node(layer: Any) -> _Node | None:
    """A layer of an ICMP error's quote: IPerror (without options), ICMPerror, TCPerror,
    UDPerror (their summaries are Scapy's plain class names), Raw, Padding."""
    cls = type(layer).__name__
    if cls == "IPerror":
        inner = _Packet(layer._data, 101, decapsulate=False)   # an IP in IP quote: the outer header
        ip = inner.ip
        if ip is None or ip.ihl != 5:
            return None
        node = _ip(ip, layer._data)
        node.cls, node.title = "IPerror", "IP in ICMP"
        return node
    if cls == "ICMPerror":
        return _icmp_fields_node("ICMPerror", "ICMP in ICMP", layer._fields)
    return _layer_node(layer)


def _txt_strings(raw: bytes) -> list[bytes] | None:
    out, i = [], 0
    while i < len(raw):
        n = raw[i]
        if i + 1 + n > len(raw):
            return None
        out.append(raw[i + 1:i + 1 + n])
        i += 1 + n
    return out


def _rr_head(rr: Any, cacheflush: bool = True) -> list[tuple[str, Any, Any, bool]]:
    name = _dns_name(rr.rrname)
    rclass = rr.rclass & 0x7FFF if cacheflush else rr.rclass
    head = [_f("rrname", name, repr(name)), _f("type", rr.type, _enum(_DNS_TYPES, rr.type))]
    if cacheflush:
        head.append(_f("cacheflush", rr.rclass >> 15))
    head += [_f("rclass", rclass, _enum(_DNS_CLASSES, rclass)), _f("ttl", rr.ttl),
             _f("rdlen", None, "None", False)]
    return head


def _rr(rr: Any) -> _Node | None:
    """A resource record as Scapy's class for its type, or None for one not rendered here."""
    t, text, raw_rd = rr.type, rr.rdata, rr.rdata_raw
    if t in (1, 28):
        return _Node("DNSRR", "DNS Resource Record", _rr_head(rr) + [_f("rdata", text)])
    if t in (2, 5, 12):
        name = _dns_name(text)
        return _Node("DNSRR", "DNS Resource Record", _rr_head(rr) + [_f("rdata", name, repr(name))])
    if t == 16:
        strings = _txt_strings(raw_rd)
        if strings is None:
            return None
        return _Node("DNSRR", "DNS Resource Record",
                     _rr_head(rr) + [_f("rdata", strings, repr(strings))])
    if t == 15 and len(raw_rd) >= 3:
        pref, _, exch = text.partition(" ")
        name = _dns_name(exch)
        return _Node("DNSRRMX", "DNS MX Resource Record", _rr_head(rr) + [
            _f("preference", int(pref)), _f("exchange", name, repr(name))])
    if t == 33 and len(raw_rd) >= 7:
        prio, weight, port, target = text.split(" ", 3)
        name = _dns_name(target)
        return _Node("DNSRRSRV", "DNS SRV Resource Record", _rr_head(rr) + [
            _f("priority", int(prio)), _f("weight", int(weight)), _f("port", int(port)),
            _f("target", name, repr(name))])
    if t == 6 and len(raw_rd) >= 22:
        mname, rname, *nums = text.split(" ")
        if len(nums) != 5:
            return None
        m, r = _dns_name(mname), _dns_name(rname)
        return _Node("DNSRRSOA", "DNS SOA Resource Record", _rr_head(rr, cacheflush=False) + [
            _f("mname", m, repr(m)), _f("rname", r, repr(r))] + [
            _f(k, int(v)) for k, v in zip(("serial", "refresh", "retry", "expire", "minimum"), nums)])
    if t == 41:
        from fastpkt._scapy_model import _edns_options

        z = rr.ttl & 0xFFFF
        name = _dns_name(rr.rrname)
        return _Node("DNSRROPT", "DNS OPT Resource Record", [
            _f("rrname", name, repr(name)), _f("type", 41, "OPT"),
            _f("rclass", rr.rclass, _enum(_DNS_CLASSES, rr.rclass)),
            _f("extrcode", rr.ttl >> 24), _f("version", rr.ttl >> 16 & 0xFF),
            _f("z", z, "D0" if z == 0x8000 else str(z)), _f("rdlen", None, "None", False),
            ("rdata", [_edns0_node(o) for o in _edns_options(raw_rd)], None, True)])
    return None


_EDNS0_CODES = {0: "Reserved", 1: "LLQ", 2: "UL", 3: "NSID", 4: "Owner", 5: "DAU", 6: "DHU",
                7: "N3U", 8: "edns-client-subnet", 10: "COOKIE", 12: "Padding",
                15: "Extended DNS Error"}
# RFC 6975's algorithm lists, by the IANA DNSSEC registries' names
_DNSSEC_ALGORITHMS = {
    0: "Reserved", 1: "RSA/MD5", 2: "Diffie-Hellman", 3: "DSA/SHA-1", 4: "Reserved",
    5: "RSA/SHA-1", 6: "DSA-NSEC3-SHA1", 7: "RSASHA1-NSEC3-SHA1", 8: "RSA/SHA-256", 9: "Reserved",
    10: "RSA/SHA-512", 11: "Reserved", 12: "GOST R 34.10-2001", 13: "ECDSA Curve P-256 with SHA-256",
    14: "ECDSA Curve P-384 with SHA-384", 15: "Ed25519", 16: "Ed448",
    252: "Reserved for Indirect Keys", 253: "Private algorithms - domain name",
    254: "Private algorithms - OID", 255: "Reserved"}
_DS_DIGESTS = {0: "Reserved", 1: "SHA-1", 2: "SHA-256", 3: "GOST R 34.11-94", 4: "SHA-384"}
_NSEC3_HASHES = {0: "Reserved", 1: "SHA-1"}
# RFC 8914's info codes
_EDE_CODES = {
    0: "Other", 1: "Unsupported DNSKEY Algorithm", 2: "Unsupported DS Digest Type",
    3: "Stale Answer", 4: "Forged Answer", 5: "DNSSEC Indeterminate", 6: "DNSSEC Bogus",
    7: "Signature Expired", 8: "Signature Not Yet Valid", 9: "DNSKEY Missing",
    10: "RRSIGs Missing", 11: "No Zone Key Bit Set", 12: "NSEC Missing", 13: "Cached Error",
    14: "Not Ready", 15: "Blocked", 16: "Censored", 17: "Filtered", 18: "Prohibited",
    19: "Stale NXDOMAIN Answer", 20: "Not Authoritative", 21: "Not Supported",
    22: "No Reachable Authority", 23: "Network Error", 24: "Invalid Data",
    25: "Signature Expired before Valid", 26: "Too Early", 27: "Unsupported NSEC3 Iterations Value",
    28: "Unable to conform to policy", 29: "Synthesized"}


def _enum_list(table: dict[int, str]) -> Callable[[Any], str]:
    return lambda v: "[%s]" % ", ".join(_enum(table, x) for x in v)   # FieldListField


# how each EDNS0 option class's fields print (others: repr of the value)
_EDNS0_FIELDS: dict[str, dict[str, Callable[[Any], str]]] = {
    "EDNS0OWN": {"primary_mac": str, "wakeup_mac": str},
    "EDNS0DAU": {"alg_code": _enum_list(_DNSSEC_ALGORITHMS)},
    "EDNS0DHU": {"alg_code": _enum_list(_DS_DIGESTS)},
    "EDNS0N3U": {"alg_code": _enum_list(_NSEC3_HASHES)},
    "EDNS0COOKIE": {"client_cookie": bytes.hex, "server_cookie": bytes.hex},
    "EDNS0ExtendedDNSError": {"info_code": lambda v: _enum(_EDE_CODES, v)},
}


def _edns0_node(option: Any) -> _Node:
    """One EDNS0 option (fastpkt._scapy_model's record) or the Raw Scapy keeps unread bytes in."""
    cls = type(option).__name__
    if cls == "Raw":
        return _raw_node(cls, option.load)
    fmts = _EDNS0_FIELDS.get(cls, {})
    values = option._values
    fields = [_f("optcode", values["optcode"], _enum(_EDNS0_CODES, values["optcode"]))]
    for name in type(option)._fields[1:]:
        if name in values:   # a field its condition leaves out is not shown
            v = values[name]
            fields.append(_f(name, v, fmts[name](v) if name in fmts else repr(v)))
    return _Node(cls, option.name, fields)


def _dns(dns: Any) -> _Node | None:
    if dns.malformed:
        return None
    fields = [
        _f("id", dns.id), _f("qr", dns.qr), _f("opcode", dns.opcode, _enum(_DNS_OPCODES, dns.opcode)),
        _f("aa", dns.aa), _f("tc", dns.tc), _f("rd", dns.rd), _f("ra", dns.ra), _f("z", dns.z),
        _f("ad", dns.ad), _f("cd", dns.cd), _f("rcode", dns.rcode, _enum(_DNS_RCODES, dns.rcode)),
        _f("qdcount", dns.qdcount), _f("ancount", dns.ancount), _f("nscount", dns.nscount),
        _f("arcount", dns.arcount)]
    if (len(dns.qd), len(dns.an), len(dns.ns), len(dns.ar)) != (
            dns.qdcount, dns.ancount, dns.nscount, dns.arcount):
        return None
    qd = []
    for q in dns.qd:
        name = _dns_name(q.qname)
        qclass = q.qclass & 0x7FFF
        qd.append(_Node("DNSQR", "DNS Question Record", [
            _f("qname", name, repr(name)), _f("qtype", q.qtype, _enum(_DNS_QTYPES, q.qtype)),
            _f("unicastresponse", q.qclass >> 15),
            _f("qclass", qclass, _enum(_DNS_CLASSES, qclass))]))
    fields.append(("qd", qd, None, True))
    sections: tuple[Any, ...] = (dns.an, dns.ns, dns.ar)
    if any(rr.type == 41 and len(rr.rdata_raw) > 400 for section in sections for rr in section):
        # an OPT record Scapy may fail to read: it and the rest of the message one Raw
        from fastpkt import _scapy_model

        sections = tuple(_scapy_model._sections_as_read((dns.qd, *sections), lambda: bytes(dns))[1:])
    for which, section in zip(("an", "ns", "ar"), sections):
        nodes = []
        for rr in section:
            node = _raw_node("Raw", rr.load) if type(rr).__name__ == "Raw" else _rr(rr)
            if node is None:
                return None
            nodes.append(node)
        fields.append((which, nodes, None, True))
    node = _Node("DNS", "DNS", fields)
    node.summary = _dns_summary(node)
    return node


def _dns_summary(node: _Node) -> str:
    name = ""
    if node.value("qr"):
        kind = "Ans"
        an = node.value("an")
        if an and an[0].cls == "DNSRR":
            name = " %s" % (an[0].value("rdata"),)
        elif node.value("rcode") != 0:
            name = " " + node.text("rcode")
    else:
        kind = "Qry"
        qd = node.value("qd")
        if qd:
            name = " %s" % (qd[0].value("qname"),)
    return "DNS %s%s" % (kind, name)


def _ip_text(node: _Node) -> str:
    s = "%s > %s %s" % (node.text("src"), node.text("dst"), node.text("proto"))
    return s + (" frag:%i" % node.value("frag") if node.value("frag") else "")


_LOOPBACK_TYPES = {2: "IPv4", 7: "OSI", 16: "Appletalk", 23: "Netware IPX/SPX", 24: "IPv6",
                   28: "IPv6", 30: "IPv6"}
_COOKED_TYPES = {0: "unicast", 1: "broadcast", 2: "multicast", 3: "unicast-to-another-host",
                 4: "sent-by-us"}
# what Scapy decodes above a cooked header besides IPv4, IPv6 and ARP
_SCAPY_COOKED_PROTOS = {122, 0x8100, 1, 0x888E, 23, 0x8863, 0x8864}


def _cooked(nodes: list[_Node], pkt: Any, data: bytes) -> bool:
    """Linux cooked v1/v2 header as Scapy's CookedLinux(V2): True when IPv4/IPv6/ARP follow
    as fastpkt decoded them; False with a Raw node (an undecoded protocol) or none (leave
    the packet to Scapy)."""
    v2 = pkt.linktype == 276
    hlen = 20 if v2 else 16
    if len(data) < hlen:
        return False
    ethertypes = _names().ethertypes
    if v2:
        proto, reserved, ifindex, hatype, pkttype, halen = struct.unpack_from("!HHIHBB", data)
        src = data[12:20]
        nodes.append(_Node("CookedLinuxV2", "cooked linux v2", [
            _f("proto", proto, _enum(ethertypes, proto, _hex)), _f("reserved", reserved),
            _f("ifindex", ifindex), _f("lladdrtype", hatype, _hex(hatype)),
            _f("pkttype", pkttype, _enum(_COOKED_TYPES, pkttype)), _f("lladdrlen", halen),
            _f("src", src, repr(src.rstrip(b"\0")))]))   # Scapy shows it without its NUL tail
    else:
        pkttype, hatype, halen = struct.unpack_from("!HHH", data)
        src = data[6:14]
        proto = struct.unpack_from("!H", data, 14)[0]
        nodes.append(_Node("CookedLinux", "cooked linux", [
            _f("pkttype", pkttype, _enum(_COOKED_TYPES, pkttype)),
            _f("lladdrtype", hatype, _hex(hatype)), _f("lladdrlen", halen),
            _f("src", src, repr(src.rstrip(b"\0"))),
            _f("proto", proto, _enum(ethertypes, proto, _hex))]))
    if proto == 0x0806:
        arp = pkt.arp
        node = _arp(arp) if arp is not None and arp.offset == hlen else None
        if node is None:
            return False
        nodes.append(node)
        _arp_summary(node, arp)
        _tail(nodes, b"", data[hlen + 28:])
        return False
    first = pkt.ip if proto == 0x0800 else pkt.ip6 if proto == 0x86DD else None
    if first is not None and first.offset == hlen:
        return True
    if proto in (0x0800, 0x86DD) or proto in _SCAPY_COOKED_PROTOS:
        return False
    _tail(nodes, data[hlen:], b"")
    return False


def _arp_summary(node: _Node, arp: Any) -> None:
    node.summary = (
        "ARP who has %s says %s" % (arp.pdst, arp.psrc) if arp.op == 1 else
        "ARP is at %s says %s" % (arp.hwsrc, arp.psrc) if arp.op == 2 else
        "ARP %s %s > %s" % (node.text("op"), arp.psrc, arp.pdst))


def describe(pkt: Any) -> list[_Node] | None:
    """The layers of a fastpkt Packet as Scapy dissects them, or None when Scapy would
    decode something not rendered here (see the module docstring)."""
    if type(pkt) is not _Packet or pkt.tunnels:
        # the facade's packets: fastpkt's own views; a tunnel's outer headers, as Scapy's
        pkt = _Packet(bytes(pkt), pkt.linktype, pkt.time, pkt.wirelen, decapsulate=False)
    data = bytes(pkt)
    nodes: list[_Node] = []
    lt = pkt.linktype
    end = len(data)
    if lt == 1:
        eth = pkt.eth
        if eth is None:
            return None
        if eth.type <= 1500:   # 802.3: Dot3 and LLC
            return _llc_nodes(nodes, lambda chain: _layers().dot3(data, chain), data[14:], eth.type)
        nodes.append(_ether(eth))
        ethertype = eth.type
        for tag in pkt.vlans:
            if tag.tpid not in (0x8100, 0x88A8):
                return None
            nodes.append(_dot1q(tag))
            if tag.type <= 1500:   # a length: LLC follows, as under Dot3
                if tag is not pkt.vlans[-1]:
                    return None
                body = data[tag.offset + 4:]
                llc = _llc_nodes(nodes, lambda chain: _layers().llc_within(body, tag.type, chain),
                                 body, tag.type)
                return None if llc is None else _l2_summaries(llc)
            ethertype = tag.type
        prev = nodes[-1]
        if ethertype == 0x0800 and pkt.ip is not None:
            pass
        elif ethertype == 0x86DD and pkt.ip6 is not None:
            pass
        elif ethertype == 0x0806 and pkt.arp is not None:
            arp = _arp(pkt.arp)
            if arp is None:
                return None
            nodes.append(arp)
            _arp_summary(arp, pkt.arp)
            _tail(nodes, b"", data[pkt.arp.offset + 28:])
            return nodes
        elif ethertype == 0x8864:
            start = 14 if prev is nodes[0] else pkt.vlans[-1].offset + 4
            return _l2_summaries(nodes) if _pppoe(nodes, data[start:]) else None
        elif ethertype == 0x8863:
            start = 14 if prev is nodes[0] else pkt.vlans[-1].offset + 4
            return _l2_summaries(nodes) if _pppoed(nodes, data[start:]) else None
        elif ethertype == 0x888E:
            start = 14 if prev is nodes[0] else pkt.vlans[-1].offset + 4
            eapol = _read_layers(nodes, lambda chain: _layers().eapol(data[start:], chain))
            return None if eapol is None else _l2_summaries(eapol)
        else:
            start = prev is nodes[0] and 14 or pkt.vlans[-1].offset + 4
            if ethertype in (0x0800, 0x86DD, 0x0806, 0x8100) or ethertype in _SCAPY_ETHERTYPES:
                if end - start >= _HEADER_LEN.get(ethertype, 0):
                    return None
                # a header cut short: Scapy's dissection of it fails, the rest is Raw
            _tail(nodes, data[start:], b"")
            return _l2_summaries(nodes)
    elif lt in (113, 276):
        if not _cooked(nodes, pkt, data):
            # PPPoE: Scapy's chain read here, as after Ethernet
            proto = nodes[0].value("proto") if nodes else None
            if proto in (0x8863, 0x8864):
                body = data[20 if lt == 276 else 16:]
                return nodes if (_pppoe if proto == 0x8864 else _pppoed)(nodes, body) else None
            return nodes if nodes and nodes[-1].cls == "Raw" else None
    elif lt == 0:
        if len(data) < 4:
            return None
        family = data[0]   # Scapy reads the word big-endian and keeps its top byte
        nodes.append(_Node("Loopback", "Loopback", [
            _f("type", family, _enum(_LOOPBACK_TYPES, family))]))
        if family not in (0, 2, 10):   # the families Scapy decodes (AF_INET6 as Linux's)
            _tail(nodes, data[4:], b"")
            return nodes
        first = pkt.ip if family != 10 else pkt.ip6
        if first is None or first.offset != 4:
            return None
    elif lt in (9, 50, 51, 204):
        return nodes if _ppp_link(nodes, lt, data) else None
    elif lt not in (101, 228, 229, 12, 14):
        return None
    ip, ip6 = pkt.ip, pkt.ip6
    if ip is not None and (ip6 is None or ip.offset < ip6.offset):
        if ip.ihl != 5 or ip.len < 20 or lt == 229:
            return None
        node = _ip(ip, data)
        nodes.append(node)
        node.summary = _ip_text(node)
        l4_start, l4_end = ip.offset + 20, min(end, ip.offset + ip.len)
        proto = ip.proto if ip.frag == 0 or ip.proto in _SCAPY_ANY_FRAGMENT else -1
    elif ip6 is not None:
        if ip6.plen == 0 or lt == 228:
            return None
        node = _ip6(ip6)
        nodes.append(node)
        node.summary = "%s > %s (%i)" % (ip6.src, ip6.dst, ip6.nh)
        l4_start, l4_end = ip6.offset + 40, min(end, ip6.offset + 40 + ip6.plen)
        proto = ip6.nh
        if ip6.ext_headers:
            # a later fragment (Scapy reads its payload as Raw); hop-by-hop and destination
            # options before ICMPv6 (MLD's router alert), TCP or UDP; other headers: Scapy's
            frag = _ip6_later_fragment(ip6, data, l4_start, l4_end)
            if frag is not None:
                nodes.append(frag)
                _tail(nodes, data[l4_start + 8:l4_end], data[l4_end:])
                return _l2_summaries(nodes)
            kinds = [h[0] for h in ip6.ext_headers]
            if any(k not in (0, 60) for k in kinds):
                return None
            first_ext = len(nodes)
            from fastpkt import _scapy_model

            upper = _read_layers(nodes, lambda chain: _scapy_model._ip6_extensions(ip6, chain))
            if upper is None:
                return None
            if nodes[-1].cls == "Raw":   # a header Scapy could not read, and the rest
                _tail(nodes, b"", data[l4_end:])
                return _l2_summaries(nodes)
            if nodes[-1].value("nh") in (6, 17):
                upper_at = l4_start + sum(8 * (n.value("len") + 1) for n in nodes[first_ext:])
                return _after_extensions(nodes, data, ip6.offset, ip6.plen, upper_at)
            if pkt.icmp6 is None:
                return None
            l4_start, proto = pkt.icmp6.offset, 58
        icmp6 = pkt.icmp6
        if proto == 58 and icmp6 is not None and icmp6.offset == l4_start and \
                icmp6.type not in (128, 129) and icmp6.type in _layers().DECODED:
            # ND, MLD, errors (with an RFC 4884 extension): read by _scapy_layers
            message = data[l4_start:l4_end]
            error: list[Any] = []
            read = _read_layers(nodes, lambda chain: error.append(_layers().icmp6(message, chain, -1)))
            if read is None:
                return None
            _tail(read, b"", data[l4_end:])
            if error[0] is not None and read[-1].cls == "Padding":
                # Scapy's post-dissection of an error that read an extension moves the last
                # Padding (the frame's, else the quote's) into its extpad
                node = next(n for n in read if n.cls == type(error[0]).__name__)
                _set_text(node, "extpad", read.pop().value("load"), _extpad)
            return _l2_summaries(read)
        if proto == 58:
            echo = _icmp6_echo(icmp6, data, l4_start, l4_end)
            if echo is None:
                return None
            nodes.append(echo)
            _tail(nodes, b"", data[l4_end:])
            return _l2_summaries(nodes)
        if proto not in (6, 17, 4, 41, 47):
            return None
    else:
        return None
    padding = data[l4_end:] if l4_end < end else b""
    if proto in (4, 41, 47):   # IP in IP/IPv6 (RFC 2003, 4213), GRE (RFC 2784, 2890)
        load = data[l4_start:l4_end]
        if not (_gre(nodes, load) if proto == 47 else _inner_ip(nodes, load, proto)):
            return None
        _tail(nodes, b"", padding)
        return _l2_summaries(nodes)
    if proto in _L4_HEADER_LEN and l4_end - l4_start < _L4_HEADER_LEN[proto] and \
            (pkt.tcp if proto == 6 else pkt.udp) is None:
        _tail(nodes, data[l4_start:l4_end], padding)   # Scapy's TCP/UDP fails: Raw
        return _l2_summaries(nodes)
    l3 = nodes[-1]
    l3_addrs = (l3.text("src"), l3.text("dst"))
    if proto == 6:
        tcp = pkt.tcp
        if tcp is None or tcp.offset != l4_start or (tcp.header_len > 20 and not tcp.options):
            return None   # options fastpkt could not parse: Scapy shows its own reading
        node = _tcp(tcp, data)
        nodes.append(node)
        node.summary = "TCP %s:%s > %s:%s %s" % (l3_addrs[0], node.text("sport"), l3_addrs[1],
                                               node.text("dport"), node.text("flags"))
        payload = data[l4_start + tcp.header_len:l4_end]
        if payload and not _app(nodes, pkt, _TCP_BINDS, tcp, payload, True):
            return None
    elif proto == 17:
        udp = pkt.udp
        if udp is None or udp.offset != l4_start:
            return None
        cut = udp.len > l4_end - l4_start and l4_end == end   # snaplen: Scapy reads what is there
        if udp.len != l4_end - l4_start and not cut:
            return None
        node = _udp(udp)
        nodes.append(node)
        node.summary = "UDP %s:%s > %s:%s" % (l3_addrs[0], node.text("sport"), l3_addrs[1],
                                            node.text("dport"))
        payload = data[l4_start + 8:l4_end]
        if cut and _bound(_UDP_BINDS, udp.sport, udp.dport) in ("DNS", "LLMNR"):
            return None   # fastpkt's reading of a cut DNS message is not Scapy's
        if payload and not _app(nodes, pkt, _UDP_BINDS, udp, payload, False):
            return None
    elif proto == 1:
        if l4_end > l4_start and data[l4_start] in _ICMP_QUERY_TYPES:
            _icmp_query(nodes, data[l4_start:l4_end], l3_addrs)
            _tail(nodes, b"", padding)
            return _l2_summaries(nodes)
        icmp = pkt.icmp
        if icmp is None or icmp.offset != l4_start:
            return None
        if icmp.type in _ICMP_ERROR_TYPES:
            if not _icmp_error(nodes, data[l4_start:l4_end], padding, l3_addrs):
                return None
            return _l2_summaries(nodes)
        icmp_node = _icmp(icmp)
        if icmp_node is None:
            return None
        nodes.append(icmp_node)
        icmp_node.summary = "ICMP %s > %s %s %s" % (l3_addrs[0], l3_addrs[1],
                                                   icmp_node.text("type"), icmp_node.text("code"))
        _tail(nodes, data[l4_start + 8:l4_end], b"")
    elif proto in _SCAPY_IP_PROTOS:
        return None
    else:
        _tail(nodes, data[l4_start:l4_end], b"")
    _tail(nodes, b"", padding)
    return _l2_summaries(nodes)


def _app(nodes: list[_Node], pkt: Any, binds: list[tuple[dict[str, int], str]], l4: Any,
         payload: bytes, over_tcp: bool) -> bool:
    """The payload above TCP/UDP: DNS, Raw, or False when Scapy would decode another layer."""
    layer = _bound(binds, l4.sport, l4.dport)
    if layer is None:
        _tail(nodes, payload, b"")
        return True
    if layer == "VXLAN" and not over_tcp:
        return _vxlan(nodes, payload)
    if layer == "GRE" and not over_tcp:
        return _gre(nodes, payload)
    if layer in ("BOOTP", "NTP") and not over_tcp:
        return _read_layers(nodes, lambda chain: _layers().udp_app(l4, payload, chain)) is not None
    if layer == "DNS" and over_tcp:
        return _dns_tcp(nodes, pkt.dns, payload)
    if layer == "LLMNR" and not over_tcp:
        return _llmnr(nodes, pkt.dns, payload)
    if layer != "DNS" or pkt.dns is None:
        return False
    from fastpkt._scapy_model import dns_as_read

    end = dns_as_read(payload)[0]   # Raw past 100 records in a section, or after the records
    if end < 0:
        _tail(nodes, payload, b"")
        return True
    node = _dns(pkt.dns)
    if node is None:
        return False
    if l4.dport == 5353:
        node.summary = "m" + node.summary
    nodes.append(node)
    _tail(nodes, payload[end:], b"")
    return True


_LLMNR_OPCODES = {0: "QUERY"}


def _llmnr(nodes: list[_Node], dns: Any, payload: bytes) -> bool:
    """LLMNR (RFC 4795) as Scapy's scapy.layers.llmnr reads a UDP port-5355 datagram: by its
    dispatch on the QR bit, LLMNRQuery or LLMNRResponse, DNS's header with LLMNR's names
    for its bits (c, t, a 4-bit z) and DNS's records; a 1-byte datagram its dispatch class
    and Raw, 2 to 11 bytes Raw. False where the records are not rendered here."""
    if len(payload) < 12:
        if len(payload) == 1:
            nodes.append(_Node("_LLMNR", "_LLMNR", []))
        _tail(nodes, payload, b"")
        return True
    if dns is None:
        return False
    from fastpkt._scapy_model import dns_as_read

    end = dns_as_read(payload)[0]
    if end < 0:   # more records in a section than Scapy's lists take: Raw
        _tail(nodes, payload, b"")
        return True
    node = _dns(dns)
    if node is None:
        return False
    cls = "LLMNRResponse" if dns.qr else "LLMNRQuery"
    z = dns.ra << 3 | dns.z << 2 | dns.ad << 1 | dns.cd
    fields = [_f("id", dns.id), _f("qr", dns.qr),
              _f("opcode", dns.opcode, _enum(_LLMNR_OPCODES, dns.opcode)),
              _f("c", dns.aa), _f("tc", dns.tc), _f("t", dns.rd), _f("z", z)]
    fields += [f for f in node.fields if f[0] not in _DNS_HEADER_BITS]
    llmnr = _Node(cls, "Link Local Multicast Node Resolution - " + cls[5:], fields)
    llmnr.summary = _llmnr_summary(llmnr)
    llmnr.needs = ("UDP",)
    nodes.append(llmnr)
    _tail(nodes, payload[end:], b"")
    return True


_DNS_HEADER_BITS = frozenset(("id", "qr", "opcode", "aa", "tc", "rd", "ra", "z", "ad", "cd"))


def _llmnr_summary(node: _Node) -> str:
    """Scapy's LLMNRQuery.mysummary: who has the first question's name, or where the first
    answer says it is."""
    if node.value("qr"):
        an = node.value("an")
        if an and an[0].cls == "DNSRR":
            return "%s '%s' is at '%s'" % (node.cls, an[0].value("rrname").decode(errors="backslashreplace"),
                                           an[0].value("rdata"))
    else:
        qd = node.value("qd")
        if qd and qd[0].cls == "DNSQR":
            return "%s who has '%s'" % (node.cls, qd[0].value("qname").decode(errors="backslashreplace"))
    return node.cls + " [malformed]"


def _dns_tcp(nodes: list[_Node], dns: Any, payload: bytes) -> bool:
    """DNS over TCP as Scapy reads the segment's data (fastpkt._scapy_model.dns_over_tcp):
    Raw, or DNS with its ``length`` first and a Raw for what follows its records. False where
    Scapy reads a record otherwise (cut, failing)."""
    from fastpkt._scapy_model import dns_alone, dns_over_tcp

    end, clean = dns_over_tcp(payload)
    if end < 0:
        _tail(nodes, payload, b"")
        return True
    if clean and dns is not None and dns.malformed:   # fastpkt's message ends inside a record
        dns = dns_alone(payload[2:end])
    node = _dns(dns) if clean and dns is not None else None
    if node is None:
        return not clean and _dns_tcp_failing(nodes, payload)
    length = int.from_bytes(payload[:2], "big")
    nodes.append(_Node("DNS", "DNS", [_f("length", length)] + node.fields, node.summary))
    _tail(nodes, payload[end:], b"")
    return True


def _after_extensions(nodes: list[_Node], data: bytes, ip6_at: int, plen: int, upper_at: int) -> list[_Node] | None:
    """TCP or UDP (and what it carries) after IPv6 hop-by-hop or destination options: described
    as the IPv6 packet without them would be, the transport's summary without addresses
    (Scapy's names them only right above IP or IPv6)."""
    head = bytearray(data[ip6_at:ip6_at + 40])
    head[4:6] = max(plen - (upper_at - ip6_at - 40), 0).to_bytes(2, "big")
    head[6] = nodes[-1].value("nh")
    inner = describe(_Packet(bytes(head) + data[upper_at:], 101, decapsulate=False))
    if inner is None or len(inner) < 2:
        return None
    l4 = inner[1]
    if l4.cls == "TCP":
        l4.summary = "TCP %s > %s %s" % (l4.text("sport"), l4.text("dport"), l4.text("flags"))
    elif l4.cls == "UDP":
        l4.summary = "UDP %s > %s" % (l4.text("sport"), l4.text("dport"))
    nodes += inner[1:]
    return _l2_summaries(nodes)


def _dns_tcp_failing(nodes: list[_Node], payload: bytes) -> bool:
    """DNS over TCP whose data ends inside a record: a segment up to 2 bytes short of its
    length prefix (Scapy's pre_dissect counts the prefix in the data), or an address record's
    rdata too short. Where Scapy fails to read that record, its list field holds a Raw of the
    data from that record on; where it reads a part of it (a name, TXT string or other rdata
    cut short: fastpkt._scapy_model.dns_cut), the record with those values. The later
    sections are empty, the records before are as fastpkt reads the message up to it. False
    where fastpkt cannot read the records before, or renders no such record."""
    from fastpkt._scapy_model import dns_alone, dns_cut

    msg = payload[2:]
    failing = _dns_failing_record(msg)
    if failing is None:
        cut = dns_cut(msg)
        if cut is None:
            return False
        before = cut[0]
    else:
        section, start, whole = failing
        head = [int.from_bytes(msg[4 + 2 * k:6 + 2 * k], "big") if k < section else whole if k == section else 0
                for k in range(4)]
        before = msg[:4] + b"".join(c.to_bytes(2, "big") for c in head) + msg[12:start]
    dns = dns_alone(before)
    node = _dns(dns) if dns is not None and not dns.malformed else None
    if node is None:
        return False
    for k, name in enumerate(("qdcount", "ancount", "nscount", "arcount")):
        node.by_name[name] = _f(name, int.from_bytes(msg[4 + 2 * k:6 + 2 * k], "big"))
    node.fields = [node.by_name[f[0]] if f[0] in node.by_name else f for f in node.fields]
    if failing is not None:
        node.value(("qd", "an", "ns", "ar")[failing[0]]).append(_raw_node("Raw", msg[failing[1]:]))
        first = node.value("qd")
        node.summary = "DNS Qry" if not node.value("qr") and first and first[0].cls == "Raw" else _dns_summary(node)
    nodes.append(_Node("DNS", "DNS", [_f("length", int.from_bytes(payload[:2], "big"))] + node.fields,
                       node.summary))
    return True


def _dns_failing_record(msg: bytes) -> tuple[int, int, int] | None:
    """The record of a DNS message Scapy's list field fails on, reading its header's counts
    through the bytes (fastpkt._scapy_model.dns_as_read's walk): (section 0-3, its offset,
    the records before it in its section); None where every record is read, or the one
    cut short is read in part (rdata of a name, TXT, MX, SRV or another type). Scapy fails
    a question or a record's fixed part cut short, an A or AAAA rdata shorter than the
    address, and an SOA cut before the end of its five numbers."""
    size, pos = len(msg), 12
    for k in range(4):
        count = int.from_bytes(msg[4 + 2 * k:6 + 2 * k], "big")
        read = 0
        while pos < size and read < count:
            start, i = pos, pos
            while i < size and msg[i] and not msg[i] & 0xC0:
                i += 1 + msg[i]
            i += 2 if i < size and msg[i] else 1
            if i + (10 if k else 4) > size:
                return k, start, read
            if not k:
                pos, read = i + 4, read + 1
                continue
            rtype, rdlen = int.from_bytes(msg[i:i + 2], "big"), int.from_bytes(msg[i + 8:i + 10], "big")
            need = {1: 4, 28: 16}.get(rtype)
            pos = i + 10 + rdlen
            if rtype == 41 and rdlen > 400:
                return None   # an OPT record Scapy may fail on as a whole (_dns's overflow)
            if need is not None and min(rdlen, size - i - 10) < need:
                return k, start, read
            if rtype == 6 and pos > size:   # DNSRRSOA: two names, then five 4-byte fields
                j = i + 10
                for _ in range(2):
                    while j < size and msg[j] and not msg[j] & 0xC0:
                        j += 1 + msg[j]
                    j += 2 if j < size and msg[j] else 1
                if j + 20 > size:
                    return k, start, read
            if pos > size:
                return None
            read += 1
    return None


def _layers() -> Any:
    from fastpkt import _scapy_layers

    return _scapy_layers


def _read_layers(nodes: list[_Node], read: Callable[[list[Any]], Any]) -> list[_Node] | None:
    """Append to ``nodes`` the layers ``read`` puts in a chain (fastpkt._scapy_layers' walks);
    ``nodes``, or None when one of them is not rendered here."""
    chain: list[Any] = []
    read(chain)
    for layer in chain:
        node = _layer_node(layer)
        if node is None:
            return None
        nodes.append(node)
    return nodes


def _llc_nodes(nodes: list[_Node], read: Callable[[list[Any]], Any], body: bytes,
               length: int) -> list[_Node] | None:
    """LLC and what it carries in the first ``length`` bytes of ``body`` (after Dot3 or an
    802.1Q tag, which ``read`` also reads); a packet SNAP carries is described as fastpkt
    reads it (an Ethernet frame, or an EtherType's protocol given a header to read it)."""
    chain: list[Any] = []
    read(chain)
    for layer in chain:
        node = _layer_node(layer)
        if node is None:
            break   # the first layer SNAP carries
        nodes.append(node)
    else:
        return nodes
    code = nodes[-1].value("code") if nodes[-1].cls == "SNAP" else None
    inner = body[:length][8:]
    if code == 1:
        carried = describe(_Packet(inner, 1, decapsulate=False))
    elif code in (0x0800, 0x86DD, 0x0806):
        carried = _carried(inner, code)
    else:
        return None
    if carried is None:
        return None
    nodes += carried
    _tail(nodes, b"", body[length:])
    return nodes


def _carried(inner: bytes, ethertype: int) -> list[_Node] | None:
    """The layers of a protocol an EtherType names (after SNAP or GRE), described as fastpkt
    reads them: given an Ethernet header, which is then left out."""
    frame = b"\0" * 12 + ethertype.to_bytes(2, "big") + inner
    carried = describe(_Packet(frame, 1, decapsulate=False))
    return carried[1:] if carried is not None and len(carried) > 1 else None


# the fixed part of the headers (by EtherType or IP protocol) that Scapy fails to read when the
# bytes end inside it, reading the rest as Raw
_HEADER_LEN = {0x0800: 20, 0x86DD: 40, 0x8100: 4, 0x88A8: 4, 0x6558: 14}
_L4_HEADER_LEN = {6: 20, 17: 8}


# the first class Scapy reads the packet a tunnel carries as, by how the tunnel names it
_INNER_CLASS = {4: "IP", 41: "IPv6", 0x0800: "IP", 0x86DD: "IPv6"}
_INNER_KIND = {4: 0x0800, 41: 0x86DD, 0x0800: 0x0800, 0x86DD: 0x86DD}


def _inner_ip(nodes: list[_Node], load: bytes, kind: int) -> bool:
    """An IPv4 or IPv6 packet inside IP or GRE (``kind``: the protocol or EtherType naming
    it): False unless fastpkt reads it as the class Scapy does (Scapy reads the class the
    outer header names whatever the version says)."""
    if len(load) < _HEADER_LEN[_INNER_KIND[kind]]:
        _tail(nodes, load, b"")
        return True
    inner = describe(_Packet(load, 101, decapsulate=False))
    if inner is None or inner[0].cls != _INNER_CLASS[kind]:
        return False
    nodes += inner
    return True


def _gre(nodes: list[_Node], load: bytes) -> bool:
    """GRE and what Scapy binds to its protocol: IP, IPv6, Ethernet (0x6558), 802.1Q, ARP;
    PPTP's enhanced GRE, a routing header, LLC and EAPOL by _gre_more; other protocols are
    Raw. False for what is left to Scapy."""
    if len(load) >= 4 and load[2:4] == b"\x88\x0b":
        return _gre_more(nodes, load)
    chain: list[Any] = []
    gre = _layers()._layer(_layers().GRE, load, chain)
    if gre is None:   # a header cut short: Scapy's dissection fails and the rest is Raw
        _tail(nodes, load, b"")
        return True
    node = _layer_node(gre)
    if node is None:
        return False
    nodes.append(node)
    rest = load[len(gre._data):]
    proto = gre._fields["proto"]
    if not rest:
        return True
    if proto in (0x6558, 0x8100) and len(rest) < _HEADER_LEN[proto]:
        _tail(nodes, rest, b"")
        return True
    if proto == 0x6558:
        carried = describe(_Packet(rest, 1, decapsulate=False))
    elif proto in (0x8100, 0x0806):
        carried = _carried(rest, proto)
        if carried is not None and carried[0].cls == "Dot1Q":   # its summary without Ether's
            carried[0].summary = "802.1q (%s) vlan %s" % (carried[0].text("type"),
                                                          carried[0].text("vlan"))
    elif proto in (122, 0x888E) or gre._fields["routing_present"]:
        del nodes[-1]
        return _gre_more(nodes, load)
    elif proto in (0x0800, 0x86DD):
        return _inner_ip(nodes, rest, proto)
    else:
        _tail(nodes, rest, b"")
        return True
    if carried is None or carried[0].cls != {0x6558: "Ether", 0x8100: "Dot1Q",
                                               0x0806: "ARP"}[proto]:
        return False
    nodes += carried
    return True


def _gre_more(nodes: list[_Node], load: bytes) -> bool:
    """PPTP's enhanced GRE (GRE_PPTP and its PPP frame), a routing header's entries
    (GRErouting, then Raw), LLC and EAPOL in GRE, as Scapy reads them. False for what is left
    to Scapy (what SNAP carries)."""
    layers = _layers()
    pptp = load[2:4] == b"\x88\x0b"
    chain: list[Any] = []
    gre = layers._layer(layers.GRE_PPTP if pptp else layers.GRE, load, chain)
    if gre is None:   # a header cut short: Scapy's dissection fails and the rest is Raw
        _tail(nodes, load, b"")
        return True
    if not _add(nodes, gre):
        return False
    rest, f = load[len(gre._data):], gre._fields
    if not rest:
        return True
    if f["proto"] == 122:
        return _read_layers(nodes, lambda c: layers._llc(rest, c)) is not None
    if f["routing_present"]:
        return _read_layers(nodes, lambda c: layers.gre_routing(rest, c)) is not None
    if f["proto"] == 0x888E:
        return _read_layers(nodes, lambda c: layers.eapol(rest, c)) is not None
    if f["proto"] in (0x0800, 0x86DD):
        return _inner_ip(nodes, rest, f["proto"])
    return _ppp(nodes, rest)   # PPTP carries a PPP frame, read as in PPPoE


def _add(nodes: list[_Node], layer: Any) -> bool:
    node = _layer_node(layer)
    if node is None:
        return False
    nodes.append(node)
    return True


def _pppoe(nodes: list[_Node], load: bytes) -> bool:
    """PPPoE's session stage (RFC 2516) as Scapy reads it: PPPoE, then its PPP frame."""
    layers = _layers()
    chain: list[Any] = []
    head = layers._layer(layers.PPPoE, load, chain)
    if head is None:
        _tail(nodes, load, b"")
        return True
    if not _add(nodes, head):
        return False
    rest = load[len(head._data):]
    if rest and head._fields["code"] != 0:   # discovery codes on 0x8864: Scapy stops at PPPoE
        _tail(nodes, rest, b"")
        return True
    return _ppp(nodes, rest)


def _pppoed(nodes: list[_Node], load: bytes) -> bool:
    """PPPoE discovery as Scapy reads it: PPPoED, its tags (or a PPP frame, or Raw) within
    its length, Padding after."""
    layers = _layers()
    chain: list[Any] = []
    head = layers._layer(layers.PPPoED, load, chain)
    if head is None:
        _tail(nodes, load, b"")
        return True
    if not _add(nodes, head):
        return False
    f = head._fields
    body, pad = load[6:6 + f["len"]], load[6 + f["len"]:]
    if body and f["type"] == 1 and layers._layer(layers.PPPoED_Tags, body, chain) is not None:
        if not _add(nodes, chain[-1]):
            return False
    elif body and f["type"] != 1 and f["code"] == 0:
        if not _ppp(nodes, body):
            return False
    else:   # no tags Scapy can read (more than 100, or another type): Raw
        _tail(nodes, body, b"")
    _tail(nodes, b"", pad)
    return True


def _ppp_link(nodes: list[_Node], linktype: int, data: bytes) -> bool:
    """A record of a PPP link type as Scapy's ``conf.l2types`` reads it (the walk of
    ``_scapy_layers.ppp_link``): PPPoE (51) as after Ethernet, HDLC (50) or DIR_PPP (204)
    then the PPP frame, or the PPP frame (9)."""
    if linktype == 51:
        return _pppoe(nodes, data)
    layers = _layers()
    head = {50: layers.HDLC, 204: layers.DIR_PPP}.get(linktype)
    if head is not None:
        first = layers._layer(head, data, [])
        if first is None:
            _tail(nodes, data, b"")
            return True
        if not _add(nodes, first):
            return False
        data = data[len(first._data):]
    return _ppp(nodes, data)


def _ppp(nodes: list[_Node], data: bytes) -> bool:
    """A PPP frame wherever Scapy binds PPP: HDLC's bytes when present, PPP, and the IPv4 or
    IPv6 packet, control protocol (LCP, IPCP, ECP, PAP, CHAP), EAP or Raw it carries. False
    where a layer is not rendered here."""
    layers = _layers()
    chain: list[Any] = []
    while data[:1] == b"\xff":
        hdlc = layers._layer(layers.HDLC, data, chain)
        if hdlc is None:
            _tail(nodes, data, b"")
            return True
        if not _add(nodes, hdlc):
            return False
        data = data[2:]
    if not data:
        return True
    ppp = layers._layer(layers.PPP, data, chain)
    if ppp is None:
        _tail(nodes, data, b"")
        return True
    if not _add(nodes, ppp):
        return False
    rest, proto = data[len(ppp._data):], ppp._fields["proto"]
    if rest and proto in layers.PPP_INNER:
        return _inner_ip(nodes, rest, layers.PPP_INNER[proto])
    if rest and proto in layers.PPP_CONTROL:
        return _read_layers(nodes, lambda chain: layers.PPP_CONTROL[proto](rest, chain)) is not None
    _tail(nodes, rest, b"")
    return True


# what VXLAN's NextProtocol says it carries (absent: 0) as Scapy reads it: Ethernet, IPv4, IPv6
_VXLAN_NEXT = {0: 0x6558, 3: 0x6558, 1: 0x0800, 2: 0x86DD}


def _vxlan(nodes: list[_Node], load: bytes) -> bool:
    """VXLAN (RFC 7348; GPE's NextProtocol and group policy's bits as Scapy reads them) and
    the packet it carries; another NextProtocol's payload is Raw."""
    chain: list[Any] = []
    vx = _layers()._layer(_layers().VXLAN, load, chain)
    if vx is None:
        _tail(nodes, load, b"")
        return True
    node = _layer_node(vx)
    if node is None:
        return False
    nodes.append(node)
    rest = load[len(vx._data):]
    kind = _VXLAN_NEXT.get(vx._fields.get("NextProtocol", 0))
    if not rest:
        return True
    if kind is None:
        _tail(nodes, rest, b"")
        return True
    if kind != 0x6558:
        return _inner_ip(nodes, rest, kind)
    if len(rest) < 14:
        _tail(nodes, rest, b"")
        return True
    carried = describe(_Packet(rest, 1, decapsulate=False))
    if carried is None or carried[0].cls != "Ether":
        return False
    nodes += carried
    return True


def _tail(nodes: list[_Node], raw: bytes, padding: bytes) -> None:
    if raw:
        nodes.append(_raw_node("Raw", raw))
    if padding:
        nodes.append(_raw_node("Padding", padding))


def _l2_summaries(nodes: list[_Node]) -> list[_Node]:
    """Ether's and 802.1Q's mysummary (used only when nothing above has one)."""
    eth = nodes[0]
    if eth.cls != "Ether":
        return nodes
    eth.summary = "%s > %s (%s)" % (eth.text("src"), eth.text("dst"), eth.text("type"))
    for i, node in enumerate(nodes[1:], 1):
        if node.cls == "Dot1AD":
            continue
        if node.cls != "Dot1Q":
            break
        if i == 1:
            node.summary = "802.1q %s > %s (%s) vlan %s" % (
                eth.text("src"), eth.text("dst"), node.text("type"), node.text("vlan"))
        else:
            node.summary = "802.1q (%s) vlan %s" % (node.text("type"), node.text("vlan"))
    return nodes


# ---------------------------------------------------------------- layers fastpkt has no view for
# The layers fastpkt._scapy_layers reads from bytes (ICMPv6 ND/MLD/errors, BOOTP/DHCP, NTP,
# 802.3/LLC/SNAP/STP) keep Scapy's fields in its order; here each class names how Scapy's
# i2repr shows a field (repr() unless listed) and what its mysummary() says.
def _lhex(v: Any, _f: Any = None) -> str:
    return hex(v) if isinstance(v, int) else str(v)


def _plain(v: Any, _f: Any = None) -> str:
    return str(v)


_Fmt = Callable[..., str]   # a field's i2repr: (value, the layer's fields) -> text


def _by_name(table: dict[Any, str]) -> _Fmt:
    def text(v: Any, _f: Any = None) -> str:
        return table[v] if v in table else repr(v)
    return text


def _ip6_text(v: Any, _f: Any = None) -> str:
    """IP6Field's i2repr: a Teredo address (2001::/32) or a 6to4 one (2002::/16) shows what
    it embeds."""
    b = socket.inet_pton(socket.AF_INET6, v)
    if b[:4] == b"\x20\x01\0\0":
        x = bytes(c ^ 0xFF for c in b[10:16])
        return "%s [Teredo srv: %s cli: %s:%s]" % (v, socket.inet_ntoa(b[4:8]), socket.inet_ntoa(x[2:6]),
                                                  int.from_bytes(x[:2], "big"))
    if b[:2] == b"\x20\x02":
        return "%s [6to4 GW: %s]" % (v, socket.inet_ntoa(b[2:6]))
    return str(v)


def _ip6_list(v: Any, _f: Any = None) -> str:
    return "[ %s ]" % ", ".join(v)


def _fixed_str(v: Any, _f: Any = None) -> str:   # StrFixedLenField: NULs at the end hidden
    return repr(v.rstrip(b"\0"))


def _hex_str(v: Any, _f: Any = None) -> str:   # XStrField
    return bytes(v).hex()


_ICMP6_TYPES = {
    1: "Destination unreachable", 2: "Packet too big", 3: "Time exceeded", 4: "Parameter problem",
    100: "Private Experimentation", 101: "Private Experimentation", 128: "Echo Request",
    129: "Echo Reply", 130: "MLD Query", 131: "MLD Report", 132: "MLD Done",
    133: "Router Solicitation", 134: "Router Advertisement", 135: "Neighbor Solicitation",
    136: "Neighbor Advertisement", 137: "Redirect Message", 138: "Router Renumbering",
    139: "ICMP Node Information Query", 140: "ICMP Node Information Response",
    141: "Inverse Neighbor Discovery Solicitation Message",
    142: "Inverse Neighbor Discovery Advertisement Message", 143: "MLD Report Version 2",
    144: "Home Agent Address Discovery Request Message",
    145: "Home Agent Address Discovery Reply Message", 146: "Mobile Prefix Solicitation",
    147: "Mobile Prefix Advertisement", 148: "Certification Path Solicitation",
    149: "Certification Path Advertisement", 151: "Multicast Router Advertisement",
    152: "Multicast Router Solicitation", 153: "Multicast Router Termination",
    155: "RPL Control Message", 200: "Private Experimentation", 201: "Private Experimentation"}
_ND_PREFERENCE = {0: "Medium (default)", 1: "High", 2: "Reserved", 3: "Low"}
_ICMP6_TYPE: dict[str, _Fmt] = {"type": _by_name(_ICMP6_TYPES), "cksum": _lhex}
_ICMP6_UNREACH = {**_ICMP6_TYPE, "unused": _lhex, "code": _by_name({
    0: "No route to destination", 1: "Communication with destination administratively prohibited",
    2: "Beyond scope of source address", 3: "Address unreachable", 4: "Port unreachable"})}
_ML = {**_ICMP6_TYPE, "mladdr": _ip6_text}
_OPT_LL: dict[str, _Fmt] = {"lladdr": _plain}
_BOOTP_OPS = {1: "BOOTREQUEST", 2: "BOOTREPLY"}
_BOOTP_HTYPES = {
    1: "Ethernet (10Mb)", 2: "Ethernet (3Mb)", 3: "AX.25", 4: "Proteon ProNET Token Ring",
    5: "Chaos", 6: "IEEE 802 Networks", 7: "ARCNET", 8: "Hyperchannel", 9: "Lanstar",
    10: "Autonet Short Address", 11: "LocalTalk", 12: "LocalNet", 13: "Ultra link", 14: "SMDS",
    15: "Frame relay", 16: "ATM", 17: "HDLC", 18: "Fibre Channel", 19: "ATM", 20: "Serial Line",
    21: "ATM"}
_DHCP_TYPES = {1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak",
               7: "release", 8: "inform", 9: "force_renew", 10: "lease_query",
               11: "lease_unassigned", 12: "lease_unknown", 13: "lease_active"}
_NTP_LEAP = {0: "no warning", 1: "last minute of the day has 61 seconds",
             2: "last minute of the day has 59 seconds", 3: "unknown (clock unsynchronized)"}
_NTP_MODES = {0: "reserved", 1: "symmetric active", 2: "symmetric passive", 3: "client",
              4: "server", 5: "broadcast", 6: "NTP control message", 7: "reserved for private use"}
_NTP_REF_IDS = {
    b"GOES": "Geosynchronous Orbit Environment Satellite", b"GPS ": "Global Position System",
    b"GAL ": "Galileo Positioning System", b"PPS ": "Generic pulse-per-second",
    b"IRIG": "Inter-Range Instrumentation Group", b"WWVB": "LF Radio WWVB Ft. Collins, CO 60 kHz",
    b"DCF ": "LF Radio DCF77 Mainflingen, DE 77.5 kHz", b"HBG ": "LF Radio HBG Prangins, HB 75 kHz",
    b"MSF ": "LF Radio MSF Anthorn, UK 60 kHz",
    b"JJY ": "LF Radio JJY Fukushima, JP 40 kHz, Saga, JP 60 kHz",
    b"LORC": "MF Radio LORAN C station, 100 kHz", b"TDF ": "MF Radio Allouis, FR 162 kHz",
    b"CHU ": "HF Radio CHU Ottawa, Ontario", b"WWV ": "HF Radio WWV Ft. Collins, CO",
    b"WWVH": "HF Radio WWVH Kauai, HI", b"NIST": "NIST telephone modem",
    b"ACTS": "NIST telephone modem", b"USNO": "USNO telephone modem",
    b"PTB ": "European telephone modem"}
_NTP_BASETIME = 2208988800   # seconds from 1900 to 1970


def _str_enum(table: dict[bytes, str]) -> _Fmt:
    """Scapy's StrEnumField/StrFixedLenEnumField: the bytes without trailing NULs, and the
    name of the value (or of the stripped value) when it has one."""
    def text(v: Any, _f: Any = None) -> str:
        r = v.rstrip(b"\0")
        name = table.get(v) or table.get(r)
        return "%r (%s)" % (r, name) if name else repr(r)
    return text


def _ntp_time(v: Any, _f: Any = None) -> str:
    if v < _NTP_BASETIME:
        return str(v)
    return _time.strftime("%a, %d %b %Y %H:%M:%S +0000", _time.gmtime(int(v - _NTP_BASETIME)))


def _chaddr(v: Any, f: Any) -> str:
    if f["htype"] != 1:
        return repr(v)
    mac = v[:6].hex(":")   # Scapy's str2mac of up to 6 bytes
    return "%s (+ 10 nul pad)" % mac if v[6:] == b"\0" * 10 else "%s (pad: %s)" % (mac, v[6:])


# DHCP options Scapy shows with a field's i2repr rather than repr(): by the name they carry
def _nonce_algorithms(v: Any, _f: Any = None) -> str:
    return "[%s]" % ", ".join(_by_name({1: "HMAC-MD5"})(x) for x in v)


_DHCP_OPTION_TEXT: dict[Any, _Fmt] = {"message-type": _by_name(_DHCP_TYPES),
                                      "forcerenew_nonce_capable": _nonce_algorithms}


def _dhcp_options_text(options: Any, _f: Any = None) -> str:
    from fastpkt import _scapy_layers as layers

    parts = []
    for opt in options:
        if isinstance(opt, tuple) and len(opt) >= 2:
            read = layers.option_reader(opt[0])
            if read is layers.ip4_reader:
                one: _Fmt = str
            elif opt[0] in _DHCP_OPTION_TEXT:
                one = _DHCP_OPTION_TEXT[opt[0]]
            else:
                one = repr
            parts.append("%s=%s" % (opt[0], ",".join(one(v) for v in opt[1:])))
        else:
            data = opt.encode() if isinstance(opt, str) else bytes(opt)
            parts.append("".join(chr(c) if 32 <= c < 127 else "." for c in data))
    return "[%s]" % " ".join(parts)


def _oui(v: Any, _f: Any = None) -> str:
    oui = v.to_bytes(3, "big").hex(":")
    fancy = _manuf().get(oui.upper())
    return "%s (%s)" % (fancy, oui) if fancy else oui


_manuf_cache: list[dict[str, str]] = []


def _manuf() -> dict[str, str]:
    """Wireshark's manufacturer names by OUI (its manuf file, which Scapy reads too)."""
    if not _manuf_cache:
        table: dict[str, str] = {}
        try:
            with open("/usr/share/wireshark/manuf", errors="backslashreplace") as f:
                for line in f:
                    line = line.strip()
                    if not line or line.startswith("#"):
                        continue
                    parts = line.split(None, 2)
                    if len(parts) < 2:
                        continue
                    long = parts[2].lstrip("#").strip() if len(parts) > 2 else ""
                    table[parts[0]] = long or parts[1]
        except OSError:
            pass
        _manuf_cache.append(table)
    return _manuf_cache[0]


def _ethertype(v: Any, _f: Any = None) -> str:
    return _enum(_names().ethertypes, v, _hex)


# the names Scapy gives PPP's protocol numbers (IANA's PPP DLL protocol numbers)
_PPP_PROTOCOLS = {
    0x0001: 'Padding Protocol', 0x0003: 'ROHC small-CID [RFC3095]',
    0x0005: 'ROHC large-CID [RFC3095]', 0x0021: 'Internet Protocol version 4',
    0x0023: 'OSI Network Layer', 0x0025: 'Xerox NS IDP', 0x0027: 'DECnet Phase IV',
    0x0029: 'Appletalk', 0x002B: 'Novell IPX', 0x002D: 'Van Jacobson Compressed TCP/IP',
    0x002F: 'Van Jacobson Uncompressed TCP/IP', 0x0031: 'Bridging PDU',
    0x0033: 'Stream Protocol (ST-II)', 0x0035: 'Banyan Vines',
    0x0037: 'reserved (until 1993) [Typo in RFC1172]', 0x0039: 'AppleTalk EDDP',
    0x003B: 'AppleTalk SmartBuffered', 0x003D: 'Multi-Link [RFC1717]', 0x003F: 'NETBIOS Framing',
    0x0041: 'Cisco Systems', 0x0043: 'Ascom Timeplex',
    0x0045: 'Fujitsu Link Backup and Load Balancing (LBLB)', 0x0047: 'DCA Remote Lan',
    0x0049: 'Serial Data Transport Protocol (PPP-SDTP)', 0x004B: 'SNA over 802.2', 0x004D: 'SNA',
    0x004F: 'IPv6 Header Compression', 0x0051: 'KNX Bridging Data [ianp]',
    0x0053: 'Encryption [Meyer]', 0x0055: 'Individual Link Encryption [Meyer]',
    0x0057: 'Internet Protocol version 6 [Hinden]', 0x0059: 'PPP Muxing [RFC3153]',
    0x005B: 'Vendor-Specific Network Protocol (VSNP) [RFC3772]',
    0x0061: 'RTP IPHC Full Header [RFC3544]', 0x0063: 'RTP IPHC Compressed TCP [RFC3544]',
    0x0065: 'RTP IPHC Compressed Non TCP [RFC3544]', 0x0067: 'RTP IPHC Compressed UDP 8 [RFC3544]',
    0x0069: 'RTP IPHC Compressed RTP 8 [RFC3544]', 0x006F: 'Stampede Bridging',
    0x0071: 'Reserved [Fox]', 0x0073: 'MP+ Protocol [Smith]',
    0x007D: 'reserved (Control Escape) [RFC1661]',
    0x007F: 'reserved (compression inefficient [RFC1662]',
    0x0081: 'Reserved Until 20-Oct-2000 [IANA]', 0x0083: 'Reserved Until 20-Oct-2000 [IANA]',
    0x00C1: 'NTCITS IPI [Ungar]', 0x00CF: 'reserved (PPP NLID)',
    0x00FB: 'single link compression in multilink [RFC1962]',
    0x00FD: 'compressed datagram [RFC1962]', 0x00FF: 'reserved (compression inefficient)',
    0x0201: '802.1d Hello Packets', 0x0203: 'IBM Source Routing BPDU',
    0x0205: 'DEC LANBridge100 Spanning Tree', 0x0207: 'Cisco Discovery Protocol [Sastry]',
    0x0209: 'Netcs Twin Routing [Korfmacher]', 0x020B: 'STP - Scheduled Transfer Protocol [Segal]',
    0x020D: 'EDP - Extreme Discovery Protocol [Grosser]',
    0x0211: 'Optical Supervisory Channel Protocol (OSCP)[Prasad]',
    0x0213: 'Optical Supervisory Channel Protocol (OSCP)[Prasad]', 0x0231: 'Luxcom',
    0x0233: 'Sigma Network Systems', 0x0235: 'Apple Client Server Protocol [Ridenour]',
    0x0281: 'MPLS Unicast [RFC3032]  ', 0x0283: 'MPLS Multicast [RFC3032]',
    0x0285: 'IEEE p1284.4 standard - data packets [Batchelder]',
    0x0287: 'ETSI TETRA Network Protocol Type 1 [Nieminen]',
    0x0289: 'Multichannel Flow Treatment Protocol [McCann]',
    0x2063: 'RTP IPHC Compressed TCP No Delta [RFC3544]',
    0x2065: 'RTP IPHC Context State [RFC3544]', 0x2067: 'RTP IPHC Compressed UDP 16 [RFC3544]',
    0x2069: 'RTP IPHC Compressed RTP 16 [RFC3544]',
    0x4001: 'Cray Communications Control Protocol [Stage]',
    0x4003: 'CDPD Mobile Network Registration Protocol [Quick]',
    0x4005: 'Expand accelerator protocol [Rachmani]', 0x4007: 'ODSICP NCP [Arvind]',
    0x4009: 'DOCSIS DLL [Gaedtke]', 0x400B: 'Cetacean Network Detection Protocol [Siller]',
    0x4021: 'Stacker LZS [Simpson]', 0x4023: 'RefTek Protocol [Banfill]',
    0x4025: 'Fibre Channel [Rajagopal]', 0x4027: 'EMIT Protocols [Eastham]',
    0x405B: 'Vendor-Specific Protocol (VSP) [RFC3772]',
    0x8021: 'Internet Protocol Control Protocol', 0x8023: 'OSI Network Layer Control Protocol',
    0x8025: 'Xerox NS IDP Control Protocol', 0x8027: 'DECnet Phase IV Control Protocol',
    0x8029: 'Appletalk Control Protocol', 0x802B: 'Novell IPX Control Protocol',
    0x802D: 'reserved', 0x802F: 'reserved', 0x8031: 'Bridging NCP',
    0x8033: 'Stream Protocol Control Protocol', 0x8035: 'Banyan Vines Control Protocol',
    0x8037: 'reserved (until 1993)', 0x8039: 'reserved', 0x803B: 'reserved',
    0x803D: 'Multi-Link Control Protocol', 0x803F: 'NETBIOS Framing Control Protocol',
    0x8041: 'Cisco Systems Control Protocol', 0x8043: 'Ascom Timeplex',
    0x8045: 'Fujitsu LBLB Control Protocol',
    0x8047: 'DCA Remote Lan Network Control Protocol (RLNCP)',
    0x8049: 'Serial Data Control Protocol (PPP-SDCP)', 0x804B: 'SNA over 802.2 Control Protocol',
    0x804D: 'SNA Control Protocol', 0x804F: 'IP6 Header Compression Control Protocol',
    0x8051: 'KNX Bridging Control Protocol [ianp]', 0x8053: 'Encryption Control Protocol [Meyer]',
    0x8055: 'Individual Link Encryption Control Protocol [Meyer]',
    0x8057: 'IPv6 Control Protovol [Hinden]', 0x8059: 'PPP Muxing Control Protocol [RFC3153]',
    0x805B: 'Vendor-Specific Network Control Protocol (VSNCP) [RFC3772]',
    0x806F: 'Stampede Bridging Control Protocol', 0x8071: 'Reserved [Fox]',
    0x8073: 'MP+ Control Protocol [Smith]', 0x807D: 'Not Used - reserved [RFC1661]',
    0x8081: 'Reserved Until 20-Oct-2000 [IANA]', 0x8083: 'Reserved Until 20-Oct-2000 [IANA]',
    0x80C1: 'NTCITS IPI Control Protocol [Ungar]', 0x80CF: 'Not Used - reserved [RFC1661]',
    0x80FB: 'single link compression in multilink control [RFC1962]',
    0x80FD: 'Compression Control Protocol [RFC1962]', 0x80FF: 'Not Used - reserved [RFC1661]',
    0x8207: 'Cisco Discovery Protocol Control [Sastry]', 0x8209: 'Netcs Twin Routing [Korfmacher]',
    0x820B: 'STP - Control Protocol [Segal]',
    0x820D: 'EDPCP - Extreme Discovery Protocol Ctrl Prtcl [Grosser]',
    0x8235: 'Apple Client Server Protocol Control [Ridenour]', 0x8281: 'MPLSCP [RFC3032]',
    0x8285: 'IEEE p1284.4 standard - Protocol Control [Batchelder]',
    0x8287: 'ETSI TETRA TNP1 Control Protocol [Nieminen]',
    0x8289: 'Multichannel Flow Treatment Protocol [McCann]', 0xC021: 'Link Control Protocol',
    0xC023: 'Password Authentication Protocol', 0xC025: 'Link Quality Report',
    0xC027: 'Shiva Password Authentication Protocol', 0xC029: 'CallBack Control Protocol (CBCP)',
    0xC02B: 'BACP Bandwidth Allocation Control Protocol [RFC2125]', 0xC02D: 'BAP [RFC2125]',
    0xC05B: 'Vendor-Specific Authentication Protocol (VSAP) [RFC3772]',
    0xC081: 'Container Control Protocol [KEN]',
    0xC223: 'Challenge Handshake Authentication Protocol',
    0xC225: 'RSA Authentication Protocol [Narayana]',
    0xC227: 'Extensible Authentication Protocol [RFC2284]',
    0xC229: 'Mitsubishi Security Info Exch Ptcl (SIEP) [Seno]',
    0xC26F: 'Stampede Bridging Authorization Protocol',
    0xC281: 'Proprietary Authentication Protocol [KEN]',
    0xC283: 'Proprietary Authentication Protocol [Tackabury]',
    0xC481: 'Proprietary Node ID Authentication Protocol [KEN]'}


# RFC 4884 extension object classes (IANA's ICMP extension object classes)
_ICMP_EXT_CLASSES = {1: "MPLS", 2: "Interface Information", 3: "Interface Identification",
                     4: "Extended Information"}


_LAYER_FIELDS: dict[str, dict[str, _Fmt]] = {
    "ICMPv6DestUnreach": _ICMP6_UNREACH,
    "ICMPv6PacketTooBig": _ICMP6_TYPE,
    "ICMPv6TimeExceeded": {**_ICMP6_TYPE, "unused": _lhex, "code": _by_name({
        0: "hop limit exceeded in transit", 1: "fragment reassembly time exceeded"})},
    "ICMPv6ParamProblem": {**_ICMP6_TYPE, "code": _by_name({
        0: "erroneous header field encountered", 1: "unrecognized Next Header type encountered",
        2: "unrecognized IPv6 option encountered", 3: "first fragment has incomplete header chain"})},
    "ICMPv6MLQuery": _ML, "ICMPv6MLReport": _ML, "ICMPv6MLDone": _ML,
    "ICMPv6MLQuery2": {**_ML, "sources": _ip6_list},
    "ICMPv6MLReport2": _ICMP6_TYPE,
    "ICMPv6MLDMultAddrRec": {"dst": _ip6_text, "sources": _ip6_list},
    "ICMPv6ND_RS": _ICMP6_TYPE,
    "ICMPv6ND_RA": {**_ICMP6_TYPE, "prf": _by_name(_ND_PREFERENCE)},
    "ICMPv6ND_NS": {**_ICMP6_TYPE, "tgt": _ip6_text},
    "ICMPv6ND_NA": {**_ICMP6_TYPE, "res": _lhex, "tgt": _ip6_text},
    "ICMPv6ND_Redirect": {**_ICMP6_TYPE, "res": _lhex, "tgt": _ip6_text, "dst": _ip6_text},
    "IPerror6": {"nh": _by_name(_IPV6_NH), "src": _ip6_text, "dst": _ip6_text},
    "ICMPv6NDOptUnknown": {},
    "ICMPv6NDOptSrcLLAddr": _OPT_LL, "ICMPv6NDOptDstLLAddr": _OPT_LL,
    "ICMPv6NDOptPrefixInfo": {"validlifetime": _lhex, "preferredlifetime": _lhex, "res2": _lhex,
                              "prefix": _ip6_text},
    "ICMPv6NDOptRedirectedHdr": {"res": _fixed_str},
    "ICMPv6NDOptMTU": {"res": _lhex},
    "ICMPv6NDOptShortcutLimit": {}, "ICMPv6NDOptAdvInterval": {}, "ICMPv6NDOptHAInfo": {},
    "ICMPv6NDOptSrcAddrList": {"res": _fixed_str, "addrlist": _ip6_list},
    "ICMPv6NDOptTgtAddrList": {"res": _fixed_str, "addrlist": _ip6_list},
    "ICMPv6NDOptIPAddr": {"optcode": _by_name({1: "Old Care-Of Address", 2: "New Care-Of Address",
                                               3: "NAR's IP address"}), "addr": _ip6_text},
    "ICMPv6NDOptNewRtrPrefix": {"prefix": _ip6_text},
    "ICMPv6NDOptLLA": {"optcode": _by_name({
        0: "Wildcard requesting resolution for all nearby AP", 1: "LLA for the new AP",
        2: "LLA of the MN", 3: "LLA of the NAR", 4: "LLA of the src of TrSolPr or PrRtAdv msg",
        5: "AP identified by LLA belongs to current iface of router",
        6: "No preifx info available for AP identified by the LLA",
        7: "No fast handovers support for AP identified by the LLA"}), "lla": _plain},
    "ICMPv6NDOptMAP": {"addr": _ip6_text},
    "ICMPv6NDOptRouteInfo": {"prf": _by_name(_ND_PREFERENCE), "prefix": _ip6_text},
    "ICMPv6NDOptRDNSS": {"dns": _ip6_list},
    "ICMPv6NDOptEFA": {}, "ICMPv6NDOptDNSSL": {}, "ICMPv6NDOptCaptivePortal": {},
    "ICMPv6NDOptPREF64": {"plc": _by_name({0: "/96", 1: "/64", 2: "/56", 3: "/48", 4: "/40",
                                           5: "/32"}), "prefix": _ip6_text},
    "BOOTP": {"op": _by_name(_BOOTP_OPS), "htype": _by_name(_BOOTP_HTYPES), "xid": _lhex,
              "flags": _plain, "ciaddr": _plain, "yiaddr": _plain, "siaddr": _plain,
              "giaddr": _plain, "chaddr": _chaddr, "sname": _fixed_str, "file": _fixed_str,
              "options": _str_enum({b"c\x82Sc": "DHCP magic"})},
    "DHCP": {"options": _dhcp_options_text},
    "NTPHeader": {"leap": _by_name(_NTP_LEAP), "mode": _by_name(_NTP_MODES), "delay": _plain,
                  "dispersion": _plain, "id": _plain, "ref_id": _str_enum(_NTP_REF_IDS),
                  "ref": _ntp_time, "orig": _ntp_time, "recv": _ntp_time, "sent": _ntp_time},
    "NTPAuthenticator": {"dgst": _hex_str},
    "NTPExtensions": {}, "NTPExtension": {}, "Packet": {},
    "NTPControl": {"leap": _by_name(_NTP_LEAP), "mode": _by_name(_NTP_MODES), "op_code": _by_name({
        0: "CTL_OP_UNSPEC", 1: "CTL_OP_READSTAT", 2: "CTL_OP_READVAR", 3: "CTL_OP_WRITEVAR",
        4: "CTL_OP_READCLOCK", 5: "CTL_OP_WRITECLOCK", 6: "CTL_OP_SETTRAP", 7: "CTL_OP_ASYNCMSG",
        8: "CTL_OP_CONFIGURE", 9: "CTL_OP_SAVECONFIG", 10: "CTL_OP_READ_MRU",
        11: "CTL_OP_READ_ORDLIST_A", 12: "CTL_OP_REQ_NONCE", 31: "CTL_OP_UNSETTRAP"})},
    "NTPSystemStatusPacket": {
        "leap_indicator": _by_name({0: "no warning", 1: "last minute was 61 seconds",
                                    2: "last minute was 59 seconds",
                                    3: "alarm condition (clock not synchronized)"}),
        "clock_source": _by_name({0: "unspecified or unknown", 1: " Calibrated atomic clock",
                                  2: "VLF (band 4) or LF (band 5) radio", 3: "HF (band 7) radio",
                                  4: "UHF (band 9) satellite", 5: "local net", 6: "UDP/NTP",
                                  7: "UDP/TIME", 8: "eyeball-and-wristwatch", 9: "telephone modem"}),
        "system_event_code": _by_name({
            0: "unspecified", 1: "system restart", 2: "system or hardware fault",
            3: "system new status word (leap bits or synchronization change)",
            4: "system new synchronization source or stratum (sys.peer or sys.stratum change)",
            5: "system clock reset (offset correction exceeds CLOCK.MAX)",
            6: "system invalid time or date", 7: "system clock exception"})},
    "NTPPeerStatusPacket": {
        "peer_sel": _by_name({0: "rejected", 1: "passed sanity checks", 2: "passed correctness checks",
                              3: "passed candidate checks", 4: "passed outlyer checks",
                              5: "current synchronization source; max distance exceeded",
                              6: "current synchronization source; max distance okay", 7: "reserved"}),
        "peer_event_code": _by_name({0: "unspecified", 1: "peer IP error", 2: "peer authentication failure",
                                     3: "peer unreachable", 4: "peer reachable", 5: "peer clock exception"})},
    "NTPClockStatusPacket": {"clock_status": _by_name({
        0: "clock operating within nominals", 1: "reply timeout", 2: "bad reply format",
        3: "hardware or software fault", 4: "propagation failure", 5: "bad date format or value",
        6: "bad time format or value"})},
    "NTPErrorStatusPacket": {"error_code": _by_name({
        0: "unspecified", 1: "authentication failure", 2: "invalid message length or format",
        3: "invalid opcode", 4: "unknown association identifier", 5: "unknown variable name",
        6: "invalid variable value", 7: "administratively prohibited"})},
    "NTPPeerStatusDataPacket": {},
    "Dot3": {"dst": _plain, "src": _plain},
    "LLC": {"dsap": _lhex, "ssap": _lhex},
    "SNAP": {"OUI": _oui, "code": _ethertype},
    "STP": {"rootmac": _plain, "bridgemac": _plain},
    "GRE": {"proto": _ethertype, "chksum": _lhex, "offset": _lhex, "key": _lhex,
            "sequence_number": _lhex},
    "VXLAN": {"flags": _plain, "NextProtocol": _by_name({
        0: "NotDefined", 1: "IPv4", 2: "IPv6", 3: "Ethernet", 4: "NSH"}), "gpflags": _plain,
        "vni": _lhex, "reserved2": _lhex},
    "GRE_PPTP": {"proto": _ethertype, "sequence_number": _lhex, "ack_number": _lhex},
    "GRErouting": {},
    "PPPoE": {"code": _by_name({0: "Session"}), "sessionid": _lhex},
    "HDLC": {"address": _lhex, "control": _lhex},
    "DIR_PPP": {"direction": _by_name({0: "received", 1: "sent"})},
    "PPP": {"proto": _by_name(_PPP_PROTOCOLS)},
    "ICMPExtension_Header": {"chksum": _lhex},
    "ICMPExtension_Object": {"classnum": _by_name(_ICMP_EXT_CLASSES)},
    "ICMPExtension_InterfaceInformation": {"classnum": _by_name(_ICMP_EXT_CLASSES), "ip4": _plain,
                                           "ip6": _ip6_text},
}
_ICMP6_OPTION_SUMMARY = {
    "ICMPv6NDOptSrcLLAddr": "%(name)s %(lladdr)s", "ICMPv6NDOptDstLLAddr": "%(name)s %(lladdr)s",
    "ICMPv6NDOptPrefixInfo":
    "%(name)s %(prefix)s/%(prefixlen)s On-link %(L)s Autonomous Address %(A)s Router Address %(R)s",
    "ICMPv6NDOptMTU": "%(name)s %(mtu)s", "ICMPv6NDOptAdvInterval": "%(name)s %(advint)s milliseconds",
    "ICMPv6NDOptHAInfo": "%(name)s %(pref)s %(lifetime)s seconds",
    "ICMPv6NDOptRouteInfo": "%(name)s %(prefix)s/%(plen)s Preference %(prf)s",
    "ICMPv6NDOptCaptivePortal": "%(name)s %(URI)s",
    "ICMPv6ND_RA": "%(name)s Lifetime %(routerlifetime)s Hop Limit %(chlim)s Preference %(prf)s "
                   "Managed %(M)s Other %(O)s Home %(H)s",
    "ICMPv6ND_NS": "%(name)s (tgt: %(tgt)s)", "ICMPv6ND_NA": "%(name)s (tgt: %(tgt)s)",
    "Dot3": "802.3 %(src)s > %(dst)s",
}


def _layer_summary(node: _Node, name: str) -> str:
    """Scapy's mysummary() of these layers ("" for none), over the fields' i2repr text."""
    cls = node.cls
    texts = {k: t for k, _v, t, _i in node.fields if isinstance(t, str)}
    fmt = _ICMP6_OPTION_SUMMARY.get(cls)
    if fmt is not None:
        try:
            return fmt % dict(texts, name=name)
        except KeyError:   # a field the bytes did not reach: Scapy prints its default
            return ""
    if cls in ("ICMPv6NDOptRDNSS", "ICMPv6NDOptDNSSL"):
        values = node.by_name.get("dns" if cls == "ICMPv6NDOptRDNSS" else "searchlist")
        return "%s %s" % (name, ", ".join(values[1])) if values else ""
    if cls == "ICMPv6NDOptPREF64" and "plc" in texts:
        plc = texts["plc"] if node.value("plc") < 6 else "[invalid PLC(%d)]" % node.value("plc")
        return "%s %s%s" % (name, texts.get("prefix", ""), plc)
    if cls == "DHCP":
        for opt in node.value("options"):
            if isinstance(opt, tuple) and opt[0] == "message-type":
                return "DHCP %s" % _DHCP_TYPES.get(opt[1], "").capitalize()
    if cls == "EAPOL":
        return "EAPOL %s" % texts["type"]
    if cls.startswith("EAP_") or cls in ("EAP", "LEAP"):
        return _eap_summary(node)
    if cls.startswith("ICMPv6Echo"):
        return "%s (id: %s seq: %s)" % (name, texts["id"], texts["seq"])
    if cls in ("NTPHeader", "NTPControl", "NTPPrivate"):
        return "NTP v%s, %s" % (node.value("version"), texts["mode"])
    if cls.startswith("PPP_"):
        return _ppp_control_summary(node)
    if cls in ("PPPoED", "PPPoED_Tags"):
        return _pppoed_summary(node)
    if cls == "VXLAN":
        if node.value("flags") & 0x80:
            return "VXLAN (vni=%s gpid=%s)" % (texts["vni"], texts["gpid"])
        return "VXLAN (vni=%s)" % texts["vni"]
    return ""


def _service(table: str) -> _Fmt:
    def text(v: Any, _f: Any = None) -> str:
        names: dict[int, str] = getattr(_names(), table)
        return _enum(names, v)
    return text


_LAYER_FIELDS.update({
    "ICMPv6EchoRequest": {**_ICMP6_TYPE, "id": _lhex, "seq": _lhex},
    "ICMPv6EchoReply": {**_ICMP6_TYPE, "id": _lhex, "seq": _lhex},
    "UDPerror": {"sport": _service("udp"), "dport": _service("udp"), "chksum": _lhex},
    "TCPerror": {"sport": _service("tcp"), "dport": _service("tcp"), "flags": _plain,
                 "chksum": _lhex},
})
_TCP_DEFAULTS = [("ack", "0"), ("dataofs", "None"), ("reserved", "0"), ("flags", "S"),
                 ("window", "8192"), ("chksum", "None"), ("urgptr", "0"), ("options", "[]")]
_IP6_OPTIONS = {0x00: "Pad1", 0x01: "PadN", 0x04: "Tunnel Encapsulation Limit", 0x05: "Router Alert",
                0x06: "Quick-Start", 0xC2: "Jumbo Payload", 0xC9: "Home Address Option"}


def _option_type(v: Any, _f: Any = None) -> str:
    """An IPv6 option's type with what a node that does not know it must do (RFC 8200 4.2)."""
    actions = ("00: skip", "01: discard", "10: discard+ICMP", "11: discard+ICMP not mcast")
    change = "1: May change en-route" if v & 0x20 else "0: Don't change en-route"
    return "%s [%s, %s]" % (_IP6_OPTIONS.get(v, repr(v)), actions[v >> 6], change)


def _on_off(v: Any, _f: Any = None) -> str:
    return "On" if v else "Off"


_IP6_EXT: dict[str, _Fmt] = {"nh": _by_name(_IPV6_NH), "autopad": _on_off}
_OTYPE: dict[str, _Fmt] = {"otype": _option_type}
_LAYER_FIELDS.update({
    "IPv6ExtHdrHopByHop": _IP6_EXT, "IPv6ExtHdrDestOpt": _IP6_EXT,
    "Pad1": _OTYPE, "PadN": _OTYPE, "HBHOptUnknown": _OTYPE, "Jumbo": _OTYPE,
    "HAO": {**_OTYPE, "hoa": _ip6_text},
    "RouterAlert": {**_OTYPE, "value": _by_name({
        0: "Datagram contains a MLD message", 1: "Datagram contains RSVP message",
        2: "Datagram contains an Active Network message", 68: "NSIS NATFW NSLP", 69: "MPLS OAM",
        65535: "Reserved"})},
    "RplOption": {**_OTYPE, "RplInstanceId": _lhex, "SenderRank": _lhex},
})
# NTP private messages (mode 7) and their data items
def _fixed_list(v: Any, _f: Any = None) -> str:   # FieldListField of FixedPointField
    return "[%s]" % ", ".join(str(_layers()._NTP_SHORT(x)) for x in v)


def _time_list(v: Any, _f: Any = None) -> str:   # FieldListField of TimeStampField
    return "[%s]" % ", ".join(_ntp_time(_layers()._NTP_TIME(x)) for x in v)


_NTP_ITEM_MODES = _by_name(_NTP_MODES)
_PRIVATE_ADDRS: dict[str, _Fmt] = {k: _plain for k in (
    "addr", "dstaddr", "srcaddr", "refid", "peer", "peeraddr", "mask", "daddr", "unaddr", "unbcast",
    "unmask", "local_address", "trap_address")}
_PRIVATE_ADDRS.update({k: _ip6_text for k in (
    "addr6", "dstaddr6", "srcaddr6", "peer6", "peeraddr6", "mask6", "daddr6", "local_address6",
    "trap_address6")})
_PRIVATE_TIMES = ("offset", "reftime", "org", "rec", "xmt", "last_offset", "drift_comp", "authdelay", "tstamp")
_PRIVATE_SHORTS = ("delay", "dispersion", "rootdelay", "rootdispersion", "selectdisp", "estbdelay",
                   "bdelay", "frequency", "stability")
_PRIVATE_ITEM: dict[str, _Fmt] = {**_PRIVATE_ADDRS, "flags": _plain,
                                  **dict.fromkeys(_PRIVATE_TIMES, _ntp_time),
                                  **dict.fromkeys(_PRIVATE_SHORTS, _plain)}
_LAYER_FIELDS.update({
    "NTPPrivate": {"mode": _NTP_ITEM_MODES,
                   "implementation": _by_name({0: "IMPL_UNIV", 2: "IMPL_XNTPD_OLD", 3: "XNTPD"}),
                   "request_code": _by_name({
                       0: "REQ_PEER_LIST", 1: "REQ_PEER_LIST_SUM", 2: "REQ_PEER_INFO", 3: "REQ_PEER_STATS",
                       4: "REQ_SYS_INFO", 5: "REQ_SYS_STATS", 6: "REQ_IO_STATS", 7: "REQ_MEM_STATS",
                       8: "REQ_LOOP_INFO", 9: "REQ_TIMER_STATS", 10: "REQ_CONFIG", 11: "REQ_UNCONFIG",
                       12: "REQ_SET_SYS_FLAG", 13: "REQ_CLR_SYS_FLAG", 14: "REQ_MONITOR",
                       15: "REQ_NOMONITOR", 16: "REQ_GET_RESTRICT", 17: "REQ_RESADDFLAGS",
                       18: "REQ_RESSUBFLAGS", 19: "REQ_UNRESTRICT", 20: "REQ_MON_GETLIST",
                       21: "REQ_RESET_STATS", 22: "REQ_RESET_PEER", 23: "REQ_REREAD_KEYS",
                       24: "REQ_DO_DIRTY_HACK", 25: "REQ_DONT_DIRTY_HACK", 26: "REQ_TRUSTKEY",
                       27: "REQ_UNTRUSTKEY", 28: "REQ_AUTHINFO", 29: "REQ_TRAPS", 30: "REQ_ADD_TRAP",
                       31: "REQ_CLR_TRAP", 32: "REQ_REQUEST_KEY", 33: "REQ_CONTROL_KEY",
                       34: "REQ_GET_CTLSTATS", 35: "REQ_GET_LEAPINFO", 36: "REQ_GET_CLOCKINFO",
                       37: "REQ_SET_CLKFUDGE", 38: "REQ_GET_KERNEL", 39: "REQ_GET_CLKBUGINFO",
                       41: "REQ_SET_PRECISION", 42: "REQ_MON_GETLIST_1", 43: "REQ_HOSTNAME_ASSOCID",
                       44: "REQ_IF_STATS", 45: "REQ_IF_RELOAD"}),
                   "err": _by_name({
                       0: "no error", 1: "incompatible implementation number", 2: "unimplemented request code",
                       3: "format error (wrong data items, data size, packet size etc.)",
                       4: "no data available (e.g. request for details on unknown peer)",
                       5: 'I don"t know', 6: 'I don"t know',
                       7: "authentication failure (i.e. permission denied)"})},
    "NTPPrivateReqPacket": {},
    "NTPPrivatePktTail": {"tstamp": _ntp_time, "dgst": _hex_str},
    "NTPInfoPeerList": {**_PRIVATE_ITEM, "hmode": _NTP_ITEM_MODES},
    "NTPInfoPeerSummary": _PRIVATE_ITEM,
    "NTPInfoPeer": {**_PRIVATE_ITEM, "hmode": _NTP_ITEM_MODES, "flash": _lhex, "flash2": _lhex,
                    "filtdelay": _fixed_list, "filtoffset": _time_list},
    "NTPInfoPeerStats": _PRIVATE_ITEM, "NTPInfoLoop": _PRIVATE_ITEM, "NTPInfoSys": _PRIVATE_ITEM,
    "NTPInfoSysStats": {}, "NTPInfoMemStats": {}, "NTPInfoIOStats": {}, "NTPInfoTimerStats": {},
    "NTPConfPeer": {**_PRIVATE_ITEM, "keystr": _fixed_str}, "NTPConfUnpeer": _PRIVATE_ITEM,
    "NTPConfRestrict": _PRIVATE_ITEM, "NTPInfoKernel": {},
    "NTPInfoIfStatsIPv4": {**_PRIVATE_ITEM, "ifname": _fixed_str},
    "NTPInfoIfStatsIPv6": {**_PRIVATE_ITEM, "ifname": _fixed_str},
    "NTPInfoMonitor1": _PRIVATE_ITEM, "NTPInfoAuth": {},
    "NTPConfTrap": _PRIVATE_ITEM, "NTPInfoControl": {},
})
# PPP's control protocols
_PPP_CONF_CODES = {1: "Configure-Request", 2: "Configure-Ack", 3: "Configure-Nak", 4: "Configure-Reject",
                   5: "Terminate-Request", 6: "Terminate-Ack", 7: "Code-Reject", 8: "Protocol-Reject",
                   9: "Echo-Request", 10: "Echo-Reply", 11: "Discard-Request"}
_LCP_HEAD: dict[str, _Fmt] = {"code": _by_name(_PPP_CONF_CODES), "id": _lhex}
_NCP_HEAD: dict[str, _Fmt] = {"code": _by_name({**_PPP_CONF_CODES, 14: "Reset-Request", 15: "Reset-Ack"}),
                              "id": _lhex}
_LCP_OPTION: dict[str, _Fmt] = {"type": _by_name({
    1: "Maximum-Receive-Unit", 2: "Async-Control-Character-Map", 3: "Authentication-protocol",
    4: "Quality-protocol", 5: "Magic-number", 7: "Protocol-Field-Compression",
    8: "Address-and-Control-Field-Compression", 13: "Callback"})}
_IPCP_OPTION: dict[str, _Fmt] = {"type": _by_name({
    1: "IP-Addresses (Deprecated)", 2: "IP-Compression-Protocol", 3: "IP-Address", 4: "Mobile-IPv4",
    129: "Primary-DNS-Address", 130: "Primary-NBNS-Address", 131: "Secondary-DNS-Address",
    132: "Secondary-NBNS-Address"}), "data": _plain}
_IPCP_RAW_OPTION: dict[str, _Fmt] = {"type": _IPCP_OPTION["type"]}
_ECP_OPTION: dict[str, _Fmt] = {"type": _by_name({0: "OUI", 1: "DESE"})}
_LAYER_FIELDS.update({
    **dict.fromkeys(("PPP_LCP", "PPP_LCP_Configure", "PPP_LCP_Terminate", "PPP_LCP_Code_Reject",
                     "PPP_LCP_Discard_Request", "PPP_LCP_Echo"), _LCP_HEAD),
    "PPP_LCP_Protocol_Reject": {**_LCP_HEAD, "rejected_protocol": _by_name(_PPP_PROTOCOLS)},
    "PPP_LCP_Option": _LCP_OPTION, "PPP_LCP_MRU_Option": _LCP_OPTION, "PPP_LCP_ACCM_Option": _LCP_OPTION,
    "PPP_LCP_Magic_Number_Option": _LCP_OPTION,
    "PPP_LCP_Auth_Protocol_Option": {**_LCP_OPTION, "auth_protocol": _by_name({
        0xC023: "Password authentication protocol", 0xC223: "Challenge-response authentication protocol",
        0xC227: "PPP Extensible authentication protocol"}),
        "algorithm": _by_name({5: "MD5", 6: "SHA1", 128: "MS-CHAP", 129: "MS-CHAP-v2"})},
    "PPP_LCP_Quality_Protocol_Option": {**_LCP_OPTION, "quality_protocol": _by_name({0xC025: "Link Quality Report"})},
    "PPP_LCP_Callback_Option": {**_LCP_OPTION, "operation": _by_name({
        0: "Location determined by user authentication", 1: "Dialing string", 2: "Location identifier",
        3: "E.164 number", 4: "Distinguished name"})},
    "PPP_IPCP": _NCP_HEAD, "PPP_IPCP_Option": _IPCP_RAW_OPTION,
    **dict.fromkeys(("PPP_IPCP_Option_IPAddress", "PPP_IPCP_Option_DNS1", "PPP_IPCP_Option_DNS2",
                     "PPP_IPCP_Option_NBNS1", "PPP_IPCP_Option_NBNS2"), _IPCP_OPTION),
    "PPP_ECP": _NCP_HEAD, "PPP_ECP_Option": _ECP_OPTION, "PPP_ECP_Option_OUI": {**_ECP_OPTION, "oui": _oui},
    **dict.fromkeys(("PPP_PAP", "PPP_PAP_Request", "PPP_PAP_Response"), {
        "code": _by_name({1: "Authenticate-Request", 2: "Authenticate-Ack", 3: "Authenticate-Nak"}),
        "id": _lhex}),
    "PPP_CHAP": {"code": _by_name({1: "Challenge", 2: "Response", 3: "Success", 4: "Failure"}), "id": _lhex},
})
_LAYER_FIELDS["PPP_CHAP_ChallengeResponse"] = {**_LAYER_FIELDS["PPP_CHAP"], "value": _hex_str}


_PPPOE_TAGS = {0x0000: "End-Of-List", 0x0101: "Service-Name", 0x0102: "AC-Name", 0x0103: "Host-Uniq",
               0x0104: "AC-Cookie", 0x0105: "Vendor-Specific", 0x0106: "Credits", 0x0107: "Metrics",
               0x0108: "Sequence Number", 0x0109: "Credit Scale Factor", 0x0110: "Relay-Session-Id",
               0x0120: "PPP-Max-Payload", 0x0201: "Service-Name-Error", 0x0202: "AC-System-Error",
               0x0203: "Generic-Error"}
_LAYER_FIELDS.update({
    "PPPoED": {"code": _by_name({
        0x00: "PPP Session Stage", 0x09: "PPPoE Active Discovery Initiation (PADI)",
        0x07: "PPPoE Active Discovery Offer (PADO)", 0x0A: "PPPoE Active Discovery Session-Grant (PADG)",
        0x0B: "PPPoE Active Discovery Session-Credit Response (PADC)",
        0x0C: "PPPoE Active Discovery Quality (PADQ)", 0x19: "PPPoE Active Discovery Request (PADR)",
        0x65: "PPPoE Active Discovery Session-confirmation (PADS)",
        0xA7: "PPPoE Active Discovery Terminate (PADT)"}), "sessionid": _lhex},
    "PPPoED_Tags": {}, "PPPoETag": {"tag_type": _by_name(_PPPOE_TAGS)},
})


def _pppoed_summary(node: _Node) -> str:
    """PPPoED's mysummary (its code); PPPoED_Tags' names its tags and asks for PPPoED's."""
    if node.cls == "PPPoED":
        return node.text("code")
    node.needs = ("PPPoED",)
    names = [_PPPOE_TAGS.get(t.value("tag_type"), repr(t.value("tag_type"))) if t.cls == "PPPoETag" else "??"
             for (t, *_rest) in node.value("tag_list")]
    return "PPPoE Tags" + ", ".join(names)


def _ppp_control_summary(node: _Node) -> str:
    """mysummary() of Scapy's LCP, PAP and CHAP classes ("" for the others)."""
    cls, texts = node.cls, {k: t for k, _v, t, _i in node.fields if isinstance(t, str)}
    if cls.startswith("PPP_LCP") and not cls.endswith("Option"):
        return "LCP %s" % texts["code"]
    if cls == "PPP_PAP_Request":
        return "PAP-Request username=%s password=%s" % (texts["username"], texts["password"])
    if cls == "PPP_PAP_Response":
        res = "PAP-Ack" if node.value("code") == 2 else "PAP-Nak"
        return res + " msg=%s" % texts["message"] if node.value("msg_len") > 0 else res
    if cls == "PPP_CHAP" and node.value("code") in (3, 4):
        return "CHAP %s message=%s" % ("Success" if node.value("code") == 3 else "Failure", texts["data"])
    if cls == "PPP_CHAP_ChallengeResponse":
        return "CHAP %s=0x%s optional_name=%s" % ("challenge" if node.value("code") == 1 else "response",
                                                  texts["value"], texts["optional_name"])
    return ""


_NTP_STATUS_PACKETS = ("NTPSystemStatusPacket", "NTPPeerStatusPacket", "NTPClockStatusPacket",
                       "NTPErrorStatusPacket")
# fields Scapy's class has that the facade's layer does not keep: (after this field, name, value)
_EAP_TYPES = {0: 'Reserved', 1: 'Identity', 2: 'Notification', 3: 'Legacy Nak',
    4: 'MD5-Challenge', 5: 'One-Time Password (OTP)', 6: 'Generic Token Card (GTC)',
    7: 'Allocated - RFC3748', 8: 'Allocated - RFC3748', 9: 'RSA Public Key Authentication',
    10: 'DSS Unilateral', 11: 'KEA', 12: 'KEA-VALIDATE', 13: 'EAP-TLS',
    14: 'Defender Token (AXENT)', 15: 'RSA Security SecurID EAP', 16: 'Arcot Systems EAP',
    17: 'EAP-Cisco Wireless', 18: 'GSM Subscriber Identity Modules (EAP-SIM)', 19: 'SRP-SHA1',
    20: 'Unassigned', 21: 'EAP-TTLS', 22: 'Remote Access Service', 23: 'EAP-AKA Authentication',
    24: 'EAP-3Com Wireless', 25: 'PEAP', 26: 'MS-EAP-Authentication',
    27: 'Mutual Authentication w/Key Exchange (MAKE)', 28: 'CRYPTOCard', 29: 'EAP-MSCHAP-V2',
    30: 'DynamID', 31: 'Rob EAP', 32: 'Protected One-Time Password', 33: 'MS-Authentication-TLV',
    34: 'SentriNET', 35: 'EAP-Actiontec Wireless',
    36: 'Cogent Systems Biometrics Authentication EAP', 37: 'AirFortress EAP',
    38: 'EAP-HTTP Digest', 39: 'SecureSuite EAP', 40: 'DeviceConnect EAP', 41: 'EAP-SPEKE',
    42: 'EAP-MOBAC', 43: 'EAP-FAST', 44: 'ZoneLabs EAP (ZLXEAP)', 45: 'EAP-Link', 46: 'EAP-PAX',
    47: 'EAP-PSK', 48: 'EAP-SAKE', 49: 'EAP-IKEv2', 50: 'EAP-AKA', 51: 'EAP-GPSK', 52: 'EAP-pwd',
    53: 'EAP-EKE Version 1', 54: 'EAP Method Type for PT-EAP', 55: 'TEAP',
    254: 'Reserved for the Expanded Type', 255: 'Experimental'}
_EAP_CODES = {1: "Request", 2: "Response", 3: "Success", 4: "Failure", 5: "Initiate", 6: "Finish"}
_EAP_TEXT: dict[str, _Fmt] = {"code": _by_name(_EAP_CODES), "type": _by_name(_EAP_TYPES)}


_MKA_SET: dict[str, _Fmt] = {"param_set_type": _by_name({
    1: "Live Peer List", 2: "Potential Peer List", 3: "MACsec SAK Use", 4: "Distributed SAK",
    5: "Distributed CAK", 6: "KMD", 7: "Announcement", 255: "ICV Indicator"})}


def _auth_types_text(v: Any, _f: Any = None) -> str:
    return "[%s]" % ", ".join(_by_name(_EAP_TYPES)(x) for x in v)


_LAYER_FIELDS.update({
    "EAPOL": {"version": _by_name({1: "802.1X-2001", 2: "802.1X-2004", 3: "802.1X-2010"}),
              "type": _by_name({0: "EAP-Packet", 1: "EAPOL-Start", 2: "EAPOL-Logoff",
                                3: "EAPOL-Key", 4: "EAPOL-Encapsulated-ASF-Alert", 5: "EAPOL-MKA",
                                6: "EAPOL-Announcement (Generic)",
                                7: "EAPOL-Announcement (Specific)", 8: "EAPOL-Announcement-Req"})},
    "EAP": {**_EAP_TEXT, "desired_auth_types": _auth_types_text},
    "EAP_MD5": {**_EAP_TEXT, "value": _hex_str, "optional_name": _hex_str},
    "EAP_TLS": {**_EAP_TEXT, "tls_data": _hex_str}, "EAP_PEAP": {**_EAP_TEXT, "tls_data": _hex_str},
    "EAP_TTLS": {**_EAP_TEXT, "data": _hex_str}, "EAP_FAST": {**_EAP_TEXT, "data": _hex_str},
    "LEAP": {**_EAP_TEXT, "unused": _lhex, "challenge_response": _hex_str},
    "EAPOL_KEY": {"key_descriptor_type": _by_name({1: "RC4", 2: "RSN"}),
                  "key_type": _by_name({0: "Group/SMK", 1: "Pairwise"}),
                  "key_descriptor_type_version": _by_name({
                      1: "HMAC-MD5+ARC4", 2: "HMAC-SHA1-128+AES-128", 3: "AES-128-CMAC+AES-128"}),
                  **{k: _hex_str for k in ("key_nonce", "key_iv", "key_rsc", "key_id", "key_mic",
                                           "key_data")}},
    "MKAPDU": {}, "MACsecSCI": {"system_identifier": _plain},
    "MKABasicParamSet": {"actor_member_id": _hex_str, "actor_message_number": _lhex,
                         "algorithm_agility": _lhex, "cak_name": _hex_str},
    "MKAPeerListTuple": {"member_id": _hex_str, "message_number": _hex_str},
    "MKALivePeerListParamSet": _MKA_SET, "MKAPotentialPeerListParamSet": _MKA_SET,
    "MKASAKUseParamSet": {**_MKA_SET, **{k: _hex_str for k in (
        "latest_key_key_server_member_id", "latest_key_key_number", "latest_key_lowest_acceptable_pn",
        "old_key_key_server_member_id", "old_key_key_number", "old_key_lowest_acceptable_pn")}},
    "MKADistributedSAKParamSet": {**_MKA_SET, "key_number": _hex_str, "macsec_cipher_suite": _hex_str,
                                  "sak_aes_key_wrap": _hex_str},
    "MKAICVSet": {**_MKA_SET, "icv": _hex_str},
})


def _eap_summary(node: _Node) -> str:
    """EAP's mysummary: the code and the type (the field's default, Reserved, when absent)."""
    texts = {k: t for k, _v, t, _i in node.fields}
    s = "EAP %s %s" % (texts["code"], texts.get("type", _EAP_TYPES[0]))
    if node.by_name.get("type", (0, 0))[1] == 1 and node.value("code") == 2:
        s += " " + texts.get("identity", "b''")
    return s


def _held_chain(value: Any) -> list[_Node] | None:
    """The nodes of a packet a field holds (MLDv2 records, Raw), or None when not rendered."""
    out: list[_Node] = []
    for layer in value._following() if hasattr(value, "_following") else [value]:
        node = _layer_node(layer)
        if node is None:
            return None
        out.append(node)
    return out


def _layer_node(layer: Any) -> _Node | None:
    """A node for one of the facade's layers read from bytes (Raw, Padding, _scapy_layers'
    classes, the quoted headers of an ICMPv6 error), or None for one not rendered here."""
    cls = type(layer).__name__
    if cls in ("Raw", "Padding"):
        return _raw_node(cls, layer.load)
    fmts = _LAYER_FIELDS.get(cls)
    if fmts is None:
        return None
    human = getattr(type(layer), "_human", {})
    raw = layer._fields
    fields: list[tuple[str, Any, Any, bool]] = []
    held_fields = type(layer)._held + getattr(type(layer), "_listed", ())
    for name, value in raw.items():
        if name in ("extpad", "ext"):   # an ICMPv6 error's trailer: after unused, below
            continue
        if name in held_fields and name != "pkt" and hasattr(value, "_following"):
            chain = _held_chain(value)   # a packet field: its chain, shown under the field
            if chain is None:
                return None
            fields.append((name, tuple(chain), None, True))
            continue
        if name in held_fields and name != "pkt" and isinstance(value, list) or (
                name == "options" and cls.startswith("IPv6ExtHdr")):
            # MLDv2: a list holding the first record (the rest its payload); IPv6 options
            chains = []
            for held in value:
                chain = _held_chain(held)
                if chain is None:
                    return None
                chains.append(chain)
            fields.append((name, chains, None, True))
            continue
        if name == "pkt":   # a redirected header's packet
            if value is None:   # a length of 1 with bytes after the option: Scapy's None
                fields.append(_f(name, None, "None"))
                continue
            chain = _redirected_chain(value)
            if chain is None:
                return None
            fields.append((name, tuple(chain), None, True))
            continue
        conv = human.get(name)
        if conv is not None:
            value = conv(value)
        fmt = fmts.get(name)
        fields.append((name, value, fmt(value, raw) if fmt else repr(value), True))
        if name == "unused" and cls in ("ICMPv6DestUnreach", "ICMPv6TimeExceeded"):
            ext = raw.get("ext")
            fields.append(_f("extpad", b"", "b''"))
            if ext is None:
                fields.append(_f("ext", None, "None"))
                continue
            chain = _held_chain(ext)
            if chain is None:
                return None
            fields.append(("ext", tuple(chain), None, True))
    if cls == "TCPerror" and len(raw) == 3:   # RFC 792's 8 bytes: the rest shown as defaults
        fields += [(k, None, t, False) for k, t in _TCP_DEFAULTS]
    elif cls == "TCPerror" and raw["dataofs"] * 4 > len(layer._data):
        return None   # options cut short: fastpkt drops them, Scapy keeps stubs
    if cls == "ICMPv6NDOptRedirectedHdr":   # fields past the bytes' end: shown as their default
        fields += [(k, b"", "b''", False) for k in ("res", "pkt") if k not in raw]
    elif cls == "NTPControl" and "authenticator" not in raw:
        fields.append(("authenticator", b"", "b''", False))
    elif not raw and cls == "NTPPrivatePktTail":   # left undissected (no bytes): its defaults
        fields = [("tstamp", 0, "0", False), ("key_id", 0, "0", False), ("dgst", b"", "", False)]
    elif not raw and (cls in _NTP_STATUS_PACKETS or cls == "PPP_LCP"):
        return None   # left undissected by Scapy (no bytes): show() prints its defaults
    node = _Node(cls, layer.name, fields)
    node.summary = _layer_summary(node, layer.name)
    return node


def _redirected_chain(value: Any) -> list[_Node] | None:
    """What an ND Redirected Header option's ``pkt`` holds: Raw (under 40 bytes), or the IPv6
    packet Scapy dissects from the option's bytes, whatever version they hold (IPv6 and what
    follows it, described as a capture of raw IPv6 would be); None where that packet is not
    rendered here."""
    if type(value).__name__ == "Raw":
        return [_raw_node("Raw", value.load)]
    packet = getattr(value, "_packet", None)   # none: an IPv6 of no bytes, shown with defaults
    return None if packet is None else describe(packet)


# ---------------------------------------------------------------- text
def _node_repr(node: _Node) -> str:
    parts = []
    for name, value, text, in_repr in node.fields:
        if not in_repr:
            continue
        if text is None:   # records, or a packet a field holds
            if not value:
                continue
            text = _records_repr(value) if isinstance(value, list) else _chain_repr(list(value))
        elif isinstance(value, list) and not value:
            continue
        parts.append(" %s=%s" % (name, text))
    return "<%s %s |" % (node.cls, "".join(parts))


def _held(record: Any) -> list[_Node]:
    """A record in a list field: one node (DNS) or a chain (MLDv2's records)."""
    return record if isinstance(record, list) else [record]


def _records_repr(records: list[Any]) -> str:
    return "[%s]" % ", ".join(_chain_repr(_held(n)) for n in records)


def _chain_repr(nodes: list[_Node]) -> str:
    return "".join(_node_repr(n) for n in nodes) + ">" * len(nodes)


def _chain_summary(nodes: list[_Node]) -> str:
    found = False
    needed: set[str] = set()
    out = ""
    for node in reversed(nodes):
        ret = ""
        if not found or node.cls in needed:
            ret = node.summary
            needed.update(node.needs)
        if ret or needed:
            found = True
        if not ret:
            ret = node.cls
        out = "%s / %s" % (ret, out) if out else ret
    return out


def _set_text(node: _Node, name: str, value: Any, fmt: _Fmt) -> None:
    """Give a node's field another value (a post-dissection's)."""
    i = next(i for i, f in enumerate(node.fields) if f[0] == name)
    node.fields[i] = _f(name, value, fmt(value), node.fields[i][3])
    node.by_name[name] = node.fields[i]


def _extpad(v: bytes, _f: Any = None) -> str:
    """ICMP's extpad: zeros as their count (Scapy's _ICMPExtensionPadField)."""
    return "b'' (%s octets)" % len(v) if v and v == bytes(len(v)) else repr(v)


# layers whose payload show() prints at their own indent (Scapy's show_indent = 0)
_NO_INDENT = frozenset(("ICMPExtension_Header", "ICMPExtension_Object",
                        "ICMPExtension_InterfaceInformation"))


def _chain_show(nodes: list[_Node], lvl: str = "", label_lvl: str = "") -> str:
    s = ""
    for node in nodes:
        s += "%s###[ %s ]###\n" % (label_lvl, node.title)
        for name, value, text, _in in node.fields:
            pad = " " * max(0, 10 - len(name))
            if text is None:
                s += "%s  \\%s%s\\\n" % (label_lvl + lvl, name, pad)
                for rec in value if isinstance(value, list) else [list(value)]:
                    s += _chain_show(_held(rec), "", label_lvl + lvl + "   |")
                continue
            text = text.replace("\n", "\n" + " " * (len(label_lvl) + len(lvl) + len(name) + 4))
            s += "%s  %s%s= %s\n" % (label_lvl + lvl, name, pad, text)
        if node.cls not in _NO_INDENT:
            lvl += "   "
    return s


def _fallback(pkt: Any) -> Any:
    """The Scapy packet for what is not rendered here, or None without Scapy."""
    try:
        return to_scapy(pkt)
    except ImportError:
        return None


def _own(pkt: Any) -> Any:
    """The record as a fastpkt.Packet, whose own text stands in without Scapy (a facade
    packet's repr/summary/show would ask this module again, without end)."""
    return pkt if type(pkt) is _Packet else _Packet(bytes(pkt), pkt.linktype, pkt.time, pkt.wirelen)


def packet_repr(pkt: Any) -> str:
    """``repr(pkt)`` as Scapy prints it."""
    nodes = describe(pkt)
    if nodes is not None:
        return _chain_repr(nodes)
    sp = _fallback(pkt)
    return repr(sp) if sp is not None else repr(_own(pkt))


def _layer_text(pkt: Any, index: int, cls: str, render: Callable[[list[_Node]], str],
                theirs: Callable[[Any], str]) -> str | None:
    """Scapy's text of the packet's layers from the ``index``-th (of class ``cls``) on,
    rendered here or by Scapy; None when neither has that layer there."""
    nodes = describe(pkt)
    if nodes is not None:
        return render(nodes[index:]) if index < len(nodes) and nodes[index].cls == cls else None
    sp = _fallback(pkt)
    layer = next((x for i, x in enumerate(sp.iterpayloads()) if i == index), None) if sp is not None else None
    return theirs(layer) if layer is not None and type(layer).__name__ == cls else None


def layer_repr(pkt: Any, index: int, cls: str) -> str | None:
    """``repr(pkt[X])``: see _layer_text."""
    return _layer_text(pkt, index, cls, _chain_repr, repr)


def layer_show(pkt: Any, index: int, cls: str) -> str | None:
    """``pkt[X].show(dump=True)``: Scapy's show of that layer and its payload chain, the
    whole packet's show from that layer on (its first block at no indent)."""
    return _layer_text(pkt, index, cls, _chain_show, lambda layer: str(layer.show(dump=True)))


def layer_show2(pkt: Any, index: int, cls: str) -> str | None:
    """``pkt[X].show2(dump=True)``: Scapy's show of ``X(raw(layer))``. Rebuilt from the bytes
    it was read from, a layer dissects as it did in its packet, but for the bytes past the
    network layer's length: rebuilt from a layer under that network layer they are no
    Padding (which only the network layer's length marks), and a DNS message over TCP is
    read without its length prefix (as over UDP): Scapy alone renders those."""
    nodes = describe(pkt)
    if nodes is not None and not (index < len(nodes) and "length" in nodes[index].by_name and nodes[index].cls == "DNS"):
        tail = [n.cls for n in nodes[index:]]
        pad = tail.index("Padding") if "Padding" in tail else len(tail)
        if pad == len(tail) or "IP" in tail[:pad] or "IPv6" in tail[:pad]:
            return layer_show(pkt, index, cls)
    sp = _fallback(pkt)
    layer = next((x for i, x in enumerate(sp.iterpayloads()) if i == index), None) if sp is not None else None
    return str(layer.show2(dump=True)) if layer is not None and type(layer).__name__ == cls else None


def packet_summary(pkt: Any) -> str:
    """``pkt.summary()`` as Scapy returns it (``Ether / IP / TCP 10.0.0.1:http > ... S``)."""
    nodes = describe(pkt)
    if nodes is not None:
        return _chain_summary(nodes)
    sp = _fallback(pkt)
    return str(sp.summary() if sp is not None else _own(pkt).summary())


def packet_show(pkt: Any, dump: bool = False) -> str | None:
    """``pkt.show()``: prints Scapy's layout (and a blank line, as Scapy's print does);
    ``dump=True`` returns it."""
    nodes = describe(pkt)
    if nodes is not None:
        s = _chain_show(nodes)
    else:
        sp = _fallback(pkt)
        s = sp.show(dump=True) if sp is not None else _own(pkt).show(dump=True)
    if dump:
        return s
    print(s)
    return None


def held_show(pkt: Any, index: int, cls: str, field: str, i: int, at: int, held_cls: str) -> str | None:
    """``layer.options[i].show(dump=True)``: Scapy's show of the ``i``-th packet a list field
    of the packet's ``index``-th layer holds, from the ``at``-th layer of its chain on (MLDv2
    records are each the payload of the one before), rendered here or by Scapy; None where
    neither has it."""
    nodes = describe(pkt)
    if nodes is None:
        sp = _fallback(pkt)
        layer = next((x for k, x in enumerate(sp.iterpayloads()) if k == index), None) if sp is not None else None
        value = getattr(layer, field, None) if layer is not None and type(layer).__name__ == cls else None
        if not isinstance(value, list) or i >= len(value):
            return None
        found = next((x for k, x in enumerate(value[i].iterpayloads()) if k == at), None)
        return str(found.show(dump=True)) if found is not None and type(found).__name__ == held_cls else None
    if index >= len(nodes) or nodes[index].cls != cls or field not in nodes[index].by_name:
        return None
    value = nodes[index].value(field)
    if not isinstance(value, list) or i >= len(value):
        return None
    held = _held(value[i])[at:]
    return _chain_show(held) if held and held[0].cls == held_cls else None


def plain_show(layers: list[tuple[str, dict[str, Any]]]) -> str:
    """Scapy's show layout for layers rendered neither here nor by Scapy (a Raw built
    alone, a layer of a packet Scapy is not installed to render): each field's repr."""
    return _chain_show([_Node(name, name, [_f(k, v, repr(v)) for k, v in fields.items()])
                        for name, fields in layers])


def record_show(rec: Any) -> str:
    """``dns.an[0].show(dump=True)``: a facade DNS record (or EDNS0 option) alone, as Scapy
    shows a record of its list fields (no payload), from the values it was read with."""
    cls, values = type(rec).__name__, rec._values
    if cls.startswith("EDNS0"):
        return _chain_show([_edns0_node(rec)])
    fields = []
    for name in type(rec)._fields:
        if name not in values:
            continue
        v = values[name]
        if name == "qtype":
            fields.append(_f(name, v, _enum(_DNS_QTYPES, v)))
        elif name == "type":
            fields.append(_f(name, v, _enum(_DNS_TYPES, v)))
        elif name in ("qclass", "rclass"):
            fields.append(_f(name, v, _enum(_DNS_CLASSES, v)))
        elif name == "z" and cls == "DNSRROPT":
            fields.append(_f(name, v, "D0" if v == 0x8000 else str(v)))
        elif name == "rdata" and cls == "DNSRROPT":
            fields.append((name, [_edns0_node(o) if type(o).__name__ != "Raw" else _raw_node("Raw", o.load)
                                  for o in v], None, True))
        else:
            fields.append(_f(name, v, str(v) if isinstance(v, (str, int)) else repr(v)))
        if name == "ttl" or name == "z" and cls == "DNSRROPT":
            fields.append(_f("rdlen", None, "None"))   # unset, as read into a DNS layer (_rr_head)
    return _chain_show([_Node(cls, rec.name, fields)])


def _has(nodes: list[_Node], name: str) -> bool:
    """Scapy's haslayer: a layer of the chain or of a packet its fields hold (DNS records,
    EDNS0 options, an ICMP extension...)."""
    titles = {"Ethernet": "Ether"}
    for n in nodes:
        if n.cls == name or titles.get(name) == n.cls or n.title == name:
            return True
        for _name, value, text, _in in n.fields:
            if text is None and value and any(
                    _has(_held(held), name) for held in (value if isinstance(value, list) else [list(value)])):
                return True
    return False


def packet_sprintf(pkt: Any, fmt: str, relax: bool = True) -> str:
    """``pkt.sprintf(fmt)``: ``%[fmt[r],][layer[:n].]field%`` directives and
    ``{[!]layer:text}`` conditions, as Scapy evaluates them."""
    nodes = describe(pkt)
    if nodes is None:
        sp = _fallback(pkt)
        if sp is not None:
            return str(sp.sprintf(fmt, relax))
        raise ValueError("sprintf: this packet has layers only Scapy decodes; install Scapy")
    while "{" in fmt:
        i = fmt.rindex("{")
        j = fmt[i + 1:].index("}")
        cond = fmt[i + 1:i + j + 1]
        k = cond.find(":")
        if k < 0:
            raise ValueError("Bad condition in format string: [%s]" % cond)
        cond, body = cond[:k], cond[k + 1:]
        want = True
        if cond.startswith("!"):
            want, cond = False, cond[1:]
        fmt = fmt[:i] + (body if _has(nodes, cond) == want else "") + fmt[i + j + 2:]
    out = ""
    escape = {"%": "%", "(": "{", ")": "}"}
    while "%" in fmt:
        i = fmt.index("%")
        out += fmt[:i]
        fmt = fmt[i + 1:]
        if fmt and fmt[0] in escape:
            out += escape[fmt[0]]
            fmt = fmt[1:]
            continue
        try:
            i = fmt.index("%")
            spec = fmt[:i].split(",")
            if len(spec) > 2:
                raise ValueError
            f, clsfld = ("s", spec[0]) if len(spec) == 1 else spec
            cls, _, fld = clsfld.rpartition(".") if "." in clsfld else (nodes[0].cls, "", clsfld)
            num = 1
            if ":" in cls:
                cls, snum = cls.split(":")
                num = int(snum)
            fmt = fmt[i + 1:]
        except ValueError:
            raise ValueError("Bad format string [%%%s%s]" % (fmt[:25], fmt[25:] and "...")) from None
        out += _directive(pkt, nodes, f, cls, num, fld, relax)
    return out + fmt


def _directive(pkt: Any, nodes: list[_Node], f: str, cls: str, num: int, fld: str,
               relax: bool) -> str:
    """One ``%...%`` directive's text: the field's i2repr text, or with ``r`` its value, in
    the printf format ``f``; "??" for a field the packet lacks (relax)."""
    if fld == "time":
        t = float(pkt.time)
        value: Any = _time.strftime("%H:%M:%S.%%06i", _time.localtime(t)) % int(
            (t - int(t)) * 1000000)
        return str(("%" + f) % value)
    first = nodes[0]
    if cls == first.cls and num == 1 and fld not in first.by_name:
        # Scapy's attribute lookup falls through to the layers above (``%src%`` on a
        # Loopback frame is IP's): their raw value, without the field's i2repr
        for node in nodes[1:]:
            if fld in node.by_name:
                value = node.by_name[fld][1]
                if node.by_name[fld][2] is None:
                    value = _records_repr(value)
                return ("%" + ((f[:-1] or "s") if f.endswith("r") else f)) % (value,)
    for node in nodes:
        if node.cls != cls:
            continue
        if num > 1:
            num -= 1
            continue
        for name, value, text, _in in node.fields:
            if name == fld:
                if text is None:
                    value = text = _records_repr(value)
                if f.endswith("r"):
                    return ("%" + (f[:-1] or "s")) % (value,)
                return ("%" + f) % (text,)
        break
    if relax:
        return "??"
    raise ValueError("Format not found [%s]" % fld)


# ---------------------------------------------------------------- helpers Scapy exports
_BITS = "BitField  (%d bits)"
# Scapy's ls() columns for the layers rendered here: field, its Scapy field class, default
_LS: dict[str, list[tuple[str, str, str]]] = {
    "Ether": [("dst", "DestMACField ", "None"), ("src", "SourceMACField ", "None"),
              ("type", "XShortEnumField ", "36864")],
    "Dot1Q": [("prio", _BITS % 3, "0"), ("dei", "BitField  (1 bit)", "0"),
              ("vlan", _BITS % 12, "1"), ("type", "XShortEnumField ", "0")],
    "CookedLinux": [("pkttype", "ShortEnumField ", "0"), ("lladdrtype", "XShortField ", "512"),
                    ("lladdrlen", "ShortField ", "0"), ("src", "StrFixedLenField ", "b''"),
                    ("proto", "XShortEnumField ", "2048")],
    "CookedLinuxV2": [("proto", "XShortEnumField ", "2048"), ("reserved", "ShortField ", "0"),
                      ("ifindex", "IntField ", "0"), ("lladdrtype", "XShortField ", "512"),
                      ("pkttype", "ByteEnumField ", "0"), ("lladdrlen", "ByteField ", "0"),
                      ("src", "StrFixedLenField ", "b''")],
    "Loopback": [("type", "LoIntEnumField ", "2")],
    "ARP": [("hwtype", "XShortEnumField ", "1"), ("ptype", "XShortEnumField ", "2048"),
            ("hwlen", "FieldLenField ", "None"), ("plen", "FieldLenField ", "None"),
            ("op", "ShortEnumField ", "1"),
            ("hwsrc", "MultipleTypeField (SourceMACField, StrFixedLenField)", "None"),
            ("psrc", "MultipleTypeField (SourceIPField, SourceIP6Field, StrFixedLenField)", "None"),
            ("hwdst", "MultipleTypeField (MACField, StrFixedLenField)", "None"),
            ("pdst", "MultipleTypeField (IPField, IP6Field, StrFixedLenField)", "None")],
    "IP": [("version", _BITS % 4, "4"), ("ihl", _BITS % 4, "None"), ("tos", "XByteField ", "0"),
           ("len", "ShortField ", "None"), ("id", "ShortField ", "1"),
           ("flags", "FlagsField ", "<Flag 0 ()>"), ("frag", _BITS % 13, "0"),
           ("ttl", "ByteField ", "64"), ("proto", "ByteEnumField ", "0"),
           ("chksum", "XShortField ", "None"), ("src", "SourceIPField ", "None"),
           ("dst", "DestIPField ", "None"), ("options", "PacketListField ", "[]")],
    "IPv6": [("version", _BITS % 4, "6"), ("tc", _BITS % 8, "0"), ("fl", _BITS % 20, "0"),
             ("plen", "ShortField ", "None"), ("nh", "ByteEnumField ", "59"),
             ("hlim", "ByteField ", "64"), ("src", "SourceIP6Field ", "None"),
             ("dst", "DestIP6Field ", "None")],
    "IPv6ExtHdrFragment": [("nh", "ByteEnumField ", "59"), ("res1", _BITS % 8, "0"),
                           ("offset", _BITS % 13, "0"), ("res2", _BITS % 2, "0"),
                           ("m", "BitField  (1 bit)", "0"), ("id", "IntField ", "None")],
    "TCP": [("sport", "ShortEnumField ", "20"), ("dport", "ShortEnumField ", "80"),
            ("seq", "IntField ", "0"), ("ack", "IntField ", "0"), ("dataofs", _BITS % 4, "None"),
            ("reserved", _BITS % 3, "0"), ("flags", "FlagsField ", "<Flag 2 (S)>"),
            ("window", "ShortField ", "8192"), ("chksum", "XShortField ", "None"),
            ("urgptr", "ShortField ", "0"), ("options", "TCPOptionsField ", "b''")],
    "UDP": [("sport", "ShortEnumField ", "53"), ("dport", "ShortEnumField ", "53"),
            ("len", "ShortField ", "None"), ("chksum", "XShortField ", "None")],
    "DNS": [("length", "ShortField (Cond)", "None"), ("id", "ShortField ", "0")] + [
        (name, "BitField  (1 bit)" if name != "opcode" else "BitEnumField ", dflt)
        for name, dflt in (("qr", "0"), ("opcode", "0"), ("aa", "0"), ("tc", "0"), ("rd", "1"),
                           ("ra", "0"), ("z", "0"), ("ad", "0"), ("cd", "0"))] + [
        ("rcode", "BitEnumField ", "0")] + [
        (name, "FieldLenField ", "None") for name in ("qdcount", "ancount", "nscount", "arcount")
    ] + [("qd", "_DNSPacketListField ", "[<DNSQR  |>]")] + [
        (name, "_DNSPacketListField ", "[]") for name in ("an", "ns", "ar")],
    "Raw": [("load", "StrField ", "b''")],
    "Padding": [("load", "StrField ", "b''")],
}
_LS["Dot1AD"] = _LS["Dot1Q"]
# LLMNRQuery's header (qr defaults to 1 in LLMNRResponse, qd to no question), then DNS's rcode,
# counts and sections; _LLMNR (a 1-byte datagram's dispatch class) has no fields
_LS["LLMNRQuery"] = [("id", "ShortField ", "0"), ("qr", "BitField  (1 bit)", "0"),
                     ("opcode", "BitEnumField ", "0"), ("c", "BitField  (1 bit)", "0"),
                     ("tc", "BitField  (1 bit)", "0"), ("t", "BitField  (1 bit)", "0"),
                     ("z", _BITS % 4, "0")] + [
    row if row[0] != "qd" else ("qd", row[1], "[]") for row in _LS["DNS"][11:]]
_LS["LLMNRResponse"] = [row if row[0] != "qr" else ("qr", row[1], "1") for row in _LS["LLMNRQuery"]]
_LS["_LLMNR"] = []
for _kind in ("Request", "Reply"):
    _LS["ICMPv6Echo" + _kind] = [
        ("type", "ByteEnumField ", "128" if _kind == "Request" else "129"),
        ("code", "ByteField ", "0"), ("cksum", "XShortField ", "None"),
        ("id", "XShortField ", "0"), ("seq", "XShortField ", "0"), ("data", "StrField ", "b''")]


_LS["IPerror"], _LS["UDPerror"] = _LS["IP"], _LS["UDP"]
# TCPerror's seq is MayEnd (dissection may stop after RFC 792's 8 bytes): ls() names the wrapper
_LS["TCPerror"] = [row if row[0] != "seq" else ("seq", "MayEnd ", "0") for row in _LS["TCP"]]
# ICMP's (and ICMPerror's) ls() rows: field, Scapy field class, default, the types whose
# condition shows the field (None: all); "code" names the type it depends on, the
# timestamps' default is the time of day (_icmp_ts_default)
_ICMP_ID_SEQ_TYPES = frozenset((0, 8, 13, 14, 15, 16, 17, 18, 37, 38))   # Scapy's icmp_id_seq_types
_ICMP_LS: list[tuple[str, str, str | None, frozenset[int] | None]] = [
    ("type", "ByteEnumField ", "8", None), ("code", "MultiEnumField (Depends on %d)", "0", None),
    ("chksum", "XShortField ", "None", None),
    ("id", "XShortField (Cond)", "0", _ICMP_ID_SEQ_TYPES),
    ("seq", "XShortField (Cond)", "0", _ICMP_ID_SEQ_TYPES),
    ("ts_ori", "ICMPTimeStampField (Cond)", None, frozenset((13, 14))),
    ("ts_rx", "ICMPTimeStampField (Cond)", None, frozenset((13, 14))),
    ("ts_tx", "ICMPTimeStampField (Cond)", None, frozenset((13, 14))),
    ("gw", "IPField (Cond)", "'0.0.0.0'", frozenset((5,))),
    ("ptr", "ByteField (Cond)", "0", frozenset((12,))),
    ("reserved", "ByteField (Cond)", "0", frozenset((3, 11))),
    ("length", "ByteField (Cond)", "0", frozenset((3, 11, 12))),
    ("addr_mask", "IPField (Cond)", "'0.0.0.0'", frozenset((17, 18))),
    ("nexthopmtu", "ShortField (Cond)", "0", frozenset((3,))),
    ("unused", "MultipleTypeField (ShortField, IntField, StrFixedLenField)", "b''", None),
    ("extpad", "_ICMPExtensionPadField (Cond)", "b''", frozenset((3, 11, 12))),
    ("ext", "_ICMPExtensionField (Cond)", "None", frozenset((3, 11, 12)))]
_ICMP_TS_DEFAULT: list[int] = []

# ls() rows of the ICMPv6 messages, ND options, IPerror6 and the IPv6 options headers
# fastpkt._scapy_layers reads (Scapy 2.8's field classes and defaults)
_LS_ICMP6: dict[str, list[tuple[str, str, str]]] = {
    "ICMPv6DestUnreach": [("type", "ByteEnumField ", "1"), ("code", "ByteEnumField ", "0"),
        ("cksum", "XShortField ", "None"), ("length", "ByteField ", "0"), ("unused", "X3BytesField ", "0"),
        ("extpad", "_ICMPExtensionPadField ", "b''"), ("ext", "_ICMPExtensionField ", "None")],
    "ICMPv6PacketTooBig": [("type", "ByteEnumField ", "2"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("mtu", "IntField ", "1280")],
    "ICMPv6TimeExceeded": [("type", "ByteEnumField ", "3"), ("code", "ByteEnumField ", "0"),
        ("cksum", "XShortField ", "None"), ("length", "ByteField ", "0"), ("unused", "X3BytesField ", "0"),
        ("extpad", "_ICMPExtensionPadField ", "b''"), ("ext", "_ICMPExtensionField ", "None")],
    "ICMPv6ParamProblem": [("type", "ByteEnumField ", "4"), ("code", "ByteEnumField ", "0"),
        ("cksum", "XShortField ", "None"), ("ptr", "IntField ", "6")],
    "ICMPv6MLQuery": [("type", "ByteEnumField ", "130"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("mrd", "ShortField ", "10000"), ("reserved", "ShortField ", "0"),
        ("mladdr", "IP6Field ", "'::'")],
    "ICMPv6MLReport": [("type", "ByteEnumField ", "131"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("mrd", "ShortField ", "0"), ("reserved", "ShortField ", "0"),
        ("mladdr", "IP6Field ", "'::'")],
    "ICMPv6MLDone": [("type", "ByteEnumField ", "132"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("mrd", "ShortField ", "0"), ("reserved", "ShortField ", "0"),
        ("mladdr", "IP6Field ", "'::'")],
    "ICMPv6MLQuery2": [("type", "ByteEnumField ", "130"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("mrd", "ShortField ", "10000"), ("reserved", "ShortField ", "0"),
        ("mladdr", "IP6Field ", "'::'"), ("Resv", "BitField  (4 bits)", "0"),
        ("S", "BitField  (1 bit)", "0"), ("QRV", "BitField  (3 bits)", "0"), ("QQIC", "ByteField ", "0"),
        ("sources_number", "ShortField ", "None"), ("sources", "IP6ListField ", "[]")],
    "ICMPv6MLReport2": [("type", "ByteEnumField ", "143"), ("res", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("reserved", "ShortField ", "0"),
        ("records_number", "ShortField ", "None"), ("records", "PacketListField ", "[]")],
    "ICMPv6MLDMultAddrRec": [("rtype", "ByteField ", "4"), ("auxdata_len", "FieldLenField ", "None"),
        ("sources_number", "FieldLenField ", "None"), ("dst", "IP6Field ", "'::'"),
        ("sources", "IP6ListField ", "[]"), ("auxdata", "StrLenField ", "b''")],
    "ICMPv6ND_RS": [("type", "ByteEnumField ", "133"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("res", "IntField ", "0")],
    "ICMPv6ND_RA": [("type", "ByteEnumField ", "134"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("chlim", "ByteField ", "0"), ("M", "BitField  (1 bit)", "0"),
        ("O", "BitField  (1 bit)", "0"), ("H", "BitField  (1 bit)", "0"), ("prf", "BitEnumField ", "1"),
        ("P", "BitField  (1 bit)", "0"), ("res", "BitField  (2 bits)", "0"),
        ("routerlifetime", "ShortField ", "1800"), ("reachabletime", "IntField ", "0"),
        ("retranstimer", "IntField ", "0")],
    "ICMPv6ND_NS": [("type", "ByteEnumField ", "135"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("res", "IntField ", "0"), ("tgt", "IP6Field ", "'::'")],
    "ICMPv6ND_NA": [("type", "ByteEnumField ", "136"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("R", "BitField  (1 bit)", "1"), ("S", "BitField  (1 bit)", "0"),
        ("O", "BitField  (1 bit)", "1"), ("res", "XBitField  (29 bits)", "0"), ("tgt", "IP6Field ", "'::'")],
    "ICMPv6ND_Redirect": [("type", "ByteEnumField ", "137"), ("code", "ByteField ", "0"),
        ("cksum", "XShortField ", "None"), ("res", "XIntField ", "0"), ("tgt", "IP6Field ", "'::'"),
        ("dst", "IP6Field ", "'::'")],
    "IPerror6": [("version", "BitField  (4 bits)", "6"), ("tc", "BitField  (8 bits)", "0"),
        ("fl", "BitField  (20 bits)", "0"), ("plen", "ShortField ", "None"), ("nh", "ByteEnumField ", "59"),
        ("hlim", "ByteField ", "64"), ("src", "SourceIP6Field ", "None"), ("dst", "DestIP6Field ", "None")],
    "ICMPv6NDOptUnknown": [("type", "ByteField ", "0"), ("len", "FieldLenField ", "None"),
        ("data", "ICMPv6NDOptDataField ", "b''")],
    "ICMPv6NDOptSrcLLAddr": [("type", "ByteField ", "1"), ("len", "ByteField ", "1"),
        ("lladdr", "SourceMACField ", "None")],
    "ICMPv6NDOptDstLLAddr": [("type", "ByteField ", "2"), ("len", "ByteField ", "1"),
        ("lladdr", "SourceMACField ", "None")],
    "ICMPv6NDOptPrefixInfo": [("type", "ByteField ", "3"), ("len", "ByteField ", "4"),
        ("prefixlen", "ByteField ", "64"), ("L", "BitField  (1 bit)", "1"), ("A", "BitField  (1 bit)", "1"),
        ("R", "BitField  (1 bit)", "0"), ("res1", "BitField  (5 bits)", "0"),
        ("validlifetime", "XIntField ", "4294967295"), ("preferredlifetime", "XIntField ", "4294967295"),
        ("res2", "XIntField ", "0"), ("prefix", "IP6Field ", "'::'")],
    "ICMPv6NDOptRedirectedHdr": [("type", "ByteField ", "4"), ("len", "FieldLenField ", "None"),
        ("res", "MayEnd ", "b'\\x00\\x00\\x00\\x00\\x00\\x00'"), ("pkt", "TruncPktLenField ", "b''")],
    "ICMPv6NDOptMTU": [("type", "ByteField ", "5"), ("len", "ByteField ", "1"), ("res", "XShortField ", "0"),
        ("mtu", "IntField ", "1280")],
    "ICMPv6NDOptShortcutLimit": [("type", "ByteField ", "6"), ("len", "ByteField ", "1"),
        ("shortcutlim", "ByteField ", "40"), ("res1", "ByteField ", "0"), ("res2", "IntField ", "0")],
    "ICMPv6NDOptAdvInterval": [("type", "ByteField ", "7"), ("len", "ByteField ", "1"),
        ("res", "ShortField ", "0"), ("advint", "IntField ", "0")],
    "ICMPv6NDOptHAInfo": [("type", "ByteField ", "8"), ("len", "ByteField ", "1"),
        ("res", "ShortField ", "0"), ("pref", "ShortField ", "0"), ("lifetime", "ShortField ", "1")],
    "ICMPv6NDOptSrcAddrList": [("type", "ByteField ", "9"), ("len", "FieldLenField ", "None"),
        ("res", "StrFixedLenField ", "b'\\x00\\x00\\x00\\x00\\x00\\x00'"),
        ("addrlist", "IP6ListField ", "[]")],
    "ICMPv6NDOptTgtAddrList": [("type", "ByteField ", "10"), ("len", "FieldLenField ", "None"),
        ("res", "StrFixedLenField ", "b'\\x00\\x00\\x00\\x00\\x00\\x00'"),
        ("addrlist", "IP6ListField ", "[]")],
    "ICMPv6NDOptIPAddr": [("type", "ByteField ", "17"), ("len", "ByteField ", "3"),
        ("optcode", "ByteEnumField ", "1"), ("plen", "ByteField ", "64"), ("res", "IntField ", "0"),
        ("addr", "IP6Field ", "'::'")],
    "ICMPv6NDOptNewRtrPrefix": [("type", "ByteField ", "18"), ("len", "ByteField ", "3"),
        ("optcode", "ByteField ", "0"), ("plen", "ByteField ", "64"), ("res", "IntField ", "0"),
        ("prefix", "IP6Field ", "'::'")],
    "ICMPv6NDOptLLA": [("type", "ByteField ", "19"), ("len", "ByteField ", "1"),
        ("optcode", "ByteEnumField ", "0"), ("lla", "MACField ", "'00:00:00:00:00:00'")],
    "ICMPv6NDOptMAP": [("type", "ByteField ", "23"), ("len", "ByteField ", "3"),
        ("dist", "BitField  (4 bits)", "1"), ("pref", "BitField  (4 bits)", "15"),
        ("R", "BitField  (1 bit)", "1"), ("res", "BitField  (7 bits)", "0"),
        ("validlifetime", "IntField ", "4294967295"), ("addr", "IP6Field ", "'::'")],
    "ICMPv6NDOptRouteInfo": [("type", "ByteField ", "24"), ("len", "FieldLenField ", "None"),
        ("plen", "ByteField ", "None"), ("res1", "BitField  (3 bits)", "0"), ("prf", "BitEnumField ", "0"),
        ("res2", "BitField  (3 bits)", "0"), ("rtlifetime", "IntField ", "4294967295"),
        ("prefix", "_IP6PrefixField ", "None")],
    "ICMPv6NDOptRDNSS": [("type", "ByteField ", "25"), ("len", "FieldLenField ", "None"),
        ("res", "ShortField ", "None"), ("lifetime", "IntField ", "4294967295"),
        ("dns", "IP6ListField ", "[]")],
    "ICMPv6NDOptEFA": [("type", "ByteField ", "26"), ("len", "ByteField ", "1"),
        ("res", "BitField  (48 bits)", "0")],
    "ICMPv6NDOptDNSSL": [("type", "ByteField ", "31"), ("len", "FieldLenField ", "None"),
        ("res", "ShortField ", "None"), ("lifetime", "IntField ", "4294967295"),
        ("searchlist", "DomainNameListField ", "[]")],
    "ICMPv6NDOptCaptivePortal": [("type", "ByteField ", "37"), ("len", "FieldLenField ", "None"),
        ("URI", "ICMPv6NDOptDataField ", "b''")],
    "ICMPv6NDOptPREF64": [("type", "ByteField ", "38"), ("len", "ByteField ", "2"),
        ("scaledlifetime", "BitField  (13 bits)", "0"), ("plc", "BitEnumField ", "0"),
        ("prefix", "_PREF64 ", "'::'")],
    "IPv6ExtHdrHopByHop": [("nh", "ByteEnumField ", "59"), ("len", "FieldLenField ", "None"),
        ("autopad", "_PhantomAutoPadField ", "1"), ("options", "_OptionsField ", "[]")],
    "IPv6ExtHdrDestOpt": [("nh", "ByteEnumField ", "59"), ("len", "FieldLenField ", "None"),
        ("autopad", "_PhantomAutoPadField ", "1"), ("options", "_OptionsField ", "[]")],
}
_LS.update(_LS_ICMP6)


def _icmp_ts_default() -> str:
    """The default ``ls()`` shows for ICMP's timestamps: Scapy sets it to the time of day
    (milliseconds, UT) when it loads its inet module. That module's value when Scapy is
    loaded here (the text then equals Scapy's), else the time of day when first asked."""
    if not _ICMP_TS_DEFAULT:
        import sys

        inet = sys.modules.get("scapy.layers.inet")
        fields = {f.name: f for f in inet.ICMP.fields_desc} if inet is not None else {}
        if "ts_ori" in fields:
            _ICMP_TS_DEFAULT.append(fields["ts_ori"].default)
        else:
            _ICMP_TS_DEFAULT.append(int(_time.time() % 86400 * 1000))
    return str(_ICMP_TS_DEFAULT[0])


def _ls_value(field: tuple[str, Any, Any, bool] | None, dflt: str) -> str:
    """The value column of ls(): Scapy prints ``getattr(pkt, name)`` (None for a field the
    layer's conditions leave out, the default for one the bytes ended before)."""
    if field is None:
        return "%-15r" % (None,)
    if field[2] is None:   # records, or a packet a field holds: Scapy's repr of them
        value = field[1]
        return "%-15s" % (_records_repr(value) if isinstance(value, list) else _chain_repr(list(value)))
    if field[1] is None and not field[3]:   # not dissected: its default, as getattr gives it
        return "%-15s" % ("[]" if field[0] == "options" else dflt)   # TCP options' b'' reads as []
    return "%-15r" % (field[1],)


def _ls_rows(node: _Node) -> list[tuple[str, str, str, str]]:
    """One layer's ls() rows: field, Scapy field class, value column, default."""
    if node.cls not in ("ICMP", "ICMPerror"):
        return [(name, clsinfo, _ls_value(node.by_name.get(name), dflt), dflt)
                for name, clsinfo, dflt in _LS[node.cls]]
    t = node.value("type")
    rows = []
    for name, clsinfo, dflt, types in _ICMP_LS:
        dflt = _icmp_ts_default() if dflt is None else dflt
        field = node.by_name.get(name) if types is None or t in types else None
        rows.append((name, clsinfo % t if name == "code" else clsinfo, _ls_value(field, dflt), dflt))
    return rows


def _ls_nodes(pkt: Any) -> list[_Node] | None:
    """The layers ls() lists here, or None where Scapy's own ls() is needed."""
    nodes = describe(pkt)
    if nodes is None or not all(n.cls in _LS or n.cls in ("ICMP", "ICMPerror") for n in nodes):
        return None
    return nodes


def _ls_text(nodes: list[_Node]) -> str:
    """Scapy's ``ls(pkt)``: each layer's fields (name, field class, value, default)."""
    # a layer without fields (_LLMNR) prints no line, only the separator after it
    return "--\n".join("".join("%-10s : %-35s = %s (%r)\n" % row for row in _ls_rows(node))
                        for node in nodes)


def ls(obj: Any, dump: bool = False) -> str | None:
    """``fastpkt.craft.ls`` for layer classes and built layers; a dissected packet's layers
    as Scapy's ``ls(pkt)`` lists them (field, Scapy field class, value, default), from
    Scapy itself (``to_scapy``) for layers not rendered here."""
    if not isinstance(obj, _Packet):   # a facade packet also answers for its first layer
        return _craft.ls(obj, dump)
    nodes = _ls_nodes(obj)
    if nodes is not None:
        text = _ls_text(nodes)
        if dump:
            return text
        print(text, end="")
        return None
    import contextlib
    import io

    sp = to_scapy(obj)
    from scapy.packet import ls as scapy_ls

    if not dump:
        scapy_ls(sp)
        return None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        scapy_ls(sp)
    return out.getvalue()


def to_scapy(pkt: Any) -> Any:
    """The same bytes as a real Scapy packet (``conf.l2types[linktype](bytes)``), its time
    kept: for layers only Scapy decodes. ImportError naming the fix without Scapy."""
    try:
        from scapy.config import conf
        import scapy.layers.all  # noqa: F401  (registers every link type, as scapy.all does)
    except ImportError:
        raise ImportError("to_scapy() needs Scapy: pip install scapy") from None
    data = bytes(pkt)
    linktype = getattr(pkt, "linktype", 1)
    try:
        cls = conf.l2types[linktype]
    except KeyError:
        from scapy.packet import Raw as cls
    sp = cls(data)
    t = getattr(pkt, "time", None)
    if t is not None:
        sp.time = t
    wirelen = getattr(pkt, "wirelen", None)
    if wirelen is not None:
        sp.wirelen = wirelen
    return sp


# ---------------------------------------------------------------- conversations
def _default_srcdst(p: Any) -> tuple[str, str]:
    """Scapy's default conversation ends: IP, else IPv6, else ARP addresses (behind VLAN
    tags Scapy decodes: 802.1Q and 802.1ad)."""
    if any(tag.tpid not in (0x8100, 0x88A8) for tag in p.vlans):
        raise TypeError("Scapy stops at this VLAN tag")
    if p.ip is not None:
        return p.ip.src, p.ip.dst
    if p.ip6 is not None:
        return p.ip6.src, p.ip6.dst
    if p.arp is not None:
        return p.arp.psrc, p.arp.pdst
    raise TypeError("no address layer")


def _dot_escape(x: Any) -> str:
    return str(x).replace("\\", "\\\\").replace('"', '\\"')


def conversation_graph(packets: Iterable[Any],
                       getsrcdst: Callable[[Any], tuple[Any, ...]] | None = None) -> str:
    """The dot source of Scapy's ``PacketList.conversations()``: edges in first-seen order,
    labelled with packet counts (or the set of third items ``getsrcdst`` returns)."""
    get = getsrcdst or _default_srcdst
    conv: dict[tuple[Any, ...], Any] = {}
    for p in packets:
        try:
            c = get(p)
        except Exception:   # as Scapy: a packet the function cannot place is left out
            continue
        if len(c) == 3:
            conv.setdefault(tuple(c[:2]), set()).add(c[2])
        else:
            conv[tuple(c)] = conv.get(tuple(c), 0) + 1
    gr = 'digraph "conv" {\n'
    for (s, d), label in conv.items():
        text = ", ".join(str(x) for x in label) if isinstance(label, set) else label
        gr += '\t "%s" -> "%s" [label="%s"]\n' % (_dot_escape(s), _dot_escape(d), _dot_escape(text))
    return gr + "}\n"


def do_graph(graph: str, prog: str | None = None, format: str | None = None,  # noqa: A002
             target: Any = None, type: str | None = None,  # noqa: A002
             string: bool | None = None, options: str | None = None) -> str | None:
    """Scapy's ``do_graph``: render ``graph`` with graphviz (``prog``, default dot) as
    ``format`` (svg) into ``target`` (a path, ``"> path"``, ``"| command"`` or a binary file
    object; default: ImageMagick's ``display``). ``string=True`` returns the source. When
    graphviz (or, without a target, ``display``) is missing, the source is printed instead
    with a warning, where Scapy would fail."""
    import shutil
    import subprocess
    import warnings

    if string:
        return graph
    fmt = type or format or "svg"
    prog = prog or "dot"
    if shutil.which(prog) is None or (target is None and shutil.which("display") is None):
        warnings.warn("graphviz %r or ImageMagick's display is not installed: printing the "
                      "graph's dot source" % prog, RuntimeWarning, stacklevel=3)
        print(graph, end="")
        return None
    viewer = None
    if target is None:
        viewer = subprocess.Popen(["display"], stdin=subprocess.PIPE)
        out = viewer.stdin
    elif isinstance(target, str) and target.startswith("|"):
        viewer = subprocess.Popen(target[1:].lstrip(), shell=True, stdin=subprocess.PIPE)
        out = viewer.stdin
    elif isinstance(target, str):
        out = open(target[1:].lstrip() if target.startswith(">") else target, "wb")
    else:
        out = target
    cmd = [prog] + (options.split() if options else []) + ["-T" + fmt]
    proc = subprocess.run(cmd, input=graph.encode(), stdout=out, stderr=subprocess.PIPE)
    if out is not target and out is not None:
        out.close()
    if proc.returncode != 0:
        raise OSError("GraphViz call failed:\n" + proc.stderr.decode(errors="replace"))
    return None


# ---------------------------------------------------------------- tables of packets
def _ipv4_number(text: str) -> int:
    """Scapy's ``atol``: an IPv4 address (inet_aton's forms) as a number, for sorting."""
    try:
        return int.from_bytes(socket.inet_aton(text), "big")
    except OSError:
        raise ValueError("Bad IP format: %s" % text) from None


def _table_order(keys: list[str], key: Callable[[str], Any] | None) -> list[str]:
    """Scapy's header order: ``key`` if given, else as numbers, else as IPv4 addresses,
    else as text (a key that does not convert sends all of them to the next way)."""
    for how in ([key] if key else [int, _ipv4_number, None]):
        try:
            return sorted(keys, key=how)
        except (ValueError, TypeError):
            continue
    return keys   # not reached: sorting text always succeeds


_TEX = {"{": "{\\tt\\char123}", "}": "{\\tt\\char125}", "\\": "{\\tt\\char92}", "^": "\\^{}",
        "$": "\\$", "#": "\\#", "_": "\\_", "&": "\\&", "%": "\\%", "|": "{\\tt\\char124}",
        "~": "{\\tt\\char126}", "<": "{\\tt\\char60}", ">": "{\\tt\\char62}"}


def _tex_escape(text: str) -> str:
    return "".join(_TEX.get(c, c) for c in text)


def _table(style: str, data: Iterable[Any], fxyz: Callable[..., Any],
           sortx: Callable[[str], Any] | None = None, sorty: Callable[[str], Any] | None = None,
           seplinefunc: Callable[[int, list[int]], str] | None = None, dump: bool = False) -> str | None:
    """Scapy's packet tables: ``fxyz(p)`` gives (column, row, cell) per packet (``fxyz(*pair)``
    for sr() results); the later cell wins; missing cells print ``-``."""
    widths: dict[str, int] = {}
    rows: dict[str, None] = {}
    cells: dict[tuple[str, str], str] = {}
    label = 0
    for item in data:
        x, y, z = (str(v) for v in (fxyz(*item) if isinstance(item, tuple) else fxyz(item)))
        label = max(label, len(y))
        widths[x] = max(widths.get(x, 0), len(x), len(z))
        rows[y] = None
        cells[(x, y)] = z
    cols = _table_order(list(widths), sortx)
    ys = _table_order(list(rows), sorty)
    conv: Callable[[str], str] = str
    if style == "tex":
        conv = _tex_escape
        head, cell, end = "%s", "& %s", "\\\\"
        seplinefunc = seplinefunc or (lambda a, x: "\\hline")
    elif style == "lined":
        head, cell, end = "%%-%is |" % label, "%-{}s |", ""
        seplinefunc = seplinefunc or (lambda a, x: "+".join("-" * (w + 2) for w in [a - 1] + x + [-2]))
    else:
        head, cell, end = "%%-%is" % label, "%-{}s", ""
    sep = seplinefunc(label, [widths[c] for c in cols]) + "\n" if seplinefunc else ""
    fmts = {c: cell.replace("{}", str(widths[c])) for c in cols}
    lines = [head % "" + " " + "".join(fmts[c] % conv(c) + " " for c in cols) + end + "\n"]
    lines.append(sep)
    for y in ys:
        lines.append(head % conv(y) + " " + "".join(
            fmts[c] % conv(cells.get((c, y), "-")) + " " for c in cols) + end + "\n")
    text = sep + "".join(lines) + sep
    if dump:
        return text
    print(text, end="")
    return None


def make_table(data: Iterable[Any], fxyz: Callable[..., Any], **kargs: Any) -> str | None:
    """Scapy's ``make_table``: a table of ``fxyz(p) -> (column, row, cell)`` over packets."""
    return _table("plain", data, fxyz, **kargs)


def make_lined_table(data: Iterable[Any], fxyz: Callable[..., Any], **kargs: Any) -> str | None:
    """``make_table`` with Scapy's ``|`` and ``+---`` lines."""
    return _table("lined", data, fxyz, **kargs)


def make_tex_table(data: Iterable[Any], fxyz: Callable[..., Any], **kargs: Any) -> str | None:
    """``make_table`` as a LaTeX tabular body (``&`` cells, ``\\\\`` line ends, ``\\hline``)."""
    return _table("tex", data, fxyz, **kargs)
