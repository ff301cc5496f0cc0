"""Capture summary (what ``fastpkt summary FILE`` and ``make demo`` print).

``summarize(source)`` reads the capture once in C (``_fastpkt._summary``, csrc/py/summary.c):
every record is dissected as the packet table dissects it and folded into counters, with the
GIL released; no packet, table or DataFrame is made, so memory stays flat whatever the
capture's size. Counters over small domains are exact (protocols, ports, anomalies). Counters
over open-ended keys (talkers, DNS names, SNIs, HTTP hosts) keep at most ``SKETCH_KEYS`` keys
and ``SKETCH_KEY_BYTES`` bytes of names (those over 16 bytes) each: exact while a section fits,
past it a Space-Saving sketch whose top entries are estimates (a count may be over by at most
the smallest kept count, never under) and the section is listed in ``approximate``. The number
of distinct DNS names is exact up to ``SKETCH_KEYS`` and a lower bound beyond.
"""
from __future__ import annotations

import datetime
from typing import Any, Callable, Iterable

import fastpkt as fp

from .views import progress_callback

_PROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 2: "IGMP", 47: "GRE", 50: "ESP",
                132: "SCTP"}
#: Records read between two progress calls (the GIL is released for each such batch).
BATCH = 1 << 16
#: Keys kept per open-ended counter.
SKETCH_KEYS = 100_000
#: Bytes of names longer than 16 bytes kept per open-ended counter.
SKETCH_KEY_BYTES = 16 << 20
_SKETCHED = ("top_talkers_packets", "top_talkers_bytes", "dns_queries", "tls_snis", "http_hosts")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


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


def _time_str(ns: int) -> str:
    """A time in ns since the epoch as str(pandas.Timestamp(ns, tz="UTC")) spells it."""
    s, frac = divmod(ns, 1_000_000_000)
    text = str(_EPOCH + datetime.timedelta(seconds=s)).replace("+00:00", "")
    if frac % 1000:
        text += ".%09d" % frac
    elif frac:
        text += ".%06d" % (frac // 1000)
    return text + "+00:00"


def _top(pairs: list[tuple[str, int]], n: int) -> list[tuple[str, int]]:
    merged: dict[str, int] = {}
    for k, v in pairs:  # two byte strings may decode to one name (invalid UTF-8 replaced)
        merged[k] = merged.get(k, 0) + v
    return sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _result(c: dict[str, Any], info: dict[str, Any], top: int) -> dict[str, Any]:
    out: dict[str, Any] = {"packets": c["packets"], "bytes": c["bytes"], **info}
    if c["packets"]:
        first, last = c["first"], c["last"]
        out["first"], out["last"] = _time_str(first), _time_str(last)
        s, frac = divmod(last - first, 1_000_000_000)
        out["duration"] = s + frac / 1e9  # as pandas.Timedelta.total_seconds() sums it
    else:
        out["first"] = out["last"] = None
        out["duration"] = 0.0
    out["protocols"] = c["protocols"] if c["packets"] else {}
    out["other_ip_protocols"] = {_PROTO_NAMES.get(k, str(k)): v for k, v in
                                 sorted(c["other_ip_protocols"].items(), key=lambda kv: -kv[1])}
    out["top_talkers_packets"] = _top(c["top_talkers_packets"], top)
    out["top_talkers_bytes"] = _top(c["top_talkers_bytes"], top)
    ports = [((6, p), n) for p, n in c["tcp_ports"].items()] + [((17, p), n) for p, n in c["udp_ports"].items()]
    ports = sorted(ports, key=lambda kv: (-kv[1], kv[0]))[:top]
    out["top_dst_ports"] = [("%s/%d" % (_PROTO_NAMES[p].lower(), d), n) for (p, d), n in ports]
    out["dns_queries"] = _top(c["dns_queries"], top)
    out["dns_names_unique"] = c["dns_names_kept"]
    out["tls_snis"] = _top(c["tls_snis"], top)
    out["http_hosts"] = _top(c["http_hosts"], top)
    out["anomalies"] = sorted(c["anomalies"].items(), key=lambda kv: -kv[1])[:top]
    out["tcp_syn"], out["tcp_rst"] = c["tcp_syn"], c["tcp_rst"]
    out["approximate"] = [k for k in _SKETCHED if k in c["sketched"]] + \
        (["dns_names_unique"] if "dns_queries" in c["sketched"] else [])
    return out


def summarize(source: Any, filter: str | None = None, top: int = 10,  # noqa: A002
              on_error: str = "raise", display_filter: Any = None,
              progress: bool | None | Callable[[int, int], Any] = None, batch_size: int = BATCH) -> dict[str, Any]:
    """Summarise a capture in one pass and bounded memory: returns a plain dict (see
    format_summary for the rendering; ``approximate`` lists sections estimated by a sketch)."""
    from ._fastpkt import _summary

    bar = progress_callback(progress, "summary")
    with fp.open(source, filter=filter, on_error=on_error, display_filter=display_filter) as reader:
        info = {"format": reader.format, "linktype": reader.linktype, "snaplen": reader.snaplen,
                "nanosecond": reader.nanosecond, "filter": filter}
        counts = _summary(reader, SKETCH_KEYS, SKETCH_KEY_BYTES, batch_size, bar)
    return _result(counts, info, top)


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
