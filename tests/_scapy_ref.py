"""Reference dissection with Scapy (an independent implementation).

`extract(scapy_packet)` turns a Scapy packet into a plain, JSON-friendly dict
with the fields fastpkt also exposes. It is used twice:

* by tests/data/make_fixtures.py, to write tests/data/expected.json once;
* by tests/test_scapy_compare.py, live, on captures written with Scapy and on
  the corpus.

Nothing here imports fastpkt.
"""
from __future__ import annotations

import ipaddress
from typing import Any


def _load_scapy():
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.config import conf

    conf.verb = 0
    # Keep DNS dissection predictable: no mDNS/LLMNR special cases needed here.
    import scapy.all as sa  # noqa: F401

    return sa


sa = _load_scapy()

NAME_TYPES = {2: "NS", 5: "CNAME", 12: "PTR"}


def dns_name(v: Any) -> str:
    """Scapy gives b'www.example.com.'; fastpkt and tshark give 'www.example.com'."""
    if isinstance(v, bytes):
        v = v.decode("latin-1")
    v = str(v)
    if v.endswith(".") and v != ".":
        v = v[:-1]
    if v == ".":
        v = ""
    return v


def _rr(rr: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "rrname": dns_name(rr.rrname),
        "type": int(rr.type),
        "rclass": int(rr.rclass),
        "ttl": int(rr.ttl),
        "rdlen": int(rr.rdlen) if rr.rdlen is not None else None,
    }
    t = int(rr.type)
    if t == 1 or t == 28:
        d["rdata"] = str(rr.rdata)
    elif t in NAME_TYPES:
        d["rdata"] = dns_name(rr.rdata)
    elif t == 15:
        d["preference"] = int(rr.preference)
        d["exchange"] = dns_name(rr.exchange)
    elif t == 6:
        d.update(mname=dns_name(rr.mname), rname=dns_name(rr.rname), serial=int(rr.serial),
                 refresh=int(rr.refresh), retry=int(rr.retry), expire=int(rr.expire),
                 minimum=int(rr.minimum))
    elif t == 33:
        d.update(priority=int(rr.priority), weight=int(rr.weight), port=int(rr.port),
                 target=dns_name(rr.target))
    elif t == 16:
        vals = rr.rdata if isinstance(rr.rdata, list) else [rr.rdata]
        d["txt"] = [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in vals]
    return d


def _dns(dns: Any) -> dict[str, Any]:
    out = {k: int(getattr(dns, k)) for k in
           ("id", "qr", "opcode", "aa", "tc", "rd", "ra", "z", "ad", "cd", "rcode",
            "qdcount", "ancount", "nscount", "arcount")}
    out["qd"] = [{"qname": dns_name(q.qname), "qtype": int(q.qtype), "qclass": int(q.qclass)}
                 for q in (dns.qd or [])]
    for sec in ("an", "ns", "ar"):
        out[sec] = [_rr(r) for r in (getattr(dns, sec) or [])]
    return out


def _mac(v: Any) -> str:
    if isinstance(v, bytes):
        return ":".join(f"{b:02x}" for b in v[:6])
    return str(v).lower()


def _opts(opts: list) -> list:
    out = []
    for name, val in opts:
        if isinstance(val, tuple):
            val = list(val)
        elif isinstance(val, bytes):
            val = val.hex()
        out.append([name, val])
    return out


