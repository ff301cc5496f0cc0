"""Scapy's packet object model over fastpkt's packets, for ``fastpkt.scapy``.

The facade's Readers and PacketLists make ``ScapyPacket`` (a subclass of ``fastpkt.Packet``)
and their layers are this module's subclasses of the view types (``_fastpkt._set_facade_types``),
so iterating costs what it costs in fastpkt and nothing here runs until a script touches an
attribute Scapy defines differently: ``layers()``, ``payload`` (the next layer), ``fields``,
``getlayer``, ``pkt.src`` on an Ether frame, ``FlagValue`` flags, DNS records as Scapy's
classes, ``Raw`` only for bytes no layer decodes.

Scapy decodes, with ``from scapy.all import *``, everything fastpkt's views here stand for
except HTTP and TLS (``scapy.layers.http``/``tls`` are not loaded by default): their bytes are
``Raw`` here as there.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Any, Callable, Iterator, cast

import fastpkt as _fp
from fastpkt import _fastpkt as _C
from fastpkt import _scapy_text

_CD: Any = _C   # the extension's attributes as descriptors (its C getters), which the stub types as values

# ---------------------------------------------------------------- flags
_TCP_FLAG_NAMES = "FSRPAUECN"
_IP_FLAG_NAMES = ["MF", "DF", "evil"]


_SET_NAMES: dict[tuple[Any, int], tuple[str, ...]] = {}


def _names_set(names: Any, value: int) -> tuple[str, ...]:
    """The names of the bits set in value, lowest first ('?' past the names), as Scapy's str."""
    out, i = [], 0
    while value:
        if value & 1:
            out.append(names[i] if i < len(names) else "?")
        i += 1
        value >>= 1
    return tuple(out)


# TCP's flags are read on every packet by course scripts: their 512 texts and name sets, and
# each letter's bit, looked up rather than computed
_TCP_SETS = tuple(_names_set(_TCP_FLAG_NAMES, v) for v in range(512))
_TCP_TEXT = tuple("".join(names) for names in _TCP_SETS)
_TCP_BITS = {name: 1 << i for i, name in enumerate(_TCP_FLAG_NAMES)}


class FlagValue:
    """Scapy's FlagValue: an int with named bits. ``str`` lists the set flags (TCP: ``'SA'``,
    IP: ``'MF+DF'``), ``repr`` is ``<Flag 18 (SA)>``; compares with ints and flag strings;
    ``'S' in f``, ``f.S``, ``f.DF``."""

    __slots__ = ("value", "names", "multi")
    value: int
    names: str | list[str]
    multi: bool

    def __init__(self, value: Any, names: str | list[str]) -> None:
        object.__setattr__(self, "multi", isinstance(names, list))
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "value", self._fix(value))

    def _fix(self, value: Any) -> int:
        if not value:
            return 0
        if isinstance(value, str):
            value = value.split("+") if self.multi else list(value)
        if isinstance(value, list):
            bits = 0
            for name in value:
                bits |= 1 << self.names.index(name)
            return bits
        return int(value)

    def __int__(self) -> int:
        return self.value

    __index__ = __int__

    def __hash__(self) -> int:
        return hash(self.value)

    def __eq__(self, other: object) -> bool:
        try:
            return self.value == self._fix(other)
        except (ValueError, TypeError):
            return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __lt__(self, other: Any) -> bool:
        return self.value < self._fix(other)

    def __le__(self, other: Any) -> bool:
        return self.value <= self._fix(other)

    def __gt__(self, other: Any) -> bool:
        return self.value > self._fix(other)

    def __ge__(self, other: Any) -> bool:
        return self.value >= self._fix(other)

    def __and__(self, other: Any) -> FlagValue:
        if other.__class__ is int:   # `tcp.flags & 0x01`, per packet in course scripts
            return _flag(self.value & other, self.names, self.multi)
        return FlagValue(self.value & self._fix(other), self.names)

    __rand__ = __and__

    def __or__(self, other: Any) -> FlagValue:
        return FlagValue(self.value | self._fix(other), self.names)

    __ror__ = __add__ = __or__

    def __sub__(self, other: Any) -> FlagValue:
        return FlagValue(self.value & (2 ** len(self.names) - 1 - self._fix(other)), self.names)

    def __xor__(self, other: Any) -> FlagValue:
        return FlagValue(self.value ^ self._fix(other), self.names)

    def __lshift__(self, other: Any) -> int:
        return self.value << self._fix(other)

    def __rshift__(self, other: Any) -> int:
        return self.value >> self._fix(other)

    def __bool__(self) -> bool:
        return bool(self.value)

    def _set_names(self) -> tuple[str, ...]:
        value = self.value
        if self.names is _TCP_FLAG_NAMES and 0 <= value < 512:
            return _TCP_SETS[value]
        key = (self.names if isinstance(self.names, str) else tuple(self.names), value)
        found = _SET_NAMES.get(key)
        if found is None:
            found = _names_set(self.names, value)
            if len(_SET_NAMES) < 4096:   # IP's 8 values, plus a few others
                _SET_NAMES[key] = found
        return found

    def __str__(self) -> str:
        value = self.value
        if self.names is _TCP_FLAG_NAMES and 0 <= value < 512:
            return _TCP_TEXT[value]
        return ("+" if self.multi else "").join(self._set_names())

    def __format__(self, spec: str) -> str:
        if spec:
            return object.__format__(self, spec)   # TypeError, as for Scapy's FlagValue
        value = self.value
        if self.names is _TCP_FLAG_NAMES and 0 <= value < 512:
            return _TCP_TEXT[value]
        return self.__str__()

    def __iter__(self) -> Iterator[str]:
        return iter(self._set_names())

    def __contains__(self, name: object) -> bool:
        return name in self._set_names()

    def __repr__(self) -> str:
        return "<Flag %d (%s)>" % (self.value, self)

    def __getattr__(self, attr: str) -> bool:
        if self.names is _TCP_FLAG_NAMES:
            bit = _TCP_BITS.get(attr)
            if bit is not None:   # tcp.flags.S
                return bool(self.value & bit)
        try:
            if self.multi:
                return bool((1 << self.names.index(attr)) & self.value)
            return all(bool((1 << self.names.index(flag)) & self.value) for flag in attr)
        except ValueError:
            raise AttributeError(attr) from None

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr not in self.names:
            raise AttributeError("FlagValue has no flag %r" % (attr,))
        bit = 1 << self.names.index(attr)
        object.__setattr__(self, "value", self.value | bit if value else self.value & ~bit)

    def copy(self) -> FlagValue:
        return FlagValue(self.value, self.names)


# ---------------------------------------------------------------- matching layers
def _wanted(cls: Any) -> str:
    """The class name a getlayer()/haslayer()/[] argument asks for."""
    if isinstance(cls, type):
        return cls.__name__
    if isinstance(cls, str):
        return cls
    raise TypeError("layer must be a layer class or its name, not %s" % type(cls).__name__)


def _matches(layer: Any, wanted: str) -> bool:
    """Scapy's test: the exact class (by name here: one name, one class), or its `name`;
    an ICMPv6 echo also answers for fastpkt's ICMPv6 view it stands for."""
    cls = type(layer)
    return cls.__name__ == wanted or layer.name == wanted or getattr(cls, "_view_name", None) == wanted


def _not_found(cls: Any) -> IndexError:
    name = cls.__name__ if isinstance(cls, type) else repr(cls)
    return IndexError("Layer [%s] not found" % name)


class _LayerOps:
    """getlayer/haslayer/[]/in/layers()/lastlayer() with Scapy's rules: the search starts at
    this layer, goes down the payload chain and into DNS records (``dns[DNSQR]``)."""

    __slots__ = ()

    def _following(self) -> list[Any]:
        """This layer and the ones under it."""
        return [self]

    def getlayer(self, cls: Any, nb: int = 1, **flt: Any) -> Any:
        """The nb-th layer of class ``cls`` (a class, its name, or an index), or None."""
        following = self._following()
        if isinstance(cls, int):   # Scapy counts the packets layers hold in fields too
            for layer in following:
                for found in [layer] + _records_of(layer):
                    if cls == 0:
                        return found
                    cls -= 1
            return None
        wanted, fld = _wanted(cls), None
        if "." in wanted:
            wanted, fld = wanted.split(".", 1)
        subclass = False   # Scapy's match_subclass: from such a layer on, a base class matches too
        for layer in following:
            subclass = subclass or getattr(type(layer), "_match_subclass", False)
            for found in [layer] + _records_of(layer):
                if (_matches(found, wanted) or subclass and wanted in getattr(type(found), "_bases", ())) and all(
                        getattr(found, k, None) == v for k, v in flt.items()):
                    if nb == 1:
                        return getattr(found, fld) if fld else found
                    nb -= 1
        return None

    def haslayer(self, cls: Any) -> bool:
        return self.getlayer(cls) is not None

    def __contains__(self, cls: Any) -> bool:
        return self.getlayer(cls) is not None

    def __getitem__(self, cls: Any) -> Any:
        if isinstance(cls, slice):   # Scapy's pkt[TCP:2]: the second TCP layer
            found = self.getlayer(cls.start, nb=cls.stop or 1, **(cls.step or {}))
            cls = cls.start
        else:
            found = self.getlayer(cls)
        if found is None:
            raise _not_found(cls)
        return found

    def layers(self) -> list[type]:
        """The classes of this layer and the ones under it (Scapy's ``layers()``)."""
        return [_public_class(layer) for layer in self._following()]

    def lastlayer(self) -> Any:
        return self._following()[-1]

    def _show_text(self, rebuilt: bool) -> str:
        """Scapy's show text of this layer and the ones under it (``rebuilt``: show2's)."""
        return _scapy_text.plain_show([(layer.name, layer.fields) for layer in self._following()])

    def show(self, dump: bool = False) -> str | None:
        """Scapy's ``layer.show()``: this layer and its payload chain, as the packet's
        ``show()`` prints them from here; ``dump=True`` returns the text."""
        return _printed(self._show_text(False), dump)

    def show2(self, dump: bool = False) -> str | None:
        """Scapy's ``layer.show2()``: ``show()`` of the layer rebuilt from its bytes."""
        return _printed(self._show_text(True), dump)


def _printed(text: str, dump: bool) -> str | None:
    if dump:
        return text
    print(text)   # Scapy's print: the text's own last newline and one more
    return None

    def firstlayer(self) -> Any:
        layer: Any = self
        while layer.underlayer is not None:
            layer = layer.underlayer
        return layer


def _records_of(layer: Any) -> list[Any]:
    """The layers a layer holds in fields, which Scapy's lookups search too: DNS records,
    IPv6 options."""
    if isinstance(layer, (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt)):
        return list(layer._fields["options"])
    if isinstance(layer, LLMNRQuery) or type(layer).__name__ == "DNS" and isinstance(layer, _Fields):
        # LLMNR, a tunnelled DNS: the records, each OPT record's options after it
        return _with_options(r for sec in ("qd", "an", "ns", "ar") for r in layer._fields[sec])
    if isinstance(layer, _Fields):   # packets held in fields (Scapy's packet fields: MLDv2
        out: list[Any] = []           # records, NTP extensions...), each searched as Scapy does
        for name in type(layer)._held:
            held = layer._fields.get(name)
            for packet in held if isinstance(held, list) else (held,) if isinstance(held, _LayerOps) else ():
                for inner in packet._following():
                    out += [inner] + _records_of(inner)
        return out
    if isinstance(layer, _C.ICMP) and layer.type in _ICMP_EXT_TYPES:   # an RFC 4884 extension
        ext = _icmp_fields(layer).get("ext")
        return [] if ext is None else ext._following()
    if not isinstance(layer, _C.DNS):
        return []
    return _with_options(r for sec in (layer.qd, layer.an, layer.ns, layer.ar) for r in sec)


