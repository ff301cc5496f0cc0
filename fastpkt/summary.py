"""Capture summary (what ``fastpkt summary FILE`` and ``make demo`` print).

``summarize(source)`` reads the capture once into a PacketList, turns it into a DataFrame built
in C (``to_pandas``) and aggregates with pandas: packets and bytes, capture span, packets per
protocol, top talkers, top destination ports, DNS names, TLS SNIs, HTTP hosts and anomalies.
"""
from __future__ import annotations

from typing import Any

import fastpkt as fp

_PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 2: "IGMP", 47: "GRE", 50: "ESP",
                132: "SCTP"}


def _top(series: Any, n: int) -> list[tuple[Any, int]]:
    counts = series.value_counts(dropna=True)
    counts = counts[counts > 0].head(n)
    return [(k, int(v)) for k, v in counts.items()]


def _layer_counts(plist: Any, df: Any) -> dict[str, int]:
    """Packets per protocol. Column-based where the DataFrame says it; the app-layer protocols
    (ARP, DNS, HTTP, TLS) come from the layer tuple each packet carries when the columns do
    not have them (a 'layers' column from C would make this a pure column pass)."""
    counts: dict[str, int] = {}
    ipv = df["ip_version"]
    proto = df["proto"]
    counts["Ethernet"] = int(df["eth_src"].notna().sum()) if "eth_src" in df else 0
    counts["IPv4"] = int((ipv == 4).sum())
    counts["IPv6"] = int((ipv == 6).sum())
    for number, name in ((6, "TCP"), (17, "UDP"), (1, "ICMP"), (58, "ICMPv6")):
        counts[name] = int((proto == number).sum())
    app = {"ARP": 0, "DNS": 0, "HTTP": 0, "TLS": 0}
    if "layers" in df:
        for name in app:
            app[name] = int(df["layers"].astype(str).str.contains(name, regex=False).sum())
    else:
        # Only packets that can hold these layers: non-IP frames (ARP) and TCP/UDP packets
        # with payload bytes.
        maybe = (df["ip_version"] == 0) | (df["sport"].notna() & (df["payload_len"] > 0))
        for i in df.index[maybe.to_numpy(dtype=bool, na_value=False)]:
            layers = plist[int(i)].layers
            for name in app:
                if name in layers:
                    app[name] += 1
    counts.update(app)
    return counts


