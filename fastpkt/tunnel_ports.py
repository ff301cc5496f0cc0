"""The UDP ports VXLAN, Geneve and GTP-U are decoded on, for the whole process (Wireshark's
"Decode As"): Linux's VXLAN devices default to port 8472, some Geneve and GTP-U deployments
use their own. The table lives in the C core (csrc/dissect/tunnel.c), so readers, engines,
display filters and worker threads use it with no Python per packet."""
from __future__ import annotations

from types import MappingProxyType
from typing import Iterable, Mapping

from . import _fastpkt

__all__ = ["set_tunnel_ports", "tunnel_ports", "DEFAULT_TUNNEL_PORTS"]

DEFAULT_TUNNEL_PORTS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {"vxlan": (4789,), "geneve": (6081,), "gtpu": (2152,)})
_TYPES = {"vxlan": 3, "geneve": 4, "gtpu": 5}  # FP_TUN_VXLAN, FP_TUN_GENEVE, FP_TUN_GTPU
_current = dict(DEFAULT_TUNNEL_PORTS)


def set_tunnel_ports(*, vxlan: Iterable[int] | None = None, geneve: Iterable[int] | None = None,
                     gtpu: Iterable[int] | None = None) -> None:
    """Decode UDP from or to these ports as VXLAN, Geneve or GTP-U (when both ports are in the
    table, the lower one's kind, as tshark's UDP port table decides); a kind left None keeps its
    ports, an empty tuple turns it off. For every Reader, engine and filter of the process::

        fp.set_tunnel_ports(vxlan=(4789, 8472))
        fp.set_tunnel_ports(**fp.DEFAULT_TUNNEL_PORTS)   # back to 4789, 6081, 2152
    """
    new = dict(_current)
    for kind, ports in (("vxlan", vxlan), ("geneve", geneve), ("gtpu", gtpu)):
        if ports is not None:
            new[kind] = tuple(dict.fromkeys(int(p) for p in ports))
    owner: dict[int, str] = {}
    for kind, ports in new.items():
        for p in ports:
            if owner.setdefault(p, kind) != kind:
                raise ValueError("UDP port %d given to both %s and %s" % (p, owner[p], kind))
    _fastpkt._set_udp_tunnel_ports([(p, _TYPES[kind]) for kind, ports in new.items() for p in ports])
    _current.update(new)


def tunnel_ports() -> dict[str, tuple[int, ...]]:
    """The UDP ports each encapsulation is decoded on now."""
    return dict(_current)
