"""Sending and probing, Scapy's way: ``send``, ``sendp``, ``sr``, ``sr1``, ``srp``, ``srp1``,
``arping``, ``traceroute``.

    from fastpkt import sr, sr1, srp
    ans, unans = sr(probes, timeout=2)        # probes: packets, bytes, or lists of them
    for sent, received in ans:
        print(sent.summary(), "->", received.summary(), received.time - sent.time)

A probe is anything ``bytes()`` accepts: fastpkt-built layers, ``fastpkt.Packet``, Scapy
packets (a Scapy packet that expands, ``IP(dst="10.0.0.0/24")``, sends every expansion) or
plain ``bytes``; the L3 functions take IP packets, the L2 ones Ethernet frames.

How it works (csrc/probe/): the live capture is opened before the first probe leaves, then
one C loop, with the GIL released, sends what is due (``inter`` apart) and matches what the
capture holds between sends, with Scapy's ``answers()`` rules: TCP by ports and
sequence/acknowledgment numbers, UDP by ports (and DNS ids), ICMP/ICMPv6 echo by identifier
and sequence, ARP by the address asked for, ICMP/ICMPv6 errors by the header they quote.
Answers wait in the capture's 32 MiB kernel ring, so a burst of thousands is not lost to a
socket buffer nobody reads. IP probes go out through raw sockets: the kernel routes them and
resolves the next hop; like any raw IPv4 socket it rewrites the IPv4 header checksum and
total length (raw(7)), and fills a zero source address. Frames go out as given.

Differences from Scapy: a UDP answer must come from the probed port (Scapy only checks the
port it is sent to); IPv6 neighbour discovery and other protocol-specific pairs (``ICMPv6ND``,
``DHCP``) are not matched. Needs root, or CAP_NET_RAW + CAP_NET_ADMIN: see the PermissionError.
"""
from __future__ import annotations

import ipaddress
import os
import random
import struct
import sys
from typing import Any, Iterable, Iterator, cast

from ._fastpkt import (
    Layer,
    Packet,
    _answers,
    _probe_add,
    _probe_close,
    _probe_open,
    _probe_pending,
    _probe_results,
    _probe_run,
    _probe_stats,
    _send,
)
from . import _scapy_text
from .netif import conf, get_if_addr, get_if_hwaddr, route

__all__ = ["send", "sendp", "sr", "sr1", "srp", "srp1", "arping", "traceroute", "answers",
           "QueryAnswer", "SndRcvList", "UnansweredList", "TracerouteResult"]

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
_BUFFER_TYPES = (bytes, bytearray, memoryview)


# ------------------------------------------------------------------------ result types
def _summary(p: Any) -> str:
    """Scapy's summary line of a probe or an answer: fastpkt Packets and layers (a built
    probe is read back from its bytes, Ether-rooted or raw IP) get Scapy's text."""
    if isinstance(p, Layer):
        p = Packet(bytes(p), linktype=LINKTYPE_ETHERNET if p.name == "Ether" else LINKTYPE_RAW)
    if isinstance(p, Packet):
        return _scapy_text.packet_summary(p)
    s = getattr(p, "summary", None)
    return s() if callable(s) else repr(p)


def _proto_counts(pkts: Iterable[Any]) -> str:
    counts = {"TCP": 0, "UDP": 0, "ICMP": 0, "Other": 0}
    for p in pkts:
        layers = str(getattr(p, "layers", "") or _summary(p))
        name = next((n for n in ("TCP", "UDP", "ICMP") if n in layers), "Other")
        counts[name] += 1
    return " ".join("%s:%d" % kv for kv in counts.items())


class QueryAnswer:
    """One answered probe: ``sent, received = pair``, ``pair[0]``, ``pair.query``,
    ``pair.answer``, ``pair.sent_time`` (seconds since the epoch, when the probe left) and
    ``pair.rtt`` (the answer's capture time minus sent_time)."""

    __slots__ = ("query", "answer", "sent_time")

    def __init__(self, query: Any, answer: Packet, sent_time: float | None) -> None:
        self.query = query
        self.answer = answer
        self.sent_time = sent_time

    def __iter__(self) -> Iterator[Any]:
        yield self.query
        yield self.answer

    def __getitem__(self, i: int) -> Any:
        return (self.query, self.answer)[i]

    def __len__(self) -> int:
        return 2

    @property
    def rtt(self) -> float | None:
        return None if self.sent_time is None else self.answer.time - self.sent_time

    def __repr__(self) -> str:
        return "QueryAnswer(query=%r, answer=%r)" % (self.query, self.answer)