def _with_options(records: Iterator[Any]) -> list[Any]:
    """DNS records, each OPT record followed by its EDNS0 options (packets in its rdata,
    which Scapy's lookups and getlayer(i) also count)."""
    out: list[Any] = []
    for r in records:
        out.append(r)
        if type(r) is DNSRROPT:
            out += r.rdata
    return out


def _public_class(layer: Any) -> type:
    """The class a script names: fastpkt.IP for our IP view, Raw for Raw..."""
    return getattr(layer, "_public", type(layer))


# ---------------------------------------------------------------- the chain of a packet
_APP_HIDDEN = frozenset(("HTTP", "TLS"))   # Scapy does not decode these by default
_ATTR = {"Ether": "eth", "SLL": "sll", "SLL2": "sll", "Loopback": "loopback", "ARP": "arp",
         "IP": "ip", "IPv6": "ip6", "TCP": "tcp", "UDP": "udp", "ICMP": "icmp",
         "ICMPv6": "icmp6", "DNS": "dns"}
_NETWORK = frozenset(("ARP", "IP", "IPv6"))
_fp_layers = _CD.Packet.layers.__get__    # the C getters, past the facade's overrides
_fp_linktype = _CD.Packet.linktype.__get__
# PPP, PPP_HDLC, PPP_ETHER, PPP_WITH_DIR: the chain is Scapy's from the first byte
_PPP_LINKTYPES = frozenset((9, 50, 51, 204))
_fp_payload = _CD.Layer.payload.__get__
# fastpkt's bytes and length of a view (its header and payload within its own length), past
# the facade's, which are Scapy's (the layer and all after it, Padding included)
_fp_bytes: Callable[[Any], bytes] = _CD.Layer.__bytes__
_fp_len: Callable[[Any], int] = _CD.Layer.__len__


class _Chain(list):  # type: ignore[type-arg]
    """A packet's layers (``_chain``), knowing their packet: Scapy's text of a layer is
    rendered from the packet's."""

    __slots__ = ("packet", "extpad")
    packet: Any
    extpad: bytes   # the Padding Scapy's ICMP post-dissection moved into the ICMP's extpad


def _chain(pkt: _fp.Packet) -> list[Any]:
    """The layers Scapy would show for this packet, outer to inner: our views, then Raw
    for undecoded bytes and Padding for bytes past the network layer's length."""
    out = _Chain()
    out.packet = pkt
    out.extpad = b""
    linktype = _fp_linktype(pkt)
    if linktype in _PPP_LINKTYPES:   # Scapy's PPP, HDLC, PPPoE or DIR_PPP first: read there
        _layers.ppp_link(linktype, _CD.Packet.raw.__get__(pkt), out)
        return out
    net = vlans = None
    last = ""
    extension6: Any = None   # the ICMPv6 error that read an RFC 4884 extension
    upper = -1   # where the layer after IPv6's extension headers starts (-1: no such bound)
    for name in _fp_layers(pkt):
        if name in _APP_HIDDEN or name == "CMD":   # Cisco MetaData: Scapy reads Raw there
            continue
        if name == "Dot1Q":
            vlans = vlans or pkt.vlans
            view = vlans[sum(1 for v in out if isinstance(v, _C.Dot1Q))]
        else:
            view = getattr(pkt, _ATTR[name])
        if upper >= 0 and view.offset != upper:
            break   # Scapy decoded the rest otherwise: it is Raw there (already in the chain)
        upper = -1
        if name == "DNS" and isinstance(out[-1], _C.UDP):
            bound = _scapy_text._bound(_scapy_text._UDP_BINDS, out[-1].sport, out[-1].dport)
            if bound not in ("DNS", "LLMNR"):
                # a layer Scapy's bindings try first (NBNS on 137 against 5355, GRE on 4754
                # against 53...): the datagram is read as after any UDP port (GRE, or Raw)
                break
            if bound == "LLMNR":
                view = _llmnr(view, out)
        if name == "Ether" and view.type <= 1500:   # 802.3: Scapy's Dot3 and LLC
            _layers.dot3(_CD.Packet.raw.__get__(pkt), out)
            last = "Dot3"
            break
        if name == "ICMPv6" and _icmp6_too_short(view):
            out.append(_linked(Raw, _fp_bytes(view), out))
            last = "ICMPv6Echo"
            continue
        if name == "ICMPv6" and view.type in _layers.DECODED:
            # echoes, errors, ND, MLD: Scapy's classes read from the message's bytes, which
            # they use up (the echo data is its last field)
            extension6 = _layers.icmp6(_fp_bytes(view), out, view.offset)
            last = "ICMPv6Echo"
            continue
        out.append(view)
        if net is None and name in _NETWORK:
            net = view
        last = name
        if name == "IPv6" and view.nh in _IP6_EXT:
            upper = _ip6_extensions(view, out)
            if upper < 0:
                last = "IPv6ExtHdr"
                break
    if not out:
        if pkt.caplen:
            out.append(_linked(Raw, pkt.raw, out))
        return out
    if upper >= 0:   # nothing fastpkt decodes follows the extension headers
        load = _CD.Packet.raw.__get__(pkt)[upper:net.offset + _fp_len(net)] if net is not None else b""
        if load:
            out.append(_linked(Raw, load, out))
        last = "IPv6ExtHdr"
    extension = False
    if last == "Dot1Q" and out[-1].type <= 1500:   # a length: LLC follows
        _layers.llc_within(_CD.Packet.raw.__get__(pkt)[out[-1].offset + 4:], out[-1].type, out)
    elif last == "DNS" and len(out) > 1:
        _dns_tail(_fp_payload(out[-2]), isinstance(out[-2], _C.TCP), out)
    elif last not in ("DNS", "ICMPv6Echo", "IPv6ExtHdr", "Dot3"):
        load = _fp_payload(out[-1])
        if last == "ICMP":   # timestamps and masks are ICMP fields in Scapy
            load = load[_ICMP_EXTRA.get(out[-1].type, 0):]
        if load and last == "ICMP" and out[-1].type in _ICMP_ERRORS:
            extension = _quoted_datagram(out[-1].type, load, out)
        elif load and last in ("IP", "IPv6") and _layers.carries(out[-1]):
            _layers.ip_payload(out[-1], load, out)
        elif load and last == "UDP" and _layers.udp_tunnel(out[-1]):
            _layers.udp_payload(out[-1], load, out)
        elif load and last in ("Ether", "Dot1Q") and out[-1].type == 0x888E:
            _layers.eapol(load, out)
        elif load and last in _PPPOE_BELOW and _next_type(out[-1]) == 0x8864:
            _layers.pppoe(load, out)
        elif load and last in _PPPOE_BELOW and _next_type(out[-1]) == 0x8863:
            _layers.pppoed(load, out)
        elif load and last == "UDP" and _layers.udp_bound(out[-1]):
            _layers.udp_app(out[-1], load, out)
        elif load:
            out.append(_linked(Raw, load, out))
    if net is not None:
        end = net.offset + _fp_len(net)
        if end < pkt.caplen:
            out.append(_linked(Padding, pkt.raw[end:], out))
    if extension:
        # Scapy's ICMP post_dissection (once per ICMP layer) moves a trailing Padding into the
        # ICMP's extpad field when an RFC 4884 extension was read; each sets the first
        # ICMP's, so the last one moved is its value
        for _ in range(sum(1 for layer in out if isinstance(layer, (_C.ICMP, ICMPerror)))):
            if out and type(out[-1]) is Padding:
                out.extpad = out.pop().load
    if extension6 and type(out[-1]) is Padding:
        extension6._fields["extpad"] = out.pop().load
    return out


def _dns_tail(load: bytes, over_tcp: bool, chain: list[Any]) -> None:
    """DNS as Scapy reads the UDP datagram's or TCP segment's data (``dns_as_read``): the
    DNS view becomes Raw, or what follows the message's records is Raw after it."""
    end = (dns_over_tcp(load) if over_tcp else dns_as_read(load))[0]
    if end < 0:
        chain.pop()
        chain.append(_linked(Raw, load, chain))
    elif end < len(load):
        chain.append(_linked(Raw, load[end:], chain))


# the views PPPoE follows in Scapy (Ether, Dot1Q and CookedLinux(V2) bind it)
_PPPOE_BELOW = ("Ether", "Dot1Q", "SLL", "SLL2")


def _next_type(view: Any) -> int:
    """The EtherType a link view hands on (a cooked header's ``proto``)."""
    return int(view.proto if isinstance(view, _C.SLL) else view.type)


def _linked(cls: type, load: bytes, chain: list[Any]) -> Any:
    """A Raw or Padding that will sit at the end of ``chain`` (it knows its neighbours)."""
    layer: Any = object.__new__(cls)
    layer.load, layer._chain, layer._i, layer._owner = load, chain, len(chain), None
    return layer


# ---------------------------------------------------------------- ICMP error quotes
# Scapy reads the datagram an ICMP error quotes (RFC 792) as IPerror and, under it, TCPerror,
# UDPerror or ICMPerror: its own classes, so `IP in pkt` and `pkt[IP]` still mean the outer
# header. The quote is dissected here by fastpkt itself (a raw-IP packet over its bytes), and
# cut where Scapy's dissection would stop.
_ICMP_ERRORS = frozenset((3, 4, 5, 11, 12))
_LINKTYPE_RAW = 101


def _quoted_datagram(icmp_type: int, load: bytes, chain: list[Any]) -> bool:
    """Append what Scapy reads from an ICMP error's payload; True when Scapy also read an
    RFC 4884 extension (an ICMP of 144 bytes or more: the quote is then its first 128)."""
    extension = icmp_type in (3, 11, 12) and 8 + len(load) >= 144
    _quoted_ip(load[:128] if extension else load, chain)
    return extension


def _quoted_ip(data: bytes, chain: list[Any]) -> None:
    inner = ScapyPacket(data, _LINKTYPE_RAW)
    ip: Any = inner.ip
    if ip is None or ip.ihl < 5:   # Scapy's IP fields fail on fewer than 20 bytes: Raw
        chain.append(_linked(Raw, data, chain))
        return
    hlen = ip.ihl * 4
    chain.append(_quoted(IPerror, ip.fields, data, chain, head=hlen))
    rest, pad = data[hlen:], b""
    if ip.len >= hlen:   # IP's extract_padding: bytes past its total length are Padding
        rest, pad = rest[:ip.len - hlen], rest[ip.len - hlen:]
    if rest:
        if ip.frag == 0 and ip.proto == 4:
            _quoted_ip(rest, chain)
        elif ip.frag == 0 and ip.proto == 6:
            _quoted_tcp(inner, rest, chain)
        elif ip.frag == 0 and ip.proto == 17:
            _quoted_udp(rest, chain)
        elif ip.frag == 0 and ip.proto == 1:
            _quoted_icmp(rest, chain)
        else:
            chain.append(_linked(Raw, rest, chain))
    if pad:
        chain.append(_linked(Padding, pad, chain))


