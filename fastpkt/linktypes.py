"""Link types fastpkt does not know, decoded by a rule registered at run time: DLT_USER0-15
(147-162) and any other link type whose records are a fixed-size header followed by IPv4,
IPv6, an Ethernet frame, or a protocol named by an EtherType inside that header. The rule
lives in the C core (csrc/dissect/link.c), so readers, engines, display filters and worker
threads decode such captures with no Python per packet, as tshark does with its `user_dlts`
preference."""
from __future__ import annotations

from typing import NamedTuple

from . import _fastpkt

__all__ = ["LinkType", "register_link_type", "link_types"]

# what may follow the header, as the C core numbers it (FP_LINK_NEXT_* in dissect.h)
_NEXT = {"ip": 1, "ipv4": 1, "ipv6": 2, "raw": 3, "ether": 4}
_ETHERTYPE = 5


class LinkType(NamedTuple):
    """A registered link type: its name, header length and what follows the header (`next`,
    or 'ethertype' with the EtherType's offset in the header)."""
    name: str
    header_len: int
    next: str
    ethertype_offset: int | None


_registered: dict[int, LinkType] = {}


def register_link_type(linktype: int, name: str, header_len: int = 0, *, ethertype_offset: int | None = None,
                       next: str | None = None) -> None:  # noqa: A002  (tshark's word for it)
    """Decode records of `linktype` as `header_len` bytes of header followed by `next`:
    'ip' (IPv4, tshark's "ip"), 'ipv6', 'raw' (IPv4 or IPv6 by the version nibble) or
    'ether' (an Ethernet frame); or, with `ethertype_offset`, by the big-endian EtherType at
    that offset of the header (IPv4, IPv6, ARP, VLAN tags, MPLS...). For the whole process,
    every Reader, engine and filter opened before or after; registering a link type again
    replaces its rule. Link types fastpkt decodes itself cannot be replaced (ValueError)::

        fp.register_link_type(147, "my-probe", header_len=8, next="ip")   # DLT_USER0
    """
    if not isinstance(name, str) or not name:
        raise TypeError("name must be a non-empty string")
    if (ethertype_offset is None) == (next is None):
        raise ValueError("give one of next= ('ip', 'ipv6', 'raw', 'ether') or ethertype_offset=")
    if next is not None and next not in _NEXT:
        raise ValueError("next=%r: expected one of 'ip', 'ipv6', 'raw', 'ether'" % (next,))
    code = _ETHERTYPE if next is None else _NEXT[next]
    _fastpkt._set_link_rule(linktype, code, header_len, -1 if ethertype_offset is None else ethertype_offset)
    _registered[linktype] = LinkType(name, header_len, "ethertype" if next is None else next, ethertype_offset)


def link_types() -> dict[int, LinkType]:
    """The link types registered with register_link_type, by number."""
    return dict(_registered)