class SndRcvList(list[Any]):
    """Answered probes as (sent, received) pairs, like Scapy's SndRcvList:
    ``for s, r in ans``, ``ans[0][1]``, ``len(ans)``, ``ans.summary()``."""

    name = "Results"

    def summary(self, prn: Any = None, lfilter: Any = None) -> None:
        """One ``sent ==> received`` line per pair (``prn(sent, received)`` instead), as Scapy."""
        for pair in self:
            if lfilter is None or lfilter(*pair):
                print(prn(*pair) if prn else "%s ==> %s" % (_summary(pair.query), _summary(pair.answer)))

    def nsummary(self, prn: Any = None, lfilter: Any = None) -> None:
        """``summary()`` with each pair's index (``0000 ...``)."""
        for i, pair in enumerate(self):
            if lfilter is None or lfilter(*pair):
                print("%04i" % i, prn(*pair) if prn else "%s ==> %s" % (
                    _summary(pair.query), _summary(pair.answer)))

    def show(self, prn: Any = None, lfilter: Any = None) -> None:
        """Scapy's ``show()``: ``nsummary()``."""
        self.nsummary(prn, lfilter)

    def make_table(self, fxyz: Any, **kargs: Any) -> str | None:
        """Scapy's table over the pairs: ``fxyz(sent, received) -> (column, row, cell)``,
        e.g. ``ans.make_table(lambda s, r: (s.dst, s.dport, r.sprintf("%TCP.flags%")))``."""
        return _scapy_text.make_table([tuple(pair) for pair in self], fxyz, **kargs)

    def make_lined_table(self, fxyz: Any, **kargs: Any) -> str | None:
        return _scapy_text.make_lined_table([tuple(pair) for pair in self], fxyz, **kargs)

    def make_tex_table(self, fxyz: Any, **kargs: Any) -> str | None:
        return _scapy_text.make_tex_table([tuple(pair) for pair in self], fxyz, **kargs)

    def __repr__(self) -> str:
        return "<%s: %s>" % (self.name, _proto_counts(p.query for p in self))


class UnansweredList(list[Any]):
    """Probes without an answer, in sending order (Scapy's "Unanswered" PacketList)."""

    name = "Unanswered"

    def summary(self, prn: Any = None, lfilter: Any = None) -> None:
        for p in self:
            if lfilter is None or lfilter(p):
                print(prn(p) if prn else _summary(p))

    def nsummary(self, prn: Any = None, lfilter: Any = None) -> None:
        for i, p in enumerate(self):
            if lfilter is None or lfilter(p):
                print("%04i" % i, prn(p) if prn else _summary(p))

    def show(self, prn: Any = None, lfilter: Any = None) -> None:
        self.nsummary(prn, lfilter)

    def __repr__(self) -> str:
        return "<%s: %s>" % (self.name, _proto_counts(self))


def answers(answer: Any, probe: Any, l2: bool = False) -> bool:
    """True when `answer` answers `probe` under the rules sr() matches with (Scapy's
    ``answer.answers(probe)``). Both are IP packets, or with l2=True Ethernet frames; a
    fastpkt.Packet brings its own link type."""
    def lt(p: Any) -> int:
        return p.linktype if isinstance(p, Packet) else LINKTYPE_ETHERNET if l2 else LINKTYPE_RAW
    return _answers(bytes(answer), lt(answer), bytes(probe), lt(probe))


# ------------------------------------------------------------------------ probes
def _expand(x: Any) -> list[Any]:
    """The packets `x` stands for: one packet or bytes, or any iterable of them."""
    if isinstance(x, _BUFFER_TYPES) or isinstance(x, Packet):
        return [x]
    if type(x).__module__.startswith("scapy."):
        return list(x)  # a Scapy packet iterates over its expansions (IP(dst="10.0.0.0/24"))
    if isinstance(x, Layer):
        try:
            return list(x)  # a fastpkt layer being built expands the same way
        except TypeError:
            return [x]  # a dissected layer: its bytes
    if hasattr(x, "__bytes__"):
        return [x]
    if isinstance(x, str):
        raise TypeError("cannot send a str: give bytes, a packet, or a list of them")
    try:
        items = iter(x)
    except TypeError:
        raise TypeError("cannot send %s: give bytes, a packet (anything bytes() accepts) or a "
                        "list of them" % type(x).__name__) from None
    out: list[Any] = []
    for item in items:
        out.extend(_expand(item))
    return out


