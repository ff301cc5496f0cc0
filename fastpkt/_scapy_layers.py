"""Scapy's layers that fastpkt has no view for, read from a packet's bytes for ``fastpkt.scapy``.

Each class declares its fields once, as Scapy's ``fields_desc`` does (name, kind, argument),
and one walk (``_decode``) reads them with Scapy's rules: a fixed-size field short of bytes
fails the layer (Scapy then reads the rest as Raw), string and list fields take what is there.
Nothing here runs until a script builds a packet's chain (``layers()``, ``payload``,
``pkt[cls]`` of a class fastpkt does not decode).

Tunnels Scapy decodes by default (fastpkt's facade reads packets without its own tunnel
decoding, so ``pkt[IP]`` is the outer header as in Scapy): IP in IP and IPv6 (RFC 2003, 4213),
GRE (RFC 2784, 2890) and VXLAN (RFC 7348, and the GPE and group-policy bits Scapy reads); the
inner packet is dissected by fastpkt and its layers join the chain as Scapy's classes.

ICMPv6 (RFC 4443): errors with the quoted datagram as ``IPerror6`` and ``TCPerror``/``UDPerror``
or the quoted ICMPv6 message under it; Neighbor Discovery (RFC 4861, 4191, 8106...) with each
option a layer of its own, as Scapy chains them; MLD (RFC 2710) and MLDv2 (RFC 3810).

Also BOOTP/DHCP and NTP (modes 0-7) on Scapy's UDP ports, 802.3's LLC/SNAP/STP, 802.1X's
EAPOL, EAP, EAPOL-Key and MKA, PPPoE sessions (PPPoE, HDLC, PPP and the IP packet or control
protocol inside) and PPPoE discovery. Packets Scapy holds in fields (PacketField,
PacketListField) are read into chains of their own, named by the class's ``_held`` (searched
by lookups, as Scapy's are).
"""
from __future__ import annotations

import decimal
import socket
from typing import Any, Callable

import fastpkt as _fp
from fastpkt import _scapy_model as _m
from fastpkt import _scapy_text

_ntop6 = socket.inet_ntop
_AF6 = socket.AF_INET6
_ntop4 = socket.inet_ntoa


class _Short(Exception):
    """A fixed-size field runs past the bytes: Scapy's dissection of the layer fails."""


# ---------------------------------------------------------------- the field walk
# kinds: "B" "H" "3" "I" "Q" unsigned big-endian of 1, 2, 3, 4, 8 bytes, "b" a signed byte;
# "bits" [(name, width)...] (a whole number of bytes); "ip4", "ip6", "mac"; "fix" n bytes (StrFixedLenField, takes what is
# there); "len" f(fields) bytes (StrLenField); "rest" (StrField); "ip6list" count or length
# from f(fields) (IP6ListField: whole addresses only); "mayend" marks that the walk stops
# when the bytes end after the previous field (Scapy's MayEnd); a kind ending in "?" is
# present only when its argument, called with the fields so far, is true (ConditionalField;
# the argument is then (condition, the kind's own argument) where the kind needs one);
# "skip" n bytes of alignment (PadField); others are the layer's own
_WIDTH = {"B": 1, "H": 2, "3": 3, "I": 4}
Desc = list[tuple[str, str, Any]]


def _decode(desc: Desc, data: bytes, special: Callable[..., Any] | None = None) -> tuple[dict[str, Any], int]:
    """Scapy's fields of ``desc`` read from ``data``; (fields, bytes used)."""
    fields: dict[str, Any] = {}
    pos = 0
    for name, kind, arg in desc:
        if kind.endswith("?"):   # Scapy's ConditionalField: absent unless arg(fields)
            cond, arg = arg if isinstance(arg, tuple) else (arg, None)
            if not cond(fields):
                continue
            kind = kind[:-1]
        if kind == "mayend":
            if pos >= len(data):
                break
            continue
        width = _WIDTH.get(kind)
        if width is not None:
            if pos + width > len(data):
                raise _Short
            fields[name] = int.from_bytes(data[pos:pos + width], "big")
            pos += width
        elif kind == "bits":
            size = sum(w for _, w in arg) // 8
            if pos + size > len(data):
                raise _Short
            word, left = int.from_bytes(data[pos:pos + size], "big"), size * 8
            for bit_name, w in arg:
                left -= w
                fields[bit_name] = (word >> left) & ((1 << w) - 1)
            pos += size
        elif kind == "flags":   # one byte of Scapy's FlagsField: a FlagValue
            if pos + 1 > len(data):
                raise _Short
            fields[name] = _m._flag(data[pos], arg, True)
            pos += 1
        elif kind == "b":   # SignedByteField
            if pos + 1 > len(data):
                raise _Short
            fields[name] = data[pos] - 256 * (data[pos] >> 7)
            pos += 1
        elif kind == "Q":
            if pos + 8 > len(data):
                raise _Short
            fields[name] = int.from_bytes(data[pos:pos + 8], "big")
            pos += 8
        elif kind == "ip4":
            if pos + 4 > len(data):
                raise _Short
            fields[name] = _ntop4(data[pos:pos + 4])
            pos += 4
        elif kind == "ip6":
            if pos + 16 > len(data):
                raise _Short
            fields[name] = _ntop6(_AF6, data[pos:pos + 16])
            pos += 16
        elif kind == "mac":
            if pos + 6 > len(data):
                raise _Short
            fields[name] = data[pos:pos + 6].hex(":")
            pos += 6
        elif kind in ("fix", "len"):
            fields[name], pos = _take(data, pos, arg if kind == "fix" else arg(fields))
        elif kind == "rest":
            fields[name] = data[pos:]
            pos = len(data)
        elif kind == "skip":   # PadField's alignment bytes after the previous field
            pos = min(len(data), pos + arg)
        elif kind == "ip6list":
            count, length = arg(fields)
            chunk = data[pos:] if length is None else _take(data, pos, length)[0]
            out: list[str] = []
            while 16 * (len(out) + 1) <= len(chunk) and (count is None or len(out) < count):
                out.append(_ntop6(_AF6, chunk[16 * len(out):16 * len(out) + 16]))
            fields[name] = out
            pos += 16 * len(out)   # a partial address is left to the next layer
        else:
            assert special is not None
            fields[name], pos = special(kind, arg, fields, data, pos)
    return fields, pos


def _take(data: bytes, pos: int, n: int) -> tuple[bytes, int]:
    """Scapy's length-from slicing of the bytes at ``pos``: ``s[:n]`` and the rest from
    ``s[n:]``, Python's slices (a negative length leaves the last -n bytes)."""
    if n == 0:
        return b"", pos
    s = data[pos:]
    return s[:n], len(data) - len(s[n:])


def _layer(cls: type, data: bytes, chain: list[Any], offset: int = -1) -> Any:
    """Read ``cls`` from ``data`` (Scapy's fields); the layer, appended to ``chain``, or None
    where Scapy's dissection of it fails."""
    try:
        fields, used = _decode(cls._desc, data, getattr(cls, "_special", None))  # type: ignore[attr-defined]
    except _Short:
        return None
    layer = _m._quoted(cls, fields, data[:used], chain, offset)
    chain.append(layer)
    return layer


def _raw(data: bytes, chain: list[Any]) -> None:
    if data:
        chain.append(_m._linked(_m.Raw, data, chain))


class _Layer(_m._Fields):
    __slots__ = ()
    _desc: Desc = []
    # fields whose attribute is not the stored value (Scapy's i2h), by name
    _human: dict[str, Callable[[Any], Any]] = {}
    # what Scapy's attribute gives for a field the dissection did not reach (its default)
    _defaults: dict[str, Any] = {}

    def __getattr__(self, attr: str) -> Any:
        if attr in type(self)._defaults and attr not in self._fields:
            return type(self)._defaults[attr]
        value = _m._Fields.__getattr__(self, attr)
        human = type(self)._human.get(attr)
        return value if human is None or attr not in self._fields else human(value)


# ---------------------------------------------------------------- ICMPv6 messages
_ICMP6_HEAD: Desc = [("type", "B", None), ("code", "B", None), ("cksum", "H", None)]


class _ICMPv6Message(_Layer):
    """An ICMPv6 message: Scapy has no ICMPv6 class, the facade's ``ICMPv6`` (fastpkt's view,
    which these replace in the chain) finds them (``ICMPv6 in pkt``, ``pkt[ICMPv6]``)."""

    __slots__ = ()
    _view_name = "ICMPv6"