def extract(p: Any) -> dict[str, Any]:
    """Fields of a Scapy packet, keyed like fastpkt's layer attributes."""
    L = sa
    d: dict[str, Any] = {}
    if p.haslayer(L.Ether):
        e = p[L.Ether]
        d["eth"] = {"src": _mac(e.src), "dst": _mac(e.dst), "type": int(e.type)}
    if p.haslayer(L.CookedLinux):
        s = p[L.CookedLinux]
        d["sll"] = {"pkttype": int(s.pkttype), "hatype": int(s.lladdrtype),
                    "addr": _mac(s.src[: s.lladdrlen]) if s.lladdrlen else "",
                    "proto": int(s.proto), "ifindex": None}
    if p.haslayer(L.CookedLinuxV2):
        s = p[L.CookedLinuxV2]
        d["sll"] = {"pkttype": int(s.pkttype), "hatype": int(s.lladdrtype),
                    "addr": _mac(s.src[: s.lladdrlen]) if s.lladdrlen else "",
                    "proto": int(s.proto), "ifindex": int(s.ifindex)}
    if p.haslayer(L.Loopback):
        d["loopback"] = {"type": int(p[L.Loopback].type)}
    vl = []
    layer = p
    while layer is not None and not isinstance(layer, L.NoPayload):
        if isinstance(layer, (L.Dot1Q, L.Dot1AD)):
            ul = layer.underlayer
            tpid = int(ul.type) if ul is not None and hasattr(ul, "type") else None
            vl.append({"vlan": int(layer.vlan), "prio": int(layer.prio), "id": int(layer.dei),
                       "tpid": tpid, "type": int(layer.type)})
        layer = layer.payload
    if vl:
        d["vlans"] = vl
    if p.haslayer(L.ARP) and not _inside_error(p, L.ARP):
        a = p[L.ARP]
        d["arp"] = {"hwtype": int(a.hwtype), "ptype": int(a.ptype), "hwlen": int(a.hwlen),
                    "plen": int(a.plen), "op": int(a.op), "hwsrc": _mac(a.hwsrc),
                    "psrc": str(a.psrc), "hwdst": _mac(a.hwdst), "pdst": str(a.pdst)}
    if p.haslayer(L.IP) and not _inside_error(p, L.IP):
        i = p[L.IP]
        d["ip"] = {"version": int(i.version), "ihl": int(i.ihl), "tos": int(i.tos),
                   "len": int(i.len), "id": int(i.id), "flags": int(i.flags),
                   "DF": bool(int(i.flags) & 2), "MF": bool(int(i.flags) & 1),
                   "frag": int(i.frag), "ttl": int(i.ttl), "proto": int(i.proto),
                   "chksum": int(i.chksum), "src": str(i.src), "dst": str(i.dst)}
    if p.haslayer(L.IPv6) and not _inside_error(p, L.IPv6):
        i = p[L.IPv6]
        d["ip6"] = {"version": int(i.version), "tc": int(i.tc), "fl": int(i.fl),
                    "plen": int(i.plen), "nh": int(i.nh), "hlim": int(i.hlim),
                    "src": str(ipaddress.IPv6Address(i.src)),
                    "dst": str(ipaddress.IPv6Address(i.dst))}
    # Upper layers inside an IPv4 non-first fragment or an ICMP error are not
    # what fastpkt exposes (it decodes the outer packet only): stop there.
    if "ip" in d and p[L.IP].frag != 0:
        return d
    if p.haslayer(L.IPv6ExtHdrFragment) and p[L.IPv6ExtHdrFragment].offset != 0:
        return d
    if p.haslayer(L.TCP) and not _inside_error(p, L.TCP):
        t = p[L.TCP]
        d["tcp"] = {"sport": int(t.sport), "dport": int(t.dport), "seq": int(t.seq),
                    "ack": int(t.ack), "dataofs": int(t.dataofs), "reserved": int(t.reserved),
                    "flags": str(t.flags), "flags_int": int(t.flags), "window": int(t.window),
                    "chksum": int(t.chksum), "urgptr": int(t.urgptr),
                    "options": _opts(t.options)}
    if p.haslayer(L.UDP) and not _inside_error(p, L.UDP):
        u = p[L.UDP]
        d["udp"] = {"sport": int(u.sport), "dport": int(u.dport), "len": int(u.len),
                    "chksum": int(u.chksum)}
    if p.haslayer(L.ICMP) and not _inside_error(p, L.ICMP):
        c = p[L.ICMP]
        echo = int(c.type) in (0, 8, 13, 14, 15, 16, 17, 18)
        d["icmp"] = {"type": int(c.type), "code": int(c.code), "chksum": int(c.chksum),
                     "id": int(c.id) if echo else None, "seq": int(c.seq) if echo else None}
    for cls in ("ICMPv6EchoRequest", "ICMPv6EchoReply", "ICMPv6ND_NS", "ICMPv6ND_NA",
                "ICMPv6ND_RS", "ICMPv6ND_RA", "ICMPv6DestUnreach", "ICMPv6PacketTooBig",
                "ICMPv6TimeExceeded", "ICMPv6ParamProblem", "ICMPv6Unknown"):
        c_cls = getattr(L, cls)
        if p.haslayer(c_cls):
            c = p[c_cls]
            echo = int(c.type) in (128, 129)
            d["icmp6"] = {"type": int(c.type), "code": int(c.code), "chksum": int(c.cksum),
                          "id": int(c.id) if echo else None,
                          "seq": int(c.seq) if echo else None}
            break
    dns = dns_of(p) if not tunnelled(p) else None
    if dns is not None:
        d["dns"] = dns
    return d


def _inside_error(p: Any, cls: Any) -> bool:
    """True unless the first `cls` layer belongs to the outer packet: it comes after a
    second network header (a tunnel's inner packet, or the datagram quoted in an ICMP
    error), which fastpkt does not decode."""
    L = sa
    net = (L.IP, L.IPv6, L.IPerror, L.IPerror6)
    seen = 0
    layer = p
    while layer is not None and not isinstance(layer, L.NoPayload):
        if isinstance(layer, net) or (isinstance(layer, L.Ether) and layer is not p):
            seen += 1  # a network header, or an inner Ethernet frame (VXLAN, GRE TEB)
        if isinstance(layer, cls) and not isinstance(layer, (L.TCPerror, L.UDPerror,
                                                             L.ICMPerror)):
            return seen > 1
        layer = layer.payload
    return True


def tunnelled(p: Any) -> bool:
    """More than one network header (tunnel or ICMP error)."""
    L = sa
    net = (L.IP, L.IPv6, L.IPerror, L.IPerror6)
    n = 0
    layer = p
    while layer is not None and not isinstance(layer, L.NoPayload):
        if isinstance(layer, net):
            n += 1
        layer = layer.payload
    return n > 1


def dns_of(p: Any) -> dict[str, Any] | None:
    """DNS over UDP (Scapy's own binding) or over TCP (2-byte length prefix)."""
    L = sa
    try:
        if p.haslayer(L.UDP) and p.haslayer(L.DNS):
            return _dns(p[L.DNS])
        if p.haslayer(L.TCP) and 53 in (p[L.TCP].sport, p[L.TCP].dport):
            raw = bytes(p[L.TCP].payload)
            if len(raw) >= 14:
                return _dns(L.DNS(raw[2:]))
    except Exception:  # noqa: BLE001 - a reference that cannot parse gives no reference
        return None
    return None
