"""Notebook views (``_repr_html_``) of fastpkt's objects, and the progress bar.

Tables show their most useful columns first (time, 5-tuple, protocol, length, state,
packets, bytes, SNI/host), hide columns that are empty in the rows shown, and keep at most
``MAX_COLUMNS``. Objects whose rows come from reading a capture once (engines not read yet,
``fp.http()``) show what they are and how to get the rows, never consuming them.
"""
from __future__ import annotations

import html as _html
import importlib
import sys
import time
from typing import Any, Callable, Sequence, cast

from . import _fastpkt as C
from . import frames

ROWS = 20
MAX_COLUMNS = 14
LEFT = ' style="text-align:left"'

PACKET_ORDER = ("time", "src", "sport", "dst", "dport", "proto", "wirelen", "tcp_flags", "dns_qname",
                "tls_sni", "http_host", "anomalies", "vlan", "ttl", "payload_len", "eth_src", "eth_dst")
FLOW_ORDER = ("first_seen", "src_ip", "src_port", "dst_ip", "dst_port", "protocol_name", "conn_state",
              "packets", "bytes", "duration", "sni", "http_host", "dns_qname", "history", "anomalies",
              "expiration", "vlan")
STREAM_ORDER = ("first_seen", "client_ip", "client_port", "server_ip", "server_port", "state",
                "client_bytes", "server_bytes", "client_packets", "server_packets", "client_gap_bytes",
                "server_gap_bytes", "anomalies")
HELLO_ORDER = ("time", "client_ip", "client_port", "server_ip", "server_port", "transport", "sni", "alpn",
               "version_name", "ja3_hash", "ja4", "server_version", "anomalies")
DNS_ORDER = ("ts", "orig_h", "orig_p", "resp_h", "resp_p", "proto", "query", "qtype_name", "rcode_name",
             "answers", "rtt", "trans_id", "responses", "anomalies")
HTTP_ORDER = ("client_ip", "client_port", "server_ip", "server_port", "method", "host", "uri", "status",
              "content_type", "response_body_len", "body_complete", "anomalies")


def _empty(series: Any) -> bool:
    """No value worth a column: all missing, empty strings or empty sequences."""
    for v in series.astype(object):
        if v is None or (isinstance(v, float) and v != v):
            continue
        if isinstance(v, (str, bytes, tuple, list)) and len(v) == 0:
            continue
        try:
            if v != v:  # pandas NA / NaT
                continue
        except TypeError:
            continue
        return False
    return True


def frame_html(df: Any, order: Sequence[str], rows: int = ROWS) -> str:
    """The first rows of a DataFrame: ``order`` first, empty columns hidden, left-aligned."""
    head = df.head(rows)
    cols = [c for c in order if c in head.columns] + [c for c in head.columns if c not in order]
    cols = [c for c in cols if not _empty(head[c])][:MAX_COLUMNS]
    return cast("str", head[cols].to_html(index=False, na_rep="", justify="left"))


def _title(name: str, detail: str) -> str:
    return "<p><b>%s</b> %s</p>" % (_html.escape(name), _html.escape(detail))


def _kv_table(items: Sequence[tuple[str, Any]]) -> str:
    rows = "".join("<tr><th%s>%s</th><td%s>%s</td></tr>" % (LEFT, _html.escape(k), LEFT, _html.escape(str(v)))
                   for k, v in items if v is not None and v != () and v != "")
    return "<table>%s</table>" % rows


