"""DataFrames from column buffers built in C.

``PacketList.columns()`` dissects every record in C and returns a list of column specs, each a
tuple whose second item says how to read the buffer(s) that follow:

    (name, 'datetime64[ns]', int64_buffer)                   nanoseconds since the epoch
    (name, '<u4', buffer)                                    any numpy dtype string
    (name, 'masked<u2', values_buffer, mask_buffer)          mask: uint8, 1 = missing
    (name, 'category', int32_codes_buffer, categories)       codes -1 = missing; categories: list[str]

(A dict ``name -> (dtype, buffer, ...)`` is accepted too.) Buffers are wrapped with
``numpy.frombuffer``: no copies and no per-row Python objects. Masked columns become pandas
nullable integer arrays (``UInt16`` ...), categories become ``pandas.Categorical``.
"""
from __future__ import annotations

from typing import Any, Iterator

_PANDAS_HINT = "pip install 'fastpkt[pandas]'"


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise ImportError(
            "fastpkt: %s is needed for this (%s): %s" % (module, _PANDAS_HINT, exc)
        ) from exc


def _specs(obj: Any) -> Iterator[tuple]:
    cols = obj.columns() if hasattr(obj, "columns") and callable(obj.columns) else obj
    if isinstance(cols, dict):
        for name, rest in cols.items():
            yield (name, *rest)
    else:
        yield from cols


def _numpy_columns(obj: Any) -> Iterator[tuple[str, str, Any, Any]]:
    """Yield (name, kind, values, extra) with numpy arrays over the C buffers."""
    np = _require("numpy")
    for spec in _specs(obj):
        name, dtype = spec[0], spec[1]
        if dtype == "category":
            codes = np.frombuffer(spec[2], dtype=np.int32)
            yield name, "category", codes, list(spec[3])
        elif dtype.startswith("masked"):
            values = np.frombuffer(spec[2], dtype=np.dtype(dtype[len("masked"):]))
            mask = np.frombuffer(spec[3], dtype=np.bool_)
            yield name, "masked", values, mask
        elif dtype.startswith("datetime64"):
            yield name, "datetime", np.frombuffer(spec[2], dtype=np.int64).view(dtype), None
        else:
            yield name, "plain", np.frombuffer(spec[2], dtype=np.dtype(dtype)), None


def packets_to_pandas(plist: Any) -> Any:
    """A pandas DataFrame, one row per packet, from ``plist.columns()``.

    Columns (from the C module): time (datetime64[ns], UTC wall clock without tz), caplen,
    wirelen, linktype, interface, ip_version, proto, ttl, sport, dport, tcp_flags, tcp_seq,
    tcp_ack, payload_len, vlan (nullable unsigned where a layer may be absent), and
    categoricals src, dst, eth_src, eth_dst, dns_qname, tls_sni, http_host, anomalies.
    """
    pd = _require("pandas")
    data: dict[str, Any] = {}
    n = None
    for name, kind, values, extra in _numpy_columns(plist):
        if kind == "category":
            col = pd.Categorical.from_codes(values, categories=pd.Index(extra, dtype=object),
                                            validate=False)
        elif kind == "masked":
            col = pd.arrays.IntegerArray(values, extra)
        else:
            col = values
        data[name] = col
        n = len(values)
    if n is None:
        return pd.DataFrame()
    return pd.DataFrame(data, copy=False)


def packets_to_arrow(plist: Any) -> Any:
    """A pyarrow Table with the same columns as ``packets_to_pandas``."""
    pa = _require("pyarrow")
    np = _require("numpy")
    arrays, names = [], []
    for name, kind, values, extra in _numpy_columns(plist):
        if kind == "category":
            indices = pa.array(values, mask=values < 0, type=pa.int32())
            col = pa.DictionaryArray.from_arrays(indices, pa.array(extra, type=pa.string()))
        elif kind == "masked":
            col = pa.array(values, mask=extra)
        elif kind == "datetime":
            col = pa.array(values.view(np.int64), type=pa.timestamp("ns"))
        else:
            col = pa.array(values)
        arrays.append(col)
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


_HTML_ROWS = 20


def packetlist_html(plist: Any) -> str:
    """Notebook view of a PacketList: the first rows of its DataFrame (or summaries)."""
    import html

    n = len(plist)
    head = plist[:_HTML_ROWS]
    title = "<p><b>PacketList</b>: %d packets%s</p>" % (
        n, " (first %d shown)" % _HTML_ROWS if n > _HTML_ROWS else "")
    try:
        table = packets_to_pandas(head).to_html(max_cols=12)
    except ImportError:
        table = "<pre>%s</pre>" % html.escape(head.summary())
    return title + table


def packet_html(pkt: Any) -> str:
    """Notebook view of a Packet: its summary line and every layer's fields."""
    import html

    return "<p><b>%s</b></p><pre>%s</pre>" % (html.escape(pkt.summary()),
                                             html.escape(pkt.show(dump=True)))
