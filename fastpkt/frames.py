"""DataFrames from column buffers built in C.

Every table (``PacketList.columns()``, ``Flows.columns()``, the record tables of
:mod:`fastpkt.tables`) describes a batch of rows as a list of column specs, each a tuple
whose second item says how to read the data that follows:

    (name, 'datetime64[ns]', int64_buffer)                   nanoseconds since the epoch, UTC
    (name, 'timedelta64[ns]', int64_buffer)                  a duration in nanoseconds
    (name, '<u4', buffer)                                    any little-endian numpy dtype string
    (name, '|b1', buffer)                                    bool, one byte per row
    (name, 'masked<u2', values_buffer, mask_buffer)          mask: uint8, 1 = missing
    (name, 'category', int32_codes_buffer, categories)       codes -1 = missing; categories: list[str]
    (name, 'category<i1' | 'category<i2', codes, categories)  int8 / int16 codes (what pandas keeps)
    (name, 'str' | 'bytes', values)                          a list of str / bytes / None
    (name, 'list<u2>' | 'list<str>', values)                 a list of tuples (or None)
    (name, 'list<f8>', int32_offsets, items_buffer)          rows' items as buffers: offsets (rows + 1)
    (name, 'list<str>', int32_offsets, int32_codes, categories)  ... str items as codes into categories

(A dict ``name -> (dtype, buffer, ...)`` is accepted too.) ``csrc/py/arrow.c`` turns the same
specs into Arrow record batches. Here buffers are wrapped with ``numpy.frombuffer``: no copies
and no per-row Python objects. Masked columns become pandas nullable arrays (``UInt16`` ...),
categories ``pandas.Categorical``, times ``datetime64[ns, UTC]``.
"""
from __future__ import annotations

from typing import Any, Iterator

_PANDAS_HINT = "pip install fastpkt (pandas, numpy and pyarrow are dependencies)"


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise ImportError(
            "fastpkt: %s is needed for this (%s): %s" % (module, _PANDAS_HINT, exc)
        ) from exc


def _specs(obj: Any) -> Iterator[tuple[Any, ...]]:
    cols = obj.columns() if hasattr(obj, "columns") and callable(obj.columns) else obj
    if isinstance(cols, dict):
        for name, rest in cols.items():
            yield (name, *rest)
    else:
        yield from cols


def rows(specs: Any) -> int:
    """Rows of a spec list (0 when it has no columns)."""
    for spec in _specs(specs):
        dtype, data = spec[1], spec[2]
        if dtype.startswith("list<") and len(spec) > 3:
            return len(memoryview(data).cast("B")) // 4 - 1
        if dtype in ("str", "bytes") or dtype.startswith("list<"):
            return len(data)
        width: int = _code_dtype(dtype).itemsize if dtype.startswith("category") else _np_dtype(dtype).itemsize
        return len(memoryview(data).cast("B")) // width
    return 0


def _code_dtype(dtype: str) -> Any:
    np = _require("numpy")
    return np.dtype({"category": "int32", "category<i1": "int8", "category<i2": "int16"}[dtype])


def _np_dtype(dtype: str) -> Any:
    np = _require("numpy")
    if dtype.startswith("masked"):
        dtype = dtype[len("masked"):]
    return np.dtype("int64" if dtype.startswith(("datetime64", "timedelta64")) else dtype)


def _utc(pd: Any, ns: Any) -> Any:
    # int64 ns to datetime64[ns, UTC] reinterprets the buffer: no copy (tz_localize makes one)
    return pd.Series(ns, copy=False).astype(pd.DatetimeTZDtype("ns", "UTC")).array


def _pandas_column(pd: Any, np: Any, spec: tuple[Any, ...]) -> Any:
    dtype = spec[1]
    if dtype.startswith("category"):
        codes = np.frombuffer(spec[2], dtype=_code_dtype(dtype))
        return pd.Categorical.from_codes(codes, categories=pd.Index(list(spec[3]), dtype=object), validate=False)
    if dtype == "str":
        return pd.array(spec[2], dtype="string")
    if dtype.startswith("list<") and len(spec) > 3:  # buffers: the tuples are made in C
        from ._fastpkt import _list_cells

        cells = _list_cells(spec[2], spec[3], spec[4] if len(spec) > 4 else None)
        out = np.empty(len(cells), dtype=object)
        out[:] = cells
        return out
    if dtype == "bytes" or dtype.startswith("list<"):
        out = np.empty(len(spec[2]), dtype=object)
        out[:] = [v if v is None or dtype == "bytes" else tuple(v) for v in spec[2]]
        return out
    values = np.frombuffer(spec[2], dtype=_np_dtype(dtype))
    if dtype.startswith("masked"):
        mask = np.frombuffer(spec[3], dtype=np.bool_)
        if dtype.endswith("datetime64[ns]"):
            values = np.where(mask, np.iinfo(np.int64).min, values)
            return _utc(pd, values)
        if dtype.endswith("timedelta64[ns]"):  # NaT is int64's minimum
            return pd.array(np.where(mask, np.iinfo(np.int64).min, values).view("m8[ns]"))
        if dtype.endswith("|b1"):
            return pd.arrays.BooleanArray(values.view(np.bool_), mask)
        if values.dtype.kind == "f":
            return pd.arrays.FloatingArray(values, mask)
        return pd.arrays.IntegerArray(values, mask)
    if dtype.startswith("datetime64"):
        return _utc(pd, values)
    if dtype.startswith("timedelta64"):
        return values.view("m8[ns]")
    if dtype == "|b1":
        return values.view(np.bool_)
    return values


def to_pandas(specs: Any) -> Any:
    """A pandas DataFrame from one batch of column specs (or an object with columns())."""
    pd = _require("pandas")
    np = _require("numpy")
    data: dict[str, Any] = {spec[0]: _pandas_column(pd, np, spec) for spec in _specs(specs)}
    return pd.DataFrame(data, copy=False)


def batch_to_pandas(batch: Any) -> Any:
    """A pyarrow RecordBatch as pandas with the dtypes to_pandas gives (nullable integers
    stay integers, dictionaries become categoricals)."""
    pd = _require("pandas")
    pa = _require("pyarrow")
    mapping = {pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(), pa.uint32(): pd.UInt32Dtype(),
               pa.uint64(): pd.UInt64Dtype(), pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(),
               pa.string(): pd.StringDtype()}
    return batch.to_pandas(types_mapper=mapping.get)


def packets_to_pandas(plist: Any) -> Any:
    """A pandas DataFrame, one row per packet, from ``plist.columns()``.

    Columns (from the C module): time (datetime64[ns, UTC]), caplen, wirelen, linktype,
    interface, ip_version, proto, ttl, sport, dport, tcp_flags, tcp_seq, tcp_ack,
    payload_len, vlan (nullable unsigned where a layer may be absent), and categoricals
    src, dst, eth_src, eth_dst, dns_qname, tls_sni, http_host, anomalies.
    """
    return to_pandas(plist)


def packet_html(pkt: Any) -> str:
    """Notebook view of a Packet: its summary line and every layer's fields."""
    import html

    return "<p><b>%s</b></p><pre>%s</pre>" % (html.escape(pkt.summary()),
                                             html.escape(pkt.show(dump=True)))
