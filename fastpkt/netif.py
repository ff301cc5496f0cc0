"""Interfaces, addresses and routes, the way Scapy's ``conf`` and ``get_if_*`` present them.

    from fastpkt import conf, get_if_list, get_if_addr, get_if_hwaddr
    conf.iface                 # the default route's interface (Scapy's choice), else "lo"
    get_if_addr(conf.iface)    # "10.0.0.2" ("0.0.0.0" when it has no IPv4 address)
    get_if_hwaddr("eth0")      # "02:42:ac:11:00:02"
    route("10.1.2.3")          # ("eth0", "10.0.0.2", "10.0.0.1"): interface, source, gateway

Everything is read from the kernel of the calling process's network namespace when asked
(/proc/net/route, ioctl, a connected UDP socket for source selection), never cached, so a
script run with ``ip netns exec`` sees that namespace's interfaces.
"""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

__all__ = ["conf", "Conf", "get_if_list", "get_if_addr", "get_if_hwaddr", "get_working_if", "route"]

_SIOCGIFADDR = 0x8915
_SIOCGIFHWADDR = 0x8927
_RTF_UP = 0x1
_RTF_GATEWAY = 0x2


def get_if_list() -> list[str]:
    """Interface names in index order (Scapy: ``get_if_list()``)."""
    return [name for _, name in sorted(socket.if_nameindex())]


def _ioctl(iface: str, request: int) -> bytes:
    if not isinstance(iface, str) or not iface or len(iface) >= 16:
        raise ValueError("iface must be an interface name, not %r" % (iface,))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return fcntl.ioctl(s.fileno(), request, struct.pack("256s", iface.encode()))


def get_if_addr(iface: str) -> str:
    """The interface's IPv4 address, "0.0.0.0" when it has none (as Scapy answers).
    An unknown interface raises ValueError."""
    if iface not in get_if_list():
        raise ValueError("no such interface %r; get_if_list() lists them" % (iface,))
    try:
        return socket.inet_ntoa(_ioctl(iface, _SIOCGIFADDR)[20:24])
    except OSError:
        return "0.0.0.0"


def get_if_hwaddr(iface: str) -> str:
    """The interface's MAC address as "aa:bb:cc:dd:ee:ff" (all zeros for loopback)."""
    if iface not in get_if_list():
        raise ValueError("no such interface %r; get_if_list() lists them" % (iface,))
    return ":".join("%02x" % b for b in _ioctl(iface, _SIOCGIFHWADDR)[18:24])


def _host_word(h: str) -> int:
    """/proc/net/route's addresses are the raw 32-bit words in host byte order, as hex."""
    word: int = struct.unpack("!I", struct.pack("=I", int(h, 16)))[0]
    return word


def _routes() -> list[tuple[int, int, str, int, int]]:
    """IPv4 routes as (network, mask, iface, gateway, metric), from /proc/net/route."""
    out: list[tuple[int, int, str, int, int]] = []
    try:
        with open("/proc/net/route") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return out
    for ln in lines:
        p = ln.split()
        if len(p) < 8 or not int(p[3], 16) & _RTF_UP:
            continue
        gw = _host_word(p[2]) if int(p[3], 16) & _RTF_GATEWAY else 0
        out.append((_host_word(p[1]), _host_word(p[7]), p[0], gw, int(p[6])))
    return out


def _source_for(dst: str) -> str | None:
    """The source address the kernel picks for `dst` (a connected UDP socket sends nothing)."""
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.connect((dst, 9))
            addr: str = s.getsockname()[0]
            return addr
    except OSError:
        return None


def route(dst: str) -> tuple[str | None, str | None, str | None]:
    """(interface, source address, gateway or None) the kernel would use for IPv4 `dst`:
    the longest matching prefix of the main table (lowest metric among equals) and the
    source address of the kernel's own choice. Local addresses route through "lo"."""
    addr = int(ipaddress.IPv4Address(dst))
    src = _source_for(dst)
    if src == dst or addr >> 24 == 127:
        return "lo", src, None
    best = None
    for net, mask, iface, gw, metric in _routes():
        if addr & mask == net:
            key = (bin(mask).count("1"), -metric)
            if best is None or key > best[0]:
                best = (key, iface, gw)
    if best is None:
        return None, src, None
    _, iface, gw = best
    return iface, src, (str(ipaddress.IPv4Address(gw)) if gw else None)


def get_working_if() -> str:
    """The default route's interface (lowest metric), else the first interface that is up
    and not loopback, else "lo": Scapy's choice of ``conf.iface``."""
    defaults = sorted((metric, iface) for net, mask, iface, _, metric in _routes() if mask == 0)
    if defaults:
        return defaults[0][1]
    for name in get_if_list():
        if name == "lo":
            continue
        try:
            with open("/sys/class/net/%s/operstate" % name) as f:
                if f.read().strip() in ("up", "unknown"):
                    return name
        except OSError:
            continue
    return "lo"


class Conf:
    """Scapy's ``conf``, for what fastpkt uses: ``iface`` (default interface of srp,
    sendp, arping; the default route's interface until set), ``verb`` (verbosity of
    send/sr when their ``verbose`` is None: 0 silent, Scapy's default 2 prints counts)."""

    def __init__(self) -> None:
        self._iface: str | None = None
        self.verb = 2

    @property
    def iface(self) -> str:
        return self._iface if self._iface is not None else get_working_if()

    @iface.setter
    def iface(self, name: str | None) -> None:
        if name is not None and name not in get_if_list():
            raise ValueError("no such interface %r; get_if_list() lists them" % (name,))
        self._iface = name

    def __repr__(self) -> str:
        return "<fastpkt.conf iface=%r verb=%d>" % (self.iface, self.verb)


conf = Conf()
