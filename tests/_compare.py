"""Compare a fastpkt Packet with the plain dict made by _scapy_ref.extract().

`diff_fields(pkt, ref)` returns a list of human-readable disagreements
("ip.ttl: fastpkt=63 scapy=64"); empty when they agree. Only the keys present in
`ref` are compared, so a caller can drop what it does not want checked.
"""
from __future__ import annotations

import ipaddress
from typing import Any

SIMPLE = {
    "eth": ("src", "dst", "type"),
    "sll": ("pkttype", "hatype", "addr", "proto", "ifindex"),
    "loopback": ("type",),
    "arp": ("hwtype", "ptype", "hwlen", "plen", "op", "hwsrc", "psrc", "hwdst", "pdst"),
    "ip": ("version", "ihl", "tos", "len", "id", "flags", "DF", "MF", "frag", "ttl", "proto",
           "chksum", "src", "dst"),
    "ip6": ("version", "tc", "fl", "plen", "nh", "hlim", "src", "dst"),
    "tcp": ("sport", "dport", "seq", "ack", "dataofs", "reserved", "window", "chksum",
            "urgptr"),
    "udp": ("sport", "dport", "len", "chksum"),
    "icmp": ("type", "code", "chksum", "id", "seq"),
    "icmp6": ("type", "code", "chksum", "id", "seq"),
}
DNS_HDR = ("id", "qr", "opcode", "aa", "tc", "rd", "ra", "z", "ad", "cd", "rcode", "qdcount",
           "ancount", "nscount", "arcount")