def _quoted_tcp(inner: Any, data: bytes, chain: list[Any]) -> None:
    """TCPerror: Scapy's TCP fields, which may end after seq (the 8 bytes RFC 792 requires)."""
    tcp = inner.tcp
    if len(data) == 8:
        chain.append(_quoted(TCPerror, {"sport": int.from_bytes(data[0:2], "big"),
                                        "dport": int.from_bytes(data[2:4], "big"),
                                        "seq": int.from_bytes(data[4:8], "big")}, data, chain, head=8))
    elif tcp is None or len(data) < 20:   # Scapy: a field cut short makes the quote Raw
        chain.append(_linked(Raw, data, chain))
    else:
        chain.append(_quoted(TCPerror, tcp.fields, data, chain, head=max(tcp.dataofs * 4, 20)))
        load = data[max(tcp.dataofs * 4, 20):]
        if load:
            chain.append(_linked(Raw, load, chain))


def _quoted_udp(data: bytes, chain: list[Any]) -> None:
    if len(data) < 8:
        chain.append(_linked(Raw, data, chain))
        return
    length = int.from_bytes(data[4:6], "big")
    chain.append(_quoted(UDPerror, {"sport": int.from_bytes(data[0:2], "big"),
                                    "dport": int.from_bytes(data[2:4], "big"), "len": length,
                                    "chksum": int.from_bytes(data[6:8], "big")}, data, chain, head=8))
    rest = data[8:]
    # UDP's extract_padding, as Scapy slices it (a length under 8 slices from the end)
    load, pad = rest[:length - 8], rest[length - 8:]
    if load:
        chain.append(_linked(Raw, load, chain))
    if pad:
        chain.append(_linked(Padding, pad, chain))


def _quoted_icmp(data: bytes, chain: list[Any]) -> None:
    hlen = 8 + _ICMP_EXTRA.get(data[0], 0)
    if len(data) < hlen:
        chain.append(_linked(Raw, data, chain))
        return
    fields = _icmp_header_fields(data[:hlen])
    if data[0] in _ICMP_EXT_TYPES:
        fields.update(_icmp_trailer(data, b""))
    chain.append(_quoted(ICMPerror, fields, data, chain, head=hlen))
    rest = data[hlen:]
    if rest and data[0] in _ICMP_ERRORS:
        _quoted_ip(rest[:128] if "ext" in fields else rest, chain)
    elif rest:
        chain.append(_linked(Raw, rest, chain))


def _quoted(cls: type, fields: dict[str, Any], data: bytes, chain: list[Any],
            offset: int = -1, head: int = -1) -> Any:
    """A layer of Scapy's class ``cls`` with these fields, at the end of ``chain`` (``head``:
    its own header's length where ``data`` also holds the layers under it)."""
    layer: Any = object.__new__(cls)
    layer._fields, layer._data, layer._chain, layer._i, layer._owner = fields, data, chain, len(chain), None
    layer._offset, layer._head = offset, head
    return layer


# ---------------------------------------------------------------- IPv6 extension headers
# Scapy reads each extension header (RFC 8200 section 4) as a layer of its own; fastpkt's IPv6
# view skips them (``ext_headers``) and its next view starts after them.
_IP6_EXT = frozenset((0, 43, 44, 60))
_IP6_UPPER = frozenset((6, 17, 58))   # what fastpkt's views go on with


def _ip6_extensions(ip6: Any, chain: list[Any]) -> int:
    """Append the extension headers Scapy reads after this IPv6 header; the offset in the
    packet where the next layer starts when fastpkt's view of it follows, else -1 (the rest,
    if any, is appended as Raw)."""
    start = ip6.offset + 40
    data = _CD.Packet.raw.__get__(ip6._packet)[start:ip6.offset + _fp_len(ip6)]
    nh, pos = ip6.nh, 0
    while nh in _IP6_EXT:
        rest = data[pos:]
        if nh == 43 and len(rest) > 2 and rest[2] == 4:
            break   # a segment routing header: Scapy's IPv6ExtHdrSegmentRouting, Raw here
        layer = _ip6_extension(nh, rest, chain, start + pos)
        if layer is None:
            break
        later_fragment = type(layer) is IPv6ExtHdrFragment and layer._fields["offset"]
        if not later_fragment and layer._fields["nh"] == 43 and 0 < len(rest) - len(layer._data) < 3:
            break   # Scapy's guess of the next class reads its third byte, fails: Raw from here
        chain.append(layer)
        pos += len(layer._data)
        nh = layer._fields["nh"]
        if later_fragment:
            break   # Scapy's payload is Raw
    else:
        if nh in _IP6_UPPER and pos < len(data):
            return int(start + pos)
    if pos < len(data):
        chain.append(_linked(Raw, data[pos:], chain))
    return -1


def _ip6_extension(nh: int, data: bytes, chain: list[Any], offset: int) -> Any:
    """One extension header as Scapy reads it, or None where Scapy's fields run short."""
    if nh == 44:
        if len(data) < 8:
            return None
        word = int.from_bytes(data[2:4], "big")
        return _quoted(IPv6ExtHdrFragment, {
            "nh": data[0], "res1": data[1], "offset": word >> 3, "res2": (word >> 1) & 3,
            "m": word & 1, "id": int.from_bytes(data[4:8], "big")}, data[:8], chain, offset)
    if nh == 43:
        if len(data) < 8:
            return None
        body = data[8:8 + 8 * data[1]]
        # whole addresses only: Scapy leaves a partial one to the next layer
        addresses = [str(ipaddress.IPv6Address(body[i:i + 16])) for i in range(0, len(body) - 15, 16)]
        return _quoted(IPv6ExtHdrRouting, {
            "nh": data[0], "len": data[1], "type": data[2], "segleft": data[3],
            "reserved": int.from_bytes(data[4:8], "big"), "addresses": addresses},
            data[:8 + 16 * len(addresses)], chain, offset)
    if len(data) < 2:
        return None
    end = 8 * (data[1] + 1)
    return _quoted(IPv6ExtHdrHopByHop if nh == 0 else IPv6ExtHdrDestOpt, {
        "nh": data[0], "len": data[1], "autopad": 1, "options": _ip6_options(data[2:end])},
        data[:end], chain, offset)


def _ip6_options(data: bytes) -> list[Any]:
    """Hop-by-hop and destination options (RFC 8200 section 4.2) as Scapy's option classes,
    which read their fixed layouts whatever the length byte says."""
    out: list[Any] = []
    i = 0
    while i < len(data):
        t = data[i]
        if t == 0:
            out.append(_ip6_option(Pad1, {"otype": 0}))
            i += 1
            continue
        fixed = _IP6_OPTION_SIZE.get(t)
        if (fixed or 2) > len(data) - i:
            out.append(Raw(data[i:]))   # Scapy: an option it cannot read ends the list as Raw
            break
        if fixed is None:
            n = data[i + 1]
            out.append(_ip6_option(PadN if t == 1 else HBHOptUnknown,
                                   {"otype": t, "optlen": n, "optdata": data[i + 2:i + 2 + n]}))
            i += 2 + n
            continue
        o = data[i:i + fixed]
        fields: dict[str, Any] = {"otype": t, "optlen": o[1]}
        if t == 5:
            fields["value"] = int.from_bytes(o[2:4], "big")
        elif t == 0xC2:
            fields["jumboplen"] = int.from_bytes(o[2:6], "big")
        elif t == 0xC9:
            fields["hoa"] = str(ipaddress.IPv6Address(o[2:18]))
        else:   # 0x63, RFC 6553
            fields.update(Down=o[2] >> 7, RankError=(o[2] >> 6) & 1, ForwardError=(o[2] >> 5) & 1,
                          unused=o[2] & 0x1F, RplInstanceId=o[3],
                          SenderRank=int.from_bytes(o[4:6], "big"))
        out.append(_ip6_option(_IP6_OPTION_CLASS[t], fields))
        i += fixed
    return out


def _ip6_option(cls: type, fields: dict[str, Any]) -> Any:
    option: Any = object.__new__(cls)
    option._fields, option._data, option._chain, option._i, option._offset = fields, b"", None, 0, -1
    option._owner, option._head = None, -1
    return option


# ---------------------------------------------------------------- ICMPv6
# Scapy's shortest message of each ICMPv6 type it has a class for (RFC 4443, 4861, 2710,
# 3810...); a shorter one, or a type it has no class for, is Raw
_ICMP6_MIN = {1: 8, 2: 8, 3: 8, 4: 8, 128: 8, 129: 8, 130: 24, 131: 24, 132: 24, 133: 8, 134: 16,
              135: 24, 136: 24, 137: 40, 141: 8, 142: 8, 143: 8, 144: 8, 145: 8, 146: 8, 147: 8,
              151: 8, 152: 4, 153: 4, 155: 4}


def _icmp6_too_short(icmp6: Any) -> bool:
    t, n = icmp6.type, _fp_len(icmp6)
    if t in (139, 140):   # node information: Scapy's own guess from 3 bytes on
        return n <= 2
    return n < _ICMP6_MIN.get(t, 1 << 30)


def _icmp6_echo_from(data: bytes, chain: list[Any], offset: int) -> Any:
    """Scapy's ICMPv6EchoRequest/Reply (RFC 4443 section 4) in place of fastpkt's ICMPv6 view
    at ``offset`` (-1: one an error quotes): the echo data is its last field."""
    cls = ICMPv6EchoRequest if data[0] == 128 else ICMPv6EchoReply
    return _quoted(cls, {"type": data[0], "code": data[1], "cksum": int.from_bytes(data[2:4], "big"),
                         "id": int.from_bytes(data[4:6], "big"), "seq": int.from_bytes(data[6:8], "big"),
                         "data": data[8:]}, data, chain, offset)


def _net_padding(pkt: _fp.Packet) -> bytes:
    """The bytes past the network layer's own length (Scapy's Padding), without building the
    packet's chain: what ``Padding in pkt`` asks."""
    net = next((n for n in _fp_layers(pkt) if n in _NETWORK), None)
    if net is None:
        return b""
    view = getattr(pkt, _ATTR[net])
    end = view.offset + _fp_len(view)
    return pkt.raw[end:] if end < pkt.caplen else b""


def _position(layer: Any) -> tuple[list[Any], int]:
    """(chain, index) of a view in its packet's chain."""
    chain = _chain(layer._packet)
    cls, off = type(layer), layer.offset
    for i, other in enumerate(chain):
        if type(other) is cls and other.offset == off:
            return chain, i
    for i, other in enumerate(chain):   # a view the chain shows as Scapy's class (ICMPv6 echo)
        if isinstance(other, _Fields) and other._offset == off:
            return chain, i
    raise LookupError("layer not in its packet")   # a view always is; keeps mypy exact