def summarize(source: Any, filter: str | None = None, top: int = 10,  # noqa: A002
              on_error: str = "raise", display_filter: Any = None) -> dict[str, Any]:
    """Summarise a capture: returns a plain dict (see format_summary for the rendering)."""
    with fp.open(source, filter=filter, on_error=on_error, display_filter=display_filter) as reader:
        plist = reader.read_all()
        info = {"format": reader.format, "linktype": reader.linktype, "snaplen": reader.snaplen,
                "nanosecond": reader.nanosecond}
    df = plist.to_pandas()
    n = len(df)
    out: dict[str, Any] = {"packets": n, "bytes": int(df["wirelen"].sum()) if n else 0, **info,
                           "filter": filter}
    if n:
        first, last = df["time"].min(), df["time"].max()
        out["first"] = str(first)
        out["last"] = str(last)
        out["duration"] = float((last - first).total_seconds())
    else:
        out["first"] = out["last"] = None
        out["duration"] = 0.0
    out["protocols"] = _layer_counts(plist, df) if n else {}
    other = df.loc[df["proto"].notna() & ~df["proto"].isin([1, 6, 17, 58]), "proto"] if n else []
    out["other_ip_protocols"] = {_PROTO_NAMES.get(int(k), str(int(k))): int(v)
                                 for k, v in (other.value_counts().items() if n else [])}
    if n:
        ip = df[df["src"].notna()]
        by_src = ip.groupby("src", observed=True)["wirelen"].agg(["size", "sum"])
        out["top_talkers_packets"] = [(k, int(v)) for k, v in
                                      by_src["size"].sort_values(ascending=False).head(top).items()]
        out["top_talkers_bytes"] = [(k, int(v)) for k, v in
                                    by_src["sum"].sort_values(ascending=False).head(top).items()]
        # towards services: the lower port is the server's (drops replies to ephemeral ports)
        l4 = df[df["dport"].notna() & (df["dport"] <= df["sport"])]
        ports = l4.groupby(["proto", "dport"], observed=True).size().sort_values(ascending=False)
        out["top_dst_ports"] = [("%s/%d" % (_PROTO_NAMES.get(int(p), str(int(p))).lower(), int(d)), int(c))
                                for (p, d), c in ports.head(top).items()]
        # DNS: names in queries (qr bit is not a column: count queries as packets to port 53)
        dns = df[df["dns_qname"].notna()]
        queries = dns[dns["dport"] == 53] if len(dns) else dns
        out["dns_queries"] = _top(queries["dns_qname"].astype(object), top)
        out["dns_names_unique"] = int(queries["dns_qname"].astype(object).nunique())
        out["tls_snis"] = _top(df["tls_sni"].astype(object), top)
        out["http_hosts"] = _top(df["http_host"].astype(object), top)
        anomalies = df["anomalies"].astype(object)
        anomalies = anomalies[anomalies.notna() & (anomalies != "")]
        split = anomalies.str.split(",").explode() if len(anomalies) else anomalies
        out["anomalies"] = _top(split, top) if len(split) else []
        flags = df["tcp_flags"]
        out["tcp_syn"] = int(((flags & 0x12) == 0x02).sum())
        out["tcp_rst"] = int(((flags & 0x04) != 0).sum())
    else:
        for key in ("top_talkers_packets", "top_talkers_bytes", "top_dst_ports", "dns_queries",
                    "tls_snis", "http_hosts", "anomalies"):
            out[key] = []
        out["dns_names_unique"] = out["tcp_syn"] = out["tcp_rst"] = 0
    return out


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    return str(n)


def _table(title: str, rows: list[tuple[Any, Any]], value_fmt: Any = str) -> list[str]:
    lines = [title]
    if not rows:
        lines.append("  (none)")
        return lines
    width = max(len(str(k)) for k, _ in rows)
    for k, v in rows:
        lines.append("  %-*s  %s" % (width, k, value_fmt(v)))
    return lines


def format_summary(d: dict[str, Any]) -> str:
    """Render summarize()'s dict as text."""
    lines = []
    head = "%d packets, %s" % (d["packets"], _human_bytes(d["bytes"]))
    if d.get("filter"):
        head += "  (filter: %s)" % d["filter"]
    lines.append(head)
    lines.append("format %s, link type %s, snaplen %s" % (d.get("format"), d.get("linktype"),
                                                          d.get("snaplen")))
    if d.get("first"):
        lines.append("span   %s .. %s (%.3f s)" % (d["first"], d["last"], d["duration"]))
    lines.append("")
    protos = [(k, v) for k, v in d.get("protocols", {}).items() if v]
    protos += list(d.get("other_ip_protocols", {}).items())
    lines += _table("Packets per protocol", protos)
    lines.append("")
    lines += _table("Top talkers (packets)", d["top_talkers_packets"])
    lines.append("")
    lines += _table("Top talkers (bytes)", d["top_talkers_bytes"], _human_bytes)
    lines.append("")
    lines += _table("Top destination ports (towards services)", d["top_dst_ports"])
    lines.append("")
    lines += _table("DNS names queried (%d unique)" % d["dns_names_unique"], d["dns_queries"])
    lines.append("")
    lines += _table("TLS SNI", d["tls_snis"])
    lines.append("")
    lines += _table("HTTP hosts", d["http_hosts"])
    lines.append("")
    lines.append("TCP: %d SYN (connection attempts), %d RST" % (d["tcp_syn"], d["tcp_rst"]))
    lines += _table("Anomalies", d["anomalies"])
    return "\n".join(lines)