def _wire(objs: list[Any], what: str) -> list[Any]:
    out = []
    for i, o in enumerate(objs):
        b = o if isinstance(o, _BUFFER_TYPES) else bytes(o)
        if len(b) > 65535:
            raise ValueError("%s %d: %d bytes, over 65535" % (what, i, len(b)))
        out.append(b)
    return out


_ZERO_MAC, _ZERO_IP = bytes(6), bytes(4)


def _fill_link_sources(frames: list[Any], iface: str) -> list[Any]:
    """Scapy gives an unset Ether source the interface's MAC and an unset ARP hwsrc/psrc the
    interface's MAC and address; fastpkt's builders leave them zero, so here zero means
    unset (an ARP probe with psrc 0.0.0.0 on purpose goes out with the address filled)."""
    mac = addr = None
    out = []
    for b in frames:
        arp = len(b) >= 42 and b[12:14] == b"\x08\x06"
        if len(b) >= 14 and (b[6:12] == _ZERO_MAC or (arp and (b[22:28] == _ZERO_MAC or b[28:32] == _ZERO_IP))):
            if mac is None:
                mac = _mac(get_if_hwaddr(iface))
                addr = ipaddress.IPv4Address(get_if_addr(iface)).packed
            assert mac is not None and addr is not None
            f = bytearray(b)
            if f[6:12] == _ZERO_MAC:
                f[6:12] = mac
            if arp and f[22:28] == _ZERO_MAC:
                f[22:28] = mac
            if arp and f[28:32] == _ZERO_IP:
                f[28:32] = addr
            b = bytes(f)
        out.append(b)
    return out


def _query(obj: Any, raw: Any, linktype: int, sent: float | None) -> Any:
    """What a result shows as the sent packet: the caller's own object, or for bytes and
    fastpkt Packets a Packet whose time is the moment it was sent (Scapy's sent_time)."""
    if isinstance(obj, _BUFFER_TYPES):
        return Packet(bytes(raw), linktype=linktype, time=sent or 0.0)
    if isinstance(obj, Packet):
        return Packet(bytes(raw), linktype=obj.linktype, time=sent or 0.0)
    try:
        obj.sent_time = sent
    except (AttributeError, TypeError):
        pass
    return obj


def _verbose(verbose: Any) -> int:
    return conf.verb if verbose is None else int(verbose)


def _sndrcv(x: Any, l2_iface: str | None, capture_iface: str | None, filter: str | None,  # noqa: A002
            timeout: float | None, inter: float, retry: int, multi: bool, verbose: Any,
            store_unanswered: bool = True) -> tuple[SndRcvList, UnansweredList]:
    objs = _expand(x)
    raw = _wire(objs, "probe")
    if l2_iface:
        raw = _fill_link_sources(raw, l2_iface)
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be >= 0 or None, not %r" % (timeout,))
    if inter < 0:
        raise ValueError("inter must be >= 0, not %r" % (inter,))
    linktype = LINKTYPE_ETHERNET if l2_iface else LINKTYPE_RAW
    if not raw:
        return SndRcvList(), UnansweredList()
    session = _probe_open(capture_iface=capture_iface, filter=filter, l2_iface=l2_iface, multi=bool(multi))
    try:
        _probe_add(session, raw)
        autostop = 0
        if retry < 0:
            autostop = retry = -retry
        tobesent = list(range(len(raw)))
        while retry >= 0:
            _probe_run(session, tobesent, float(inter), timeout)
            remain = _probe_pending(session, tobesent)
            if autostop and remain and len(remain) != len(tobesent):
                retry = autostop
            tobesent = remain
            if not tobesent:
                break
            retry -= 1
        got, sent = _probe_results(session, l2_iface is None)
        answered = {i for i, _ in got}
        stats = _probe_stats(session)
    finally:
        _probe_close(session)
    ans = SndRcvList(QueryAnswer(_query(objs[i], raw[i], linktype, sent[i]), pkt, sent[i]) for i, pkt in got)
    unans = UnansweredList(_query(objs[i], raw[i], linktype, sent[i])
                           for i in range(len(raw)) if i not in answered) if store_unanswered else UnansweredList()
    if _verbose(verbose):
        print("Sent %d packets, received %d packets, got %d answers, remaining %d packets"
              % (stats["sent"], stats["captured"], len(ans), len(raw) - len(answered)))
        if stats["send_skipped"]:
            print("Warning: %d probes not sent: %s" % (stats["send_skipped"], os.strerror(stats["last_skip_errno"])),
                  file=sys.stderr)
        if stats["capture_dropped"]:
            print("Warning: the capture dropped %d packets (answers may be missing)"
                  % stats["capture_dropped"], file=sys.stderr)
    return ans, unans