def _norm(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        try:
            a = ipaddress.ip_address(v)
            if a.version == 6:
                return str(a)
        except ValueError:
            pass
        return v.lower() if len(v) == 17 and v.count(":") == 5 else v
    return v


def norm_name(v: Any) -> str:
    if isinstance(v, bytes):
        v = v.decode("latin-1")
    v = str(v)
    return v[:-1] if v.endswith(".") and v != "." else ("" if v == "." else v)


def norm_options(opts: Any) -> list:
    out = []
    for name, val in opts:
        if isinstance(val, tuple):
            val = list(val)
        elif isinstance(val, (bytes, bytearray)):
            val = bytes(val).hex()
        out.append([name, val])
    return out


def _tokens(s: Any) -> list[str]:
    """Master-file (RFC 1035 5.1) tokens of an rdata text; names lose their final dot,
    the root name is '.'."""
    if isinstance(s, bytes):
        s = s.decode("latin-1")
    return [t if t == "." else norm_name(t.strip('"')) for t in str(s).split()]


def _name_tok(name: str) -> str:
    return name if name else "."


def rr_diff(where: str, ours: Any, ref: dict[str, Any]) -> list[str]:
    out = []
    for k in ("rrname", "type", "rclass", "ttl"):
        o = getattr(ours, k)
        r = ref[k]
        if k == "rrname":
            o = norm_name(o)
        if k == "rclass":  # mDNS cache-flush bit is not part of the class for Scapy
            o = o & 0x7FFF
            r = r & 0x7FFF
        if o != r:
            out.append(f"{where}.{k}: fastpkt={o!r} scapy={r!r}")
    if ref.get("rdlen") is not None and ours.rdlen != ref["rdlen"]:
        out.append(f"{where}.rdlen: fastpkt={ours.rdlen!r} scapy={ref['rdlen']!r}")
    if len(ours.rdata_raw) != ours.rdlen:
        out.append(f"{where}.rdata_raw: {len(ours.rdata_raw)} bytes, rdlen {ours.rdlen}")
    t = ref["type"]
    rd = ours.rdata
    if "rdata" in ref:
        o = _norm(norm_name(rd) if t in (2, 5, 12) else rd)
        if o != _norm(ref["rdata"]):
            out.append(f"{where}.rdata: fastpkt={rd!r} scapy={ref['rdata']!r}")
    elif t == 15:
        exp = [str(ref["preference"]), _name_tok(ref["exchange"])]
        if _tokens(rd) != exp:
            out.append(f"{where}.rdata (MX 'pref name'): fastpkt={rd!r} scapy={exp!r}")
    elif t == 6:
        exp = [_name_tok(ref["mname"]), _name_tok(ref["rname"])] + [str(ref[k]) for k in
                                              ("serial", "refresh", "retry", "expire",
                                               "minimum")]
        if _tokens(rd) != exp:
            out.append(f"{where}.rdata (SOA): fastpkt={rd!r} scapy={exp!r}")
    elif t == 33:
        exp = [str(ref["priority"]), str(ref["weight"]), str(ref["port"]),
               _name_tok(ref["target"])]
        if _tokens(rd) != exp:
            out.append(f"{where}.rdata (SRV): fastpkt={rd!r} scapy={exp!r}")
    elif t == 16:
        text = rd.decode("latin-1") if isinstance(rd, bytes) else str(rd)
        for s in ref["txt"]:
            if s not in text:
                out.append(f"{where}.rdata (TXT): {s!r} not in fastpkt={rd!r}")
    return out


def dns_diff(d: Any, ref: dict[str, Any]) -> list[str]:
    out = []
    for k in DNS_HDR:
        if getattr(d, k) != ref[k]:
            out.append(f"dns.{k}: fastpkt={getattr(d, k)!r} scapy={ref[k]!r}")
    if len(d.qd) != len(ref["qd"]):
        out.append(f"dns.qd: fastpkt has {len(d.qd)} questions, scapy {len(ref['qd'])}")
    for i, (q, rq) in enumerate(zip(d.qd, ref["qd"])):
        got = (norm_name(q.qname), q.qtype, q.qclass & 0x7FFF)
        exp = (rq["qname"], rq["qtype"], rq["qclass"] & 0x7FFF)
        if got != exp:
            out.append(f"dns.qd[{i}]: fastpkt={got!r} scapy={exp!r}")
    if ref["qd"] and norm_name(d.qname or "") != ref["qd"][0]["qname"]:
        out.append(f"dns.qname: fastpkt={d.qname!r} scapy={ref['qd'][0]['qname']!r}")
    for sec in ("an", "ns", "ar"):
        ours = getattr(d, sec)
        if len(ours) != len(ref[sec]):
            out.append(f"dns.{sec}: fastpkt has {len(ours)} records, scapy {len(ref[sec])}")
        for i, (o, r) in enumerate(zip(ours, ref[sec])):
            out += rr_diff(f"dns.{sec}[{i}]", o, r)
    return out


def diff_fields(pkt: Any, ref: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, attrs in SIMPLE.items():
        layer = getattr(pkt, key)
        if key not in ref:
            continue
        r = ref[key]
        if layer is None:
            out.append(f"{key}: fastpkt has no {key} layer, scapy has {r}")
            continue
        for a in attrs:
            if a not in r or r[a] is None and a not in ("id", "seq", "ifindex"):
                continue
            o = getattr(layer, a)
            if a == "flags" and key == "ip":
                o = int(o)
            if _norm(o) != _norm(r[a]):
                out.append(f"{key}.{a}: fastpkt={o!r} scapy={r[a]!r}")
    if "tcp" in ref and pkt.tcp is not None:
        t, r = pkt.tcp, ref["tcp"]
        if str(t.flags) != r["flags"]:
            out.append(f"tcp.flags str: fastpkt={str(t.flags)!r} scapy={r['flags']!r}")
        if int(t.flags) != r["flags_int"]:
            out.append(f"tcp.flags int: fastpkt={int(t.flags)!r} scapy={r['flags_int']!r}")
        if "options" in r and norm_options(t.options) != r["options"]:
            out.append(f"tcp.options: fastpkt={norm_options(t.options)!r} "
                       f"scapy={r['options']!r}")
    if "vlans" in ref:
        got = [(v.vlan, v.prio, v.id, v.type) for v in pkt.vlans]
        exp = [(v["vlan"], v["prio"], v["id"], v["type"]) for v in ref["vlans"]]
        if got != exp:
            out.append(f"vlans (vlan, prio, id, type): fastpkt={got} scapy={exp}")
        for i, (v, rv) in enumerate(zip(pkt.vlans, ref["vlans"])):
            if rv.get("tpid") is not None and v.tpid != rv["tpid"]:
                out.append(f"vlans[{i}].tpid: fastpkt={v.tpid:#x} scapy={rv['tpid']:#x}")
    elif pkt.vlans and ("eth" in ref and ref["eth"]["type"] not in (0x8100, 0x88A8, 0x9100)):
        out.append(f"vlans: fastpkt has {len(pkt.vlans)} tags, scapy none")
    if "dns" in ref:
        if pkt.dns is None:
            out.append("dns: fastpkt has no DNS layer, scapy has one")
        else:
            out += dns_diff(pkt.dns, ref["dns"])
    return out
