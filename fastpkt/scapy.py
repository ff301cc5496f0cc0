"""A Scapy-compatible facade backed by fastpkt: reading, writing, sniffing and building.

    from fastpkt.scapy import rdpcap, sniff, IP, TCP, DNS, Raw

    for pkt in rdpcap("trace.pcap"):
        if IP in pkt and TCP in pkt:
            print(pkt[IP].src, pkt[TCP].dport, pkt[TCP].flags)
        if pkt.haslayer(Raw):
            data = pkt[Raw].load

    syn = IP(dst="192.0.2.10") / TCP(dport=80, flags="S")   # bytes(syn) == Scapy's
    syn.show2(); hexdump(syn); ls(TCP)

Packets read here (``rdpcap``, ``PcapReader``, ``sniff``) follow Scapy's object model
(``fastpkt/_scapy_model.py``): ``layers()``, ``getlayer``, ``payload`` as the next layer,
``fields``, ``pkt.src`` from the first layer, ``FlagValue`` flags, DNS records as Scapy's
classes with bytes names, ``Raw`` only for undecoded bytes, IndexError for an absent layer.
They are ``ScapyPacket``, a ``fastpkt.Packet`` subclass the C reader makes directly.

Differences from Scapy worth knowing: dissected packets are zero-copy views until a field is
set or deleted (``del pkt[IP].chksum`` turns that packet's bytes into editable layers, once);
DNS records are read-only (replace ``dns.qd`` rather than editing a record); unset Ether addresses are
ff:ff:ff:ff:ff:ff and 00:00:00:00:00:00 (Scapy looks them up by route and ARP); IP options
are bytes. ``sniff()``/``AsyncSniffer`` are ``fastpkt.sniff``'s with Scapy's defaults: live
(root or CAP_NET_RAW) on ``conf.iface`` unless ``iface=`` says otherwise, and offline
(``sniff(offline=...)``); ``rdpcap`` and ``sniff(offline=)`` of a cut capture return the
packets before the cut with a RuntimeWarning (Scapy also returns a cut record's bytes).
Both return the facade's ``PacketList`` (Scapy's methods: ``filter``, ``pl[TCP]``,
``nsummary``, ``sessions``...) over fastpkt's own list, ``.res``. ``send``/``sendp``/``sr``/``sr1``/``srp``/
``srp1``/``arping``/``traceroute`` are ``fastpkt.probe``'s: answers come back as the facade's
packets (``sr`` answers start at the IP header, as Scapy's), unanswered probes as a list.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Iterator

import fastpkt as _fp
from fastpkt.writers import OpenedOnWrite
from fastpkt import (  # noqa: F401  (layer names, as Scapy spells them)
    ARP,
    DNS,
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
)
from fastpkt.netif import conf, get_if_addr, get_if_hwaddr, get_if_list  # noqa: F401
from fastpkt import probe as _probe
from fastpkt.probe import send, sendp, traceroute  # noqa: F401
from fastpkt._scapy_text import (  # noqa: F401
    hexdump, ls, make_lined_table, make_table, make_tex_table, raw, to_scapy)
from fastpkt import _scapy_text as _text
from fastpkt.sniff import AsyncSniffer as _FpAsyncSniffer
from fastpkt import _scapy_layers
from fastpkt._scapy_layers import (  # noqa: F401  (layers read from bytes: _scapy_layers.py)
    BOOTP,
    DHCP,
    DIR_PPP,
    EAP,
    EAP_FAST,
    EAP_MD5,
    EAP_PEAP,
    EAP_TLS,
    EAP_TTLS,
    EAPOL,
    EAPOL_KEY,
    MACsecSCI,
    MKABasicParamSet,
    MKADistributedSAKParamSet,
    MKAICVSet,
    MKALivePeerListParamSet,
    MKAPDU,
    MKAPeerListTuple,
    MKAPotentialPeerListParamSet,
    MKASAKUseParamSet,
    GRE,
    GRE_PPTP,
    GRErouting,
    HDLC,
    LEAP,
    LLC,
    SNAP,
    STP,
    Dot3,
    NTP,
    NTPAuthenticator,
    NTPClockStatusPacket,
    NTPControl,
    NTPErrorStatusPacket,
    NTPExtension,
    NTPExtensions,
    NTPHeader,
    NTPPeerStatusDataPacket,
    NTPPeerStatusPacket,
    NTPSystemStatusPacket,
    NTPPrivate,
    NTPPrivatePktTail,
    NTPPrivateReqPacket,
    NTPInfoAuth,
    NTPInfoControl,
    NTPInfoIfStatsIPv4,
    NTPInfoIfStatsIPv6,
    NTPInfoIOStats,
    NTPInfoKernel,
    NTPInfoLoop,
    NTPInfoMemStats,
    NTPInfoMonitor1,
    NTPInfoPeer,
    NTPInfoPeerList,
    NTPInfoPeerStats,
    NTPInfoPeerSummary,
    NTPInfoSys,
    NTPInfoSysStats,
    NTPInfoTimerStats,
    NTPConfPeer,
    NTPConfRestrict,
    NTPConfTrap,
    NTPConfUnpeer,
    PPP,
    PPPoE,
    PPPoED,
    PPPoED_Tags,
    PPPoETag,
    PPP_CHAP,
    PPP_CHAP_ChallengeResponse,
    PPP_ECP,
    PPP_ECP_Option,
    PPP_ECP_Option_OUI,
    PPP_IPCP,
    PPP_IPCP_Option,
    PPP_IPCP_Option_DNS1,
    PPP_IPCP_Option_DNS2,
    PPP_IPCP_Option_IPAddress,
    PPP_IPCP_Option_NBNS1,
    PPP_IPCP_Option_NBNS2,
    PPP_LCP,
    PPP_LCP_ACCM_Option,
    PPP_LCP_Auth_Protocol_Option,
    PPP_LCP_Callback_Option,
    PPP_LCP_Code_Reject,
    PPP_LCP_Configure,
    PPP_LCP_Discard_Request,
    PPP_LCP_Echo,
    PPP_LCP_MRU_Option,
    PPP_LCP_Magic_Number_Option,
    PPP_LCP_Option,
    PPP_LCP_Protocol_Reject,
    PPP_LCP_Quality_Protocol_Option,
    PPP_LCP_Terminate,
    PPP_PAP,
    PPP_PAP_Request,
    PPP_PAP_Response,
    VXLAN,
    ICMPv6DestUnreach,
    ICMPv6MLDMultAddrRec,
    ICMPv6MLDone,
    ICMPv6MLQuery,
    ICMPv6MLQuery2,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_Redirect,
    ICMPv6ND_RS,
    ICMPv6NDOptAdvInterval,
    ICMPv6NDOptCaptivePortal,
    ICMPv6NDOptDNSSL,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptEFA,
    ICMPv6NDOptHAInfo,
    ICMPv6NDOptIPAddr,
    ICMPv6NDOptLLA,
    ICMPv6NDOptMAP,
    ICMPv6NDOptMTU,
    ICMPv6NDOptNewRtrPrefix,
    ICMPv6NDOptPREF64,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptRDNSS,
    ICMPv6NDOptRedirectedHdr,
    ICMPv6NDOptRouteInfo,
    ICMPv6NDOptShortcutLimit,
    ICMPv6NDOptSrcAddrList,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6NDOptTgtAddrList,
    ICMPv6NDOptUnknown,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPerror6,
    ICMPExtension_Header,
    ICMPExtension_InterfaceInformation,
    ICMPExtension_Object,
)
from fastpkt._scapy_model import (  # noqa: F401  (Scapy's object model: _scapy_model.py)
    CookedLinux,
    CookedLinuxV2,
    DNSQR,
    DNSRR,
    DNSRRMX,
    DNSRROPT,
    DNSRRSOA,
    DNSRRSRV,
    EDNS0COOKIE,
    EDNS0DAU,
    EDNS0DHU,
    EDNS0N3U,
    EDNS0OWN,
    EDNS0PADDING,
    EDNS0TLV,
    EDNS0ClientSubnet,
    EDNS0ExtendedDNSError,
    FlagValue,
    ICMPerror,
    IPerror,
    LLMNRQuery,
    LLMNRResponse,
    NoPayload,
    Padding,
    Raw,
    ScapyPacket,
    TCPerror,
    UDPerror,
)

__all__ = [
    "rdpcap", "wrpcap", "PcapReader", "PcapWriter", "sniff",
    "Ether", "Dot1Q", "ARP", "IP", "IPv6", "TCP", "UDP", "ICMP", "ICMPv6",
    "DNS", "DNSQR", "DNSRR", "DNSRRMX", "DNSRRSOA", "DNSRRSRV", "DNSRROPT", "EDNS0TLV",
    "EDNS0OWN", "EDNS0DAU", "EDNS0DHU", "EDNS0N3U", "EDNS0ClientSubnet", "EDNS0COOKIE", "EDNS0PADDING",
    "EDNS0ExtendedDNSError", "LLMNRQuery", "LLMNRResponse",
    "Raw", "Padding", "NoPayload", "FlagValue", "CookedLinux", "CookedLinuxV2", "Packet", "PacketList",
    "send", "sendp", "sr", "sr1", "srp", "srp1", "arping", "traceroute",
    "conf", "get_if_list", "get_if_addr", "get_if_hwaddr",
    "ICMPv6EchoRequest", "ICMPv6EchoReply", "IPv6ExtHdrHopByHop", "IPv6ExtHdrRouting",
    "IPv6ExtHdrFragment", "IPv6ExtHdrDestOpt", "hexdump", "ls", "raw", "AsyncSniffer",
    "to_scapy", "DefaultSession", "TCPSession", "IPSession",
    "IPerror", "TCPerror", "UDPerror", "ICMPerror",
    *(cls.__name__ for cls in _scapy_layers.CLASSES), "NTP",
    "make_table", "make_lined_table", "make_tex_table",
]


# ---------------------------------------------------------------- probing
def _facade_packet(p: Packet) -> ScapyPacket:
    """A packet the prober captured, as the facade's packets are (Scapy's object model)."""
    return ScapyPacket(p.raw, p.linktype, p.time, p.wirelen)


def _facade_answers(result: Any) -> Any:
    ans, unans = result
    for pair in ans:
        pair.answer = _facade_packet(pair.answer)
    return ans, unans


def sr(x: Any, *args: Any, **kwargs: Any) -> Any:
    """``fastpkt.probe.sr`` (Scapy's arguments); answers follow Scapy's object model."""
    return _facade_answers(_probe.sr(x, *args, **kwargs))


def srp(x: Any, *args: Any, **kwargs: Any) -> Any:
    """``fastpkt.probe.srp``; answers follow Scapy's object model."""
    return _facade_answers(_probe.srp(x, *args, **kwargs))


def sr1(x: Any, *args: Any, **kwargs: Any) -> ScapyPacket | None:
    """``fastpkt.probe.sr1``: the first answer (Scapy's object model), or None."""
    p = _probe.sr1(x, *args, **kwargs)
    return None if p is None else _facade_packet(p)


def srp1(x: Any, *args: Any, **kwargs: Any) -> ScapyPacket | None:
    """``fastpkt.probe.srp1``: the first answer (Scapy's object model), or None."""
    p = _probe.srp1(x, *args, **kwargs)
    return None if p is None else _facade_packet(p)


def arping(net: str, *args: Any, **kwargs: Any) -> Any:
    """``fastpkt.probe.arping``; answers follow Scapy's object model."""
    return _facade_answers(_probe.arping(net, *args, **kwargs))


# ---------------------------------------------------------------- packet lists
class PacketList:
    """Scapy's PacketList over fastpkt's packets: what ``rdpcap`` and ``sniff`` return.

    Holds the C ``fastpkt.PacketList`` (or sniff's list) as ``res`` and hands anything it does
    not define to it (``to_pandas()``, ``columns()``, ``linktype``...), so no per-packet work
    happens until a method walks the packets. Scapy's methods: ``pl[i]``, ``pl[a:b]``,
    ``pl[TCP]`` (the packets having that layer), ``filter(func)``, ``summary()`` and
    ``nsummary()`` (print, as Scapy), ``show()``, ``sessions()``, ``make_table()`` (and its
    lined and LaTeX forms); ``repr`` counts TCP/UDP/ICMP.
    """

    def __init__(self, res: Any = None, name: str = "PacketList") -> None:
        self.res = [] if res is None else res
        self.listname = name

    def __len__(self) -> int:
        return len(self.res)

    def __iter__(self) -> Iterator[Packet]:
        return iter(self.res)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, type):
            return PacketList([p for p in self.res if item in p],
                              "%s from %s" % (item.__name__, self.listname))
        if isinstance(item, slice):
            return PacketList(self.res[item], "mod %s" % self.listname)
        return self.res[item]

    def __getattr__(self, name: str) -> Any:
        if name == "res":   # not set yet (unpickling, copy): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.res, name)

    def __add__(self, other: Any) -> PacketList:
        return PacketList(list(self.res) + list(other), "%s+%s" % (self.listname, getattr(
            other, "listname", "PacketList")))

    def __repr__(self) -> str:
        counts = {"TCP": 0, "UDP": 0, "ICMP": 0}
        other = 0
        for p in self.res:
            # the first of TCP, UDP, ICMP the packet has (Scapy's conf.stats_classic_protocols)
            if TCP in p:
                counts["TCP"] += 1
            elif UDP in p:
                counts["UDP"] += 1
            elif ICMP in p:
                counts["ICMP"] += 1
            else:
                other += 1
        return "<%s: %s Other:%d>" % (self.listname, " ".join("%s:%d" % kv for kv in counts.items()),
                                     other)

    def filter(self, func: Callable[[Packet], bool]) -> PacketList:  # noqa: A003
        """The packets ``func`` returns true for (Scapy: ``pl.filter(func)``)."""
        return PacketList([p for p in self.res if func(p)], "filtered %s" % self.listname)

    def summary(self, prn: Callable[[Packet], Any] | None = None,
                lfilter: Callable[[Packet], bool] | None = None) -> None:
        """Print one line per packet (``prn(p)`` or Scapy's ``p.summary()``), as Scapy's does."""
        for p in self.res:
            if lfilter is None or lfilter(p):
                print(_text.packet_summary(p) if prn is None else prn(p))

    def nsummary(self, prn: Callable[[Packet], Any] | None = None,
                 lfilter: Callable[[Packet], bool] | None = None) -> None:
        """``summary()`` with each packet's index (``0042 ...``), as Scapy prints it."""
        for i, p in enumerate(self.res):
            if lfilter is None or lfilter(p):
                print("%04i" % i, _text.packet_summary(p) if prn is None else prn(p))

    def show(self, prn: Callable[[Packet], Any] | None = None,
             lfilter: Callable[[Packet], bool] | None = None) -> None:
        """Scapy's ``PacketList.show()``: ``nsummary()``."""
        self.nsummary(prn, lfilter)

    def conversations(self, getsrcdst: Callable[[Packet], tuple[Any, ...]] | None = None,
                      **kargs: Any) -> str | None:
        """Scapy's conversation graph: one edge per (source, destination) with its packet
        count (IP, else IPv6, else ARP addresses; ``getsrcdst(p)`` may return a third item,
        the labels then being the set of them). Drawn by graphviz as Scapy does (``target=``,
        ``format=``, ``prog=``; without a target, piped to ImageMagick's ``display``);
        ``string=True`` returns the dot source, which is also printed when graphviz or the
        viewer is missing."""
        return _text.do_graph(_text.conversation_graph(self.res, getsrcdst), **kargs)

    def plot(self, f: Callable[[Packet], Any], lfilter: Callable[[Packet], bool] | None = None,
             plot_xy: bool = False, **kargs: Any) -> Any:
        """Scapy's ``plot``: ``f(p)`` of each packet (``lfilter`` kept) drawn with
        matplotlib's ``plt.plot`` (``marker="+"`` unless given keyword arguments); pairs as
        x, y with ``plot_xy=True``. Shows the figure outside notebooks; returns the lines."""
        import matplotlib.pyplot as plt

        values = [f(p) for p in self.res if lfilter is None or lfilter(p)]
        kargs = kargs or {"marker": "+"}
        lines = plt.plot(*zip(*values), **kargs) if plot_xy else plt.plot(values, **kargs)
        if "inline" not in plt.get_backend().lower():
            plt.show()
        return lines

    def make_table(self, *args: Any, **kargs: Any) -> str | None:
        """Scapy's table of ``fxyz(p) -> (column, row, cell)`` over the packets, e.g.
        ``pl.make_table(lambda p: (p[IP].dst, p[TCP].dport, p[TCP].sprintf("%flags%")))``;
        printed (``dump=True`` returns it), columns and rows sorted as numbers, addresses or
        text (``sortx=``/``sorty=`` keys)."""
        return _text.make_table(self.res, *args, **kargs)

    def make_lined_table(self, *args: Any, **kargs: Any) -> str | None:
        """``make_table`` with Scapy's ``|`` and ``+---`` lines."""
        return _text.make_lined_table(self.res, *args, **kargs)

    def make_tex_table(self, *args: Any, **kargs: Any) -> str | None:
        """``make_table`` as a LaTeX tabular body."""
        return _text.make_tex_table(self.res, *args, **kargs)

    def sessions(self, session_extractor: Callable[[Packet], str] | None = None
                 ) -> dict[str, PacketList]:
        """Packets grouped by ``session_extractor(p)`` (default: Scapy's one-way session
        names, ``"TCP 10.0.0.1:1234 > 10.0.0.2:80"``), in order of first appearance."""
        key_of = session_extractor or _session_name
        out: dict[str, PacketList] = {}
        for p in self.res:
            key = key_of(p)
            if key not in out:
                out[key] = PacketList([], "PacketList")
            out[key].res.append(p)
        return out