# ------------------------------------------------------------------------ public API
def sr(x: Any, filter: str | None = None, iface: str | None = None, timeout: float | None = None,  # noqa: A002
       inter: float = 0, retry: int = 0, multi: bool = False, verbose: Any = None,
       store_unanswered: bool = True, **_scapy_only: Any) -> tuple[SndRcvList, UnansweredList]:
    """Send IP packets and collect their answers (Scapy's ``sr``): returns
    ``(answered, unanswered)``. timeout: seconds to wait after the last probe (None: until
    every probe is answered; Ctrl+C stops); inter: seconds between probes; retry: send the
    unanswered again this many times (negative: until -retry rounds in a row bring nothing
    new); multi: keep collecting answers for answered probes; iface: capture only there
    (default: all interfaces; the kernel's routing still picks where probes leave);
    filter: BPF for the capture (tcpdump syntax); verbose: None follows conf.verb."""
    return _sndrcv(x, None, iface, filter, timeout, inter, retry, multi, verbose, store_unanswered)


def sr1(x: Any, *args: Any, **kwargs: Any) -> Packet | None:
    """``sr`` returning the first answer (an IP-level fastpkt.Packet) or None."""
    ans, _ = sr(x, *args, **kwargs)
    return ans[0][1] if ans else None


def srp(x: Any, filter: str | None = None, iface: str | None = None, timeout: float | None = None,  # noqa: A002
        inter: float = 0, retry: int = 0, multi: bool = False, verbose: Any = None,
        store_unanswered: bool = True, **_scapy_only: Any) -> tuple[SndRcvList, UnansweredList]:
    """Send Ethernet frames on `iface` (default conf.iface) and collect the answers seen
    there (Scapy's ``srp``); arguments as ``sr``. Answers are whole frames. All-zero Ether and
    ARP source addresses take the interface's (Scapy's unset ones do)."""
    iface = iface or conf.iface
    return _sndrcv(x, iface, iface, filter, timeout, inter, retry, multi, verbose, store_unanswered)


def srp1(x: Any, *args: Any, **kwargs: Any) -> Packet | None:
    """``srp`` returning the first answer or None."""
    ans, _ = srp(x, *args, **kwargs)
    return ans[0][1] if ans else None


def _send_all(x: Any, l2_iface: str | None, inter: float, loop: int, count: int | None, verbose: Any,
          return_packets: bool) -> Any:
    objs = _expand(x)
    raw = _wire(objs, "packet")
    if l2_iface:
        raw = _fill_link_sources(raw, l2_iface)
    if inter < 0:
        raise ValueError("inter must be >= 0, not %r" % (inter,))
    if count is not None and count < 0:
        raise ValueError("count must be >= 0, not %r" % (count,))
    loops = count if count is not None else (1 << 62) if loop else 1
    sent = skipped = why = 0
    try:
        sent, skipped, why = _send(raw, l2_iface, float(inter), loops)
    except KeyboardInterrupt:
        if not loop:
            raise
    if _verbose(verbose):
        print("\nSent %d packets." % sent)
        if skipped:
            print("Warning: %d packets not sent: %s" % (skipped, os.strerror(why)), file=sys.stderr)
    return objs if return_packets else None


def send(x: Any, iface: str | None = None, inter: float = 0, loop: int = 0, count: int | None = None,
         verbose: Any = None, return_packets: bool = False, **_scapy_only: Any) -> Any:
    """Send IP packets through raw sockets (Scapy's ``send``): the kernel routes each one and
    picks its source when the packet's is 0.0.0.0. count: send each this many times; loop:
    send until Ctrl+C; inter: seconds between packets. `iface` is accepted for Scapy's sake;
    the route decides."""
    return _send_all(x, None, inter, loop, count, verbose, return_packets)


def sendp(x: Any, iface: str | None = None, inter: float = 0, loop: int = 0, count: int | None = None,
          verbose: Any = None, return_packets: bool = False, **_scapy_only: Any) -> Any:
    """Send Ethernet frames on `iface` (default conf.iface) as given (Scapy's ``sendp``), but
    for all-zero Ether and ARP source addresses, which take the interface's as Scapy's unset
    ones do."""
    return _send_all(x, iface or conf.iface, inter, loop, count, verbose, return_packets)


# ------------------------------------------------------------------------ helpers
def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _arp_who_has(src_mac: bytes, src_ip: bytes, target: bytes) -> bytes:
    """Ether(dst=broadcast)/ARP(pdst=target) as Scapy builds it (RFC 826 request)."""
    return (b"\xff" * 6 + src_mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
            + src_mac + src_ip + b"\x00" * 6 + target)