def hexdump_html(data: bytes, limit: int = 256) -> str:
    """Offset, hex and ASCII, 16 bytes a line, left-aligned (a table cell is right-aligned)."""
    lines = []
    for off in range(0, min(len(data), limit), 16):
        chunk = data[off:off + 16]
        hexpart = " ".join("%02x" % b for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append("%04x  %-47s  %s" % (off, hexpart, text))
    if len(data) > limit:
        lines.append("... %d more bytes" % (len(data) - limit))
    return '<pre style="text-align:left; margin:0">%s</pre>' % _html.escape("\n".join(lines))


# ---- one view per object ------------------------------------------------------------

def packetlist_html(plist: Any) -> str:
    n = len(plist)
    title = _title("PacketList", "%d packets%s" % (n, " (first %d shown)" % ROWS if n > ROWS else ""))
    try:
        return title + frame_html(frames.to_pandas(plist[:ROWS]), PACKET_ORDER)
    except ImportError:
        return title + "<pre>%s</pre>" % _html.escape(plist[:ROWS].summary())


def flows_html(fl: Any) -> str:
    try:
        df = fl.to_pandas()
    except (ImportError, RuntimeError, TypeError) as exc:  # streamed: nothing kept to show
        return "<pre>%s</pre>" % _html.escape("%r\n%s" % (fl, exc))
    st = fl.stats
    ended = ", ".join("%s %d" % kv for kv in st["flows_expired"].items() if kv[1])
    title = _title("Flows", "%d flows from %d packets (%s)" % (len(df), st["packets"], ended))
    return title + frame_html(df, FLOW_ORDER)


def stream_html(s: Any) -> str:
    rows = []
    for name, nbytes, pkts, gaps, data in (
            ("client", s.client_bytes, s.client_packets, s.client_gaps, s.client_data if s.stored else b""),
            ("server", s.server_bytes, s.server_packets, s.server_gaps, s.server_data if s.stored else b"")):
        info = "%d bytes, %d packets, %d gaps (%d bytes missing)" % (
            nbytes, pkts, len(gaps), sum(g.length for g in gaps))
        rows.append("<tr><th%s>%s</th><td%s>%s</td></tr><tr><td></td><td%s>%s</td></tr>" % (
            LEFT, name, LEFT, _html.escape(info), LEFT, hexdump_html(data)))
    title = "%s:%d -> %s:%d  %s%s" % (s.client_ip, s.client_port, s.server_ip, s.server_port, s.state,
                                      "  " + ", ".join(s.anomalies) if s.anomalies else "")
    return _title("Stream %d" % s.stream_id, title) + "<table>%s</table>" % "".join(rows)


def hello_html(h: Any) -> str:
    fields = [(name, getattr(h, name)) for name in HELLO_ORDER if name != "time"]
    fields += [(name, getattr(h, name)) for name in C.HELLO_FIELDS if name not in HELLO_ORDER]
    fields = [(k, ", ".join(map(str, v)) if isinstance(v, tuple) else v) for k, v in fields]
    return _title("ClientHello", "%s -> %s" % (h.client_ip, h.sni or h.server_ip)) + _kv_table(fields)


def dns_html(t: Any) -> str:
    fields = [(name, getattr(t, name)) for name in DNS_ORDER if name != "ts"]
    fields += [(name, getattr(t, name)) for name in C.DNS_FIELDS if name not in DNS_ORDER]
    fields = [(k, ", ".join(map(str, v)) if isinstance(v, tuple) else v) for k, v in fields]
    return _title("DnsTransaction", "%s %s %s" % (t.qtype_name or "", t.query or "", t.rcode_name or "unanswered")) + \
        _kv_table(fields)


def flow_html(f: Any) -> str:
    fields = [(name, getattr(f, name)) for name in FLOW_ORDER] + \
             [(name, getattr(f, name)) for name in C.FLOW_COLUMNS if name not in FLOW_ORDER]
    return _title("Flow %d" % f.flow_id, "%s -> %s" % (f.src_ip, f.dst_ip)) + _kv_table(fields)


def reader_html(r: Any) -> str:
    name = "Capture" if hasattr(r, "iface") else "Reader"
    items: list[tuple[str, Any]] = []
    if name == "Capture":
        items += [("interface", r.iface), ("filter", r.filter)]
    items += [("format", r.format), ("linktype", r.linktype), ("snaplen", r.snaplen),
              ("compression", r.compression), ("packets read", r.packets_read),
              ("position", "%d of %d bytes" % (r.position, r.size) if r.size else r.position),
              ("closed", r.closed or None)]
    if name == "Capture" and not r.closed:
        items += list(r.stats().items())
    return _title(name, "") + _kv_table(items)


#: A layer's Wireshark protocol name where it is not its class name in lower case.
WS_PROTOCOL = {"Ether": "eth", "Dot1Q": "vlan"}
#: Field names that differ from Wireshark's and hold the same value (ihl, dataofs and frag
#: count words, not bytes as Wireshark's hdr_len and frag_offset: they keep their own names).
WS_FIELDS = {
    "ip": {"tos": "dsfield", "chksum": "checksum"},
    "ipv6": {"tc": "tclass", "fl": "flow", "nh": "nxt"},
    "tcp": {"sport": "srcport", "dport": "dstport", "seq": "seq_raw", "ack": "ack_raw",
            "window": "window_size_value", "chksum": "checksum", "urgptr": "urgent_pointer"},
    "udp": {"sport": "srcport", "dport": "dstport", "len": "length", "chksum": "checksum"},
    "icmp": {"chksum": "checksum", "id": "ident"},
    "arp": {"hwtype": "hw.type", "ptype": "proto.type", "hwlen": "hw.size", "plen": "proto.size",
            "op": "opcode", "hwsrc": "src.hw_mac", "psrc": "src.proto_ipv4", "hwdst": "dst.hw_mac",
            "pdst": "dst.proto_ipv4"},
    "vlan": {"prio": "priority", "vlan": "id", "type": "etype"},
}


def _ws_name(proto: str, field: str, known: frozenset[str]) -> str:
    name = "%s.%s" % (proto, WS_FIELDS.get(proto, {}).get(field, field))
    return name if name in known else field


def layer_html(layer: Any) -> str:
    """A layer's fields as (name, value) rows: the Wireshark name where the registry has one."""
    if not isinstance(layer.fields, tuple):  # fastpkt.scapy's layers: Scapy's fields dict and text
        return "<pre>%s</pre>" % _html.escape(repr(layer))
    proto = WS_PROTOCOL.get(layer.name, layer.name.lower())
    known = frozenset(C.field_names())
    items = [(_ws_name(proto, k, known), v.hex() if isinstance(v, (bytes, bytearray)) else v)
             for k, v in layer.fields_dict().items()]
    return _title(layer.name, "%d header bytes at offset %d" % (layer.header_len, layer.offset)) + _kv_table(items)


def ppp_control_html(cp: Any) -> str:
    """A PPP control packet: its header as tshark names it, then one row per option (its
    tshark field, or its type, with the decoded value; '(invalid)' where the length lies)."""
    proto = cp.name.lower()
    items: list[tuple[str, Any]] = [("ppp.code", cp.code), ("ppp.identifier", cp.identifier),
                                    ("ppp.length", cp.length), ("lcp.magic_number", cp.magic_number),
                                    ("lcp.rej_proto", cp.rejected_protocol)]
    for o in cp.options:
        key = o.field or "%s.opt.type %d" % (proto, o.type)
        value = o.value if o.value is not None else o.data.hex()
        items.append((key, value if o.valid else "%s (invalid)" % (value,)))
    return _title(cp.name, "%d bytes at offset %d%s" % (len(cp.raw), cp.offset,
                                                         ", malformed" if cp.malformed else "")) + _kv_table(items)


def writer_html(w: Any) -> str:
    items: list[tuple[str, Any]] = [("path", w.path if w.path is not None else "(a file object)")]
    if not w.closed:  # a closed Writer no longer answers for its format and bytes
        items += [("format", w.format), ("linktype", w.linktype), ("bytes written", w.bytes_written)]
    items += [("packets written", w.packets_written), ("closed", w.closed)]
    return _title("Writer", "closed" if w.closed else "open") + _kv_table(items)


def engine_html(obj: Any, order: Sequence[str]) -> str:
    """An engine not kept: its counters (reading it here would consume it)."""
    hint = "iterate it for records, or to_pandas() / to_arrow() / DuckDB / Polars for a table"
    st = obj.stats
    items = [("packets read", st["packets"]), ("finished", st["finished"]), ("memory", st["memory_bytes"])]
    return _title(type(obj).__name__, hint) + _kv_table(items) + \
        "<p>columns: %s, ...</p>" % _html.escape(", ".join(order[:8]))


def http_messages_html(msgs: Any) -> str:
    title = _title("HttpMessages", "%d messages of one connection, one row per request" % len(msgs))
    try:
        return title + frame_html(msgs.to_pandas(), HTTP_ORDER)
    except ImportError:
        return title + "<pre>%s</pre>" % _html.escape("\n".join(map(repr, msgs[:ROWS])))


def http_message_html(m: Any) -> str:
    """A request or response: its line, where it went, its head and its body (hex + ASCII)."""
    from .http import HttpRequest

    if isinstance(m, HttpRequest):
        title = _title("HttpRequest", "%s %s %s" % (m.method, m.uri, m.version))
        items: list[tuple[str, Any]] = [("host", m.host)]
    else:
        title = _title("HttpResponse", "%s %d %s" % (m.version, m.status, m.reason))
        items = []
    if m.client_ip is not None:
        items.append(("connection", "%s:%s -> %s:%s" % (m.client_ip, m.client_port, m.server_ip, m.server_port)))
    items += [("content_type", m.content_type), ("body", "%d bytes%s" % (len(m.body), "" if m.body_complete
                                                                          else ", incomplete")),
              ("framing", m.framing), ("body_missing", m.body_missing or None),
              ("decode_error", m.decode_error), ("anomalies", ", ".join(m.anomalies))]
    items += [(name, value) for name, value in m.headers.items()]
    return title + _kv_table(items) + hexdump_html(m.body)


def stats_html(st: Any) -> str:
    """fp.stats(): its counters and the tables it answers (each computed on asking)."""
    items = [("frames", st.frames), ("bytes", st.bytes), ("interval", st.interval),
             ("filters", ", ".join(map(str, st.filters))),
             ("cut by a bound", ", ".join("%s %d" % kv for kv in st.cut.items() if kv[1]))]
    return _title("Stats", "phs(), conversations(layer), endpoints(layer), io(), dns(), http(), z(spec)") + \
        _kv_table(items)


def html(obj: Any) -> str:
    """The notebook view of any fastpkt object (what ``_repr_html_`` returns)."""
    from .http import HttpMessage, HttpMessages, HttpTable
    from .stats import Stats, StatsTable

    views: tuple[tuple[type, Callable[[Any], str]], ...] = (
        (C.PacketList, packetlist_html),
        (C.Reader, reader_html),
        (C.Flows, flows_html),
        (C.Streams, lambda o: engine_html(o, STREAM_ORDER)),
        (C.ClientHellos, lambda o: engine_html(o, HELLO_ORDER)),
        (C.ClientHello, hello_html),
        (C.DnsTransactions, lambda o: engine_html(o, DNS_ORDER)),
        (C.DnsTransaction, dns_html),
        (C.Flow, flow_html),
        (C.Stream, stream_html),
        (C.Layer, layer_html),
        (C.PPPControl, ppp_control_html),
        (C.Writer, writer_html),
        (HttpTable, lambda o: _title("HttpTable", "HTTP messages of a capture: iterate, or to_pandas() / "
                                     "to_arrow() for one row per request")
                   + "<p>columns: %s, ...</p>" % ", ".join(HTTP_ORDER[:8])),
        (HttpMessages, http_messages_html),
        (HttpMessage, http_message_html),
        (StatsTable, lambda o: _title("StatsTable", "%d rows" % len(o)) + frame_html(o.to_pandas(), ())),
        (Stats, stats_html),
    )
    for cls, view in views:
        if isinstance(obj, cls):
            return view(obj)
    return "<pre>%s</pre>" % _html.escape(repr(obj))


# ---- progress -------------------------------------------------------------------------

#: Whole-file calls draw a bar by default only for inputs at least this large (bytes).
PROGRESS_THRESHOLD = 64 << 20
#: The same for calls that count packets (to_pandas of a PacketList): ~64 MiB of packets.
PROGRESS_PACKETS = 1 << 17


def _interactive() -> bool:
    """A person is watching: a terminal on stderr, or a Jupyter kernel."""
    if "ipykernel" in sys.modules:
        return True
    err = sys.stderr
    return err is not None and hasattr(err, "isatty") and err.isatty()


def progress_callback(progress: Any, label: str, unit: str = "B") -> Callable[[int, int], None] | None:
    """The ``progress=`` argument as a callable(pos, total) or None.

    True: a bar; False: none; None (default): a bar when someone is watching (terminal or
    Jupyter) and the input is at least PROGRESS_THRESHOLD bytes (PROGRESS_PACKETS packets when
    ``unit`` is "pkt"); a callable is used as is. The bar is tqdm.auto's (a widget in Jupyter)
    when tqdm is installed, else one text line.
    """
    if callable(progress):
        return progress  # type: ignore[no-any-return]
    if progress is False:
        return None
    if progress is None and not _interactive():
        return None
    threshold = PROGRESS_PACKETS if unit == "pkt" else PROGRESS_THRESHOLD
    return _Bar(label, threshold=0 if progress else threshold, unit=unit)


class _Bar:
    """Bytes (or packets) consumed, drawn once the total is known to be past the threshold."""

    def __init__(self, label: str, threshold: int, unit: str = "B") -> None:
        self._label, self._threshold, self._unit = label, threshold, unit
        self._bar: Any = None
        self._done = False
        self._last = 0.0
        self._start = time.monotonic()
        self._pos = 0

    def __call__(self, pos: int, total: int) -> None:
        if self._done or (total and total < self._threshold) or (not total and self._threshold):
            return
        finished = bool(total) and pos >= total
        if self._bar is None:
            self._bar = self._make(total)
        if self._bar is not False:
            self._bar.update(pos - self._pos)
            self._pos = pos
            if finished:
                self._bar.close()
        else:
            self._text(pos, total, finished)
        self._done = finished

    def _make(self, total: int) -> Any:
        try:  # an optional dependency without type information
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except ImportError:
            return False
        binary = self._unit == "B"
        return tqdm(total=total or None, unit=self._unit, unit_scale=True, unit_divisor=1024 if binary else 1000,
                    desc=self._label, leave=False)

    def _text(self, pos: int, total: int, finished: bool) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and not finished:
            return
        self._last = now
        mb = pos / 1e6
        rate = mb / max(now - self._start, 1e-9)
        unit = "MB" if self._unit == "B" else "M" + self._unit
        if total:
            frac = min(pos / total, 1.0)
            line = "\r%s [%-30s] %5.1f%% %8.1f %s %6.0f %s/s" % (self._label, "#" * int(frac * 30), 100 * frac,
                                                                 mb, unit, rate, unit)
        else:
            line = "\r%s %8.1f %s %6.0f %s/s" % (self._label, mb, unit, rate, unit)
        sys.stderr.write(line + ("\n" if finished else ""))
        sys.stderr.flush()