# Scapy's names for IPv6 next headers, as its session names print them (scapy.layers.inet6)
_IPV6_NH = {0: "Hop-by-Hop Option Header", 4: "IP", 6: "TCP", 17: "UDP", 41: "IPv6",
            43: "Routing Header", 44: "Fragment Header", 47: "GRE", 50: "ESP Header",
            51: "AH Header", 58: "ICMPv6", 59: "No Next Header", 60: "Destination Option Header",
            112: "VRRP", 132: "SCTP", 135: "Mobility Header"}
_ip_proto_names: dict[int, str] | None = None


def _ip_proto_name(proto: int) -> str:
    """IP protocol names from /etc/protocols, where Scapy takes them (numbers without it)."""
    global _ip_proto_names
    if _ip_proto_names is None:
        names: dict[int, str] = {}
        try:
            with open("/etc/protocols") as f:
                for line in f:
                    fields = line.split("#", 1)[0].split()
                    if len(fields) >= 2 and fields[1].isdigit():
                        names[int(fields[1])] = fields[0]
        except OSError:
            pass
        _ip_proto_names = names
    return _ip_proto_names.get(proto, str(proto))


def _session_name(p: Packet) -> str:
    """Scapy's default session key: one direction of a conversation, as text."""
    if p.eth is None or p.eth.type <= 1500:   # a length: Scapy's Dot3 frame, not Ether
        return "Other"
    ip, ip6 = p.ip, p.ip6
    if ip is None and ip6 is None:
        if p.arp is not None:
            return "ARP %s > %s" % (p.arp.psrc, p.arp.pdst)
        return "Ethernet type=%04x" % p.eth.type
    # both addresses when IPv6 rides in IPv4 (or back), as Scapy's format prints them
    src = (ip.src if ip is not None else "") + (ip6.src if ip6 is not None else "")
    dst = (ip.dst if ip is not None else "") + (ip6.dst if ip6 is not None else "")
    if p.tcp is not None:
        return "TCP %s:%d > %s:%d" % (src, p.tcp.sport, dst, p.tcp.dport)
    if p.udp is not None:
        return "UDP %s:%d > %s:%d" % (src, p.udp.sport, dst, p.udp.dport)
    if p.icmp is not None:
        return "ICMP %s > %s type=%d code=%d id=0x%x" % (src, dst, p.icmp.type, p.icmp.code,
                                                          p.icmp.id or 0)
    if ip6 is not None:
        return "IPv6 %s > %s nh=%s" % (src, dst, _IPV6_NH.get(ip6.nh, ip6.nh))
    assert ip is not None
    return "IP %s > %s proto=%s" % (src, dst, _ip_proto_name(ip.proto))