def arping(net: str, timeout: float = 2, iface: str | None = None, verbose: Any = None,
           **kwargs: Any) -> tuple[SndRcvList, UnansweredList]:
    """Who is on `net` ("10.0.0.0/24" or one address): an ARP request per address (every
    address of the network, as Scapy's Net), broadcast on the interface that routes there;
    prints "MAC IP" per answer when verbose. Returns (answered, unanswered)."""
    network = ipaddress.ip_network(net, strict=False)
    if network.version != 4:
        raise ValueError("arping needs an IPv4 network, not %r" % (net,))
    if iface is None:
        iface = route(str(network.network_address))[0] or conf.iface
    mac, ip = _mac(get_if_hwaddr(iface)), ipaddress.IPv4Address(get_if_addr(iface)).packed
    frames = [_arp_who_has(mac, ip, a.packed) for a in network]
    ans, unans = srp(frames, iface=iface, timeout=timeout, verbose=0, filter="arp", **kwargs)
    if _verbose(verbose):
        for _, r in ans:
            print("%s %s" % (r.arp.hwsrc, r.arp.psrc))
    return ans, unans


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return cast("int", ~s & 0xFFFF)


def _tcp_syn(src: bytes, dst: bytes, ttl: int, sport: int, dport: int, seq: int, ip_id: int) -> bytes:
    """IP(dst, id, ttl)/TCP(sport, dport, seq, flags="S") with Scapy's defaults."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 8192, 0, 0)
    csum = _checksum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0, ttl, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + tcp


class TracerouteResult(SndRcvList):
    """traceroute()'s answers: ``get_trace()`` maps target -> {ttl: (address, reached)} up
    to the first TTL that reached the target (Scapy's); ``show()`` prints one line per TTL."""

    name = "Traceroute"

    def get_trace(self) -> dict[str, dict[int, tuple[str, bool]]]:
        trace: dict[str, dict[int, tuple[str, bool]]] = {}
        for pair in self:
            ip = Packet(bytes(pair.query), linktype=LINKTYPE_RAW).ip
            assert ip is not None  # traceroute probes are IP
            r = pair.answer
            trace.setdefault(ip.dst, {})[ip.ttl] = (r.ip.src, r.icmp is None)
        for hops in trace.values():  # as Scapy: nothing past the first hop that is the target
            reached = [ttl for ttl, (_, final) in hops.items() if final]
            for ttl in [t for t in hops if reached and t > min(reached)]:
                del hops[ttl]
        return trace

    def show(self, prn: Any = None, lfilter: Any = None) -> None:
        """The hops per target (Scapy's traceroute table; prn and lfilter, which the other
        results' show() takes, do not apply to it)."""
        for target, hops in self.get_trace().items():
            print("traceroute to %s" % target)
            for ttl in sorted(hops):
                addr, reached = hops[ttl]
                print("%3d %-16s %s" % (ttl, addr, "SA/RA (reached)" if reached else "11 (time exceeded)"))


def traceroute(target: str, dport: int = 80, minttl: int = 1, maxttl: int = 30, sport: int | None = None,
               timeout: float = 2, verbose: Any = None, **kwargs: Any) -> tuple[TracerouteResult, UnansweredList]:
    """Scapy's TCP traceroute: a SYN to `dport` per TTL from minttl to maxttl, all sent at
    once; routers answer with ICMP time-exceeded (matched by the header they quote), the
    target with SYN-ACK or RST. Returns (TracerouteResult, unanswered); prints the hops
    when verbose."""
    if not 1 <= minttl <= maxttl <= 255:
        raise ValueError("need 1 <= minttl <= maxttl <= 255, got minttl=%r maxttl=%r" % (minttl, maxttl))
    dst = ipaddress.IPv4Address(target)
    src = route(str(dst))[1]
    if src is None:
        raise OSError("no route to %s" % target)
    rnd = random.Random()
    sport = sport if sport is not None else rnd.randrange(1024, 65536)
    probes = [_tcp_syn(ipaddress.IPv4Address(src).packed, dst.packed, ttl, sport, dport,
                       rnd.randrange(1 << 32), rnd.randrange(1 << 16))
              for ttl in range(minttl, maxttl + 1)]
    ans, unans = sr(probes, timeout=timeout, verbose=0, **kwargs)
    res = TracerouteResult(ans)
    if _verbose(verbose):
        res.show()
    return res, unans