class _NoPayload:
    """Scapy's NoPayload: what ``payload`` is after the last layer (false, empty)."""

    __slots__ = ()
    name = "NoPayload"
    fields: dict[str, Any] = {}
    underlayer = None

    def __bool__(self) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __bytes__(self) -> bytes:
        return b""

    def __repr__(self) -> str:
        return ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NoPayload)

    def __hash__(self) -> int:
        return 0

    @property
    def payload(self) -> _NoPayload:
        return self

    def getlayer(self, cls: Any, nb: int = 1, **flt: Any) -> None:
        return None

    def haslayer(self, cls: Any) -> bool:
        return False

    def __contains__(self, cls: Any) -> bool:
        return False

    def layers(self) -> list[type]:
        return []

    def __getattr__(self, attr: str) -> Any:
        raise AttributeError(attr)


NoPayload = _NoPayload()


# ---------------------------------------------------------------- Raw and Padding
class _RawMeta(type):
    """``isinstance(x, Raw)`` also holds for fastpkt's own Raw (``pkt['Raw']`` of a builder)."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return type.__instancecheck__(cls, obj) or (cls is Raw and isinstance(obj, _C.Raw))


class _Linked(_LayerOps):
    """A layer the facade adds to fastpkt's views (Raw, Padding, the headers an ICMP error
    quotes): it knows its place in its packet's chain, and a name it lacks is looked up in
    the layers under it, as in Scapy."""

    __slots__ = ("_chain", "_i", "_owner")
    _chain: list[Any] | None
    _i: int
    _owner: Any   # the packet whose chain is built when first asked for (pkt[Raw]), or None

    def _links(self) -> list[Any] | None:
        if self._chain is None and self._owner is not None:
            chain = _chain(self._owner)
            i = next(k for k, layer in enumerate(chain) if type(layer) is type(self))
            chain[i] = self
            self._chain, self._i, self._owner = chain, i, None
        return self._chain

    def _following(self) -> list[Any]:
        chain = self._links()
        return [self] if chain is None else chain[self._i:]

    @property
    def payload(self) -> Any:
        chain = self._links()
        return chain[self._i + 1] if chain is not None and self._i + 1 < len(chain) else NoPayload

    @property
    def underlayer(self) -> Any:
        chain = self._links()
        return chain[self._i - 1] if chain is not None and self._i > 0 else None

    def _show_text(self, rebuilt: bool) -> str:
        # Scapy's text from this layer down where it is rendered (each field's repr where not)
        chain = self._links()
        pkt = getattr(chain, "packet", None)
        if pkt is not None:
            text = (_scapy_text.layer_show2 if rebuilt else _scapy_text.layer_show)(pkt, self._i, type(self).__name__)
            if text is not None:
                return text
        return _LayerOps._show_text(self, rebuilt)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.payload, attr)


class Raw(_Linked, metaclass=_RawMeta):
    """Scapy's Raw: payload bytes no layer decodes (``.load``). ``Raw(load=b"...")`` builds
    one (``IP()/UDP()/Raw(b"x")``); ``pkt[Raw]`` of a read packet knows its place."""

    __slots__ = ("load",)
    name = "Raw"

    def __init__(self, load: bytes | str = b"") -> None:
        self.load = load.encode() if isinstance(load, str) else bytes(load)
        self._chain: list[Any] | None = None
        self._i = 0
        self._owner = None

    def __bytes__(self) -> bytes:
        # Scapy's bytes(layer): the layer and all after it (a Raw's Padding, the frame's trailer)
        if self._chain is None and self._owner is not None:
            # pkt[Raw] made without the chain: the payload of a TCP or UDP packet, which only
            # the bytes past the network layer's length (Padding) can follow
            return self.load + _net_padding(self._owner)
        return self.load + bytes(self.payload)

    def __len__(self) -> int:
        return len(bytes(self))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raw) and type(other) is type(self) and other.load == self.load

    def __hash__(self) -> int:
        return hash(self.load)

    def __repr__(self) -> str:
        # Scapy's: the fields, then the payload's repr (a Padding after a Raw) inside
        head = "<%s  load=%r |" % (type(self).__name__, self.load) if self.load else "<%s  |" % type(self).__name__
        return head + repr(self.payload) + ">"

    @property
    def fields(self) -> dict[str, Any]:
        # Scapy dissects no Raw of no bytes (an NTP request's empty padding): no fields set
        return {"load": self.load} if self.load else {}


class Padding(Raw):
    """Scapy's Padding: frame bytes past the network layer's own length (Ethernet minimum
    size, trailers). ``Raw in pkt`` does not count it, as in Scapy."""

    __slots__ = ()
    name = "Padding"
    _bases = ("Raw",)


class _Fields(_Linked):
    """A layer fastpkt has no view for, with the fields Scapy's class of the same name reads:
    the headers an ICMP error quotes (``pkt[IPerror].dst``, ``pkt[UDPerror].dport``: what a
    traceroute script looks at), IPv6 extension headers and their options, ICMPv6 echoes."""

    __slots__ = ("_fields", "_data", "_offset", "_head", "_holder")
    _fields: dict[str, Any]
    _holder: tuple[Any, str, int]   # set when read from a list field: (layer, field, index)
    _data: bytes
    _offset: int   # of the view it stands for (ICMPv6 echo), else -1
    _head: int   # its own header's length where _data also holds the layers under it, else -1
    # the fields that hold packets (Scapy's PacketField, PacketListField), which lookups search
    _held: tuple[str, ...] = ("records", "pkt")

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self._fields)

    def __getattr__(self, attr: str) -> Any:
        try:
            value = self._fields[attr]
        except KeyError:
            return _Linked.__getattr__(self, attr)
        if type(value) is list:   # held layers (options, records): where show() finds their text
            for i, held in enumerate(value):
                if isinstance(held, _Fields):
                    held._holder = (self, attr, i)
        return value

    def _show_text(self, rebuilt: bool) -> str:
        # a held layer (an option; a record, or a record after it in the first's chain): the
        # text its holder's field shows, from this layer on
        chain = self._links()
        first, at = (self, 0) if chain is None else (chain[0], self._i)
        holder = getattr(first, "_holder", None) if getattr(chain, "packet", None) is None else None
        if holder is not None:
            layer, field, i = holder
            pkt = getattr(layer._links(), "packet", None)
            text = None if pkt is None else _scapy_text.held_show(
                pkt, layer._i, type(layer).__name__, field, i, at, type(self).__name__)
            if text is not None:
                return text
        return _Linked._show_text(self, rebuilt)

    def __delattr__(self, attr: str) -> None:
        """``del layer.chksum`` as scripts do before rebuilding: the field is unset (its
        bytes are not rebuilt: these layers are read-only views of the packet)."""
        if attr not in self._fields:
            raise AttributeError(attr)
        self._fields = {k: v for k, v in self._fields.items() if k != attr}

    def __bytes__(self) -> bytes:
        # Scapy's: the layer and all after it, as a Raw's; from the frame where the layer
        # stands for a view (an ICMPv6 message: its RFC 4884 extension is in no layer here)
        pkt = getattr(self._links(), "packet", None) if self._offset >= 0 else None
        if pkt is not None:
            return bytes(_CD.Packet.raw.__get__(pkt)[self._offset:])
        return (self._data if self._head < 0 else self._data[:self._head]) + bytes(self.payload)

    def __len__(self) -> int:
        return len(bytes(self))

    def __repr__(self) -> str:
        # Scapy's text from this layer down where it is rendered (fastpkt's own where not)
        chain = self._links()
        pkt = getattr(chain, "packet", None)
        text = None if pkt is None else _scapy_text.layer_repr(pkt, self._i, type(self).__name__)
        if text is not None:
            return text
        body = " ".join("%s=%r" % kv for kv in self._fields.items())
        return "<%s  %s |%s>" % (type(self).__name__, body, repr(self.payload))


class IPv6ExtHdrHopByHop(_Fields):
    __slots__ = ()
    name = "IPv6 Extension Header - Hop-by-Hop Options Header"
    _public = _fp.IPv6ExtHdrHopByHop


class IPv6ExtHdrDestOpt(_Fields):
    __slots__ = ()
    name = "IPv6 Extension Header - Destination Options Header"
    _public = _fp.IPv6ExtHdrDestOpt


class IPv6ExtHdrRouting(_Fields):
    __slots__ = ()
    name = "IPv6 Option Header Routing"
    _public = _fp.IPv6ExtHdrRouting


class IPv6ExtHdrFragment(_Fields):
    __slots__ = ()
    name = "IPv6 Extension Header - Fragmentation header"
    _public = _fp.IPv6ExtHdrFragment


class ICMPv6EchoRequest(_Fields):
    __slots__ = ()
    name = "ICMPv6 Echo Request"
    _public = _fp.ICMPv6EchoRequest
    _view_name = "ICMPv6"


class ICMPv6EchoReply(_Fields):
    __slots__ = ()
    name = "ICMPv6 Echo Reply"
    _public = _fp.ICMPv6EchoReply
    _view_name = "ICMPv6"


# Options of hop-by-hop and destination headers: Scapy's classes (its names), in a list field
class Pad1(_Fields):
    __slots__ = ()
    name = "Pad1"


class PadN(_Fields):
    __slots__ = ()
    name = "PadN"


class HBHOptUnknown(_Fields):
    __slots__ = ()
    name = "Scapy6 Unknown Option"


class RouterAlert(_Fields):
    __slots__ = ()
    name = "Router Alert"


class Jumbo(_Fields):
    __slots__ = ()
    name = "Jumbo Payload"


class HAO(_Fields):
    __slots__ = ()
    name = "Home Address Option"


class RplOption(_Fields):
    __slots__ = ()
    name = "RPL Option"


_IP6_OPTION_CLASS: dict[int, type] = {5: RouterAlert, 0x63: RplOption, 0xC2: Jumbo, 0xC9: HAO}
_IP6_OPTION_SIZE = {5: 4, 0x63: 6, 0xC2: 6, 0xC9: 18}   # Scapy's fixed layouts, in bytes


class IPerror(_Fields):
    __slots__ = ()
    name = "IP in ICMP"


class TCPerror(_Fields):
    __slots__ = ()
    name = "TCP in ICMP"


class UDPerror(_Fields):
    __slots__ = ()
    name = "UDP in ICMP"


class ICMPerror(_Fields):
    __slots__ = ()
    name = "ICMP in ICMP"
    _held = ("ext",)


# ---------------------------------------------------------------- DNS records
_dns_name = _scapy_text._dns_name


class _RecordList(list):  # type: ignore[type-arg]
    """Scapy 2.6+'s DNS sections: lists of records that also answer attribute reads with
    their first record's (``dns.qd.qname``), as Scapy's do."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or not self:
            raise AttributeError(attr)
        return getattr(self[0], attr)