# ---------------------------------------------------------------- sniff sessions
class DefaultSession:
    """Scapy's default ``sniff(session=...)``: every packet goes on unchanged."""

    def process(self, pkt: Packet) -> Packet | None:
        return pkt

    def run(self, packets: Iterator[Packet]) -> Iterator[Packet]:
        """The packets ``process`` hands on (None: held, or dropped)."""
        for p in packets:
            out = self.process(p)
            if out is not None:
                yield out


class IPSession(DefaultSession):
    """Scapy's IPSession: IPv4 fragments are held until the last one (MF clear) arrives,
    then handed on as one packet: the lowest-offset fragment's bytes up to its IP header,
    MF cleared, length and checksum recomputed, the fragments' payloads joined, at that
    fragment's time. Fragments with gaps or overlaps are dropped, as Scapy's BadFragments.
    (Python work per fragment only; IPv6 fragments go on unchanged, as in Scapy.)"""

    def __init__(self) -> None:
        self.fragments: dict[tuple[int, str, str, int], list[tuple[int, bytes, Packet]]] = {}

    def process(self, pkt: Packet) -> Packet | None:
        ip = pkt.ip
        if ip is None or (ip.frag == 0 and not ip.MF):
            return pkt
        start = ip.offset + ip.ihl * 4
        payload = bytes(pkt)[start:ip.offset + ip.len]
        uid = (ip.id, ip.src, ip.dst, ip.proto)
        self.fragments.setdefault(uid, []).append((ip.frag * 8, payload, pkt))
        if ip.MF:
            return None
        frags = sorted(self.fragments.pop(uid), key=lambda f: f[0])
        offset = 0
        for off, data, _p in frags:
            if off != offset:
                return None
            offset += len(data)
        first = frags[0][2]
        fip = first.ip
        assert fip is not None
        head = bytearray(bytes(first)[:fip.offset + fip.ihl * 4])
        o = fip.offset
        body = b"".join(f[1] for f in frags)
        head[o + 6] &= 0xDF   # MF off, DF and the reserved bit kept
        _set_ip_length(head, o, fip.ihl * 4, fip.ihl * 4 + len(body))
        # the fragments' own type: the facade's packets stay the facade's
        return type(first)(bytes(head) + body, linktype=first.linktype, time=first.time)


