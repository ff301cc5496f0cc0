"""Capture summary (what ``fastpkt summary FILE`` and ``make demo`` print).

``summarize(source)`` reads the capture once, in batches of ``BATCH`` packets: each batch's
columns are built in C (``PacketList.to_pandas()``), folded into running counters and
dropped, so memory stays bounded whatever the capture's size (about one batch's DataFrame
plus the counters). Counters over small domains are exact (protocols, ports, anomalies).
Counters over open-ended keys (talkers, DNS names, SNIs, HTTP hosts) keep at most
``SKETCH_KEYS`` keys each (the Space-Saving algorithm): exact while a section has no more
distinct keys than that; past it the top entries are estimates (a count may be over by at
most the smallest kept count) and the section is listed in ``approximate``. The number of
distinct DNS names is exact up to ``SKETCH_KEYS`` and a lower bound beyond.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import fastpkt as fp

from .views import progress_callback

_PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 2: "IGMP", 47: "GRE", 50: "ESP",
                132: "SCTP"}
#: Packets per batch.
BATCH = 1 << 16
#: Keys kept per open-ended counter.
SKETCH_KEYS = 100_000


class TopCounter:
    """Space-Saving top-k counter (Metwally et al. 2005) fed with pre-aggregated counts."""

    def __init__(self, capacity: int = SKETCH_KEYS) -> None:
        self.capacity = capacity
        self.counts: dict[Any, int] = {}
        self.overflowed = False

    def add(self, items: Iterable[tuple[Any, int]]) -> None:
        counts = self.counts
        for key, n in items:
            if key in counts:
                counts[key] += n
            elif len(counts) < self.capacity:
                counts[key] = n
            else:  # replace the smallest: the newcomer inherits its count as possible error
                self.overflowed = True
                smallest = min(counts, key=counts.__getitem__)
                counts[key] = counts.pop(smallest) + n

    def top(self, n: int) -> list[tuple[Any, int]]:
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]


def _value_counts(series: Any) -> list[tuple[Any, int]]:
    counts = series.value_counts(dropna=True)
    return [(k, int(v)) for k, v in counts.items() if v > 0]


class _Summary:
    def __init__(self) -> None:
        self.packets = self.bytes = self.tcp_syn = self.tcp_rst = 0
        self.first: Any = None
        self.last: Any = None
        self.protocols = dict.fromkeys(("Ethernet", "IPv4", "IPv6", "TCP", "UDP", "ICMP", "ICMPv6",
                                        "ARP", "DNS", "HTTP", "TLS"), 0)
        self.other: dict[int, int] = {}
        self.talker_packets, self.talker_bytes = TopCounter(), TopCounter()
        self.ports: dict[tuple[int, int], int] = {}
        self.dns, self.sni, self.hosts = TopCounter(), TopCounter(), TopCounter()
        self.dns_names: set[str] = set()
        self.anomalies: dict[str, int] = {}

    def add(self, plist: Any) -> None:
        df = plist.to_pandas(progress=False)  # the caller draws the bar over the file
        n = len(df)
        if not n:
            return
        self.packets += n
        self.bytes += int(df["wirelen"].sum())
        first, last = df["time"].min(), df["time"].max()
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)
        self._protocols(plist, df)
        ip = df[df["src"].notna()]
        by_src = ip.groupby("src", observed=True)["wirelen"].agg(["size", "sum"])
        self.talker_packets.add((k, int(v)) for k, v in by_src["size"].items())
        self.talker_bytes.add((k, int(v)) for k, v in by_src["sum"].items())
        # towards services: the lower port is the server's (drops replies to ephemeral ports)
        l4 = df[df["dport"].notna() & (df["dport"] <= df["sport"])]
        for (p, d), c in l4.groupby(["proto", "dport"], observed=True).size().items():
            self.ports[(int(p), int(d))] = self.ports.get((int(p), int(d)), 0) + int(c)
        # DNS: names in queries (qr bit is not a column: count queries as packets to port 53)
        queries = df.loc[df["dns_qname"].notna() & (df["dport"] == 53), "dns_qname"].astype(object)
        names = _value_counts(queries)
        self.dns.add(names)
        for name, _ in names:
            if len(self.dns_names) < SKETCH_KEYS:
                self.dns_names.add(name)
        self.sni.add(_value_counts(df["tls_sni"].astype(object)))
        self.hosts.add(_value_counts(df["http_host"].astype(object)))
        anomalies = df["anomalies"].astype(object)
        anomalies = anomalies[anomalies.notna() & (anomalies != "")]
        if len(anomalies):
            for k, v in _value_counts(anomalies.str.split(",").explode()):
                self.anomalies[k] = self.anomalies.get(k, 0) + v
        flags = df["tcp_flags"]
        self.tcp_syn += int(((flags & 0x12) == 0x02).sum())
        self.tcp_rst += int(((flags & 0x04) != 0).sum())

    def _protocols(self, plist: Any, df: Any) -> None:
        """Packets per protocol: from the columns, and for the app-layer protocols (ARP, DNS,
        HTTP, TLS) from the layers of the packets that can hold them."""
        c = self.protocols
        c["Ethernet"] += int(df["eth_src"].notna().sum())
        c["IPv4"] += int((df["ip_version"] == 4).sum())
        c["IPv6"] += int((df["ip_version"] == 6).sum())
        for number, name in ((6, "TCP"), (17, "UDP"), (1, "ICMP"), (58, "ICMPv6")):
            c[name] += int((df["proto"] == number).sum())
        other = df.loc[df["proto"].notna() & ~df["proto"].isin([1, 6, 17, 58]), "proto"]
        for k, v in other.value_counts().items():
            self.other[int(k)] = self.other.get(int(k), 0) + int(v)
        maybe = (df["ip_version"] == 0) | (df["sport"].notna() & (df["payload_len"] > 0))
        for i in df.index[maybe.to_numpy(dtype=bool, na_value=False)]:
            layers = plist[int(i)].layers
            for name in ("ARP", "DNS", "HTTP", "TLS"):
                if name in layers:
                    c[name] += 1

    def result(self, info: dict[str, Any], top: int) -> dict[str, Any]:
        out: dict[str, Any] = {"packets": self.packets, "bytes": self.bytes, **info}
        if self.packets:
            out["first"], out["last"] = str(self.first), str(self.last)
            out["duration"] = float((self.last - self.first).total_seconds())
        else:
            out["first"] = out["last"] = None
            out["duration"] = 0.0
        out["protocols"] = self.protocols if self.packets else {}
        out["other_ip_protocols"] = {_PROTO_NAMES.get(k, str(k)): v for k, v in
                                     sorted(self.other.items(), key=lambda kv: -kv[1])}
        out["top_talkers_packets"] = self.talker_packets.top(top)
        out["top_talkers_bytes"] = self.talker_bytes.top(top)
        ports = sorted(self.ports.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        out["top_dst_ports"] = [("%s/%d" % (_PROTO_NAMES.get(p, str(p)).lower(), d), c) for (p, d), c in ports]
        out["dns_queries"] = self.dns.top(top)
        out["dns_names_unique"] = len(self.dns_names)
        out["tls_snis"] = self.sni.top(top)
        out["http_hosts"] = self.hosts.top(top)
        out["anomalies"] = sorted(self.anomalies.items(), key=lambda kv: -kv[1])[:top]
        out["tcp_syn"], out["tcp_rst"] = self.tcp_syn, self.tcp_rst
        sketches = {"top_talkers_packets": self.talker_packets, "top_talkers_bytes": self.talker_bytes,
                    "dns_queries": self.dns, "tls_snis": self.sni, "http_hosts": self.hosts}
        out["approximate"] = [k for k, s in sketches.items() if s.overflowed] + \
            (["dns_names_unique"] if len(self.dns_names) >= SKETCH_KEYS else [])
        return out


def summarize(source: Any, filter: str | None = None, top: int = 10,  # noqa: A002
              on_error: str = "raise", display_filter: Any = None,
              progress: bool | None | Callable[[int, int], Any] = None, batch_size: int = BATCH) -> dict[str, Any]:
    """Summarise a capture in one pass and bounded memory: returns a plain dict (see
    format_summary for the rendering; ``approximate`` lists sections estimated by a sketch)."""
    acc = _Summary()
    bar = progress_callback(progress, "summary")
    with fp.open(source, filter=filter, on_error=on_error, display_filter=display_filter) as reader:
        info = {"format": reader.format, "linktype": reader.linktype, "snaplen": reader.snaplen,
                "nanosecond": reader.nanosecond, "filter": filter}
        while True:
            chunk = reader.read_all(batch_size)
            if not len(chunk):
                break
            acc.add(chunk)
            chunk._release_pages()  # the layer walk touched its records: keep memory flat
            del chunk
            if bar is not None:
                bar(reader.position, reader.size)
    return acc.result(info, top)


def capture_info(source: Any, on_error: str = "raise",
                 progress: bool | None | Callable[[int, int], Any] = None) -> dict[str, Any]:
    """What capinfos tells about a capture, counted in C in one pass (GIL released, flat
    memory, no packet or column made): format, linktype, snaplen, nanosecond, compression,
    size (0 for streams), packets, bytes (on the wire: capinfos' "data size"),
    captured_bytes, untimed (records without a time), first/last (ns since the epoch, UTC, in file
    order; None without timed records), earliest/latest, time_ordered (capinfos' "strict
    time order"), linktypes (every interface's) and interfaces (linktype, snaplen, name,
    packets, bytes per pcapng interface; the pcap file's one), error (what stopped reading
    under on_error='stop') and skipped (bad records under on_error='skip')."""
    from ._fastpkt import _capture_info

    with fp.open(source, on_error=on_error) as reader:
        out = _capture_info(reader, progress_callback(progress, "info"))
        out.update(format=reader.format, linktype=reader.linktype, snaplen=reader.snaplen,
                   nanosecond=reader.nanosecond, compression=reader.compression, size=reader.size,
                   error=reader.error, skipped=reader.skipped)
    out["linktypes"] = sorted({i["linktype"] for i in out["interfaces"] if i["linktype"] is not None})
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
    if d.get("approximate"):
        lines.append("")
        lines.append("Estimated (more distinct keys than the %d a counter keeps): %s"
                     % (SKETCH_KEYS, ", ".join(d["approximate"])))
    return "\n".join(lines)