class _RecordMeta(type):
    """DNSQR(...)/DNSRR(...) called by a script build fastpkt's records (what DNS(qd=...)
    takes); isinstance() holds for both those and the records read from packets."""

    _builder: type | None = None

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls._builder is not None:
            return cls._builder(*args, **kwargs)
        return type.__call__(cls, *args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return type.__instancecheck__(cls, obj) or (
            cls._builder is not None and isinstance(obj, cls._builder))

    def _make(cls, **values: Any) -> _Record:
        """A record read from a packet."""
        rec: _Record = object.__new__(cast("type[_Record]", cls))
        rec._values = values
        return rec


class _Record(_LayerOps, metaclass=_RecordMeta):
    """A DNS question or resource record, as Scapy's class of the same name shows it."""

    __slots__ = ("_values",)
    name = "DNS record"
    _fields: tuple[str, ...] = ()
    underlayer = None

    def __init__(self, **values: Any) -> None:
        self._values = values

    @property
    def fields(self) -> dict[str, Any]:
        return {k: self._values[k] for k in self._fields if k in self._values}

    @property
    def payload(self) -> _NoPayload:
        return NoPayload

    def __getattr__(self, attr: str) -> Any:
        try:
            return self._values[attr]
        except KeyError:
            if attr in type(self)._fields:   # a field its condition left out: None, as in Scapy
                return None
            raise AttributeError("%s has no field %r" % (type(self).__name__, attr)) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Record) and type(other) is type(self) and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(tuple(self.fields))

    def __repr__(self) -> str:
        body = " ".join("%s=%r" % kv for kv in self.fields.items())
        return "<%s  %s |>" % (type(self).__name__, body)

    def _show_text(self, rebuilt: bool) -> str:
        return _scapy_text.record_show(self)


class DNSQR(_Record):
    __slots__ = ()
    _builder = _C.DNSQR
    name = "DNS Question Record"
    _fields = ("qname", "qtype", "unicastresponse", "qclass")


class DNSRR(_Record):
    __slots__ = ()
    _builder = _C.DNSRR
    name = "DNS Resource Record"
    _fields = ("rrname", "type", "cacheflush", "rclass", "ttl", "rdata")


class DNSRRMX(_Record):
    __slots__ = ()
    name = "DNS MX Resource Record"
    _fields = ("rrname", "type", "cacheflush", "rclass", "ttl", "preference", "exchange")


class DNSRRSOA(_Record):
    __slots__ = ()
    name = "DNS SOA Resource Record"
    _fields = ("rrname", "type", "rclass", "ttl", "mname", "rname", "serial", "refresh",
               "retry", "expire", "minimum")


class DNSRRSRV(_Record):
    __slots__ = ()
    name = "DNS SRV Resource Record"
    _fields = ("rrname", "type", "cacheflush", "rclass", "ttl", "priority", "weight", "port",
               "target")


class DNSRROPT(_Record):
    __slots__ = ()
    name = "DNS OPT Resource Record"
    _fields = ("rrname", "type", "rclass", "extrcode", "version", "z", "rdata")


_NAME_RDATA = frozenset((2, 3, 4, 5, 7, 8, 9, 12, 39))   # NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME


def _txt(raw: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(raw):
        n = raw[i]
        out.append(raw[i + 1:i + 1 + n])
        i += 1 + n
    return out


class EDNS0TLV(_Record):
    __slots__ = ()
    name = "DNS EDNS0 TLV"
    _fields = ("optcode", "optlen", "optdata")


class EDNS0OWN(_Record):
    __slots__ = ()
    name = "EDNS0 Owner (OWN)"
    _fields = ("optcode", "optlen", "v", "s", "primary_mac", "wakeup_mac", "password")


class EDNS0DAU(_Record):
    __slots__ = ()
    name = "DNSSEC Algorithm Understood (DAU)"
    _fields = ("optcode", "optlen", "alg_code")


class EDNS0DHU(_Record):
    __slots__ = ()
    name = "DS Hash Understood (DHU)"
    _fields = ("optcode", "optlen", "alg_code")


class EDNS0N3U(_Record):
    __slots__ = ()
    name = "NSEC3 Hash Understood (N3U)"
    _fields = ("optcode", "optlen", "alg_code")


class EDNS0ClientSubnet(_Record):
    __slots__ = ()
    name = "DNS EDNS0 Client Subnet"
    _fields = ("optcode", "optlen", "family", "source_plen", "scope_plen", "address")


class EDNS0COOKIE(_Record):
    __slots__ = ()
    name = "DNS EDNS0 COOKIE"
    _fields = ("optcode", "optlen", "client_cookie", "server_cookie")


class EDNS0PADDING(_Record):
    __slots__ = ()
    name = "DNS EDNS0 Padding"
    _fields = ("optcode", "optlen", "padding")


class EDNS0ExtendedDNSError(_Record):
    __slots__ = ()
    name = "DNS EDNS0 Extended DNS Error"
    _fields = ("optcode", "optlen", "info_code", "extra_text")


def _u16(b: bytes, i: int) -> int:
    if i + 2 > len(b):
        raise ValueError("short")
    return int.from_bytes(b[i:i + 2], "big")


def _mac(b: bytes, i: int) -> str:
    if i + 6 > len(b):
        raise ValueError("short")
    return ":".join("%02x" % c for c in b[i:i + 6])


def _length_from(b: bytes, i: int, n: int) -> tuple[bytes, int]:
    """Scapy's StrLenField: n bytes (a negative n counts from the end, as Python's slice)."""
    if n == 0:
        return b"", i
    chunk = b[i:][:n]
    return chunk, i + len(chunk)


def _edns_option(b: bytes) -> tuple[_Record, int]:
    """One option read as Scapy's class for its code reads it: each class reads its own
    layout (a subnet's address by its prefix length, a cookie's 8 client bytes), whatever
    the option's length says, and the next option starts where it stopped. ValueError where
    a fixed field runs past the bytes (Scapy then keeps them as Raw)."""
    code, n = _u16(b, 0), _u16(b, 2)
    v: dict[str, Any] = {"optcode": code, "optlen": n}
    i = 4
    if code == 4:
        if i + 2 > len(b):
            raise ValueError("short")
        v["v"], v["s"], v["primary_mac"] = b[4], b[5], _mac(b, 6)
        i = 12
        if n >= 14:
            v["wakeup_mac"] = _mac(b, i)
            i += 6
        if n >= 18:
            v["password"], i = _length_from(b, i, n - 14)
        cls: Any = EDNS0OWN
    elif code in (5, 6, 7):
        v["alg_code"] = list(b[i:i + n])
        i += len(v["alg_code"])
        cls = {5: EDNS0DAU, 6: EDNS0DHU, 7: EDNS0N3U}[code]
    elif code == 8:
        family = _u16(b, i)
        if i + 4 > len(b):
            raise ValueError("short")
        plen = b[i + 2]
        v.update(family=family, source_plen=plen, scope_plen=b[i + 3])
        i += 4
        size = 16 if family == 2 else 4
        n_addr = min((plen + 7) // 8, size)
        addr = b[i:i + n_addr] + b"\0" * ((size * 8 - plen) // 8)
        i += len(b[i:i + n_addr])
        if len(addr[:size]) != size:
            raise ValueError("short")
        v["address"] = socket.inet_ntop(socket.AF_INET6 if size == 16 else socket.AF_INET, addr[:size])
        cls = EDNS0ClientSubnet
    elif code == 10:
        v["client_cookie"] = b[i:i + 8]
        i += len(v["client_cookie"])
        v["server_cookie"], i = _length_from(b, i, max(0, n - 8))
        cls = EDNS0COOKIE
    elif code == 12:
        v["padding"], i = _length_from(b, i, n)
        cls = EDNS0PADDING
    elif code == 15:
        v["info_code"] = _u16(b, i)
        v["extra_text"], i = _length_from(b, i + 2, n - 2)
        cls = EDNS0ExtendedDNSError
    else:
        v["optdata"], i = _length_from(b, i, n)
        cls = EDNS0TLV
    return cls._make(**v), i


def _edns_options(raw: bytes) -> list[Any]:
    """An OPT record's options, as Scapy's DNSRROPT reads its rdata: bytes no option can be
    read from (fewer than 2, or a field past their end) one Raw, as Scapy keeps them."""
    out: list[Any] = []
    while raw:
        try:
            if len(raw) < 2:
                raise ValueError("short")
            option, used = _edns_option(raw)
        except ValueError:
            out.append(Raw(raw))
            break
        out.append(option)
        raw = raw[used:]
    return out


_LIST_MAX = 100   # Scapy's conf.max_list_count: a list field of more items fails its packet


def _opt_overflows(rr: Any) -> bool:
    """An OPT record whose rdata Scapy reads as more than _LIST_MAX items (options and a
    trailing Raw): its DNSRROPT fails, and Scapy keeps that record and every byte after it
    as one Raw, the last item of its section (the later sections are empty). Each item takes
    4 bytes or more but a last Raw, so only rdata past 400 bytes can hold that many."""
    raw = rr.rdata_raw
    return rr.type == 41 and len(raw) > 4 * _LIST_MAX and len(_edns_options(raw)) > _LIST_MAX


def _skip_name(msg: bytes, i: int) -> int:
    while i < len(msg):
        n = msg[i]
        if n == 0:
            return i + 1
        if n >= 0xC0:   # a compression pointer ends the name
            return i + 2
        i += 1 + n
    return i


def _rest_from_record(msg: bytes, n: int) -> bytes:
    """A DNS message's bytes from its ``n``-th record on (questions counted first)."""
    qdcount = int.from_bytes(msg[4:6], "big")
    i = 12
    for k in range(n):
        i = _skip_name(msg, i)
        i += 4 if k < qdcount else 10 + int.from_bytes(msg[i + 8:i + 10], "big")
    return msg[i:]


_SECTIONS = ("qd", "an", "ns", "ar")


def _sections_as_read(sections: tuple[Any, ...], msg: Callable[[], bytes]) -> list[list[Any]]:
    """The four sections' fastpkt records, cut where Scapy's dissection of an OPT record
    fails (_opt_overflows): that record and the rest of the message ``msg()`` become one Raw,
    the later records and sections are gone."""
    out: list[list[Any]] = []
    n = 0
    for records in sections:
        kept: list[Any] = []
        out.append(kept)
        if n < 0:
            continue
        for r in records:
            if records is not sections[0] and _opt_overflows(r):
                kept.append(Raw(_rest_from_record(msg(), n)))
                n = -1
                break
            kept.append(r)
            n += 1
    return out


def _question(q: Any) -> _Record:
    return DNSQR._make(qname=_dns_name(q.qname), qtype=q.qtype, unicastresponse=q.qclass >> 15,
                 qclass=q.qclass & 0x7FFF)


def _resource(rr: Any) -> _Record:
    """One fastpkt DNSRR (names as text, rdata as text and wire bytes) as Scapy's record."""
    t, raw = rr.type, rr.rdata_raw
    head = {"rrname": _dns_name(rr.rrname), "type": t, "cacheflush": rr.rclass >> 15,
            "rclass": rr.rclass & 0x7FFF, "ttl": rr.ttl, "rdlen": rr.rdlen}
    text = rr.rdata if isinstance(rr.rdata, str) else None
    if t == 41:
        return DNSRROPT._make(rrname=head["rrname"], type=t, rclass=rr.rclass, extrcode=rr.ttl >> 24,
                        version=(rr.ttl >> 16) & 0xFF, z=rr.ttl & 0xFFFF, rdlen=rr.rdlen,
                        rdata=_edns_options(raw))
    if t == 15 and text is not None and len(raw) >= 2:
        return DNSRRMX._make(**head, preference=int.from_bytes(raw[:2], "big"),
                       exchange=_dns_name(text.split(" ", 1)[1]))
    if t == 33 and text is not None and len(raw) >= 6:
        return DNSRRSRV._make(**head, priority=int.from_bytes(raw[0:2], "big"),
                        weight=int.from_bytes(raw[2:4], "big"), port=int.from_bytes(raw[4:6], "big"),
                        target=_dns_name(text.split(" ", 3)[3]))
    if t == 6 and text is not None and len(raw) >= 20:
        mname, rname = text.split(" ")[:2]
        nums = [int.from_bytes(raw[i:i + 4], "big") for i in range(len(raw) - 20, len(raw), 4)]
        head.pop("cacheflush")
        head["rclass"] = rr.rclass
        return DNSRRSOA._make(**head, mname=_dns_name(mname), rname=_dns_name(rname), serial=nums[0],
                        refresh=nums[1], retry=nums[2], expire=nums[3], minimum=nums[4])
    if t == 1 and len(raw) == 4:
        rdata: Any = str(ipaddress.IPv4Address(raw))
    elif t == 28 and len(raw) == 16:
        rdata = str(ipaddress.IPv6Address(raw))
    elif t in _NAME_RDATA and text is not None:
        rdata = _dns_name(text)
    elif t == 16:
        rdata = _txt(raw)
    else:
        rdata = raw
    return DNSRR._make(**head, rdata=rdata)


# ---------------------------------------------------------------- views
_own_attr = object.__getattribute__   # a layer's own attribute, without the fall-through


def _find_attr(layers: list[Any], attr: str) -> Any:
    for layer in layers:
        if isinstance(layer, _Fields):
            if attr in layer._fields:
                human = getattr(type(layer), "_human", None)   # Scapy's i2h, where it differs
                value = layer._fields[attr]
                return value if not human or attr not in human else human[attr](value)
            defaults = getattr(type(layer), "_defaults", {})   # a field not reached: its default
            if attr in defaults:
                return defaults[attr]
            continue
        try:
            return _own_attr(layer, attr)
        except AttributeError:
            pass
    raise AttributeError("no layer has the attribute %r" % (attr,))


class _View(_LayerOps):
    """What every facade view adds to fastpkt's: Scapy's name, fields, payload chain and
    attribute fall-through (``pkt[IP].sport``)."""

    __slots__ = ()
    _packet: Any   # fastpkt's view attributes, from the C base it is mixed with
    offset: int
    _scapy_fields: tuple[str, ...] = ()

    @property
    def fields(self) -> dict[str, Any]:
        """The fields this layer has (Scapy's ``fields``: conditional ones only when present)."""
        out = {}
        for k in self._scapy_fields:
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        return out

    @property
    def payload(self) -> Any:
        chain, i = _position(self)
        return chain[i + 1] if i + 1 < len(chain) else NoPayload

    @property
    def underlayer(self) -> Any:
        chain, i = _position(self)
        return chain[i - 1] if i > 0 else None

    def _following(self) -> list[Any]:
        chain, i = _position(self)
        return chain[i:]

    # Scapy's bytes(layer), len() and raw(): the layer and all after it in the frame, the
    # Padding of an Ethernet trailer included (fastpkt's stop at the network layer's length);
    # an edited layer (no packet: its bytes are rebuilt) keeps fastpkt's
    def __bytes__(self) -> bytes:
        pkt = self._packet
        return _fp_bytes(self) if pkt is None else bytes(_CD.Packet.raw.__get__(pkt)[self.offset:])

    def __len__(self) -> int:
        pkt = self._packet
        return _fp_len(self) if pkt is None else int(_CD.Packet.caplen.__get__(pkt)) - self.offset

    def __repr__(self) -> str:
        # Scapy's text from this layer down (fastpkt's own where neither renders it)
        text = None
        if self._packet is not None:
            text = _scapy_text.layer_repr(self._packet, _position(self)[1], type(self).__name__)
        return text if text is not None else str(_CD.Layer.__repr__(self))

    def _show_text(self, rebuilt: bool) -> str:
        pkt = self._packet
        if pkt is not None:
            at = _position(self)[1]
            text = (_scapy_text.layer_show2 if rebuilt else _scapy_text.layer_show)(pkt, at, type(self).__name__)
            if text is not None:
                return text
        return str(_CD.Layer.show(self, dump=True))   # an edited layer: fastpkt's own layout

    def __getitem__(self, cls: Any) -> Any:
        pkt = self._packet
        if _direct(cls) and cls in pkt:   # decoded alike by both: fastpkt's C lookup
            found = pkt[cls]
            if found.offset >= self.offset:
                return found
            raise _not_found(cls)
        return _LayerOps.__getitem__(self, cls)

    def _scapy_getattr(self, attr: str) -> Any:
        """A name this layer lacks: the first layer under it that has it (Scapy), called by
        the C lookup after its own failed."""
        return _find_attr(self._following()[1:], attr)


def _view_class(base: type, scapy_name: str, long_name: str, fields: tuple[str, ...],
                extra: dict[str, Any] | None = None) -> type:
    ns: dict[str, Any] = {"__slots__": (), "name": long_name, "_scapy_fields": fields,
                          "__module__": __name__}
    ns.update(extra or {})
    cls = type(scapy_name, (_View, base), ns)
    # layers() names fastpkt's class when it has Scapy's name (IP, TCP...), else this one
    setattr(cls, "_public", base if base.__name__ == scapy_name else cls)
    return cls


# The facade's TCP and IP views answer `flags` in C with a FlagValue of these names (the
# properties below serve edited packets and short headers); _flag makes one past __init__'s
# parsing, its slots set directly, as they do (registered with Raw at the end of the module)
_flag: Callable[[int, Any, bool], FlagValue] = _C._facade_flag
_ip_flags_of, _tcp_flags_of = _CD.IP.flags.__get__, _CD.TCP.flags.__get__


def _ip_flags(self: Any) -> FlagValue:
    return _flag(_ip_flags_of(self), _IP_FLAG_NAMES, True)


def _tcp_flags(self: Any) -> FlagValue:
    return _flag(int(_tcp_flags_of(self)), _TCP_FLAG_NAMES, False)


def _ip_options(self: Any) -> Any:
    raw = _CD.IP.options.__get__(self)
    return [] if not raw else raw   # Scapy: IPOption objects; ours stay bytes (README)


_dns_getters = tuple(getattr(_CD.DNS, w).__get__ for w in _SECTIONS)


def _dns_section(which: str) -> property:
    k = _SECTIONS.index(which)
    getter = _dns_getters[k]
    make = _question if which == "qd" else _resource

    def get(self: Any) -> _RecordList:
        self = _dns_as_read(self)
        records = getter(self)
        if k and _fp_len(self) > 4 * _LIST_MAX and any(
                r.type == 41 and len(r.rdata_raw) > 4 * _LIST_MAX
                for section in (*(g(self) for g in _dns_getters[1:k]), records) for r in section):
            # rare: an OPT record that may hold more items than Scapy's list takes
            return _RecordList(r if type(r) is Raw else make(r) for r in _sections_as_read(
                tuple(g(self) for g in _dns_getters), lambda: _fp_bytes(self))[k])
        return _RecordList(make(r) for r in records)
    return property(get)


IP_ = _view_class(_C.IP, "IP", "IP", _C.IP.fields,
                  {"flags": property(_ip_flags), "options": property(_ip_options)})
TCP_ = _view_class(_C.TCP, "TCP", "TCP", _C.TCP.fields, {"flags": property(_tcp_flags)})
# ICMP: Scapy's fields after chksum depend on the type (RFC 792, 950, 1191)
# Scapy's icmp_id_seq_types: RFC 1788's domain name request/reply (37, 38) too, whose 32-bit
# "unused" then follows id and seq
_ICMP_ID_SEQ = frozenset((0, 8, 13, 14, 15, 16, 17, 18, 37, 38))
_ICMP_EXTRA = {13: 12, 14: 12, 17: 4, 18: 4, 37: 4, 38: 4}   # header bytes past the first 8


def _icmp_fields(self: Any) -> dict[str, Any]:
    body = _fp_bytes(self)
    out = _icmp_header_fields(body[:8 + _ICMP_EXTRA.get(self.type, 0)])
    if self.type in _ICMP_EXT_TYPES and len(body) >= 8:
        extpad = cast(_Chain, _position(self)[0]).extpad if self._packet is not None else b""
        out.update(_icmp_trailer(body, extpad))
    return out


# ICMP types whose Scapy class has the RFC 4884 trailer fields (extpad, ext)
_ICMP_EXT_TYPES = frozenset((3, 11, 12))


def _icmp_trailer(body: bytes, extpad: bytes) -> dict[str, Any]:
    """Scapy's extpad and, for a message of 144 bytes or more, ext: the extension read from
    its bytes past the 136th (RFC 4884's rule, whatever the length field says)."""
    if len(body) < 144:
        return {"extpad": extpad}
    return {"extpad": extpad, "ext": _layers.icmp_extension(body[136:])}


def _icmp_header_fields(h: bytes) -> dict[str, Any]:
    """Scapy's ICMP fields of an ICMP header (an ICMP layer's or one an error quotes)."""
    t = h[0]

    def u16(i: int) -> int:
        return int.from_bytes(h[i:i + 2], "big")

    def u32(i: int) -> int:
        return int.from_bytes(h[i:i + 4], "big")

    out: dict[str, Any] = {"type": t, "code": h[1], "chksum": u16(2)}
    if len(h) < 8 + _ICMP_EXTRA.get(t, 0):
        return out
    if t in _ICMP_ID_SEQ:
        out.update(id=u16(4), seq=u16(6))
    if t in (13, 14):
        out.update(ts_ori=u32(8), ts_rx=u32(12), ts_tx=u32(16))
    elif t in (17, 18):
        out["addr_mask"] = str(ipaddress.IPv4Address(h[8:12]))
    elif t == 5:
        out["gw"] = str(ipaddress.IPv4Address(h[4:8]))
    elif t == 12:
        out.update(ptr=h[4], length=h[5], unused=u16(6))
    elif t == 3:
        out.update(reserved=h[4], length=h[5], nexthopmtu=u16(6))
    elif t == 11:
        out.update(reserved=h[4], length=h[5], unused=u16(6))
    # Scapy's "unused": 16 bits (11, 12), 32 bits (other types without fields), else empty
    if t in (37, 38):
        out["unused"] = u32(8)
    elif t not in (11, 12):
        out["unused"] = b"" if t in _ICMP_ID_SEQ or t in (3, 5) else u32(4)
    return out


def _sll_fields(self: Any) -> dict[str, Any]:
    """Scapy's CookedLinux/CookedLinuxV2 fields, from the header bytes."""
    h = _fp_bytes(self)
    if type(self).__name__ == "CookedLinuxV2":
        return {"proto": int.from_bytes(h[0:2], "big"), "reserved": int.from_bytes(h[2:4], "big"),
                "ifindex": int.from_bytes(h[4:8], "big"), "lladdrtype": int.from_bytes(h[8:10], "big"),
                "pkttype": h[10], "lladdrlen": h[11], "src": h[12:20]}
    return {"pkttype": int.from_bytes(h[0:2], "big"), "lladdrtype": int.from_bytes(h[2:4], "big"),
            "lladdrlen": int.from_bytes(h[4:6], "big"), "src": h[6:14],
            "proto": int.from_bytes(h[14:16], "big")}


def _field_of(fields: Any, name: str) -> property:
    return property(lambda self: fields(self).get(name))


def _dns_length(self: Any) -> int | None:
    """DNS over TCP: the message length before it (Scapy's ``length``); None over UDP."""
    tcp = self._packet.tcp
    if tcp is None:
        return None
    head = _fp_payload(tcp)[:2]
    return int.from_bytes(head, "big") if len(head) == 2 else None


def dns_over_tcp(load: bytes) -> tuple[int, bool]:
    """How Scapy's DNS reads a TCP segment's data ``load`` (RFC 1035 section 4.2.2: a 2-byte
    length, then the message): ``dns_as_read`` from the message on, after the length prefix
    its ``pre_dissect`` checks: (-1, False), Raw, for a length under 14 or past the data.
    Scapy reads the records from all the data whatever the length says."""
    size = len(load)
    if size < 2 or not 14 <= int.from_bytes(load[:2], "big") <= size:
        return -1, False
    return dns_as_read(load, 2)


def dns_as_read(load: bytes, start: int = 0) -> tuple[int, bool]:
    """How Scapy's DNS reads a message at ``load[start:]`` to the end of ``load`` (a UDP
    datagram's data, or a TCP segment's past its length prefix): (end, clean). ``end`` is -1
    where Scapy reads it all as Raw (a section of more than _LIST_MAX records fails its DNS),
    else the offset past the records the header's counts ask for: bytes after them are Raw
    (a second message), and a record cut short or failing takes the rest (a Raw record, or a
    short one). ``clean``: every record read whole, none of those."""
    size = len(load)
    pos = start + 12
    for k in range(4):
        at = start + 4 + 2 * k
        count, read = int.from_bytes(load[at:at + 2], "big"), 0
        while pos < size and read < count:   # Scapy's list stops where the data does
            read += 1
            if read > _LIST_MAX:
                return -1, False
            i = pos
            while i < size and load[i] and not load[i] & 0xC0:   # Scapy: 0x40 and up point
                i += 1 + load[i]
            i += 2 if i < size and load[i] else 1
            if i + (10 if k else 4) > size:
                return size, False
            if not k:
                pos = i + 4
                continue
            rtype, rdlen = int.from_bytes(load[i:i + 2], "big"), int.from_bytes(load[i + 8:i + 10], "big")
            pos = i + 10 + rdlen
            if pos > size or rdlen < {1: 4, 28: 16}.get(rtype, 0) or (
                    rtype == 41 and rdlen > 4 * _LIST_MAX and len(_edns_options(load[pos - rdlen:pos])) > _LIST_MAX):
                return size, False   # cut, or an address or OPT record Scapy fails to read
    return pos, True


def dns_alone(msg: bytes) -> Any:
    """fastpkt's DNS view of the message ``msg`` on its own (a UDP datagram made for it): a
    message over TCP as Scapy reads it, past a length prefix shorter than its records."""
    size = 28 + len(msg)
    if size > 65535:
        return None
    head = bytes((0x45, 0)) + size.to_bytes(2, "big") + bytes((0, 0, 0, 0, 64, 17)) + bytes(10)
    udp = b"\0\x35\0\x35" + (size - 20).to_bytes(2, "big") + b"\0\0"
    return _fp.Packet(head + udp + msg, _LINKTYPE_RAW, decapsulate=False).dns


def _scapy_labels(s: bytes, full: bytes) -> list[bytes]:
    """The labels of the name Scapy's ``dns_get_str`` reads at the start of ``s``: up to the
    bytes' end (a label cut short is kept in part), following compression pointers (any
    byte with one of the top two bits set) into the message ``full``, 20 at most, no loop."""
    labels: list[bytes] = []
    jumps: list[int] = []
    i = 0
    while i < len(s):
        n = s[i]
        i += 1
        if n & 0xC0:
            if i >= len(s):
                break   # half a pointer
            i = (n & 0x3F) << 8 | s[i]
            if i in jumps or len(jumps) >= 20:
                break
            s = full
            jumps.append(i)
        elif n:
            labels.append(s[i:i + n])
            i += n
        else:
            break
    return labels


def _labels_wire(labels: list[bytes]) -> bytes:
    return b"".join(bytes((len(label),)) + label for label in labels) + b"\0"


def _cut_rdata(rtype: int, there: bytes, full: bytes) -> bytes | None:
    """The rdata of a whole record fastpkt reads as Scapy reads the record's rdata cut to
    ``there``; None where Scapy fails on it or the type is not one the facade renders."""
    if rtype in (1, 28):   # IPField/IP6Field: the address, whatever rdlen says
        n = 4 if rtype == 1 else 16
        return there[:n] if len(there) >= n else None
    if rtype in (2, 5, 12):
        return _labels_wire(_scapy_labels(there, full))
    if rtype == 15 and len(there) >= 2:   # DNSRRMX: preference, then the exchange's name
        return there[:2] + _labels_wire(_scapy_labels(there[2:], full))
    if rtype == 33 and len(there) >= 6:   # DNSRRSRV: priority, weight, port, target
        return there[:6] + _labels_wire(_scapy_labels(there[6:], full))
    if rtype == 16:   # DNSTextField: a string cut short keeps its part
        return b"".join(bytes((len(t),)) + t for t in _txt(there))
    if rtype == 41:   # DNSRROPT: its options read over the bytes there
        return there
    return None


def dns_cut(msg: bytes) -> tuple[bytes, int] | None:
    """A DNS message over TCP whose data ends inside a record's rdata (a segment 1 or 2 bytes
    short of its length prefix: Scapy's check counts the prefix), as Scapy reads it: that
    record's fields read from what is there (a name up to the end, a TXT string in part,
    EDNS0 options over the bytes there, an address past a lying rdlen). (the message made
    whole for fastpkt to read those values: the record rewritten, the header's counts cut to
    the records read; the record's section), or None where no rdata is cut, Scapy fails on
    the record (see _scapy_text._dns_failing_record) or the facade renders no such type."""
    size, pos = len(msg), 12
    for k in range(4):
        count, read = int.from_bytes(msg[4 + 2 * k:6 + 2 * k], "big"), 0
        while pos < size and read < count:
            i = pos
            while i < size and msg[i] and not msg[i] & 0xC0:
                i += 1 + msg[i]
            i += 2 if i < size and msg[i] else 1
            if i + (10 if k else 4) > size:
                return None
            read += 1
            if not k:
                pos = i + 4
                continue
            rtype, rdlen = int.from_bytes(msg[i:i + 2], "big"), int.from_bytes(msg[i + 8:i + 10], "big")
            pos = i + 10 + rdlen
            if pos <= size:
                continue
            rdata = _cut_rdata(rtype, msg[i + 10:], msg)
            if rdata is None:
                return None
            counts = [int.from_bytes(msg[4 + 2 * j:6 + 2 * j], "big") if j < k else read if j == k else 0
                      for j in range(4)]
            return (msg[:4] + b"".join(c.to_bytes(2, "big") for c in counts) + msg[12:i + 8] +
                    len(rdata).to_bytes(2, "big") + rdata), k
    return None


def _dns_as_read(self: Any) -> Any:
    """The DNS view holding Scapy's records: this one, or where fastpkt's message over TCP
    ends inside them (its length prefix too short, or the data 1 or 2 bytes short of it)
    the one of the bytes Scapy reads."""
    pkt = self._packet
    if pkt is None or pkt.tcp is None or not self.malformed:
        return self
    load = _fp_payload(pkt.tcp)
    end, clean = dns_over_tcp(load)
    cut = dns_cut(load[2:]) if end >= 0 and not clean else None
    alone = dns_alone(load[2:end]) if clean else dns_alone(cut[0]) if cut is not None else None
    return self if alone is None else alone


def _dns_bytes(self: Any) -> bytes:
    """Scapy's DNS over TCP starts at the message's length prefix, fastpkt's view after it."""
    pkt = self._packet
    if pkt is None:   # edited: rebuilt by fastpkt
        return _fp_bytes(self)
    return bytes(_CD.Packet.raw.__get__(pkt)[self.offset - (2 if pkt.tcp is not None else 0):])


def _dns_fields(self: Any) -> dict[str, Any]:
    out = {k: getattr(self, k) for k in _C.DNS.fields}
    return out if self._packet.tcp is None else {"length": self.length, **out}


DNS_ = _view_class(_C.DNS, "DNS", "DNS", _C.DNS.fields,
                   {"length": property(_dns_length), "fields": property(_dns_fields),
                    "__bytes__": _dns_bytes, "__len__": lambda self: len(_dns_bytes(self)),
                    **{w: _dns_section(w) for w in ("qd", "an", "ns", "ar")}})


# ---------------------------------------------------------------- LLMNR
# scapy.all loads scapy.layers.llmnr: on UDP port 5355, where its bindings try no other layer
# first (DNS's 53 and 5353 come before it), Scapy reads RFC 4795's message (RFC 1035's format,
# header bits named c, tc, t and a 4-bit z) as LLMNRQuery, or LLMNRResponse when QR is set.
# fastpkt's DNS view of the message lends its header and records.
class LLMNRQuery(_Fields):
    __slots__ = ()
    name = "Link Local Multicast Node Resolution - Query"
    _held = _SECTIONS

    def hashret(self) -> bytes:
        return int(self._fields["id"]).to_bytes(2, "big")


class LLMNRResponse(LLMNRQuery):
    __slots__ = ()
    name = "Link Local Multicast Node Resolution - Response"

    def answers(self, other: Any) -> bool:
        return (isinstance(other, LLMNRQuery) and self.id == other.id and self.qr == 1 and
                other.qr == 0)


class _LLMNR(_Fields):
    """What Scapy's port-5355 binding reads from a 1-byte datagram: its dispatch class, no
    fields (2 to 11 bytes are Raw: its dispatch fails, and LLMNR's header then does)."""

    __slots__ = ()
    name = "_LLMNR"


def _llmnr(dns: Any, chain: list[Any]) -> Any:
    """Scapy's LLMNR class for fastpkt's DNS view ``dns`` of the datagram after ``chain[-1]``."""
    load = _fp_payload(chain[-1])
    end = dns_as_read(load)[0]   # -1: more records than Scapy's lists take (the chain's Raw)
    fields = {"id": dns.id, "qr": dns.qr, "opcode": dns.opcode, "c": dns.aa, "tc": dns.tc, "t": dns.rd,
              "z": dns.ra << 3 | dns.z << 2 | dns.ad << 1 | dns.cd, "rcode": dns.rcode,
              "qdcount": dns.qdcount, "ancount": dns.ancount, "nscount": dns.nscount,
              "arcount": dns.arcount, **{w: getattr(dns, w) for w in _SECTIONS}}
    return _quoted(LLMNRResponse if dns.qr else LLMNRQuery, fields, load[:max(end, 0)], chain, dns.offset)


def llmnr_short(load: bytes, chain: list[Any]) -> None:
    """A port-5355 datagram fastpkt decodes no DNS in: under LLMNR's 12-byte header (Scapy's
    dispatch class for 1 byte), or a first fragment's part (Raw, as a fragment's DNS is)."""
    if len(load) == 1:
        chain.append(_quoted(_LLMNR, {}, b"", chain))
    chain.append(_linked(Raw, load, chain))


_SLL_EXTRA = {"fields": property(_sll_fields),
              **{k: _field_of(_sll_fields, k) for k in ("lladdrtype", "lladdrlen", "src", "reserved")}}
CookedLinux = _view_class(_C.SLL, "CookedLinux", "cooked linux", (), _SLL_EXTRA)
CookedLinuxV2 = _view_class(_C.SLL, "CookedLinuxV2", "cooked linux v2", (), _SLL_EXTRA)
_VIEWS: dict[Any, type] = {
    _C.Ether: _view_class(_C.Ether, "Ether", "Ethernet", _C.Ether.fields),
    _C.Dot1Q: _view_class(_C.Dot1Q, "Dot1Q", "802.1Q", ("prio", "dei", "vlan", "type"),
                          {"dei": property(lambda self: _CD.Dot1Q.id.__get__(self))}),
    _C.ARP: _view_class(_C.ARP, "ARP", "ARP", _C.ARP.fields),
    _C.IP: IP_,
    _C.IPv6: _view_class(_C.IPv6, "IPv6", "IPv6", _C.IPv6.fields),
    _C.TCP: TCP_,
    _C.UDP: _view_class(_C.UDP, "UDP", "UDP", _C.UDP.fields),
    _C.ICMP: _view_class(_C.ICMP, "ICMP", "ICMP", (), {
        "fields": property(_icmp_fields),
        **{k: _field_of(_icmp_fields, k) for k in (
            "id", "seq", "ts_ori", "ts_rx", "ts_tx", "addr_mask", "gw", "ptr", "length",
            "unused", "reserved", "nexthopmtu", "extpad", "ext")}}),
    _C.ICMPv6: _view_class(_C.ICMPv6, "ICMPv6", "ICMPv6", _C.ICMPv6.fields),
    _C.DNS: DNS_,
    _C.SLL: CookedLinux,
    "SLL2": CookedLinuxV2,
    _C.Loopback: _view_class(_C.Loopback, "Loopback", "Loopback", _C.Loopback.fields),
}


# ---------------------------------------------------------------- packets
# Layers both decode alike, looked up by fastpkt directly (no chain); a view type answers
# for its name and Scapy's spellings of it.
_DIRECT = frozenset(("Ether", "Dot1Q", "ARP", "IP", "IPv6", "TCP", "UDP", "ICMP", "DNS"))


def _direct(cls: Any) -> bool:
    if isinstance(cls, type):
        return cls.__name__ in _DIRECT
    return isinstance(cls, str) and cls in _DIRECT


def _first(pkt: Any) -> Any:
    if _fp_linktype(pkt) in _PPP_LINKTYPES:
        chain = _chain(pkt)
        return chain[0] if chain else NoPayload
    for name in _fp_layers(pkt):
        view = getattr(pkt, _ATTR[name])   # the outermost layer: never Dot1Q, HTTP or TLS
        return _chain(pkt)[0] if name == "Ether" and view.type <= 1500 else view   # Dot3
    chain = _chain(pkt)
    return chain[0] if chain else NoPayload


_fp_sport, _fp_dport = _CD.Packet.sport.__get__, _CD.Packet.dport.__get__


def _port(pkt: Any, getter: Any, attr: str) -> Any:
    """TCP's or UDP's port, else the one an ICMP error quotes (TCPerror/UDPerror), else
    AttributeError, as Scapy's lookup through the layers."""
    port = getter(pkt)
    if port is None:
        return _find_attr(_chain(pkt), attr)
    return port


class ScapyPacket(_C.Packet):  # type: ignore[misc]  # final to users; the facade's subclass is registered
    """A packet read through ``fastpkt.scapy``: a ``fastpkt.Packet`` that is also its first
    layer, as Scapy's packets are (``pkt.src`` is the Ethernet source on an Ether frame,
    ``pkt.payload`` the IP layer, ``pkt.fields`` the Ethernet fields). fastpkt's own
    attributes (``pkt.ip``, ``pkt.tcp``, ``pkt.time``...) read as before."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return cast(str, _first(self).name)

    @property
    def fields(self) -> dict[str, Any]:
        return cast("dict[str, Any]", _first(self).fields)

    @property
    def payload(self) -> Any:  # type: ignore[override]  # Scapy's: the next layer, not bytes
        return _first(self).payload

    underlayer = None

    @property
    def src(self) -> Any:  # type: ignore[override]
        return _first(self).src

    @property
    def dst(self) -> Any:  # type: ignore[override]
        return _first(self).dst

    @property
    def sport(self) -> Any:  # type: ignore[override]
        return _port(self, _fp_sport, "sport")

    @property
    def dport(self) -> Any:  # type: ignore[override]
        return _port(self, _fp_dport, "dport")

    @property
    def proto(self) -> Any:  # type: ignore[override]
        return _first(self).proto

    def _scapy_getattr(self, attr: str) -> Any:
        """A name the packet lacks: the first of its layers that has it, called by the C lookup."""
        return _find_attr(_chain(self), attr)

    def __len__(self) -> int:
        return self.caplen   # Scapy: len(raw(pkt))

    def getlayer(self, cls: Any, nb: int = 1, **flt: Any) -> Any:
        """The nb-th layer of class ``cls`` (a class, its name, or an index), or None."""
        if nb == 1 and not flt and _direct(cls):
            return self[cls] if cls in self else None
        return _LayerOps.getlayer(_first(self), cls, nb, **flt)

    # `cls in pkt`, haslayer() and pkt[cls] are fastpkt's C lookups for the layers both decode
    # alike; they call these for the others (Raw, Padding, DNS records, slices...)
    def _scapy_contains(self, cls: Any) -> bool:
        if cls is Raw or cls == "Raw":
            last = _fp_layers(self)[-1:]
            if last == ("DNS",) and self.tcp is not None:   # a Raw may follow it, or be it
                return _LayerOps.getlayer(_first(self), Raw) is not None
            if last == ("DNS",) and self._chain_differs():   # another layer's ports first
                return _LayerOps.getlayer(_first(self), Raw) is not None
            if last == ("DNS",):
                # Raw after the message's records, or for all of it past 100 in a section;
                # else decoded to its end: Raw only among an OPT record's options, or the
                # record and the rest of the message when they are too many (C asks only
                # where the records do not end the datagram or an OPT record has options)
                load = _fp_payload(self.udp)
                if dns_as_read(load)[0] != len(load):
                    return True
                dns = self.dns
                for r in (r for g in _dns_getters[1:] for r in g(dns)):
                    if r.type == 41:
                        options = _edns_options(r.rdata_raw)
                        if len(options) > _LIST_MAX or any(type(o) is Raw for o in options):
                            return True
                return False
            if last in (("HTTP",), ("TLS",)):   # Scapy leaves these to Raw
                return True
            if self._chain_differs():
                return _LayerOps.getlayer(_first(self), Raw) is not None
            return bool(_CD.Packet.payload.__get__(self) != b"")   # bytes past the last header
        if cls is Padding or cls == "Padding":
            if self._chain_differs():   # also in packets fields hold (a Redirected Header's)
                return _LayerOps.getlayer(_first(self), Padding) is not None
            return bool(_net_padding(self))
        return _LayerOps.getlayer(_first(self), cls) is not None

    def _scapy_getitem(self, cls: Any) -> Any:
        if (cls is Raw or cls == "Raw") and not self._chain_differs():
            # the course's `pkt[Raw].load`, per packet: the payload without building the chain
            # (built if the Raw is asked for its neighbours); made in C on TCP and UDP packets
            load = self._raw_load()
            if load:
                raw: Any = object.__new__(Raw)
                raw.load, raw._chain, raw._i, raw._owner = load, None, 0, self
                return raw
        return _LayerOps.__getitem__(_first(self), cls)

    def _raw_load(self) -> bytes:
        """The bytes after the last layer Scapy decodes here, as ``_chain`` finds them."""
        names = [n for n in _fp_layers(self) if n not in _APP_HIDDEN and n != "CMD"]
        if not names:
            return bytes(_CD.Packet.raw.__get__(self))
        last = names[-1]
        if last == "DNS":
            return b""
        view = self.vlans[-1] if last == "Dot1Q" else getattr(self, _ATTR[last])
        return bytes(_fp_payload(view))

    def _chain_differs(self) -> bool:
        """Whether Scapy's chain has layers fastpkt's views lack (an ICMP error's quote, IPv6
        extension headers, an ICMPv6 echo's data field, a tunnel, BOOTP, NTP, LLC, EAPOL) or
        lacks one of them (DNS where Scapy binds another layer first), so Raw and Padding
        are found in it."""
        last = _fp_layers(self)[-1:]
        if last == ("DNS",) and self.tcp is None and (udp := self.udp) is not None:
            bound = _scapy_text._bound(_scapy_text._UDP_BINDS, udp.sport, udp.dport)
            return bound is None or bound not in ("DNS", "LLMNR")
        if last in (("ICMP",), ("ICMPv6",)) or _fp_linktype(self) in _PPP_LINKTYPES:
            return True
        if last == ("Ether",):   # 802.3: LLC...; EAPOL; an 802.1Q tag cut short (Raw)
            eth = self.eth
            return eth is not None and (eth.type <= 1500 or eth.type in (0x888E, 0x8100, 0x88A8, 0x8863, 0x8864))
        if last == ("Dot1Q",):
            vlan_type = self.vlans[-1].type
            return bool(vlan_type <= 1500 or vlan_type in (0x888E, 0x8863, 0x8864))
        if last == ("UDP",):
            return _layers.udp_tunnel(self.udp) or _layers.udp_bound(self.udp) is not None
        if last in (("SLL",), ("SLL2",)):   # PPPoE; an 802.1Q tag cut short (Raw)
            sll = self.sll
            return sll is not None and sll.proto in (0x8100, 0x8863, 0x8864)
        if last in (("IP",), ("IPv6",)) and _layers.carries(getattr(self, _ATTR[last[0]])):
            return True
        ip6 = self.ip6
        return ip6 is not None and ip6.nh in _IP6_EXT

    def layers(self) -> list[type]:  # type: ignore[override]
        return [_public_class(layer) for layer in _chain(self)]

    def lastlayer(self) -> Any:
        chain = _chain(self)
        return chain[-1] if chain else NoPayload

    def firstlayer(self) -> Any:
        return _first(self)

    # Scapy's text (fastpkt._scapy_text reads the record through fastpkt's own views)
    def __repr__(self) -> str:
        return _scapy_text.packet_repr(self)

    def summary(self) -> str:
        return _scapy_text.packet_summary(self)

    def show(self, dump: bool = False) -> str | None:
        return _scapy_text.packet_show(self, dump=dump)

    def show2(self, dump: bool = False) -> str | None:
        """Scapy's ``show2()``: ``show()`` of the packet rebuilt from its bytes, which for a
        packet read from bytes is ``show()`` itself."""
        return _scapy_text.packet_show(self, dump=dump)

    def sprintf(self, fmt: str, relax: int = 1) -> str:
        """Scapy's ``sprintf``: ``%[fmt[r],][layer[:n].]field%`` and ``{[!]layer:text}``."""
        return _scapy_text.packet_sprintf(self, fmt, bool(relax))

    def to_scapy(self) -> Any:
        """The same bytes as a real Scapy packet, for a layer only Scapy decodes."""
        return _scapy_text.to_scapy(self)


_C._set_facade_types(ScapyPacket, _VIEWS)
_C._set_facade_slots(FlagValue, _TCP_FLAG_NAMES, _IP_FLAG_NAMES, Raw)
from fastpkt import _scapy_layers as _layers  # noqa: E402  (its layers build on the classes above)