def _set_ip_length(head: bytearray, o: int, hlen: int, length: int) -> None:
    """An IPv4 header at ``o`` rebuilt for a new total length: length and checksum."""
    head[o + 2:o + 4] = length.to_bytes(2, "big")
    head[o + 10:o + 12] = b"\0\0"
    total = sum(int.from_bytes(head[i:i + 2], "big") for i in range(o, o + hlen, 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    head[o + 10:o + 12] = (~total & 0xFFFF).to_bytes(2, "big")


# TCP ports where Scapy's default layers read the segments' data themselves: DNS (each
# segment as a whole message), Kerberos, kpasswd, DCE/RPC, SMB, NetBIOS, LDAP (tcp_reassemble)
_TCP_LAYER_PORTS = frozenset((53, 88, 464, 135, 445, 139, 389, 3268))


def _nbt_message(data: bytes) -> tuple[int, int] | None:
    """Scapy's NBTSession.tcp_reassemble (NetBIOS session service, RFC 1002 section 4.3.1:
    a 4-byte header with a 17-bit length): (end of the message, end of the data the message
    layer takes) once complete, else None. Complete when the length masked with 0x3ffff is
    there; the layer then takes its 17-bit LENGTH (the rest is Scapy's Padding)."""
    if len(data) < 4:
        return None
    word = int.from_bytes(data[:4], "big")
    if len(data) < (word & 0x3FFFF) + 4:
        return None
    return min(len(data), 4 + (word & 0x1FFFF)), len(data)


def _krb_message(data: bytes) -> tuple[int, int] | None:
    """Scapy's KerberosTCPHeader/KpasswdTCPHeader.tcp_reassemble (RFC 4120 section 7.2.2: a
    4-byte length): the message once exactly that many bytes follow, with any more as Padding."""
    if len(data) < 4:
        return None
    end = int.from_bytes(data[:4], "big") + 4
    return (end, len(data)) if len(data) >= end else None


# Ports whose messages Scapy's TCPSession holds until complete (reordered by sequence number,
# holes zero-filled); the other _TCP_LAYER_PORTS go on as read (README)
_TCP_MESSAGES = {139: _nbt_message, 445: _nbt_message, 88: _krb_message, 464: _krb_message}
_TCP_MAX_GAP = 0xFFFF   # Scapy's StringBuffer max_gap (MTU)


class _SeqBuffer:
    """Scapy's StringBuffer: data placed at its sequence number relative to the direction's
    mark, holes filled with zeros, data further than max_gap from the buffer dropped."""

    __slots__ = ("content", "noff")

    def __init__(self) -> None:
        self.content = bytearray()
        self.noff = 0

    def append(self, data: bytes, seq: int) -> None:
        if not data:
            return
        seq = seq - 1 - self.noff
        if seq < 0:
            if -seq - len(data) > _TCP_MAX_GAP:
                return
            self.content[0:0] = bytes(-seq)
            self.noff += seq
            seq = 0
        if seq + len(data) > len(self.content):
            if seq - len(self.content) > _TCP_MAX_GAP:
                return
            self.content += bytes(seq + len(data) - len(self.content))
        self.content[seq:seq + len(data)] = data


def _fp_payload_len(layer: Any) -> int:
    return len(_fp.Layer.payload.__get__(layer))   # fastpkt's bytes, past the facade's chain


class TCPSession(IPSession):
    """Scapy's TCPSession (scapy/sessions.py) with Scapy's default layers: IPSession first,
    then each direction of a TCP connection is followed by (addresses, ports). Its payloads
    are undecoded (Raw) there, which Scapy hands on one segment at a time: a segment with
    data comes out rebuilt (its data as Raw, Ethernet padding dropped, IPv4 length and
    checksum recomputed, its sequence number the one of the direction's first segment since
    the last one with data: Scapy keeps that across payload-less segments), a FIN or RST
    without data is held back (dropped), other segments go on unchanged. A segment carrying
    only an Ethernet trailer counts the trailer as its data, as Scapy does. Retransmissions
    are not trimmed: Scapy's next-sequence mark is lost with each segment it hands on.
    A TCP datagram IPSession put together from fragments is dropped when it carries data, as
    in Scapy (its rebuilt packet has no original bytes for the session to follow). On the
    ports where Scapy's layers wait for whole length-prefixed messages (NetBIOS session/SMB
    139 and 445, Kerberos 88 and kpasswd 464) the data is held as Scapy holds it: placed by
    sequence number (out-of-order segments in their place, holes zeros, data already handed
    on trimmed), and handed on with the segment that completes the buffer's first messages.
    Segments on the other ports Scapy binds a layer to (DNS, whose TCP segments Scapy re-reads
    as whole DNS messages, DCE/RPC, LDAP) go on as read (README)."""

    def __init__(self) -> None:
        super().__init__()
        self.first_seq: dict[tuple[str, str, int, int], int] = {}
        # per direction on _TCP_MESSAGES ports: Scapy's buffer and its metadata
        self.messages: dict[tuple[str, str, int, int], tuple[_SeqBuffer, dict[str, int]]] = {}

    def process(self, pkt: Packet) -> Packet | None:
        out = IPSession.process(self, pkt)
        if out is None:
            return None
        tcp = out.tcp
        net = out.ip if out.ip is not None else out.ip6
        if tcp is None or net is None:
            return out
        key = (net.src, net.dst, tcp.dport, tcp.sport)
        message = _TCP_MESSAGES.get(tcp.dport) or _TCP_MESSAGES.get(tcp.sport)
        seq = self.first_seq.setdefault(key, tcp.seq) if message is None else 0
        if out is not pkt and _fp_payload_len(tcp):
            return None   # Scapy's datagram from fragments has no original bytes to follow
        raw = bytes(out)
        end = tcp.offset + tcp.header_len
        data = raw[end:net.offset + _fp.Layer.__len__(net)] or raw[net.offset + _fp.Layer.__len__(net):]
        if message is not None:
            return self._message(out, key, raw[:end], data, message)
        if not data:
            return None if int(tcp.flags) & 0x05 else out   # FIN or RST
        del self.first_seq[key]
        if tcp.sport in _TCP_LAYER_PORTS or tcp.dport in _TCP_LAYER_PORTS:
            return out   # Scapy reads this data with its layer there: not followed here
        return _rebuilt(out, raw[:end], data, seq)

    def _message(self, out: Packet, key: tuple[str, str, int, int], head: bytes, data: bytes,
                 message: Any) -> Packet | None:
        """Scapy's TCPSession.process for a layer with a tcp_reassemble that waits for whole
        messages: the data goes into the direction's buffer at its place; once the buffer
        starts with a complete message, the segment is handed on carrying it and the
        complete messages after it (Scapy's padding loop), with the sequence number of the
        first segment since the last hand-over."""
        tcp = out.tcp
        assert tcp is not None
        buf, md = self.messages.setdefault(key, (_SeqBuffer(), {}))
        seq, new, rel = tcp.seq, data, md.get("relative_seq", 0)
        md.setdefault("seq", seq)
        if "next_seq" in md and seq < md["next_seq"]:   # data already handed on
            new = new[md["next_seq"] - seq:]
            if not new:
                return None
            seq = md["next_seq"]
        if data:
            rel = md.setdefault("relative_seq", seq - 1)
            buf.append(new, seq - rel)
        if not (int(tcp.flags) & 0x05) and not data:   # neither FIN nor RST, no data
            return out
        if not buf.content:
            return None
        found = message(bytes(buf.content))
        if found is None:
            return None
        first = md["seq"]
        md.clear()
        taken, (stop, have) = 0, found
        while stop < have:   # more after the message: Scapy's padding loop
            # Scapy moves its mark by the last message's length only (not by all it took)
            md["relative_seq"] = rel + stop
            taken += stop
            found = message(bytes(buf.content[taken:]))
            if found is None:
                stop = 0
                break
            stop, have = found
        taken += stop
        payload = bytes(buf.content[:taken])
        if taken >= len(buf.content):
            del self.messages[key]   # with the metadata Scapy drops here (next_seq too)
        else:
            del buf.content[:taken]
        md["next_seq"] = first + len(new)
        return _rebuilt(out, head, payload, first)


def _rebuilt(out: Packet, head: bytes, data: bytes, seq: int) -> Packet:
    """The segment as Scapy's session hands it on: its headers with this data (Ethernet padding
    dropped) and sequence number, IPv4 length and checksum recomputed (the TCP checksum kept)."""
    tcp, ip = out.tcp, out.ip
    assert tcp is not None
    frame = bytearray(head + data)
    frame[tcp.offset + 4:tcp.offset + 8] = seq.to_bytes(4, "big")
    if ip is not None:
        _set_ip_length(frame, ip.offset, ip.ihl * 4, len(frame) - ip.offset)
    return type(out)(bytes(frame), linktype=out.linktype, time=out.time)


def _session(session: Any) -> DefaultSession | None:
    """An instance of the session ``sniff(session=)`` names (a class or an instance)."""
    if session is None:
        return None
    if isinstance(session, type):
        session = session()
    if not isinstance(session, DefaultSession):
        raise TypeError("session= takes DefaultSession, IPSession or TCPSession from "
                        "fastpkt.scapy, not %r" % (session,))
    return session


# ---------------------------------------------------------------- reading and writing
def _warn_if_cut(reader: _fp.Reader, kept: int, stacklevel: int) -> None:
    """Scapy reads a cut capture up to the cut and warns; under on_error="stop" so do we."""
    if reader.error is not None:
        what = str(reader.error).split("; pass on_error")[0]  # the hint says what we just did
        warnings.warn("%s; kept the %d packets before it (on_error='raise' raises)" % (what, kept),
                      RuntimeWarning, stacklevel=stacklevel + 1)


def rdpcap(filename: str | os.PathLike[str], count: int = -1, on_error: str = "stop") -> PacketList:
    """Read a pcap/pcapng file into a PacketList (Scapy: ``rdpcap(filename, count=-1)``).

    A capture cut short (or corrupt) gives the packets before the fault and a
    RuntimeWarning, as Scapy's does; ``on_error="raise"`` raises instead, ``"skip"``
    resynchronises past bad records (see ``fastpkt.open``)."""
    with _fp.open(filename, on_error=on_error) as reader:
        reader._facade = True
        packets = reader.read_all(None if count is None or count < 0 else count)
        _warn_if_cut(reader, len(packets), 2)
    return PacketList(packets, os.path.basename(os.fspath(filename)))


def wrpcap(filename: str | os.PathLike[str], pkt: Any, linktype: int | None = None,
           nano: bool = False, **_ignored: Any) -> None:
    """Write packets to a pcap file (Scapy: ``wrpcap(filename, pkt)``). A single packet works too."""
    if isinstance(pkt, (Packet, bytes, bytearray)):
        pkt = [pkt]
    elif isinstance(pkt, PacketList):
        pkt = pkt.res   # fastpkt's PacketList is written in C
    _fp.write(filename, pkt, linktype=linktype, nanosecond=nano or None, format="pcap")


class PcapReader:
    """Iterate a capture lazily (Scapy: ``with PcapReader(path) as r: for pkt in r``)."""

    def __init__(self, filename: Any) -> None:
        self._reader = _fp.open(filename)
        self._reader._facade = True
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
            self._writer.write(bytes(p) if isinstance(p, bytearray) else p)


def _offline_reader(offline: Any, filter: str | None,  # noqa: A002
                    on_error: str, kwargs: dict[str, Any]) -> _fp.Reader | None:
    """One capture file or file object opened under ``on_error`` (the filters move into it);
    None for what fastpkt.sniff takes as it is (lists, Packets, Readers)."""
    if offline is None or isinstance(offline, (list, tuple, Packet, _fp.Reader, _fp.PacketList)):
        return None
    reader = _fp.open(offline, filter=filter, on_error=on_error,
                      display_filter=kwargs.pop("display_filter", None))
    reader._facade = True
    return reader


class AsyncSniffer(_FpAsyncSniffer):
    """Scapy's AsyncSniffer (``start()``, ``stop()``, ``join()``, ``results``, ``running``)
    over ``fastpkt.AsyncSniffer``, with Scapy's defaults: no ``iface`` sniffs on
    ``conf.iface`` (the default route's interface); ``offline=`` a cut capture gives the
    packets before the cut and a RuntimeWarning (``on_error="raise"`` raises)."""

    def __init__(self, *args: Any, on_error: str = "stop", session: Any = None,
                 **kwargs: Any) -> None:
        if args:
            raise TypeError("AsyncSniffer takes keyword arguments only (as Scapy's sniff())")
        self._session = _session(session)
        offline = kwargs.get("offline")
        if isinstance(offline, PacketList):   # sniff(offline=rdpcap(...)), as in Scapy
            offline = kwargs["offline"] = offline.res
        if kwargs.get("iface") is None and offline is None and kwargs.get("opened_socket") is None:
            kwargs["iface"] = conf.iface
        self._cut_reader = _offline_reader(offline, kwargs.get("filter"), on_error, kwargs)
        if self._cut_reader is not None:
            kwargs["offline"] = self._cut_reader
            kwargs["filter"] = None
        super().__init__(**kwargs)

    def _open(self) -> Any:
        """fastpkt.sniff's sources, making the facade's packets (Scapy's object model)."""
        packets, readers, linktype, live = super()._open()
        for r in readers:   # the ones sniff opened (a caller's opened_socket stays as it is)
            r._facade = True
        return packets, readers, linktype, live

    def _loop(self, packets: Iterator[Packet], kept: list[Packet], offline: bool) -> None:
        """fastpkt's loop over what the session hands on (before lfilter, as in Scapy)."""
        if self._session is not None:
            packets = self._session.run(packets)
        super()._loop(packets, kept, offline)

    def _run(self) -> PacketList:  # type: ignore[override]
        reader = self._cut_reader
        try:
            results = super()._run()
        finally:
            if reader is not None:
                reader.close()
        if reader is not None:
            _warn_if_cut(reader, reader.packets_read, 3)  # via sniff()
        self.results = PacketList(results, "Sniffed")  # type: ignore[assignment]
        return self.results  # type: ignore[return-value]


def sniff(count: int = 0, store: bool = True, offline: Any = None,
          prn: Callable[[Packet], Any] | None = None,
          lfilter: Callable[[Packet], bool] | None = None,
          filter: str | None = None,  # noqa: A002
          stop_filter: Callable[[Packet], bool] | None = None,
          iface: Any = None, timeout: float | None = None, on_error: str = "stop",
          session: Any = None, **kwargs: Any) -> PacketList:
    """Scapy's ``sniff()``, in Scapy's argument order: ``fastpkt.sniff``.

    Live: ``sniff(iface="eth0", filter="tcp", prn=..., store=False)``; without ``iface``,
    ``conf.iface`` (the default route's interface, as Scapy; ``fastpkt.sniff`` would take
    all of them). Offline: ``sniff(offline="trace.pcap", ...)``, a list of paths or a list
    of packets; a capture cut short gives the packets before the cut and a RuntimeWarning
    (``on_error="raise"`` raises, ``"skip"`` resynchronises). ``filter`` is BPF (the
    kernel's live, C offline); ``lfilter`` a Python predicate; ``prn`` is called for every
    kept packet and, as in Scapy, its non-None return value is printed; ``stop_filter`` ends
    the loop after the packet it returns True for; ``count`` (0 = all) counts kept packets;
    ``session`` is ``DefaultSession``, ``IPSession`` (IPv4 defragmentation) or
    ``TCPSession``, applied before ``lfilter`` as in Scapy;
    ``timeout`` is seconds. Returns the kept packets: a ``PacketList`` named "Sniffed" over
    a ``fastpkt.SniffResult`` (empty with ``store=False``). Other keyword arguments are ``fastpkt.sniff``'s (write=,
    rotate_bytes=, capture options such as snaplen=).
    """
    return AsyncSniffer(iface=iface, count=count, timeout=timeout, filter=filter, prn=prn,
                        lfilter=lfilter, store=store, stop_filter=stop_filter, offline=offline,
                        on_error=on_error, session=session, **kwargs)._run()
