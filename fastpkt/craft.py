"""Scapy's helpers for built packets: ``raw``, ``hexdump`` and ``ls``.

    from fastpkt import IP, TCP
    from fastpkt.craft import hexdump, ls
    pkt = IP(dst="192.0.2.1") / TCP(dport=80, flags="S")
    hexdump(pkt)
    ls(TCP)

The layers themselves (constructors, ``/``, ``show()``, ``show2()``, ``copy()``) are the C
types of ``fastpkt._fastpkt``; these functions only format what they return.
"""
from __future__ import annotations

from typing import Any

__all__ = ["raw", "hexdump", "ls"]


def raw(pkt: Any) -> bytes:
    """The bytes of a packet or layer, as built (Scapy's ``raw``)."""
    return bytes(pkt)


def hexdump(pkt: Any, dump: bool = False) -> str | None:
    """Scapy's hexdump layout: offset, 16 bytes in hex, their printable ASCII."""
    data = bytes(pkt)
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexpart = " ".join("%02X" % b for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append("%04x  %-47s  %s" % (off, hexpart, text))
    out = "\n".join(lines)
    if dump:
        return out
    print(out)
    return None


def ls(obj: Any, dump: bool = False) -> str | None:
    """The fields of a layer class (name, kind, default) or of a layer (with its values)."""
    desc = getattr(obj, "fields_desc", None)
    if desc is None:
        raise TypeError("ls() takes a layer class or layer, not %r" % (obj,))
    lines = []
    for name, kind, default, bits, auto in desc:
        what = "%s (%d bits)" % (kind, bits) if kind in ("int", "TCP flags", "IP flags") else kind
        dflt = "(auto)" if auto and default is None else repr(default)
        line = "%-10s : %-22s = %s" % (name, what, dflt)
        if not isinstance(obj, type):
            line = "%-10s : %-22s = %-20r (%s)" % (name, what, getattr(obj, name), dflt)
        lines.append(line)
    out = "\n".join(lines)
    if dump:
        return out
    print(out)
    return None