class ICMPv6DestUnreach(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Destination Unreachable"
    _desc = _ICMP6_HEAD + [("length", "B", None), ("unused", "3", None)]
    _held = ("ext",)   # with extpad, added by icmp6()


class ICMPv6PacketTooBig(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Packet Too Big"
    _desc = _ICMP6_HEAD + [("mtu", "I", None)]


class ICMPv6TimeExceeded(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Time Exceeded"
    _desc = ICMPv6DestUnreach._desc
    _held = ("ext",)


class ICMPv6ParamProblem(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Parameter Problem"
    _desc = _ICMP6_HEAD + [("ptr", "I", None)]


_ML: Desc = _ICMP6_HEAD + [("mrd", "H", None), ("reserved", "H", None), ("mladdr", "ip6", None)]


class ICMPv6MLQuery(_ICMPv6Message):
    __slots__ = ()
    name = "MLD - Multicast Listener Query"
    _desc = _ML


class ICMPv6MLReport(_ICMPv6Message):
    __slots__ = ()
    name = "MLD - Multicast Listener Report"
    _desc = _ML


class ICMPv6MLDone(_ICMPv6Message):
    __slots__ = ()
    name = "MLD - Multicast Listener Done"
    _desc = _ML


class ICMPv6MLQuery2(_ICMPv6Message):
    __slots__ = ()
    name = "MLDv2 - Multicast Listener Query"
    _desc = _ML + [("", "bits", [("Resv", 4), ("S", 1), ("QRV", 3)]), ("QQIC", "B", None),
                   ("sources_number", "H", None),
                   ("sources", "ip6list", lambda f: (f["sources_number"], None))]


class ICMPv6MLDMultAddrRec(_Layer):
    __slots__ = ()
    name = "ICMPv6 MLDv2 - Multicast Address Record"
    _desc = [("rtype", "B", None), ("auxdata_len", "B", None), ("sources_number", "H", None),
             ("dst", "ip6", None),
             ("sources", "ip6list", lambda f: (None, 16 * f["sources_number"])),
             ("auxdata", "len", lambda f: f["auxdata_len"])]


def _mld_records(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    """MLDv2 records as Scapy reads them: the first record's payload is the next record
    (and so on, then Raw), all inside the report's ``records`` list."""
    rest = data[pos:]
    if not rest or fields["records_number"] <= 0:
        return [], pos
    chain: list[Any] = []
    while rest:
        rec = _layer(ICMPv6MLDMultAddrRec, rest, chain)
        if rec is None:
            break
        rest = rest[len(rec._data):]
    if not chain:
        return [_m.Raw(rest)], len(data)
    _raw(rest, chain)
    return [chain[0]], len(data)


class ICMPv6MLReport2(_ICMPv6Message):
    __slots__ = ()
    name = "MLDv2 - Multicast Listener Report"
    _desc = [("type", "B", None), ("res", "B", None), ("cksum", "H", None), ("reserved", "H", None),
             ("records_number", "H", None), ("records", "records", None)]
    _special = staticmethod(_mld_records)


class ICMPv6ND_RS(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - Router Solicitation"
    _desc = _ICMP6_HEAD + [("res", "I", None)]


class ICMPv6ND_RA(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - Router Advertisement"
    _desc = _ICMP6_HEAD + [("chlim", "B", None),
                           ("", "bits", [("M", 1), ("O", 1), ("H", 1), ("prf", 2), ("P", 1), ("res", 2)]),
                           ("routerlifetime", "H", None), ("reachabletime", "I", None),
                           ("retranstimer", "I", None)]


class ICMPv6ND_NS(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - Neighbor Solicitation"
    _desc = _ICMP6_HEAD + [("res", "I", None), ("tgt", "ip6", None)]


class ICMPv6ND_NA(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - Neighbor Advertisement"
    _desc = _ICMP6_HEAD + [("", "bits", [("R", 1), ("S", 1), ("O", 1), ("res", 29)]),
                           ("tgt", "ip6", None)]


class ICMPv6ND_Redirect(_ICMPv6Message):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - Redirect"
    _desc = _ICMP6_HEAD + [("res", "I", None), ("tgt", "ip6", None), ("dst", "ip6", None)]


# ---------------------------------------------------------------- ND options
_OPT_HEAD: Desc = [("type", "B", None), ("len", "B", None)]


class ICMPv6NDOptUnknown(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Scapy Unimplemented"
    _desc = _OPT_HEAD + [("data", "len", lambda f: 8 * max(f["len"], 1) - 2)]


class ICMPv6NDOptSrcLLAddr(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Source Link-Layer Address"
    _desc = _OPT_HEAD + [("lladdr", "mac", None)]


class ICMPv6NDOptDstLLAddr(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Destination Link-Layer Address"
    _desc = ICMPv6NDOptSrcLLAddr._desc


class ICMPv6NDOptPrefixInfo(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Prefix Information"
    _desc = _OPT_HEAD + [("prefixlen", "B", None),
                         ("", "bits", [("L", 1), ("A", 1), ("R", 1), ("res1", 5)]),
                         ("validlifetime", "I", None), ("preferredlifetime", "I", None),
                         ("res2", "I", None), ("prefix", "ip6", None)]


def _redirected(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    """The redirected header's quoted packet: Scapy's IPv6 over ``8 * len - 8`` bytes (whole
    8-byte units; read as IPv6 whatever version they hold, as Scapy's field reads them and
    fastpkt's raw-IPv6 link type does), Raw under 40 bytes, None when there are none."""
    n = 8 * fields["len"] - 8
    if n == 0:
        return None, pos
    chunk, end = _take(data, pos, n)
    if not chunk:   # Scapy's IPv6 of no bytes: a layer without fields, in a chain of its own
        held: list[Any] = []
        held.append(_m._quoted(_EmptyIPv6, {}, b"", held, -1))
        return held[0], end
    ip6 = _m.ScapyPacket(chunk, _LINKTYPE_IPV6).ip6
    return (ip6 if ip6 is not None and len(chunk) >= 40 else _m.Raw(chunk)), end


_LINKTYPE_IPV6 = 229


_EmptyIPv6 = type("IPv6", (_Layer,), {"__slots__": (), "name": "IPv6", "_public": _fp.IPv6})


class ICMPv6NDOptRedirectedHdr(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Redirected Header"
    _desc = _OPT_HEAD + [("res", "fix", 6), ("", "mayend", None), ("pkt", "pkt", None)]
    _special = staticmethod(_redirected)


class ICMPv6NDOptMTU(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - MTU"
    _desc = _OPT_HEAD + [("res", "H", None), ("mtu", "I", None)]


class ICMPv6NDOptShortcutLimit(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - NBMA Shortcut Limit"
    _desc = _OPT_HEAD + [("shortcutlim", "B", None), ("res1", "B", None), ("res2", "I", None)]


class ICMPv6NDOptAdvInterval(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - Interval Advertisement"
    _desc = _OPT_HEAD + [("res", "H", None), ("advint", "I", None)]


class ICMPv6NDOptHAInfo(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - Home Agent Information"
    _desc = _OPT_HEAD + [("res", "H", None), ("pref", "H", None), ("lifetime", "H", None)]


class ICMPv6NDOptSrcAddrList(_Layer):
    __slots__ = ()
    name = "ICMPv6 Inverse Neighbor Discovery Option - Source Address List"
    _desc = _OPT_HEAD + [("res", "fix", 6),
                         ("addrlist", "ip6list", lambda f: (None, 8 * (f["len"] - 1)))]


class ICMPv6NDOptTgtAddrList(_Layer):
    __slots__ = ()
    name = "ICMPv6 Inverse Neighbor Discovery Option - Target Address List"
    _desc = ICMPv6NDOptSrcAddrList._desc


class ICMPv6NDOptIPAddr(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - IP Address Option (FH for MIPv6)"
    _desc = _OPT_HEAD + [("optcode", "B", None), ("plen", "B", None), ("res", "I", None),
                         ("addr", "ip6", None)]


class ICMPv6NDOptNewRtrPrefix(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - New Router Prefix Information Option (FH for MIPv6)"
    _desc = _OPT_HEAD + [("optcode", "B", None), ("plen", "B", None), ("res", "I", None),
                         ("prefix", "ip6", None)]


class ICMPv6NDOptLLA(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - Link-Layer Address (LLA) Option (FH for MIPv6)"
    _desc = _OPT_HEAD + [("optcode", "B", None), ("lla", "mac", None)]


class ICMPv6NDOptMAP(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery - MAP Option"
    _desc = _OPT_HEAD + [("", "bits", [("dist", 4), ("pref", 4), ("R", 1), ("res", 7)]),
                         ("validlifetime", "I", None), ("addr", "ip6", None)]


def _prefix6(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    """A route's prefix (RFC 4191): ``8 * (len - 1)`` bytes, zero-filled to an address."""
    n = 8 * (fields["len"] - 1)
    s = data[pos:]
    chunk = s[:n]
    if n < 16:
        chunk += b"\0" * (16 - n)
    if len(chunk) != 16:
        raise _Short   # not an address's 16 bytes: Scapy's inet_ntop refuses it
    return _ntop6(_AF6, chunk), len(data) - len(s[n:])


class ICMPv6NDOptRouteInfo(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Route Information Option"
    _desc = _OPT_HEAD + [("plen", "B", None), ("", "bits", [("res1", 3), ("prf", 2), ("res2", 3)]),
                         ("rtlifetime", "I", None), ("prefix", "prefix6", None)]
    _special = staticmethod(_prefix6)


class ICMPv6NDOptRDNSS(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Recursive DNS Server Option"
    _desc = _OPT_HEAD + [("res", "H", None), ("lifetime", "I", None),
                         ("dns", "ip6list", lambda f: (None, 8 * (f["len"] - 1)))]


class ICMPv6NDOptEFA(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Expanded Flags Option"
    _desc = _OPT_HEAD + [("", "bits", [("res", 48)])]


def _search_list(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    """RFC 8106's domain names (uncompressed labels, zero-padded), as Scapy's text list."""
    n = 8 * fields["len"] - 8
    if n == 0:
        return b"", pos   # Scapy's StrLenField of length 0: the bytes, not a list
    chunk, end = _take(data, pos, n)
    x = chunk.decode(errors="backslashreplace")
    out = []
    while x:
        labels = []
        while x and ord(x[0]) != 0:
            k = ord(x[0])
            labels.append(x[1:k + 1])
            x = x[k + 1:]
        if labels:
            out.append(".".join(labels) + ".")
        if x and ord(x[0]) == 0:
            x = x[1:]
    return out, end


class ICMPv6NDOptDNSSL(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - DNS Search List Option"
    _desc = _OPT_HEAD + [("res", "H", None), ("lifetime", "I", None), ("searchlist", "names", None)]
    _special = staticmethod(_search_list)


class ICMPv6NDOptCaptivePortal(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - Captive-Portal Option"
    _desc = _OPT_HEAD + [("URI", "uri", None)]

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        chunk, end = _take(data, pos, 8 * max(fields["len"], 1) - 2)
        return chunk.rstrip(b"\0"), end


def _pref64(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    chunk = data[pos:pos + 12]
    if len(chunk) < 12:
        raise _Short
    return _ntop6(_AF6, chunk + b"\0" * 4), pos + 12


class ICMPv6NDOptPREF64(_Layer):
    __slots__ = ()
    name = "ICMPv6 Neighbor Discovery Option - PREF64 Option"
    _desc = _OPT_HEAD + [("", "bits", [("scaledlifetime", 13), ("plc", 3)]), ("prefix", "pref64", None)]
    _special = staticmethod(_pref64)


_ND_OPTIONS: dict[int, type] = {
    1: ICMPv6NDOptSrcLLAddr, 2: ICMPv6NDOptDstLLAddr, 3: ICMPv6NDOptPrefixInfo,
    4: ICMPv6NDOptRedirectedHdr, 5: ICMPv6NDOptMTU, 6: ICMPv6NDOptShortcutLimit,
    7: ICMPv6NDOptAdvInterval, 8: ICMPv6NDOptHAInfo, 9: ICMPv6NDOptSrcAddrList,
    10: ICMPv6NDOptTgtAddrList, 17: ICMPv6NDOptIPAddr, 18: ICMPv6NDOptNewRtrPrefix,
    19: ICMPv6NDOptLLA, 23: ICMPv6NDOptMAP, 24: ICMPv6NDOptRouteInfo, 25: ICMPv6NDOptRDNSS,
    26: ICMPv6NDOptEFA, 31: ICMPv6NDOptDNSSL, 37: ICMPv6NDOptCaptivePortal, 38: ICMPv6NDOptPREF64,
}


def _nd_options(data: bytes, chain: list[Any]) -> None:
    """ND options (RFC 4861 section 4.6) as Scapy chains them: each option class reads its
    own layout, the next starts where it stopped (whatever its length byte says); a single
    byte left, or an option Scapy cannot read, is Raw."""
    while len(data) > 1:
        opt = _layer(_ND_OPTIONS.get(data[0], ICMPv6NDOptUnknown), data, chain)
        if opt is None or not opt._data:
            break
        data = data[len(opt._data):]
    _raw(data, chain)


# ---------------------------------------------------------------- the quoted datagram
class IPerror6(_Layer):
    __slots__ = ()
    name = "IPv6 in ICMPv6"
    _desc = [("", "bits", [("version", 4), ("tc", 8), ("fl", 20)]), ("plen", "H", None),
             ("nh", "B", None), ("hlim", "B", None), ("src", "ip6", None), ("dst", "ip6", None)]


def _tcp_over(data: bytes) -> Any:
    """A raw-IPv4 facade packet carrying ``data`` as its TCP segment: fastpkt's TCP view
    (options and all) for bytes an ICMPv6 error quotes."""
    head = bytearray(b"\x45\0\0\0\0\0\0\0\x40\x06\0\0\0\0\0\0\0\0\0\0")
    head[2:4] = (20 + len(data)).to_bytes(2, "big")
    return _m.ScapyPacket(bytes(head) + data, _m._LINKTYPE_RAW)


def _quoted_ip6(data: bytes, chain: list[Any]) -> None:
    """IPerror6 and what Scapy reads under it: extension headers, TCPerror/UDPerror, an
    ICMPv6 message; bytes past the quoted payload length are Padding."""
    ip6 = _layer(IPerror6, data, chain)
    if ip6 is None:
        _raw(data, chain)
        return
    f = ip6._fields
    rest, pad = data[40:40 + f["plen"]], data[40 + f["plen"]:]
    if f["plen"] == 0 and f["nh"] == 0 and len(rest) >= 8:
        rest, pad = data[40:], b""   # a jumbogram's length is in its hop-by-hop header
    nh = f["nh"]
    while rest and nh in _m._IP6_EXT:
        if nh == 43 and len(rest) > 2 and rest[2] == 4:
            break   # segment routing: Scapy's class of its own, Raw here
        ext = _m._ip6_extension(nh, rest, chain, -1)
        if ext is None or (ext._fields["nh"] == 43 and 0 < len(rest) - len(ext._data) < 3):
            break
        chain.append(ext)
        rest = rest[len(ext._data):]
        nh = ext._fields["nh"]
        if type(ext) is _m.IPv6ExtHdrFragment and ext._fields["offset"]:
            break
    else:
        if rest and nh == 6:
            _m._quoted_tcp(_tcp_over(rest), rest, chain)
            rest = b""
        elif rest and nh == 17:
            _m._quoted_udp(rest, chain)
            rest = b""
        elif rest and nh == 58:
            icmp6(rest, chain, -1)
            rest = b""
    _raw(rest, chain)
    if pad:
        chain.append(_m._linked(_m.Padding, pad, chain))


# ---------------------------------------------------------------- dispatch
_ERRORS: dict[int, type] = {1: ICMPv6DestUnreach, 2: ICMPv6PacketTooBig, 3: ICMPv6TimeExceeded,
                            4: ICMPv6ParamProblem}
_ND: dict[int, type] = {133: ICMPv6ND_RS, 134: ICMPv6ND_RA, 135: ICMPv6ND_NS, 136: ICMPv6ND_NA,
                        137: ICMPv6ND_Redirect}
_OTHERS: dict[int, type] = {131: ICMPv6MLReport, 132: ICMPv6MLDone, 143: ICMPv6MLReport2}
DECODED = frozenset((*_ERRORS, *_ND, *_OTHERS, 128, 129, 130))


def icmp6(data: bytes, chain: list[Any], offset: int) -> Any:
    """Append the ICMPv6 message in ``data`` (an IPv6 payload) as Scapy reads it; the error
    layer when Scapy read an RFC 4884 extension there (its post-dissection then moves the
    frame's Padding into its extpad), else None."""
    t = data[0]
    if len(data) < _m._ICMP6_MIN.get(t, 1 << 30):
        _raw(data, chain)
        return None
    if t in (128, 129):
        chain.append(_m._icmp6_echo_from(data, chain, offset))
        return None
    cls: type | None
    if t == 130:
        cls = ICMPv6MLQuery2 if len(data) >= 28 else ICMPv6MLQuery
    else:
        cls = _ERRORS.get(t) or _ND.get(t) or _OTHERS.get(t)
        if cls is None:   # a class the facade does not model: fastpkt's view goes on
            _raw(data, chain)
            return None
    layer = _layer(cls, data, chain, offset)
    if layer is None:
        _raw(data, chain)
        return None
    rest = data[len(layer._data):]
    extension = False
    if t in _ERRORS:
        extension = t in (1, 3) and len(data) >= 144
        if t in (1, 3):   # Scapy's trailer fields (extpad: the frame's Padding, set by _chain)
            layer._fields.update(extpad=b"", ext=icmp_extension(data[136:]) if extension else None)
        if rest:
            _quoted_ip6(rest[:128] if extension else rest, chain)
    elif t in _ND:
        _nd_options(rest, chain)
    else:
        _raw(rest, chain)
    return layer if extension else None


# ---------------------------------------------------------------- RFC 4884 extensions
class ICMPExtension_Header(_Layer):
    __slots__ = ()
    name = "ICMP Extension Header (RFC4884)"
    _desc = [("", "bits", [("version", 4), ("reserved", 12)]), ("chksum", "H", None)]


class ICMPExtension_Object(_Layer):
    __slots__ = ()
    name = "ICMP Extension Object"
    _desc = [("len", "H", None), ("classnum", "B", None), ("classtype", "B", None)]


def _has(flag: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f.get(flag) == 1


class ICMPExtension_InterfaceInformation(_Layer):
    """RFC 5837's object, as Scapy reads it: each part its flag announces, the address by its
    AFI (1 IPv4, 2 IPv6), the name by its length byte."""

    __slots__ = ()
    name = "ICMP Extension Object - Interface Information Object (RFC5837)"
    _desc = [("len", "H", None), ("classnum", "B", None),
             ("", "bits", [("classtype", 2), ("reserved", 2), ("has_ifindex", 1), ("has_ipaddr", 1),
                           ("has_ifname", 1), ("has_mtu", 1)]),
             ("ifindex", "I?", _has("has_ifindex")), ("afi", "H?", _has("has_ipaddr")),
             ("reserved2", "H?", _has("has_ipaddr")), ("ip4", "ip4?", lambda f: f.get("afi") == 1),
             ("ip6", "ip6?", lambda f: f.get("afi") == 2), ("ifname_len", "B?", _has("has_ifname")),
             ("ifname", "len?", (_has("has_ifname"), lambda f: f["ifname_len"])),
             ("mtu", "I?", _has("has_mtu"))]
    _defaults = {k: None for k in ("ifindex", "afi", "reserved2", "ip4", "ip6", "ifname_len", "ifname", "mtu")}


def icmp_extension(data: bytes) -> Any:
    """The RFC 4884 extension Scapy reads from an ICMP error's bytes past its 136th (whatever
    its checksum and the quote's length field say): the header, then one object (RFC 5837's
    by its class number) whose payload is the rest as Raw (the later objects included, as in
    Scapy), or Raw where fewer than an object's 4 bytes follow or its fields run short."""
    held: list[Any] = []
    head = _layer(ICMPExtension_Header, data, held)
    if head is None:
        _raw(data, held)
        return held[0]
    rest = data[4:]
    if len(rest) >= 4:
        cls = ICMPExtension_InterfaceInformation if rest[2] == 2 else ICMPExtension_Object
        obj = _layer(cls, rest, held)
        if obj is not None:
            rest = rest[len(obj._data):]
    _raw(rest, held)
    return held[0]


CLASSES = (ICMPv6DestUnreach, ICMPv6PacketTooBig, ICMPv6TimeExceeded, ICMPv6ParamProblem,
           ICMPv6MLQuery, ICMPv6MLReport, ICMPv6MLDone, ICMPv6MLQuery2, ICMPv6MLReport2,
           ICMPv6MLDMultAddrRec, ICMPv6ND_RS, ICMPv6ND_RA, ICMPv6ND_NS, ICMPv6ND_NA,
           ICMPv6ND_Redirect, IPerror6, ICMPv6NDOptUnknown, *_ND_OPTIONS.values(),
           ICMPExtension_Header, ICMPExtension_Object, ICMPExtension_InterfaceInformation)


# ---------------------------------------------------------------- tunnels
class GRE(_Layer):
    __slots__ = ()
    name = "GRE"
    _desc = [("", "bits", [("chksum_present", 1), ("routing_present", 1), ("key_present", 1),
                           ("seqnum_present", 1), ("strict_route_source", 1),
                           ("recursion_control", 3), ("flags", 5), ("version", 3)]),
             ("proto", "H", None),
             ("chksum", "H?", lambda f: f["chksum_present"] or f["routing_present"]),
             ("offset", "H?", lambda f: f["chksum_present"] or f["routing_present"]),
             ("key", "I?", lambda f: f["key_present"]),
             ("sequence_number", "I?", lambda f: f["seqnum_present"])]


_VXLAN_FLAGS = ["OAM", "R", "NextProtocol", "Instance", "V1", "V2", "R", "G"]


class VXLAN(_Layer):
    __slots__ = ()
    name = "VXLAN"
    _desc = [("flags", "flags", _VXLAN_FLAGS),
             ("reserved0", "H?", lambda f: f["flags"] & 0x04),
             ("NextProtocol", "B?", lambda f: f["flags"] & 0x04),
             ("reserved1", "3?", lambda f: not f["flags"] & 0x84),
             ("gpflags", "gpflags?", lambda f: f["flags"] & 0x80),
             ("gpid", "H?", lambda f: f["flags"] & 0x80),
             ("vni", "3", None), ("reserved2", "B", None)]

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        if pos + 1 > len(data):
            raise _Short
        return _m._flag(data[pos], ["R", "R", "R", "A", "R", "R", "D", "R"], True), pos + 1


class _Proxy(_Layer):
    """A layer of a tunnelled packet: fastpkt's view of it (dissected on its own) turned into
    Scapy's class of that name with its fields, linked into the outer packet's chain."""

    __slots__ = ()


_PROXIES: dict[type, type] = {}


def _proxy(view: Any, chain: list[Any]) -> Any:
    cls = _PROXIES.get(type(view))
    if cls is None:
        base = type(view)
        cls = type(base.__name__, (_Proxy,), {"__slots__": (), "name": base.name,
                                              "_public": getattr(base, "_public", base),
                                              "__module__": __name__})
        _PROXIES[base] = cls
    data = _m._fp_bytes(view)
    return _m._quoted(cls, view.fields, data, chain, head=len(data) - len(_m._fp_payload(view)))


_FAKE_ETHER = b"\0" * 12


def _inner(data: bytes, linktype: int, chain: list[Any], ethertype: int = -1) -> None:
    """The tunnelled packet's layers, dissected by fastpkt, appended to ``chain``
    (``ethertype``: a frame without its Ethernet header, given one to read it)."""
    if ethertype >= 0:
        data = _FAKE_ETHER + ethertype.to_bytes(2, "big") + data
    layers = _m._chain(_m.ScapyPacket(data, linktype))
    for layer in layers[1 if ethertype >= 0 else 0:]:
        if isinstance(layer, _m._Linked):   # Raw, Padding, Scapy's classes: moved over
            layer._chain, layer._i = chain, len(chain)
            if isinstance(layer, _m._Fields):
                layer._offset = -1   # an offset in the inner packet, not in the outer frame
            chain.append(layer)
        else:
            chain.append(_proxy(layer, chain))


# what GRE's payload is, by protocol, in the order Scapy's bindings are tried: LLC, 802.1Q,
# Ethernet and ARP come before a routing header (GRErouting), IP, IPv6 and EAPOL after it,
# and PPTP's PPP last (GRE_PPTP inherits GRE's bindings)
_GRE_ETHERTYPES = {0x8100: 0x8100, 0x0806: 0x0806}


def _gre(data: bytes, chain: list[Any]) -> None:
    pptp = len(data) >= 4 and data[2:4] == b"\x88\x0b"   # Scapy's dispatch, whatever the version
    gre = _layer(GRE_PPTP if pptp else GRE, data, chain)
    if gre is None:
        _raw(data, chain)
        return
    rest, f = data[len(gre._data):], gre._fields
    if not rest:
        return
    proto = f["proto"]
    if proto == 122:
        _llc(rest, chain)
    elif proto == 0x6558:
        _inner(rest, 1, chain)
    elif proto in _GRE_ETHERTYPES:
        _inner(rest, 1, chain, proto)
    elif f["routing_present"]:
        gre_routing(rest, chain)
    elif proto == 0x888E:
        eapol(rest, chain)
    elif proto in (0x0800, 0x86DD):
        _inner(rest, _m._LINKTYPE_RAW, chain)
    elif pptp:
        ppp(rest, chain)
    else:
        _raw(rest, chain)


_VXLAN_NEXT = {0: 1, 3: 1, 1: _m._LINKTYPE_RAW, 2: _m._LINKTYPE_RAW}   # Ether, Ether, IP, IPv6


def _vxlan(data: bytes, chain: list[Any]) -> None:
    vx = _layer(VXLAN, data, chain)
    if vx is None:
        _raw(data, chain)
        return
    rest = data[len(vx._data):]
    linktype = _VXLAN_NEXT.get(vx._fields.get("NextProtocol", 0))
    if rest and linktype is not None:
        _inner(rest, linktype, chain)
    else:
        _raw(rest, chain)


def carries(net: Any) -> bool:
    """Whether Scapy reads a tunnel in this IP/IPv6 view's payload (fastpkt's facade does not)."""
    if type(net).__name__ == "IP":
        return (net.frag == 0 and net.proto in (4, 47)) or net.proto == 41   # 6in4: any fragment
    return net.nh in (4, 41, 47)


def udp_tunnel(udp: Any) -> bool:
    """Whether Scapy reads VXLAN (or GRE, on port 4754) after this UDP view, by its bindings."""
    return _scapy_text._bound(_scapy_text._UDP_BINDS, udp.sport, udp.dport) in ("VXLAN", "GRE")


def ip_payload(net: Any, load: bytes, chain: list[Any]) -> None:
    """What Scapy reads after an IP/IPv6 header that ``carries`` a tunnel."""
    proto = net.proto if type(net).__name__ == "IP" else net.nh
    if proto == 47:
        _gre(load, chain)
    else:
        _inner(load, _m._LINKTYPE_RAW, chain)


def udp_payload(udp: Any, load: bytes, chain: list[Any]) -> None:
    if _scapy_text._bound(_scapy_text._UDP_BINDS, udp.sport, udp.dport) == "GRE":
        _gre(load, chain)
    else:
        _vxlan(load, chain)


CLASSES += (GRE, VXLAN)


# ---------------------------------------------------------------- GRE routing and PPTP
# RFC 1701's Source Route Entries, each Scapy's GRErouting (the next entry its payload; after
# the terminator, address family and length 0, the rest is Raw), and PPTP's enhanced GRE
# (RFC 2637 section 4.1) as Scapy's GRE_PPTP, carrying a PPP frame.
class GRErouting(_Layer):
    __slots__ = ()
    name = "GRE routing information"
    _desc = [("address_family", "H", None), ("SRE_offset", "B", None), ("SRE_len", "B", None),
             ("routing_info", "len", lambda f: f["SRE_len"])]


class GRE_PPTP(_Layer):
    __slots__ = ()
    name = "GRE PPTP"
    _desc = [("", "bits", [("chksum_present", 1), ("routing_present", 1), ("key_present", 1),
                           ("seqnum_present", 1), ("strict_route_source", 1),
                           ("recursion_control", 3), ("acknum_present", 1), ("flags", 4),
                           ("version", 3)]),
             ("proto", "H", None), ("payload_len", "H", None), ("call_id", "H", None),
             ("sequence_number", "I?", lambda f: f["seqnum_present"]),
             ("ack_number", "I?", lambda f: f["acknum_present"])]


def gre_routing(data: bytes, chain: list[Any]) -> None:
    while data:
        sre = _layer(GRErouting, data, chain)
        if sre is None:
            _raw(data, chain)
            return
        data = data[len(sre._data):]
        if sre._fields["address_family"] == 0 and sre._fields["SRE_len"] == 0:
            _raw(data, chain)
            return


# ---------------------------------------------------------------- PPPoE (RFC 2516) session stage
class PPPoE(_Layer):
    __slots__ = ()
    name = "PPP over Ethernet"
    _desc = [("", "bits", [("version", 4), ("type", 4)]), ("code", "B", None),
             ("sessionid", "H", None), ("len", "H", None)]


class HDLC(_Layer):   # the address and control bytes a PPP frame may keep (RFC 1662)
    __slots__ = ()
    name = "HDLC"
    _desc = [("address", "B", None), ("control", "B", None)]


class PPP(_Layer):
    __slots__ = ()
    name = "PPP Link Layer"
    _desc = [("proto", "pppproto", None)]

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        # RFC 1661 section 2: an odd first byte is a one-byte (compressed) protocol
        width = 1 if pos < len(data) and data[pos] & 1 else 2
        if pos + width > len(data):
            raise _Short
        return int.from_bytes(data[pos:pos + width], "big"), pos + width


# what Scapy's PPP layer carries, by protocol: IPv4 and IPv6 dissected by fastpkt as a tunnel's
# inner packet; the control protocols (PPP_CONTROL below) and EAP read here
PPP_INNER = {0x0021: 0x0800, 0x0057: 0x86DD}


def pppoe(data: bytes, chain: list[Any]) -> None:
    """PPPoE after EtherType 0x8864: a session's PPP frame (code 0; others are Raw)."""
    head = _layer(PPPoE, data, chain)
    if head is None:
        _raw(data, chain)
        return
    rest = data[len(head._data):]
    if rest and head._fields["code"] != 0:
        _raw(rest, chain)
        return
    ppp(rest, chain)


def ppp(data: bytes, chain: list[Any]) -> None:
    """A PPP frame wherever Scapy binds PPP (PPPoE's session stage, PPTP's GRE): HDLC's two
    bytes when it starts with 0xFF (as Scapy's PPP dispatch reads them), PPP and what its
    protocol carries."""
    while data[:1] == b"\xff":
        hdlc = _layer(HDLC, data, chain)
        if hdlc is None:
            _raw(data, chain)
            return
        data = data[2:]
    if not data:
        return
    head = _layer(PPP, data, chain)
    if head is None:
        _raw(data, chain)
        return
    rest, proto = data[len(head._data):], head._fields["proto"]
    if rest and proto in PPP_INNER:
        _inner(rest, _m._LINKTYPE_RAW, chain)
    elif rest and proto in PPP_CONTROL:
        PPP_CONTROL[proto](rest, chain)
    else:
        _raw(rest, chain)


class DIR_PPP(_Layer):   # LINKTYPE_PPP_WITH_DIR's direction byte (0 received, 1 sent)
    __slots__ = ()
    name = "DIR_PPP"
    _desc = [("direction", "B", None)]


def ppp_link(linktype: int, data: bytes, chain: list[Any]) -> None:
    """A record of a PPP link type as Scapy's ``conf.l2types`` reads it: PPP (9; HDLC first
    when it starts with 0xFF, by PPP's dispatch), HDLC (50) or DIR_PPP (204) then PPP, and
    PPPoE (51) as after Ethernet."""
    if linktype == 51:
        pppoe(data, chain)
        return
    head = {50: HDLC, 204: DIR_PPP}.get(linktype)
    if head is not None:
        first = _layer(head, data, chain)
        if first is None:
            _raw(data, chain)
            return
        data = data[len(first._data):]
    ppp(data, chain)


CLASSES += (PPPoE, HDLC, PPP, DIR_PPP)
CLASSES += (GRErouting, GRE_PPTP)


# ---------------------------------------------------------------- PPP's control protocols
# LCP (RFC 1661), IPCP (RFC 1332, DNS/NBNS addresses RFC 1877), ECP (RFC 1968), PAP (RFC 1334)
# and CHAP (RFC 1994) as Scapy 2.8 reads them: a class by code, options as packets of a class
# by type (a Raw with the rest where one fails, at most 100 of them as Scapy's list fields
# allow). Bytes past LCP, PAP and CHAP are Padding; past IPCP and ECP, Raw. IPV6CP (0x8057)
# has no Scapy layer: Raw.
_LIST_MAX = 100   # Scapy's conf.max_list_count: more items fail the layer


def _ppp_options(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    """Scapy's PacketListField over len - 4 bytes (``arg``: the option classes by type and
    the class for the others); a rejected LCP packet or information (PacketFields)."""
    if kind == "rejected_packet":   # an LCP packet of its own; its padding goes back
        if pos == len(data):   # Scapy's PacketField of no bytes: a packet left undissected
            held: list[Any] = []
            held.append(_m._quoted(PPP_LCP, {}, b"", held))
            return held[0], pos
        held = []
        _lcp(data[pos:], held)
        if type(held[0]).__name__ == "Raw":
            raise _Short   # Scapy's PacketField does not catch the failure
        del held[1:]   # its padding is the rejecting packet's
        return held[0], pos + len(held[0]._data)
    if kind == "rejected_information":   # a bare Packet holding the bytes as Raw
        held = []
        _layer(Packet, b"", held)
        _raw(data[pos:], held)
        return held[0], len(data)
    by_type, other = arg
    chunk, end = _take(data, pos, fields["len"] - 4)
    out: list[Any] = []
    while chunk:
        held = []
        option = _layer(by_type.get(chunk[0], other), chunk, held)
        if option is None:
            out.append(_m.Raw(chunk))
            chunk = b""
        else:
            out.append(option)
            chunk = chunk[len(option._data):]
        if len(out) > _LIST_MAX:
            raise _Short
    return out, end


_CONTROL_HEAD: Desc = [("code", "B", None), ("id", "B", None), ("len", "H", None)]
_OPTION_HEAD: Desc = [("type", "B", None), ("len", "B", None)]


class PPP_LCP(_Layer):
    __slots__ = ()
    name = "PPP Link Control Protocol"
    _desc = _CONTROL_HEAD + [("data", "len", lambda f: f["len"] - 4)]


class PPP_LCP_Option(_Layer):
    __slots__ = ()
    name = "PPP LCP Option"
    _desc = _OPTION_HEAD + [("data", "len", lambda f: f["len"] - 2)]


class PPP_LCP_MRU_Option(PPP_LCP_Option):
    __slots__ = ()
    _desc = _OPTION_HEAD + [("max_recv_unit", "H", None)]


class PPP_LCP_ACCM_Option(PPP_LCP_Option):
    __slots__ = ()
    _desc = _OPTION_HEAD + [("accm", "I", None)]


class PPP_LCP_Auth_Protocol_Option(PPP_LCP_Option):
    __slots__ = ()
    # CHAP names its algorithm in one byte; other protocols carry data
    _desc = _OPTION_HEAD + [("auth_protocol", "H", None),
                            ("data", "len?", (lambda f: f["auth_protocol"] != 0xC223, lambda f: f["len"] - 4)),
                            ("algorithm", "B?", lambda f: f["auth_protocol"] == 0xC223)]


class PPP_LCP_Quality_Protocol_Option(PPP_LCP_Option):
    __slots__ = ()
    _desc = _OPTION_HEAD + [("quality_protocol", "H", None), ("data", "len", lambda f: f["len"] - 4)]


class PPP_LCP_Magic_Number_Option(PPP_LCP_Option):
    __slots__ = ()
    _desc = _OPTION_HEAD + [("magic_number", "I", None)]


class PPP_LCP_Callback_Option(PPP_LCP_Option):
    __slots__ = ()
    _desc = _OPTION_HEAD + [("operation", "B", None), ("message", "len", lambda f: f["len"] - 3)]


_LCP_OPTIONS: dict[int, type] = {1: PPP_LCP_MRU_Option, 2: PPP_LCP_ACCM_Option, 3: PPP_LCP_Auth_Protocol_Option,
                                 4: PPP_LCP_Quality_Protocol_Option, 5: PPP_LCP_Magic_Number_Option,
                                 13: PPP_LCP_Callback_Option}


class PPP_LCP_Configure(PPP_LCP):
    __slots__ = ()
    _desc = _CONTROL_HEAD + [("options", "options", (_LCP_OPTIONS, PPP_LCP_Option))]
    _held = ("options",)
    _special = staticmethod(_ppp_options)


class PPP_LCP_Terminate(PPP_LCP):
    __slots__ = ()


class PPP_LCP_Code_Reject(PPP_LCP):
    __slots__ = ()
    _desc = _CONTROL_HEAD + [("rejected_packet", "rejected_packet", None)]
    _held = ("rejected_packet",)
    _special = staticmethod(_ppp_options)


class PPP_LCP_Protocol_Reject(PPP_LCP):
    __slots__ = ()
    _desc = _CONTROL_HEAD + [("rejected_protocol", "H", None),
                             ("rejected_information", "rejected_information", None)]
    _held = ("rejected_information",)
    _special = staticmethod(_ppp_options)


class PPP_LCP_Discard_Request(PPP_LCP):
    __slots__ = ()
    _desc = _CONTROL_HEAD + [("magic_number", "I", None), ("data", "len", lambda f: f["len"] - 8)]


class PPP_LCP_Echo(PPP_LCP_Discard_Request):
    __slots__ = ()


_LCP_CODES: dict[int, type] = {1: PPP_LCP_Configure, 2: PPP_LCP_Configure, 3: PPP_LCP_Configure,
                               4: PPP_LCP_Configure, 5: PPP_LCP_Terminate, 6: PPP_LCP_Terminate,
                               7: PPP_LCP_Code_Reject, 8: PPP_LCP_Protocol_Reject, 9: PPP_LCP_Echo,
                               10: PPP_LCP_Echo, 11: PPP_LCP_Discard_Request}


class PPP_IPCP_Option(_Layer):
    __slots__ = ()
    name = "PPP IPCP Option"
    _desc = _OPTION_HEAD + [("data", "len", lambda f: max(0, f["len"] - 2))]


class PPP_IPCP_Option_IPAddress(PPP_IPCP_Option):
    __slots__ = ()
    name = "PPP IPCP Option: IP Address"
    _desc = _OPTION_HEAD + [("data", "ip4", None), ("garbage", "len", lambda f: f["len"] - 6)]


class PPP_IPCP_Option_DNS1(PPP_IPCP_Option_IPAddress):
    __slots__ = ()
    name = "PPP IPCP Option: DNS1 Address"


class PPP_IPCP_Option_DNS2(PPP_IPCP_Option_IPAddress):
    __slots__ = ()
    name = "PPP IPCP Option: DNS2 Address"


class PPP_IPCP_Option_NBNS1(PPP_IPCP_Option_IPAddress):
    __slots__ = ()
    name = "PPP IPCP Option: NBNS1 Address"


class PPP_IPCP_Option_NBNS2(PPP_IPCP_Option_IPAddress):
    __slots__ = ()
    name = "PPP IPCP Option: NBNS2 Address"


class PPP_IPCP(_Layer):
    __slots__ = ()
    name = "PPP_IPCP"
    _desc = _CONTROL_HEAD + [("options", "options", ({
        3: PPP_IPCP_Option_IPAddress, 129: PPP_IPCP_Option_DNS1, 130: PPP_IPCP_Option_NBNS1,
        131: PPP_IPCP_Option_DNS2, 132: PPP_IPCP_Option_NBNS2}, PPP_IPCP_Option))]
    _held = ("options",)
    _special = staticmethod(_ppp_options)


class PPP_ECP_Option(_Layer):
    __slots__ = ()
    name = "PPP ECP Option"
    _desc = _OPTION_HEAD + [("data", "len", lambda f: max(0, f["len"] - 2))]


class PPP_ECP_Option_OUI(PPP_ECP_Option):
    __slots__ = ()
    _desc = _OPTION_HEAD + [("oui", "3", None), ("subtype", "B", None), ("data", "len", lambda f: f["len"] - 6)]


class PPP_ECP(_Layer):
    __slots__ = ()
    name = "PPP_ECP"
    _desc = _CONTROL_HEAD + [("options", "options", ({0: PPP_ECP_Option_OUI}, PPP_ECP_Option))]
    _held = ("options",)
    _special = staticmethod(_ppp_options)


class PPP_PAP(_Layer):
    __slots__ = ()
    name = "PPP Password Authentication Protocol"
    _desc = _CONTROL_HEAD + [("data", "len", lambda f: f["len"] - 4)]


class PPP_PAP_Request(PPP_PAP):
    __slots__ = ()
    _desc = _CONTROL_HEAD + [("username_len", "B", None), ("username", "len", lambda f: f["username_len"]),
                             ("passwd_len", "B", None), ("password", "len", lambda f: f["passwd_len"])]


class PPP_PAP_Response(PPP_PAP):
    __slots__ = ()
    _desc = _CONTROL_HEAD + [("msg_len", "B", None), ("message", "len", lambda f: f["msg_len"])]


class PPP_CHAP(_Layer):
    __slots__ = ()
    name = "PPP Challenge Handshake Authentication Protocol"
    _desc = _CONTROL_HEAD + [("data", "len", lambda f: f["len"] - 4)]


class PPP_CHAP_ChallengeResponse(PPP_CHAP):
    __slots__ = ()
    _desc = _CONTROL_HEAD + [("value_size", "B", None), ("value", "len", lambda f: f["value_size"]),
                             ("optional_name", "len", lambda f: f["len"] - f["value_size"] - 5)]


def _ppp_packet(cls: type, data: bytes, chain: list[Any], rest_cls: type) -> None:
    """One control packet, then what follows it as ``rest_cls`` (Padding or Raw)."""
    layer = _layer(cls, data, chain)
    if layer is None:
        _raw(data, chain)
    elif data[len(layer._data):]:
        chain.append(_m._linked(rest_cls, data[len(layer._data):], chain))


def _lcp(data: bytes, chain: list[Any]) -> None:
    _ppp_packet(_LCP_CODES.get(data[0], PPP_LCP), data, chain, _m.Padding)


# Code-Rejects nested deeper than this are Raw (Scapy's own limit is its recursion depth:
# some 100 to 150 levels, by the caller's stack); each level holds the next 4 bytes on
_LCP_NESTING = 64


def _lcp_nested(data: bytes, chain: list[Any]) -> None:
    depth = 0
    while data[4 * depth:4 * depth + 1] == b"\x07" and depth <= _LCP_NESTING:
        depth += 1
    if depth > _LCP_NESTING:
        _raw(data, chain)
    else:
        _lcp(data, chain)


def _ppp_eap(data: bytes, chain: list[Any]) -> None:
    cls: type = EAP
    if data[0] in (1, 2) and len(data) >= 5:
        cls = _EAP_METHODS.get(data[4], EAP)
    _ppp_packet(cls, data, chain, _m.Padding)


# what Scapy reads after PPP, by protocol (besides IPv4 and IPv6)
PPP_CONTROL: dict[int, Callable[[bytes, list[Any]], None]] = {
    0xC021: _lcp_nested,
    0x8021: lambda data, chain: _ppp_packet(PPP_IPCP, data, chain, _m.Raw),
    0x8053: lambda data, chain: _ppp_packet(PPP_ECP, data, chain, _m.Raw),
    0xC023: lambda data, chain: _ppp_packet({1: PPP_PAP_Request, 2: PPP_PAP_Response, 3: PPP_PAP_Response}.get(
        data[0], PPP_PAP), data, chain, _m.Padding),
    0xC223: lambda data, chain: _ppp_packet(PPP_CHAP_ChallengeResponse if data[0] in (1, 2) else PPP_CHAP,
                                         data, chain, _m.Padding),
    0xC227: _ppp_eap,
}

CLASSES += (PPP_LCP, PPP_LCP_Option, PPP_LCP_MRU_Option, PPP_LCP_ACCM_Option, PPP_LCP_Auth_Protocol_Option,
            PPP_LCP_Quality_Protocol_Option, PPP_LCP_Magic_Number_Option, PPP_LCP_Callback_Option,
            PPP_LCP_Configure, PPP_LCP_Terminate, PPP_LCP_Code_Reject, PPP_LCP_Protocol_Reject,
            PPP_LCP_Discard_Request, PPP_LCP_Echo, PPP_IPCP, PPP_IPCP_Option, PPP_IPCP_Option_IPAddress,
            PPP_IPCP_Option_DNS1, PPP_IPCP_Option_DNS2, PPP_IPCP_Option_NBNS1, PPP_IPCP_Option_NBNS2,
            PPP_ECP, PPP_ECP_Option, PPP_ECP_Option_OUI, PPP_PAP, PPP_PAP_Request, PPP_PAP_Response,
            PPP_CHAP, PPP_CHAP_ChallengeResponse)


# ---------------------------------------------------------------- PPPoE discovery (RFC 2516 section 5)
# EtherType 0x8863: PADI, PADO, PADR, PADS, PADT (and RFC 5578's codes) with their tags, which
# Scapy reads when the header's type is 1; its payload is the length the header gives (the
# rest Padding), a PPP frame for code 0 with another type (Scapy's PPPoE binding), else Raw.
class PPPoED(_Layer):
    __slots__ = ()
    name = "PPP over Ethernet Discovery"
    _desc = PPPoE._desc


class PPPoETag(_Layer):
    __slots__ = ()
    name = "PPPoE Tag"
    _desc = [("tag_type", "H", None), ("tag_len", "H", None), ("tag_value", "len", lambda f: f["tag_len"])]


def _pppoe_tags(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    """Scapy's PacketListField of tags over all the bytes: a Raw with the rest where one is
    cut short, at most 100 items."""
    chunk, out = data[pos:], []
    while chunk:
        held: list[Any] = []
        tag = _layer(PPPoETag, chunk, held)
        out.append(_m.Raw(chunk) if tag is None else tag)
        chunk = b"" if tag is None else chunk[len(tag._data):]
        if len(out) > _LIST_MAX:
            raise _Short
    return out, len(data)


class PPPoED_Tags(_Layer):
    __slots__ = ()
    name = "PPPoE Tag List"
    _desc = [("tag_list", "tags", None)]
    _held = ("tag_list",)
    _special = staticmethod(_pppoe_tags)


def pppoed(data: bytes, chain: list[Any]) -> None:
    """PPPoE discovery after EtherType 0x8863."""
    head = _layer(PPPoED, data, chain)
    if head is None:
        _raw(data, chain)
        return
    f = head._fields
    body, pad = data[6:6 + f["len"]], data[6 + f["len"]:]
    if body and f["type"] == 1:
        if _layer(PPPoED_Tags, body, chain) is None:
            _raw(body, chain)
    elif body and f["code"] == 0:
        ppp(body, chain)
    else:
        _raw(body, chain)
    if pad:
        chain.append(_m._linked(_m.Padding, pad, chain))


CLASSES += (PPPoED, PPPoED_Tags, PPPoETag)


# ---------------------------------------------------------------- BOOTP and DHCP
# BOOTP (RFC 951) on Scapy's UDP ports (67/68 either way, 67 both); DHCP (RFC 2131) when the
# vendor area starts with the magic cookie, its options (RFC 2132) as Scapy's list: tuples
# (name, values...) for the options Scapy names, (code, bytes) for others, 'pad', 'end', and
# the remaining bytes where an option cannot be read.
_DHCP_MAGIC = b"c\x82Sc"


class BOOTP(_Layer):
    __slots__ = ()
    name = "BOOTP"
    _desc = [("op", "B", None), ("htype", "B", None), ("hlen", "B", None), ("hops", "B", None),
             ("xid", "I", None), ("secs", "H", None), ("flags", "flags16", None),
             ("ciaddr", "ip4", None), ("yiaddr", "ip4", None), ("siaddr", "ip4", None),
             ("giaddr", "ip4", None), ("chaddr", "fix", 16), ("sname", "fix", 64),
             ("file", "fix", 128), ("options", "rest", None)]

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        if pos + 2 > len(data):
            raise _Short
        return _m._flag(int.from_bytes(data[pos:pos + 2], "big"), "???????????????B", False), pos + 2


def _u(size: int) -> Callable[[bytes], tuple[Any, int]]:
    def read(b: bytes) -> tuple[Any, int]:
        if len(b) < size:
            raise _Short
        return int.from_bytes(b[:size], "big"), size
    return read


def _ip4(b: bytes) -> tuple[Any, int]:
    if len(b) < 4:
        raise _Short
    return _ntop4(b[:4]), 4


def _all(b: bytes) -> tuple[Any, int]:   # StrField: the rest
    return b, len(b)


def _bytes_list(b: bytes) -> tuple[Any, int]:   # FieldListField of bytes: every byte
    return list(b), len(b)


def _routes(b: bytes) -> tuple[Any, int]:
    """RFC 3442 classless static routes, Scapy's 'dest/prefix:router' strings."""
    out, size = [], len(b)
    while b:
        prefix = b[0]
        octets = (prefix + 7) // 8
        dest, router = b[1:1 + octets].ljust(4, b"\0"), b[1 + octets:5 + octets]
        if len(dest) != 4 or len(router) != 4:
            raise _Short   # Scapy's inet_ntoa refuses it
        out.append("%s/%d:%s" % (_ntop4(dest), prefix, _ntop4(router)))
        b = b[5 + octets:]
    return out, size


_B, _H, _I = _u(1), _u(2), _u(4)
# Scapy 2.8's DHCPOptions: code -> (name, reader of one value, or None for plain bytes)
_DHCP_OPTIONS: dict[int, tuple[Any, Callable[[bytes], tuple[Any, int]] | None]] = {
    1: ("subnet_mask", _ip4), 2: ("time_zone", _I), 3: ("router", _ip4), 4: ("time_server", _ip4),
    5: ("IEN_name_server", _ip4), 6: ("name_server", _ip4), 7: ("log_server", _ip4),
    8: ("cookie_server", _ip4), 9: ("lpr_server", _ip4), 10: ("impress-servers", _ip4),
    11: ("resource-location-servers", _ip4), 12: ("hostname", None), 13: ("boot-size", _H),
    14: ("dump_path", None), 15: ("domain", None), 16: ("swap-server", _ip4),
    17: ("root_disk_path", None), 18: ("extensions-path", None), 19: ("ip-forwarding", _B),
    20: ("non-local-source-routing", _B), 21: ("policy-filter", _ip4),
    22: ("max_dgram_reass_size", _H), 23: ("default_ttl", _B), 24: ("pmtu_timeout", _I),
    25: ("path-mtu-plateau-table", _H), 26: ("interface-mtu", _H), 27: ("all-subnets-local", _B),
    28: ("broadcast_address", _ip4), 29: ("perform-mask-discovery", _B), 30: ("mask-supplier", _B),
    31: ("router-discovery", _B), 32: ("router-solicitation-address", _ip4),
    33: ("static-routes", _ip4), 34: ("trailer-encapsulation", _B), 35: ("arp_cache_timeout", _I),
    36: ("ieee802-3-encapsulation", _B), 37: ("tcp_ttl", _B), 38: ("tcp_keepalive_interval", _I),
    39: ("tcp_keepalive_garbage", _B), 40: ("NIS_domain", _all), 41: ("NIS_server", _ip4),
    42: ("NTP_server", _ip4), 43: ("vendor_specific", None), 44: ("NetBIOS_server", _ip4),
    45: ("NetBIOS_dist_server", _ip4), 46: ("NetBIOS_node_type", _B), 47: ("netbios-scope", None),
    48: ("font-servers", _ip4), 49: ("x-display-manager", _ip4), 50: ("requested_addr", _ip4),
    51: ("lease_time", _I), 52: ("dhcp-option-overload", _B), 53: ("message-type", _B),
    54: ("server_id", _ip4), 55: ("param_req_list", _bytes_list), 56: ("error_message", None),
    57: ("max_dhcp_size", _H), 58: ("renewal_time", _I), 59: ("rebinding_time", _I),
    60: ("vendor_class_id", _all), 61: ("client_id", _all), 62: ("nwip-domain-name", None),
    64: ("NISplus_domain", None), 65: ("NISplus_server", _ip4), 66: ("tftp_server_name", None),
    67: ("boot-file-name", _all), 68: ("mobile-ip-home-agent", _ip4), 69: ("SMTP_server", _ip4),
    70: ("POP3_server", _ip4), 71: ("NNTP_server", _ip4), 72: ("WWW_server", _ip4),
    73: ("Finger_server", _ip4), 74: ("IRC_server", _ip4), 75: ("StreetTalk_server", _ip4),
    76: ("StreetTalk_Dir_Assistance", _ip4), 77: ("user_class", None),
    78: ("slp_service_agent", None), 79: ("slp_service_scope", None), 80: ("rapid_commit", None),
    81: ("client_FQDN", None), 82: ("relay_agent_information", None), 85: ("nds-server", _ip4),
    86: ("nds-tree-name", _all), 87: ("nds-context", _all), 88: ("bcms-controller-namesi", None),
    89: ("bcms-controller-address", _ip4), 91: ("client-last-transaction-time", _I),
    92: ("associated-ip", _ip4), 93: ("pxe_client_architecture", None),
    94: ("pxe_client_network_interface", None), 97: ("pxe_client_machine_identifier", None),
    98: ("uap-servers", _all), 100: ("pcode", _all), 101: ("tcode", _all),
    108: ("ipv6-only-preferred", _I), 112: ("netinfo-server-address", _ip4),
    113: ("netinfo-server-tag", _all), 114: ("captive-portal", _all), 116: ("auto-config", _B),
    117: ("name-service-search", _H), 118: ("subnet-selection", _ip4),
    121: ("classless_static_routes", _routes), 124: ("vendor_class", None),
    125: ("vendor_specific_information", None), 128: ("tftp_server_ip_address", _ip4),
    136: ("pana-agent", _ip4), 137: ("v4-lost", None), 138: ("capwap-ac-v4", _ip4),
    141: ("sip_ua_service_domains", None), 145: ("forcerenew_nonce_capable", _bytes_list),
    146: ("rdnss-selection", None), 150: ("tftp_server_address", _ip4), 159: ("v4-portparams", None),
    160: ("v4-captive-portal", _all), 161: ("mud-url", _all), 208: ("pxelinux_magic", None),
    209: ("pxelinux_configuration_file", None), 210: ("pxelinux_path_prefix", None),
    211: ("pxelinux_reboot_time", None), 212: ("option-6rd", None), 213: ("v4-access-domain", None),
}
_READER_BY_NAME = {name: read for name, read in _DHCP_OPTIONS.values()}
ip4_reader = _ip4


def option_reader(name: Any) -> Callable[[bytes], tuple[Any, int]] | None:
    """How an option of this name is read (``ip4_reader`` for Scapy's IPField ones)."""
    return _READER_BY_NAME.get(name)


# options whose value, when empty, Scapy still reads (a StrField's b"", a list's [])
_EMPTY_OK = {_all: b"", _bytes_list: [], _routes: []}


def _dhcp_options(x: bytes) -> list[Any]:
    """Scapy's DHCPOptionsField.m2i: one entry per option until the bytes end."""
    out: list[Any] = []
    while x:
        code = x[0]
        if code in (0, 255):
            out.append("pad" if code == 0 else "end")
            x = x[1:]
            continue
        if len(x) < 2 or len(x) < x[1] + 2:
            out.append(x)
            break
        olen = x[1]
        name, read = _DHCP_OPTIONS.get(code, (code, None))
        if read is None:
            out.append((name, x[2:olen + 2]))
            x = x[olen + 2:]
            continue
        values: list[Any] = [name]
        try:
            if olen == 0:
                if read not in _EMPTY_OK:
                    raise _Short
                values.append(_EMPTY_OK[read])
            left = x[2:olen + 2]
            while left:
                value, used = read(left)
                values.append(value)
                left = left[used:]
        except _Short:
            out.append(x)
            break
        out.append(tuple(values))
        x = x[olen + 2:]
    return out


class DHCP(_Layer):
    __slots__ = ()
    name = "DHCP options"
    _desc = [("options", "dhcp", None)]

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        return _dhcp_options(data[pos:]), len(data)


def _bootp(data: bytes, chain: list[Any]) -> None:
    bootp = _layer(BOOTP, data, chain)
    if bootp is None:
        _raw(data, chain)
        return
    options = bootp._fields["options"]
    if options[:4] == _DHCP_MAGIC and options[4:]:
        # Scapy's BOOTP keeps the cookie as its options; the rest is the DHCP layer
        bootp._fields["options"], bootp._data = _DHCP_MAGIC, data[:len(data) - len(options) + 4]
        _layer(DHCP, options[4:], chain)


# ---------------------------------------------------------------- NTP
# NTP (RFC 5905) on UDP port 123: Scapy's NTPHeader for modes 0-5, then NTPAuthenticator for a
# MAC-sized tail, or NTPExtensions (RFC 7822's extension fields and a 20-byte MAC) for a longer
# one; NTPControl for mode 6, NTPPrivate for mode 7.
def _fixed_point(frac_bits: int) -> Callable[[int], Any]:
    """Scapy's FixedPointField.i2h: a Decimal with the fraction rounded to log10(2**bits) digits."""
    digits = len(str(1 << frac_bits)) - 1

    def human(v: int) -> Any:
        frac = decimal.Decimal(v & ((1 << frac_bits) - 1)) / (1 << frac_bits)
        with decimal.localcontext() as ctx:
            ctx.prec = digits
            frac = frac.normalize(ctx)
        return (v >> frac_bits) + frac
    return human


_NTP_SHORT, _NTP_TIME = _fixed_point(16), _fixed_point(32)


class NTP(_Layer):
    """Scapy's base of the NTP classes, for ``NTP in pkt`` (which finds NTPHeader)."""

    __slots__ = ()
    name = "NTP"


class NTPHeader(NTP):
    __slots__ = ()
    name = "NTPHeader"
    # Scapy's NTPHeader matches subclasses: `NTP in pkt` finds it, and a Padding after it
    # answers for Raw
    _match_subclass = True
    _bases = ("NTP",)
    _desc = [("", "bits", [("leap", 2), ("version", 3), ("mode", 3)]), ("stratum", "B", None),
             ("poll", "b", None), ("precision", "b", None), ("delay", "I", None),
             ("dispersion", "I", None), ("id", "ip4?", lambda f: f["stratum"] > 1),
             ("ref_id", "fix?", (lambda f: f["stratum"] < 2, 4)),
             ("ref", "Q", None), ("orig", "Q", None), ("recv", "Q", None), ("sent", "Q", None)]
    _human = {"delay": _NTP_SHORT, "dispersion": _NTP_SHORT, "ref": _NTP_TIME, "orig": _NTP_TIME,
              "recv": _NTP_TIME, "sent": _NTP_TIME}


class NTPAuthenticator(_Layer):
    __slots__ = ()
    name = "Authenticator"
    _desc = [("key_id", "I", None), ("dgst", "rest", None)]


class Packet(_Layer):
    """Scapy's bare Packet, which an extension's ``value`` holds (its bytes are its Raw payload)."""

    __slots__ = ()
    name = "Packet"


class NTPExtension(_Layer):
    __slots__ = ()
    name = "extension"
    _desc = [("type", "H", None), ("len", "H", None), ("value", "value", None)]
    _held = ("value",)

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        held: list[Any] = []   # a bare Packet, its payload the bytes as Raw
        _layer(Packet, b"", held)
        _raw(data[pos:], held)
        return held[0], len(data)


class NTPExtensions(_Layer):
    __slots__ = ()
    name = "NTPv4 extensions"
    _desc = [("extensions", "exts", None), ("mac", "auth", None)]
    _held = ("extensions", "mac")

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        if kind == "auth":   # the last 20 bytes (Scapy's MD5 tail): key id and digest
            held: list[Any] = []
            _layer(NTPAuthenticator, data[pos:], held)
            return held[0], len(data)
        # Scapy's NTPExtPacketListField: fields of at least 16 bytes, each its length (at most
        # what is left, all of it for 0) long; a shorter one or what is left is Raw
        exts, out = data[pos:len(data) - _NTP_MAC_TAIL], []
        while len(exts) >= 16:
            n = min(int.from_bytes(exts[2:4], "big"), len(exts)) or len(exts)
            out.append(_held_layer(NTPExtension, exts[:n]) if n >= 16 else _m.Raw(exts[:n]))
            exts = exts[n:]
        if exts:
            out.append(_m.Raw(exts))
        return out, len(data) - _NTP_MAC_TAIL


_NTP_MAC_TAIL = 20


def _held_layer(cls: type, data: bytes) -> Any:
    """A layer a field holds (its own chain); a fixed field short of the bytes fails the
    layer that holds it (Scapy's PacketField does not catch it)."""
    held: list[Any] = []
    if _layer(cls, data, held) is None:
        raise _Short
    return held[0]


# NTP control messages (mode 6, RFC 9327): the status word is a packet of the kind the header
# names (RFC 9327 section 3: error, clock, peer or system status) in responses other than
# traps; a read-status response for association 0 carries (association, peer status) pairs.
class NTPSystemStatusPacket(_Layer):
    __slots__ = ()
    name = "system status"
    _desc = [("", "bits", [("leap_indicator", 2), ("clock_source", 6), ("system_event_counter", 4),
                           ("system_event_code", 4)])]


class NTPPeerStatusPacket(_Layer):
    __slots__ = ()
    name = "peer status"
    _desc = [("", "bits", [("configured", 1), ("auth_enabled", 1), ("authentic", 1), ("reachability", 1),
                           ("reserved", 1), ("peer_sel", 3), ("peer_event_counter", 4),
                           ("peer_event_code", 4)])]
    _defaults = dict.fromkeys(("configured", "auth_enabled", "authentic", "reachability", "reserved",
                               "peer_sel", "peer_event_counter", "peer_event_code"), 0)


class NTPClockStatusPacket(_Layer):
    __slots__ = ()
    name = "clock status"
    _desc = [("", "bits", [("clock_status", 8), ("code", 8)])]


class NTPErrorStatusPacket(_Layer):
    __slots__ = ()
    name = "error status"
    _desc = [("", "bits", [("error_code", 8), ("reserved", 8)])]


def _peer_status(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    if pos == len(data):   # Scapy's PacketField of no bytes: a packet left undissected
        held: list[Any] = []
        held.append(_m._quoted(NTPPeerStatusPacket, {}, b"", held))
        return held[0], pos
    return _held_layer(NTPPeerStatusPacket, data[pos:pos + 2]), pos + 2


class NTPPeerStatusDataPacket(_Layer):
    __slots__ = ()
    name = "data / peer status"
    _desc = [("association_id", "H", None), ("peer_status", "peer", None)]
    _held = ("peer_status",)
    _special = staticmethod(_peer_status)


def _peer_list(chunk: bytes) -> list[Any]:
    """Scapy's PacketListField of NTPPeerStatusDataPacket: 4-byte pairs; an element that fails
    is Raw with the rest."""
    out: list[Any] = []
    while chunk:
        try:
            out.append(_held_layer(NTPPeerStatusDataPacket, chunk[:4]))
        except _Short:
            out.append(_m.Raw(chunk))
            break
        chunk = chunk[4:]
    return out


def _control(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    if kind == "status":
        if fields["response"] == 0 or fields["op_code"] in (6, 7):
            if pos + 2 > len(data):
                raise _Short
            return int.from_bytes(data[pos:pos + 2], "big"), pos + 2
        if pos + 4 > len(data):   # Scapy reads the association id to choose the status kind
            raise _Short
        cls = (NTPErrorStatusPacket if fields["err"] else NTPClockStatusPacket if fields["op_code"] in (4, 5)
               else NTPPeerStatusPacket if data[pos + 2:pos + 4] != b"\0\0" else NTPSystemStatusPacket)
        return _held_layer(cls, data[pos:pos + 2]), pos + 2
    if kind == "data":   # count bytes, then padding to a 4-byte boundary
        chunk, end = _take(data, pos, fields["count"])
        peers = fields["response"] and fields["op_code"] == 1 and fields["association_id"] == 0
        return (_peer_list(chunk) if peers else chunk), min(len(data), end + (-len(chunk) % 4))
    return _held_layer(NTPAuthenticator, data[pos:]), len(data)


class NTPControl(NTP):
    __slots__ = ()
    name = "NTP Control message"
    _match_subclass = True
    _bases = ("NTP",)
    _desc = [("", "bits", [("leap", 2), ("version", 3), ("mode", 3), ("response", 1), ("err", 1),
                           ("more", 1), ("op_code", 5)]),
             ("sequence", "H", None), ("status", "status", None), ("association_id", "H", None),
             ("offset", "H", None), ("count", "H", None), ("data", "data", None), ("", "mayend", None),
             ("authenticator", "auth", None)]
    _held = ("status", "authenticator")
    _listed = ("data",)   # shown as packets (the peer list), not searched by Scapy's lookups
    _special = staticmethod(_control)
    _defaults = {"authenticator": b""}


# NTP private messages (mode 7: ntpd's ntpdc protocol, include/ntp_request.h): a header, then
# data items of data_item_size bytes each, read as the class the request code names (requests
# and responses name different ones), then in an authenticated request the MAC tail. Each item
# is a packet of its own (its bytes past the class's fields its Raw payload), as Scapy's
# PacketListFields read them.
_PEER_FLAGS = ["INFO_FLAG_CONFIG", "INFO_FLAG_SYSPEER", "INFO_FLAG_BURST", "INFO_FLAG_REFCLOCK",
               "INFO_FLAG_PREFER", "INFO_FLAG_AUTHENABLE", "INFO_FLAG_SEL_CANDIDATE",
               "INFO_FLAG_SHORTLIST", "INFO_FLAG_IBURST"]
_SYS_FLAGS = ["INFO_FLAG_BCLIENT", "INFO_FLAG_AUTHENTICATE", "INFO_FLAG_NTP", "INFO_FLAG_KERNEL",
              "INFO_FLAG_CAL", "INFO_FLAG_PPS_SYNC", "INFO_FLAG_MONITOR", "INFO_FLAG_FILEGEN"]
_CONF_FLAGS = ["CONF_FLAG_AUTHENABLE", "CONF_FLAG_PREFER", "CONF_FLAG_BURST", "CONF_FLAG_IBURST",
               "CONF_FLAG_NOSELECT", "CONF_FLAG_SKEY"]
_RES_FLAGS = ["RES_IGNORE", "RES_DONTSERVE", "RES_DONTTRUST", "RES_VERSION", "RES_NOPEER",
              "RES_LIMITED", "RES_NOQUERY", "RES_NOMODIFY", "RES_NOTRAP", "RES_LPTRAP", "RES_KOD",
              "RES_MSSNTP", "RES_FLAKE", "RES_NOMRULIST"]


def _ints(names: str) -> Desc:
    return [(n, "I", None) for n in names.split()]


def _private_special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    """The item classes' own kinds: "flags16" (a two-byte FlagsField); "<H", "<I" little-endian
    (ntpd sends these two in host order); "list" (width, count): Scapy's FieldListField of
    fixed-size values, which stops early where the bytes end between two values and fails
    inside one."""
    if kind in ("flags16", "<H", "<I"):
        width = 4 if kind == "<I" else 2
        if pos + width > len(data):
            raise _Short
        value = int.from_bytes(data[pos:pos + width], "little" if kind[0] == "<" else "big")
        return (_m._flag(value, arg, True) if kind == "flags16" else value), pos + width
    width, count = arg
    out: list[int] = []
    while pos < len(data) and len(out) < count:
        if pos + width > len(data):
            raise _Short
        out.append(int.from_bytes(data[pos:pos + width], "big"))
        pos += width
    return out, pos


class _PrivateItem(_Layer):
    __slots__ = ()
    # an item's fixed-point fields (Scapy's FixedPointField, TimeStampField) are Decimals as
    # attributes: _human names them
    _special = staticmethod(_private_special)


class NTPInfoPeerList(_PrivateItem):
    __slots__ = ()
    name = "info_peer_list"
    _desc = [("addr", "ip4", None), ("port", "H", None), ("hmode", "B", None),
             ("flags", "flags", _PEER_FLAGS), ("v6_flag", "I", None), ("unused1", "I", None),
             ("addr6", "ip6", None)]


class NTPInfoPeerSummary(_PrivateItem):
    __slots__ = ()
    name = "info_peer_summary"
    _desc = [("dstaddr", "ip4", None), ("srcaddr", "ip4", None), ("srcport", "H", None),
             ("stratum", "B", None), ("hpoll", "B", None), ("ppoll", "B", None), ("reach", "B", None),
             ("flags", "flags", _PEER_FLAGS), ("hmode", "B", None), ("delay", "I", None),
             ("offset", "Q", None), ("dispersion", "I", None), ("v6_flag", "I", None),
             ("unused1", "I", None), ("dstaddr6", "ip6", None), ("srcaddr6", "ip6", None)]
    _human = {"delay": _NTP_SHORT, "offset": _NTP_TIME, "dispersion": _NTP_SHORT}


class NTPInfoPeer(_PrivateItem):
    __slots__ = ()
    name = "info_peer"
    _desc = [("dstaddr", "ip4", None), ("srcaddr", "ip4", None), ("srcport", "H", None),
             ("flags", "flags", _PEER_FLAGS), ("leap", "B", None), ("hmode", "B", None),
             ("pmode", "B", None), ("stratum", "B", None), ("ppoll", "B", None), ("hpoll", "B", None),
             ("precision", "b", None), ("version", "B", None), ("unused8", "B", None),
             ("reach", "B", None), ("unreach", "B", None), ("flash", "B", None), ("ttl", "B", None),
             ("flash2", "<H", None), ("associd", "H", None), ("keyid", "<I", None),
             ("pkeyid", "I", None), ("refid", "ip4", None), ("timer", "I", None),
             ("rootdelay", "I", None), ("rootdispersion", "I", None), ("reftime", "Q", None),
             ("org", "Q", None), ("rec", "Q", None), ("xmt", "Q", None),
             ("filtdelay", "list", (4, 8)), ("filtoffset", "list", (8, 8)), ("order", "list", (1, 8)),
             ("delay", "I", None), ("dispersion", "I", None), ("offset", "Q", None),
             ("selectdisp", "I", None)] + _ints("unused1 unused2 unused3 unused4 unused5 unused6 unused7") + [
             ("estbdelay", "I", None), ("v6_flag", "I", None), ("unused9", "I", None),
             ("dstaddr6", "ip6", None), ("srcaddr6", "ip6", None)]
    _human = {**dict.fromkeys(("rootdelay", "rootdispersion", "delay", "dispersion", "selectdisp",
                               "estbdelay"), _NTP_SHORT),
              **dict.fromkeys(("reftime", "org", "rec", "xmt", "offset"), _NTP_TIME)}


class NTPInfoPeerStats(_PrivateItem):
    __slots__ = ()
    name = "info_peer_stats"
    _desc = [("dstaddr", "ip4", None), ("srcaddr", "ip4", None), ("srcport", "H", None),
             ("flags", "flags16", _PEER_FLAGS)] + _ints(
        "timereset timereceived timetosend timereachable sent unused1 processed unused2 badauth "
        "bogusorg oldpkt unused3 unused4 seldisp selbroken unused5") + [
        ("candidate", "B", None), ("unused6", "B", None), ("unused7", "B", None), ("unused8", "B", None),
        ("v6_flag", "I", None), ("unused9", "I", None), ("dstaddr6", "ip6", None), ("srcaddr6", "ip6", None)]


class NTPInfoLoop(_PrivateItem):
    __slots__ = ()
    name = "info_loop"
    _desc = [("last_offset", "Q", None), ("drift_comp", "Q", None), ("compliance", "I", None),
             ("watchdog_timer", "I", None)]
    _human = {"last_offset": _NTP_TIME, "drift_comp": _NTP_TIME}


class NTPInfoSys(_PrivateItem):
    __slots__ = ()
    name = "info_sys"
    _desc = [("peer", "ip4", None), ("peer_mode", "B", None), ("leap", "B", None), ("stratum", "B", None),
             ("precision", "b", None), ("rootdelay", "I", None), ("rootdispersion", "I", None),
             ("refid", "ip4", None), ("reftime", "Q", None), ("poll", "I", None),
             ("flags", "flags", _SYS_FLAGS), ("unused1", "B", None), ("unused2", "B", None),
             ("unused3", "B", None), ("bdelay", "I", None), ("frequency", "I", None),
             ("authdelay", "Q", None), ("stability", "I", None), ("v6_flag", "I", None),
             ("unused4", "I", None), ("peer6", "ip6", None)]
    _human = {**dict.fromkeys(("rootdelay", "rootdispersion", "bdelay", "frequency", "stability"), _NTP_SHORT),
              "reftime": _NTP_TIME, "authdelay": _NTP_TIME}


class NTPInfoSysStats(_PrivateItem):
    __slots__ = ()
    name = "info_sys_stats"
    _desc = _ints("timeup timereset denied oldversionpkt newversionpkt unknownversion badlength "
                  "processed badauth received limitrejected")


class NTPInfoMemStats(_PrivateItem):
    __slots__ = ()
    name = "info_mem_stats"
    _desc = [("timereset", "I", None), ("totalpeermem", "H", None), ("freepeermem", "H", None),
             ("findpeer_calls", "I", None), ("allocations", "I", None), ("demobilizations", "I", None),
             ("hashcount", "list", (1, 128))]


class NTPInfoIOStats(_PrivateItem):
    __slots__ = ()
    name = "info_io_stats"
    _desc = [("timereset", "I", None), ("totalrecvbufs", "H", None), ("freerecvbufs", "H", None),
             ("fullrecvbufs", "H", None), ("lowwater", "H", None)] + _ints(
        "dropped ignored received sent notsent interrupts int_received")


class NTPInfoTimerStats(_PrivateItem):
    __slots__ = ()
    name = "info_timer_stats"
    _desc = _ints("timereset alarms overflows xmtcalls")


class NTPConfPeer(_PrivateItem):
    __slots__ = ()
    name = "conf_peer"
    _desc = [("peeraddr", "ip4", None), ("hmode", "B", None), ("version", "B", None),
             ("minpoll", "B", None), ("maxpoll", "B", None), ("flags", "flags", _CONF_FLAGS),
             ("ttl", "B", None), ("unused1", "H", None), ("keyid", "I", None),
             ("keystr", "fix", 128), ("v6_flag", "I", None), ("unused2", "I", None),
             ("peeraddr6", "ip6", None)]


class NTPConfUnpeer(_PrivateItem):
    __slots__ = ()
    name = "conf_unpeer"
    _desc = [("peeraddr", "ip4", None), ("v6_flag", "I", None), ("peeraddr6", "ip6", None)]


class NTPConfRestrict(_PrivateItem):
    __slots__ = ()
    name = "conf_restrict"
    _desc = [("addr", "ip4", None), ("mask", "ip4", None), ("flags", "flags16", _RES_FLAGS),
             ("m_flags", "H", None), ("v6_flag", "I", None), ("addr6", "ip6", None), ("mask6", "ip6", None)]


class NTPInfoKernel(_PrivateItem):
    __slots__ = ()
    name = "info_kernel"
    _desc = _ints("offset freq maxerror esterror") + [("status", "H", None), ("shift", "H", None)] + _ints(
        "constant precision tolerance ppsfreq jitter stabil jitcnt calcnt errcnt stbcnt")


_IF_STATS_TAIL: Desc = [("v6_flag", "I", None), ("ifname", "fix", 32)] + _ints(
    "flags last_ttl num_mcast received sent notsent uptime scopeid ifindex ifnum peercnt") + [
    ("family", "H", None), ("ignore_packets", "B", None), ("action", "B", None), ("_filler0", "I", None)]


class NTPInfoIfStatsIPv4(_PrivateItem):
    __slots__ = ()
    name = "info_if_stats"
    # each address padded to 16 bytes (Scapy's PadField: the padding taken as far as it goes)
    _desc = [("unaddr", "ip4", None), ("", "skip", 12), ("unbcast", "ip4", None), ("", "skip", 12),
             ("unmask", "ip4", None), ("", "skip", 12)] + _IF_STATS_TAIL


class NTPInfoIfStatsIPv6(_PrivateItem):
    __slots__ = ()
    name = "info_if_stats"
    _desc = [("unaddr", "ip6", None), ("unbcast", "ip6", None), ("unmask", "ip6", None)] + _IF_STATS_TAIL


class NTPInfoMonitor1(_PrivateItem):
    __slots__ = ()
    name = "InfoMonitor1"
    _desc = _ints("lasttime firsttime lastdrop count") + [
        ("addr", "ip4", None), ("daddr", "ip4", None), ("flags", "I", None), ("port", "H", None),
        ("mode", "B", None), ("version", "B", None), ("v6_flag", "I", None), ("unused1", "I", None),
        ("addr6", "ip6", None), ("daddr6", "ip6", None)]


class NTPInfoAuth(_PrivateItem):
    __slots__ = ()
    name = "info_auth"
    _desc = _ints("timereset numkeys numfreekeys keylookups keynotfound encryptions decryptions "
                  "expired keyuncached")


class NTPConfTrap(_PrivateItem):
    __slots__ = ()
    name = "conf_trap"
    _desc = [("local_address", "ip4", None), ("trap_address", "ip4", None), ("trap_port", "H", None),
             ("unused", "H", None), ("v6_flag", "I", None), ("local_address6", "ip6", None),
             ("trap_address6", "ip6", None)]


class NTPInfoControl(_PrivateItem):
    __slots__ = ()
    name = "info_control"
    _desc = _ints("ctltimereset numctlreq numctlbadpkts numctlresponses numctlfrags numctlerrors "
                  "numctltooshort numctlinputresp numctlinputfrag numctlinputerr numctlbadoffset "
                  "numctlbadversion numctldatatooshort numctlbadop numasyncmsgs")


class NTPPrivateReqPacket(_PrivateItem):
    __slots__ = ()
    name = "request data"
    _desc = [("req_data", "rest", None)]


class NTPPrivatePktTail(_PrivateItem):
    __slots__ = ()
    name = "req_pkt_tail"
    _desc = [("tstamp", "Q", None), ("key_id", "I", None), ("dgst", "fix", 16)]
    _human = {"tstamp": _NTP_TIME}
    _defaults = {"tstamp": 0, "key_id": 0, "dgst": b""}


# the class of a response's items by request code (44 and 45: by the item's v6 flag), and of
# a request's items (others: NTPPrivateReqPacket)
_PRIVATE_RESPONSES: dict[int, type] = {
    0: NTPInfoPeerList, 1: NTPInfoPeerSummary, 2: NTPInfoPeer, 3: NTPInfoPeerStats, 4: NTPInfoSys,
    5: NTPInfoSysStats, 6: NTPInfoIOStats, 7: NTPInfoMemStats, 8: NTPInfoLoop, 9: NTPInfoTimerStats,
    10: NTPConfPeer, 11: NTPConfUnpeer, 28: NTPInfoAuth, 30: NTPConfTrap, 34: NTPInfoControl,
    38: NTPInfoKernel, 42: NTPInfoMonitor1}
_PRIVATE_REQUESTS: dict[int, type] = {
    2: NTPInfoPeerList, 3: NTPInfoPeerList, 10: NTPConfPeer, 11: NTPConfUnpeer, 17: NTPConfRestrict,
    18: NTPConfRestrict, 22: NTPConfUnpeer, 30: NTPConfTrap, 31: NTPConfTrap}
_PRIVATE_TAIL = 28   # the MAC tail of an authenticated request: timestamp, key id, MD5 digest


def _item(cls: type, data: bytes) -> Any:
    """One data item as its class reads it, the bytes past its fields its Raw payload; a
    fixed field short of the bytes fails the whole message (Scapy's list fields do not catch)."""
    held: list[Any] = []
    layer = _layer(cls, data, held)
    if layer is None:
        raise _Short
    _raw(data[len(layer._data):], held)
    return held[0]


def _private_items(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    size, count, code = fields["data_item_size"], fields["nb_items"], fields["request_code"]
    rest = data[pos:]
    out: list[Any] = []
    if kind == "tail":
        if not rest:   # Scapy's PacketField of no bytes: a packet left undissected
            held: list[Any] = []
            held.append(_m._quoted(NTPPrivatePktTail, {}, b"", held))
            return held[0], pos
        return _item(NTPPrivatePktTail, rest), len(data)
    if kind == "req":
        # ntpd's requests: as many items as fit while the rest still holds all nb_items of
        # them (Scapy tests the whole count against what is left at every item)
        while size > 0 and len(rest) >= size * count and len(out) < count:
            out.append(_item(_PRIVATE_REQUESTS.get(code, NTPPrivateReqPacket), rest[:size]))
            rest = rest[size:]
        if fields["auth"]:   # what lies before the MAC tail is padding, kept as Raw
            end = len(rest) - _PRIVATE_TAIL
            out.append(_m.Raw(rest[:end]))
            rest = rest[end:]
        return out, len(data) - len(rest)
    while size > 0 and len(rest) >= size and len(out) < count:
        chunk = rest[:size]
        if code in (44, 45):   # interface statistics: the v6 flag chooses the family
            if len(chunk) < 52:
                raise _Short
            cls = NTPInfoIfStatsIPv6 if chunk[48:52] != b"\0\0\0\0" else NTPInfoIfStatsIPv4
            out.append(_item(cls, chunk))
        elif code in _PRIVATE_RESPONSES:
            out.append(_item(_PRIVATE_RESPONSES[code], chunk))
        else:
            out.append(_m.Raw(chunk))
        rest = rest[size:]
    return out, len(data) - len(rest)


class NTPPrivate(NTP):
    __slots__ = ()
    name = "Private (mode 7)"
    _match_subclass = True
    _bases = ("NTP",)
    _desc = [("", "bits", [("response", 1), ("more", 1), ("version", 3), ("mode", 3), ("auth", 1),
                           ("seq", 7)]), ("implementation", "B", None), ("request_code", "B", None),
             ("", "bits", [("err", 4), ("nb_items", 12), ("mbz", 4), ("data_item_size", 12)]),
             ("req_data", "req?", lambda f: f["response"] == 0),
             ("data", "resp?", lambda f: f["response"] == 1),
             ("authenticator", "tail?", lambda f: f["response"] == 0 and f["auth"] == 1)]
    _held = ("req_data", "data", "authenticator")
    _special = staticmethod(_private_items)
    _defaults = {"req_data": None, "data": None, "authenticator": None}   # conditions not met


def _ntp(data: bytes, chain: list[Any]) -> None:
    if len(data) < 8:
        _raw(data, chain)
        return
    if data[0] & 7 == 7:
        if _layer(NTPPrivate, data, chain) is None:
            _raw(data, chain)
        else:
            _raw(data[len(chain[-1]._data):], chain)
        return
    if data[0] & 7 == 6:   # the message uses all the bytes (the authenticator takes the rest)
        if _layer(NTPControl, data, chain) is None:
            _raw(data, chain)
        return
    head = _layer(NTPHeader, data, chain)
    if head is None:
        _raw(data, chain)
        return
    rest = data[len(head._data):]
    if len(rest) - 4 in (16, 20, 32, 48, 64):
        _layer(NTPAuthenticator, rest, chain)
    elif len(rest) > _NTP_MAC_TAIL:
        _layer(NTPExtensions, rest, chain)
    else:
        _raw(rest, chain)


def udp_bound(udp: Any) -> str | None:
    """The layer Scapy binds to this UDP view's ports, of those the facade reads (BOOTP, NTP,
    LLMNR: here a datagram fastpkt decodes no DNS in)."""
    bound = _scapy_text._bound(_scapy_text._UDP_BINDS, udp.sport, udp.dport)
    return bound if bound in ("BOOTP", "NTP", "LLMNR") else None


def udp_app(udp: Any, load: bytes, chain: list[Any]) -> bool:
    """Append what Scapy reads in this UDP payload (BOOTP/DHCP, NTP); False if not ours."""
    bound = udp_bound(udp)
    if bound == "BOOTP":
        _bootp(load, chain)
    elif bound == "NTP":
        _ntp(load, chain)
    elif bound == "LLMNR":
        _m.llmnr_short(load, chain)
    else:
        return False
    return True


CLASSES += (BOOTP, DHCP, NTPHeader, NTPAuthenticator, NTPExtensions, NTPExtension, NTPControl,
            NTPSystemStatusPacket, NTPPeerStatusPacket, NTPClockStatusPacket, NTPErrorStatusPacket,
            NTPPeerStatusDataPacket, NTPPrivate, NTPPrivatePktTail, NTPPrivateReqPacket, NTPInfoPeerList,
            NTPInfoPeerSummary, NTPInfoPeer, NTPInfoPeerStats, NTPInfoLoop, NTPInfoSys, NTPInfoSysStats,
            NTPInfoMemStats, NTPInfoIOStats, NTPInfoTimerStats, NTPConfPeer, NTPConfUnpeer, NTPConfRestrict,
            NTPInfoKernel, NTPInfoIfStatsIPv4, NTPInfoIfStatsIPv6, NTPInfoMonitor1, NTPInfoAuth, NTPConfTrap,
            NTPInfoControl)


# ---------------------------------------------------------------- 802.3, LLC, SNAP, STP
# An Ethernet frame whose type field is a length (IEEE 802.3, at most 1500) is Scapy's Dot3,
# its payload (cut to the length, the rest Padding) 802.2 LLC; LLC carries STP (802.1D BPDUs,
# SAPs 0x42) or SNAP (SAPs 0xAA, RFC 1042), SNAP an EtherType's protocol (EAPOL included) or
# STP (Cisco's PVST+).
# An 802.1Q tag with a length does the same from LLC on.
class Dot3(_Layer):
    __slots__ = ()
    name = "802.3"
    _desc = [("dst", "mac", None), ("src", "mac", None), ("len", "H", None)]


class LLC(_Layer):
    __slots__ = ()
    name = "LLC"
    _desc = [("dsap", "B", None), ("ssap", "B", None), ("ctrl", "B", None)]


class SNAP(_Layer):
    __slots__ = ()
    name = "SNAP"
    _desc = [("OUI", "3", None), ("code", "H", None)]


class STP(_Layer):
    __slots__ = ()
    name = "Spanning Tree Protocol"
    _desc = [("proto", "H", None), ("version", "B", None), ("bpdutype", "B", None),
             ("bpduflags", "B", None), ("rootid", "H", None), ("rootmac", "mac", None),
             ("pathcost", "I", None), ("bridgeid", "H", None), ("bridgemac", "mac", None),
             ("portid", "H", None), ("age", "bcd", None), ("maxage", "bcd", None),
             ("hellotime", "bcd", None), ("fwddelay", "bcd", None)]

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        if pos + 2 > len(data):   # BCDFloatField: 1/256 s units, a float
            raise _Short
        return int.from_bytes(data[pos:pos + 2], "big") / 256.0, pos + 2


# what SNAP's code carries, as fastpkt reads it: an Ethernet frame (1) or an EtherType's layer
_SNAP_ETHERTYPES = frozenset((0x8100, 0x0806, 0x0800, 0x86DD))


def _stp(data: bytes, chain: list[Any]) -> None:
    stp = _layer(STP, data, chain)
    _raw(data if stp is None else data[len(stp._data):], chain)


def _llc(data: bytes, chain: list[Any]) -> None:
    """LLC and what Scapy reads under it, appended to ``chain``."""
    llc = _layer(LLC, data, chain)
    if llc is None:
        _raw(data, chain)
        return
    rest, f = data[3:], llc._fields
    if not rest:
        return
    if (f["dsap"], f["ssap"], f["ctrl"]) == (0x42, 0x42, 3):
        _stp(rest, chain)
    elif (f["dsap"], f["ssap"], f["ctrl"]) == (0xAA, 0xAA, 3):
        snap = _layer(SNAP, rest, chain)
        if snap is None:
            _raw(rest, chain)
            return
        rest, code = rest[5:], snap._fields["code"]
        if not rest:
            return
        if code == 267:
            _stp(rest, chain)
        elif code == 1:
            _inner(rest, 1, chain)
        elif code in _SNAP_ETHERTYPES:
            _inner(rest, 1, chain, code)
        elif code == 0x888E:
            eapol(rest, chain)
        else:
            _raw(rest, chain)
    else:
        _raw(rest, chain)


def dot3(frame: bytes, chain: list[Any]) -> None:
    """An 802.3 frame as Scapy reads it: Dot3, then LLC... within its length."""
    head = _layer(Dot3, frame, chain)
    assert head is not None   # fastpkt's Ether view holds the 14 bytes
    llc_within(frame[14:], head._fields["len"], chain)


def llc_within(body: bytes, length: int, chain: list[Any]) -> None:
    """What follows an 802.3 length (Dot3's, or an 802.1Q tag's type): LLC in the first
    ``length`` bytes, Padding after them."""
    if body[:length]:
        _llc(body[:length], chain)
    if body[length:]:
        chain.append(_m._linked(_m.Padding, body[length:], chain))


CLASSES += (Dot3, LLC, SNAP, STP)


# ---------------------------------------------------------------- EAPOL and EAP
# 802.1X (IEEE 802.1X-2010 section 11) on EtherType 0x888E, after Ethernet, 802.1Q or SNAP:
# Scapy's EAPOL, its body within its length (the rest Padding), EAP (RFC 3748) for EAP
# packets, as the method's class Scapy dispatches a request or response to (MD5, TLS, TTLS,
# PEAP, FAST, LEAP); the bytes after an EAP message are Padding. EAPOL-Key as Scapy's
# EAPOL_KEY, MKA (802.1X-2010 11.11) as its MKAPDU and parameter sets.
class EAPOL(_Layer):
    __slots__ = ()
    name = "EAPOL"
    _desc = [("version", "B", None), ("type", "B", None), ("len", "H", None)]


def _eap_rest(offset: int) -> Callable[[dict[str, Any]], int]:
    return lambda f: f["len"] - offset


_EAP_HEAD: Desc = [("code", "B", None), ("id", "B", None), ("len", "H", None)]


def _auth_types(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    chunk, end = _take(data, pos, fields["len"] - 4)
    return list(chunk), end


class EAP(_Layer):
    __slots__ = ()
    name = "EAP"
    _desc = _EAP_HEAD + [
        ("type", "B?", lambda f: f["code"] not in (3, 4)),
        ("desired_auth_types", "authtypes?", lambda f: f["code"] == 2 and f.get("type") == 3),
        ("identity", "len?", (lambda f: f["code"] == 2 and f.get("type") == 1, _eap_rest(5))),
        ("message", "len?", (lambda f: f["code"] == 1 and f.get("type") == 1, _eap_rest(5)))]
    _special = staticmethod(_auth_types)


class EAP_MD5(EAP):
    __slots__ = ()
    name = "EAP-MD5"
    _bases = ("EAP",)
    _match_subclass = True   # Scapy's: `EAP in pkt` finds the method's class
    _desc = _EAP_HEAD + [("type", "B", None), ("value_size", "B", None),
                         ("value", "len", lambda f: f["value_size"]),
                         ("optional_name", "len", lambda f: f["len"] - f["value_size"] - 6)]


def _tls_like(bits: list[tuple[str, int]], length: str, data: str) -> Desc:
    return _EAP_HEAD + [("type", "B", None), ("", "bits", bits),
                        (length, "I?", lambda f: f["L"] == 1),
                        (data, "len", lambda f: f["len"] - (6 + 4 * f["L"]))]


class EAP_TLS(EAP):
    __slots__ = ()
    name = "EAP-TLS"
    _bases = ("EAP",)
    _match_subclass = True   # Scapy's: `EAP in pkt` finds the method's class
    _desc = _tls_like([("L", 1), ("M", 1), ("S", 1), ("reserved", 5)], "tls_message_len", "tls_data")


class EAP_TTLS(EAP):
    __slots__ = ()
    name = "EAP-TTLS"
    _bases = ("EAP",)
    _match_subclass = True   # Scapy's: `EAP in pkt` finds the method's class
    _desc = _tls_like([("L", 1), ("M", 1), ("S", 1), ("reserved", 2), ("version", 3)], "message_len", "data")


class EAP_PEAP(EAP):
    __slots__ = ()
    name = "PEAP"
    _bases = ("EAP",)
    _match_subclass = True   # Scapy's: `EAP in pkt` finds the method's class
    _desc = _tls_like([("L", 1), ("M", 1), ("S", 1), ("reserved", 3), ("version", 2)], "tls_message_len", "tls_data")


class EAP_FAST(EAP):
    __slots__ = ()
    name = "EAP-FAST"
    _bases = ("EAP",)
    _match_subclass = True   # Scapy's: `EAP in pkt` finds the method's class
    _desc = EAP_TTLS._desc


class LEAP(EAP):
    __slots__ = ()
    name = "Cisco LEAP"
    _bases = ("EAP",)
    _match_subclass = True   # Scapy's: `EAP in pkt` finds the method's class
    _desc = _EAP_HEAD + [("type", "B", None), ("version", "B", None), ("unused", "B", None),
                         ("count", "B", None), ("challenge_response", "len", lambda f: f["count"]),
                         ("username", "len", lambda f: f["len"] - (8 + f["count"]))]


_EAP_METHODS: dict[int, type] = {4: EAP_MD5, 13: EAP_TLS, 17: LEAP, 21: EAP_TTLS, 25: EAP_PEAP, 43: EAP_FAST}


class EAPOL_KEY(_Layer):
    """An EAPOL-Key frame (802.1X-2010 11.9, 802.11-2016 12.7.2: WPA's handshakes)."""

    __slots__ = ()
    name = "EAPOL_KEY"
    _desc = [("key_descriptor_type", "B", None),
             ("", "bits", [("res2", 2), ("smk_message", 1), ("encrypted_key_data", 1),
                           ("request", 1), ("error", 1), ("secure", 1), ("has_key_mic", 1),
                           ("key_ack", 1), ("install", 1), ("res", 2), ("key_type", 1),
                           ("key_descriptor_type_version", 3)]),
             ("key_length", "H", None), ("key_replay_counter", "Q", None),
             ("key_nonce", "fix", 32), ("key_iv", "fix", 16), ("key_rsc", "fix", 8),
             ("key_id", "fix", 8), ("key_mic", "fix", 16), ("key_data_length", "H", None),
             ("key_data", "len", lambda f: f["key_data_length"])]


# MACsec Key Agreement (802.1X-2010 11.11): the basic parameter set, then parameter sets, each
# its 12-bit body length long after a 4-byte header, of the class its type names (Raw for
# types Scapy has none for); what a set's fields leave is its Raw payload.
class MACsecSCI(_Layer):
    __slots__ = ()
    name = "SCI"
    _desc = [("system_identifier", "mac", None), ("port_identifier", "H", None)]


class MKAPeerListTuple(_Layer):
    __slots__ = ()
    name = "Peer List Tuple"
    _desc = [("member_id", "fix", 12), ("message_number", "fix", 4)]


class MKABasicParamSet(_Layer):
    __slots__ = ()
    name = "Basic Parameter Set"
    _desc = [("mka_version_id", "B", None), ("key_server_priority", "B", None),
             ("", "bits", [("key_server", 1), ("macsec_desired", 1), ("macsec_capability", 2),
                           ("param_set_body_len", 12)]),
             ("SCI", "sci", None), ("actor_member_id", "fix", 12), ("actor_message_number", "I", None),
             ("algorithm_agility", "I", None), ("cak_name", "cak", None)]
    _held = ("SCI",)

    @staticmethod
    def _special(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
        if kind == "sci":
            if pos + 8 > len(data):
                raise _Short
            return _held_layer(MACsecSCI, data[pos:pos + 8]), pos + 8
        name, end = _take(data, pos, fields["param_set_body_len"] - 28)   # padded to 4 bytes
        return name, min(len(data), end + (-(end - pos) % 4))


def _peer_tuples(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    """Scapy's PacketListField without a length, of a packet that keeps what it does not read
    as its payload: one tuple (the rest its Raw), or none."""
    if pos == len(data):
        return [], pos
    held: list[Any] = []
    tup = _layer(MKAPeerListTuple, data[pos:], held)
    assert tup is not None   # two fixed-length strings: they take what there is
    _raw(data[pos + len(tup._data):], held)
    return [tup], len(data)


_MKA_PEERS: Desc = [("param_set_type", "B", None), ("", "skip", 1), ("param_set_body_len", "H", None),
                    ("member_id_message_num", "tuples", None)]


class MKALivePeerListParamSet(_Layer):
    __slots__ = ()
    name = "Live Peer List Parameter Set"
    _desc = _MKA_PEERS
    _held = ("member_id_message_num",)
    _special = staticmethod(_peer_tuples)


class MKAPotentialPeerListParamSet(_Layer):
    __slots__ = ()
    name = "Potential Peer List Parameter Set"
    _desc = _MKA_PEERS
    _held = ("member_id_message_num",)
    _special = staticmethod(_peer_tuples)


class MKASAKUseParamSet(_Layer):
    __slots__ = ()
    name = "SAK Use Parameter Set"
    _desc = [("param_set_type", "B", None),
             ("", "bits", [("latest_key_an", 2), ("latest_key_tx", 1), ("latest_key_rx", 1), ("old_key_an", 2),
                           ("old_key_tx", 1), ("old_key_rx", 1), ("plain_tx", 1), ("plain_rx", 1), ("X", 1),
                           ("delay_protect", 1), ("param_set_body_len", 12)]),
             ("latest_key_key_server_member_id", "fix", 12), ("latest_key_key_number", "fix", 4),
             ("latest_key_lowest_acceptable_pn", "fix", 4), ("old_key_key_server_member_id", "fix", 12),
             ("old_key_key_number", "fix", 4), ("old_key_lowest_acceptable_pn", "fix", 4)]


class MKADistributedSAKParamSet(_Layer):
    __slots__ = ()
    name = "Distributed SAK parameter set"
    _desc = [("param_set_type", "B", None),
             ("", "bits", [("distributed_an", 2), ("confidentiality_offset", 2), ("unused", 4)]),
             ("param_set_body_len", "H", None), ("key_number", "fix", 4),
             ("macsec_cipher_suite", "fix?", (lambda f: f["param_set_body_len"] > 28, 8)),
             ("sak_aes_key_wrap", "fix", 24)]


class MKAICVSet(_Layer):
    __slots__ = ()
    name = "ICV"
    _desc = [("param_set_type", "B", None), ("", "skip", 1), ("param_set_body_len", "H", None),
             ("icv", "fix", 16)]


# the classes Scapy's MKAParamSet dispatches to by type (others, the distributed CAK among
# them, are Raw)
_MKA_SETS: dict[int, type] = {1: MKALivePeerListParamSet, 2: MKAPotentialPeerListParamSet,
                              3: MKASAKUseParamSet, 4: MKADistributedSAKParamSet, 255: MKAICVSet}


def _mkapdu(kind: str, arg: Any, fields: dict[str, Any], data: bytes, pos: int) -> tuple[Any, int]:
    if kind == "basic":
        basic = _held_layer(MKABasicParamSet, data[pos:])
        return basic, pos + len(basic._data)
    out: list[Any] = []
    rest = data[pos:]
    while rest:
        if len(rest) < 4:   # Scapy reads the set's length first: the MKPDU fails
            raise _Short
        n = 4 + (int.from_bytes(rest[2:4], "big") & 0xFFF)
        current, rest = rest[:n], rest[n:]
        cls = _MKA_SETS.get(current[0])
        if cls is None:
            out.append(_m.Raw(current))
            continue
        held: list[Any] = []
        param_set = _layer(cls, current, held)
        if param_set is None:
            raise _Short
        _raw(current[len(param_set._data):], held)   # what its fields leave: its payload
        out.append(param_set)
    return out, len(data)


class MKAPDU(_Layer):
    __slots__ = ()
    name = "MKPDU"
    _desc = [("basic_param_set", "basic", None), ("parameter_sets", "sets", None)]
    _held = ("basic_param_set", "parameter_sets")
    _special = staticmethod(_mkapdu)


def _mka(body: bytes, chain: list[Any]) -> None:
    if _layer(MKAPDU, body, chain) is None:
        _raw(body, chain)


def _eapol_key(body: bytes, chain: list[Any]) -> None:
    """EAPOL_KEY, then (Scapy's extract_padding) ``key_length`` bytes of payload, Padding after."""
    key = _layer(EAPOL_KEY, body, chain)
    if key is None:
        _raw(body, chain)
        return
    rest, n = body[len(key._data):], key._fields["key_length"]
    _raw(rest[:n], chain)
    if rest[n:]:
        chain.append(_m._linked(_m.Padding, rest[n:], chain))


def eapol(data: bytes, chain: list[Any]) -> None:
    """EAPOL after an EtherType 0x888E (Ethernet, 802.1Q, SNAP) and what Scapy reads in it."""
    head = _layer(EAPOL, data, chain)
    if head is None:
        _raw(data, chain)
        return
    f = head._fields
    body, pad = data[4:4 + f["len"]], data[4 + f["len"]:]
    if body and f["type"] == 0:
        cls: type = EAP
        if body[0] in (1, 2) and len(body) >= 5:
            cls = _EAP_METHODS.get(body[4], EAP)
        eap = _layer(cls, body, chain)
        if eap is None:
            _raw(body, chain)
        elif body[len(eap._data):]:   # EAP's payload is Padding
            chain.append(_m._linked(_m.Padding, body[len(eap._data):], chain))
    elif body and f["type"] == 3:
        _eapol_key(body, chain)
    elif body and f["type"] == 5:
        _mka(body, chain)
    else:
        _raw(body, chain)
    if pad:
        chain.append(_m._linked(_m.Padding, pad, chain))


CLASSES += (EAPOL, EAP, EAP_MD5, EAP_TLS, EAP_TTLS, EAP_PEAP, EAP_FAST, LEAP, EAPOL_KEY, MKAPDU,
            MKABasicParamSet, MACsecSCI, MKAPeerListTuple, MKALivePeerListParamSet,
            MKAPotentialPeerListParamSet, MKASAKUseParamSet, MKADistributedSAKParamSet, MKAICVSet)
