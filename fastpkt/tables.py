"""Every table fastpkt hands out, as one stream of record batches.

A table object (PacketList, Reader, Flows, Streams, ClientHellos, DnsTransactions, HttpTable) describes its
rows as batches of column specs (the :mod:`fastpkt.frames` protocol), built in C for packets,
flows and DNS transactions and from the records for the others. Everything else is a thin layer over that:

- ``__arrow_c_stream__`` / ``__arrow_c_schema__`` (the Arrow PyCapsule interface, built in C
  by ``_fastpkt._arrow_stream``): pyarrow, Polars and DuckDB read the batches one at a time,
  so a capture of any size goes through in bounded memory;
- ``to_arrow()``, ``to_polars()``: the stream read into a pyarrow Table / Polars DataFrame;
- ``to_parquet(path)``, ``to_csv(path)``: the stream written batch by batch;
- ``to_pandas()``: one batch of every row, wrapped without copies (``frames.to_pandas``).

Times are ``timestamp[ns, UTC]`` in Arrow and ``datetime64[ns, UTC]`` in pandas.
"""
from __future__ import annotations

import contextlib
import os
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, cast

from . import frames
from ._fastpkt import (HELLO_FIELDS, ClientHellos, DnsTransactions, Flows, PacketList, Reader,
                       Streams, _arrow_schema, _arrow_stream, _packet_arrow_schema, _packet_arrow_stream)

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow

#: Rows per record batch of every export.
BATCH_ROWS = 65536

Specs = list[tuple[Any, ...]]  # a list of column-spec tuples (fastpkt.frames)


# ---- specs from Python records --------------------------------------------------

def _cat(values: Sequence[Any]) -> tuple[bytes, list[str]]:
    """Categorical codes (int32, -1 = None) and categories of a column of str/None."""
    import array

    index: dict[Any, int] = {}
    codes = array.array("i", [-1 if v is None else index.setdefault(v, len(index)) for v in values])
    return codes.tobytes(), [str(k) for k in index]


def _ints(values: Sequence[Any], code: str) -> bytes:
    import array

    return array.array(code, values).tobytes()


def _masked(values: Sequence[Any], code: str) -> tuple[bytes, bytes]:
    import array

    return (array.array(code, [0 if v is None else v for v in values]).tobytes(),
            bytes(v is None for v in values))


def _ns(t: float | None) -> int | None:
    """Float seconds to integer ns, rounded to the microsecond (a double at today's epoch
    holds ~0.2 us, so finer digits are noise)."""
    return None if t is None else round(t * 1e6) * 1000


# Column kinds of record tables: spec dtype, array typecode, how to build
_KINDS: dict[str, tuple[str, str]] = {
    "u1": ("<u1", "B"), "u2": ("<u2", "H"), "u4": ("<u4", "I"), "u8": ("<u8", "Q"),
    "mu2": ("masked<u2", "H"), "mu4": ("masked<u4", "I"), "mi8": ("masked<i8", "q"),
    "time": ("datetime64[ns]", "q"), "mtime": ("maskeddatetime64[ns]", "q"),
    "bool": ("|b1", "B"), "mbool": ("masked|b1", "B"),
}


def _record_specs(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> Specs:
    """Column specs from rows (tuples in the order of ``columns`` = (name, kind))."""
    specs: Specs = []
    for i, (name, kind) in enumerate(columns):
        values = [r[i] for r in rows]
        if kind in ("time", "mtime"):
            values = [_ns(v) for v in values]
        if kind == "cat":
            specs.append((name, "category", *_cat(values)))
        elif kind in ("str", "bytes") or kind.startswith("list<"):
            specs.append((name, kind, values))
        elif _KINDS[kind][0].startswith("masked"):
            specs.append((name, _KINDS[kind][0], *_masked(values, _KINDS[kind][1])))
        else:
            specs.append((name, _KINDS[kind][0], _ints(values, _KINDS[kind][1])))
    return specs


HELLO_COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "time"), ("stream_id", "u8"), ("client_ip", "cat"), ("client_port", "u2"),
    ("server_ip", "cat"), ("server_port", "u2"), ("ip_version", "u1"), ("transport", "cat"),
    ("sni", "cat"), ("server_names", "list<str>"), ("alpn", "list<str>"), ("version", "u2"),
    ("version_name", "cat"), ("legacy_version", "u2"), ("versions", "list<u2>"),
    ("ciphers", "list<u2>"), ("extensions", "list<u2>"), ("groups", "list<u2>"),
    ("signature_algorithms", "list<u2>"), ("key_share_groups", "list<u2>"),
    ("ec_point_formats", "list<u1>"), ("psk_modes", "list<u1>"), ("ech", "bool"),
    ("grease", "bool"), ("ja3", "str"), ("ja3_hash", "cat"), ("ja4", "cat"), ("ja4_r", "str"),
    ("hello_size", "u8"), ("quic_version", "mu4"), ("server_time", "mtime"),
    ("server_version", "mu2"), ("server_cipher", "mu2"), ("server_alpn", "cat"), ("ja3s", "str"),
    ("ja3s_hash", "cat"), ("anomalies", "list<str>"),
)
assert tuple(n for n, _ in HELLO_COLUMNS) == HELLO_FIELDS

STREAM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("stream_id", "u8"), ("first_seen", "time"), ("last_seen", "time"), ("client_ip", "cat"),
    ("client_port", "u2"), ("server_ip", "cat"), ("server_port", "u2"), ("ip_version", "u1"),
    ("vlan", "mu2"), ("state", "cat"), ("complete", "bool"), ("midstream", "bool"),
    ("client_packets", "u8"), ("server_packets", "u8"), ("client_bytes", "u8"),
    ("server_bytes", "u8"), ("client_gap_bytes", "u8"), ("server_gap_bytes", "u8"),
    ("client_closed", "bool"), ("server_closed", "bool"), ("anomalies", "list<str>"),
)
STREAM_PAYLOAD_COLUMNS: tuple[tuple[str, str], ...] = (("client_data", "bytes"), ("server_data", "bytes"))

HTTP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("stream_id", "mi8"), ("client_ip", "cat"), ("client_port", "mu2"), ("server_ip", "cat"),
    ("server_port", "mu2"), ("index", "mi8"), ("method", "cat"), ("host", "cat"), ("uri", "str"),
    ("version", "cat"), ("status", "mu2"), ("reason", "cat"), ("content_type", "cat"),
    ("request_body_len", "mi8"), ("response_body_len", "mi8"), ("body_complete", "mbool"),
    ("anomalies", "cat"),
)


def _stream_row(s: Any, payload: bool) -> tuple[Any, ...]:
    row = tuple(getattr(s, name) for name, _ in STREAM_COLUMNS)
    if payload:
        row += (s.client_data, s.server_data) if s.stored else (None, None)
    return row


def _batched(items: Iterable[Any], size: int, row: Callable[[Any], Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(row(item))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---- the batches of each table ----------------------------------------------------

def _packet_batches(plist: PacketList, size: int) -> Iterator[Specs]:
    for start in range(0, len(plist), size):
        yield plist[start:start + size].columns()


def _reader_batches(reader: Reader, size: int) -> Iterator[Specs]:
    while True:
        chunk = reader.read_all(size)
        if not len(chunk):
            return
        yield chunk.columns()


def _engine_batches(eng: DnsTransactions, size: int) -> Iterator[Specs]:
    while True:
        specs = eng._columns_next(size)
        if frames.rows(specs) == 0:
            return
        yield specs


def _flow_batches(fl: Flows, size: int) -> Iterator[Specs]:
    if fl._kept:
        for start in range(0, len(fl), size):
            yield fl._columns_range(start, start + size)
        return
    while True:
        specs = fl._columns_next(size)
        if frames.rows(specs) == 0:
            return
        yield specs


def batches(obj: Any, batch_size: int | None = None, payload: bool = False) -> tuple[Specs, Iterator[Specs]]:
    """The schema (a 0-row spec list) and an iterator of record batches of a table object."""
    size = int(batch_size or BATCH_ROWS)
    if size < 1:
        raise ValueError("batch_size must be at least 1")
    if isinstance(obj, PacketList):
        return obj[0:0].columns(), _packet_batches(obj, size)
    if isinstance(obj, Reader):
        return _empty_packet_specs(), _reader_batches(obj, size)
    if isinstance(obj, Flows):
        return obj._columns_range(0, 0), _flow_batches(obj, size)
    if isinstance(obj, Streams):
        cols = STREAM_COLUMNS + (STREAM_PAYLOAD_COLUMNS if payload else ())
        return (_record_specs(cols, []),
                (_record_specs(cols, b) for b in _batched(obj, size, lambda s: _stream_row(s, payload))))
    if isinstance(obj, ClientHellos):
        return (_record_specs(HELLO_COLUMNS, []),
                (_record_specs(HELLO_COLUMNS, b) for b in _batched(obj, size, tuple)))
    if isinstance(obj, DnsTransactions):  # built in C, a batch at a time
        return obj._columns_next(0), _engine_batches(obj, size)
    from .http import HttpMessages, HttpTable, http_rows

    if isinstance(obj, (HttpTable, HttpMessages)):
        return (_record_specs(HTTP_COLUMNS, []),
                (_record_specs(HTTP_COLUMNS, b) for b in _batched(http_rows(obj), size, lambda r: r)))
    from .stats import StatsTable

    if isinstance(obj, StatsTable):  # bounded by the statistics' caps: one batch
        specs = obj._specs()
        return specs, iter([specs])
    raise TypeError("%s is not a fastpkt table" % type(obj).__name__)


def _empty_packet_specs() -> Specs:
    import io

    from . import read

    header = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(8) + b"\x00\x00\x04\x00\x01\x00\x00\x00"
    return read(io.BytesIO(header)).columns()


def all_specs(obj: Any, payload: bool = False) -> Specs:
    """Every row of a table object as one batch (the to_pandas path: one set of buffers)."""
    if isinstance(obj, PacketList):
        return obj.columns()
    if isinstance(obj, Flows):
        return obj.columns()
    schema, it = batches(obj, 1 << 62, payload)
    return next(it, schema)


# ---- the exports ------------------------------------------------------------------

def arrow_c_stream(obj: Any, requested_schema: Any = None, *, payload: bool = False,
                   batch_size: int | None = None) -> Any:
    """An 'arrow_array_stream' PyCapsule of the table (the requested schema is not applied:
    the PyCapsule interface lets a producer keep its own)."""
    if isinstance(obj, (PacketList, Reader)):  # built in C, straight from the records
        return _packet_arrow_stream(obj, int(batch_size or BATCH_ROWS))
    schema, it = batches(obj, batch_size, payload)
    return _arrow_stream(schema, it)


def arrow_c_schema(obj: Any, *, payload: bool = False) -> Any:
    """An 'arrow_schema' PyCapsule of the table's columns; reads no rows."""
    if isinstance(obj, Flows):
        return _arrow_schema(obj._columns_range(0, 0))
    if isinstance(obj, (PacketList, Reader)):
        return _packet_arrow_schema()
    if isinstance(obj, Streams):
        return _arrow_schema(_record_specs(STREAM_COLUMNS + (STREAM_PAYLOAD_COLUMNS if payload else ()), []))
    if isinstance(obj, ClientHellos):
        return _arrow_schema(_record_specs(HELLO_COLUMNS, []))
    if isinstance(obj, DnsTransactions):
        return _arrow_schema(obj._columns_next(0))
    return _arrow_schema(_record_specs(HTTP_COLUMNS, []))


class _Capsule:
    """An object exporting one table's stream with options (payload, batch size)."""

    def __init__(self, obj: Any, payload: bool, batch_size: int | None) -> None:
        self._obj, self._payload, self._batch_size = obj, payload, batch_size

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return arrow_c_stream(self._obj, requested_schema, payload=self._payload, batch_size=self._batch_size)


def to_arrow(obj: Any, payload: bool = False) -> pyarrow.Table:
    """The table as a pyarrow Table (read from the C stream)."""
    pa = frames._require("pyarrow")
    return cast("pyarrow.Table", pa.RecordBatchReader.from_stream(_Capsule(obj, payload, None)).read_all())


def to_polars(obj: Any, payload: bool = False) -> polars.DataFrame:
    """The table as a Polars DataFrame (read from the C stream)."""
    pl = frames._require("polars")
    return cast("polars.DataFrame", pl.DataFrame(_Capsule(obj, payload, None)))


def to_pandas(obj: Any, payload: bool = False, progress: Any = None) -> pandas.DataFrame:
    """The table as a pandas DataFrame, wrapping the C buffers without copies. ``progress``
    (PacketList: a bar over its packets, as fastpkt.views.progress_callback takes it; Reader:
    a bar over the file as it is read; the engine tables report progress while they read,
    through their own ``progress=``)."""
    if isinstance(obj, PacketList):
        from .views import progress_callback

        return cast("pandas.DataFrame", frames.to_pandas(obj.columns(progress=progress_callback(progress, "to_pandas", "pkt"))))
    if isinstance(obj, Reader):  # fp.read(path).to_pandas(): the bar is the read's
        from .views import progress_callback

        return to_pandas(obj.read_all(progress=progress_callback(progress, "read")), progress=False)
    return cast("pandas.DataFrame", frames.to_pandas(all_specs(obj, payload)))


def record_batches(obj: Any, batch_size: int | None = None, payload: bool = False) -> Any:
    """A pyarrow RecordBatchReader over the table's batches."""
    pa = frames._require("pyarrow")
    return pa.RecordBatchReader.from_stream(_Capsule(obj, payload, batch_size))


def to_parquet(obj: Any, path: str | os.PathLike[str], payload: bool = False,
               partition_cols: Sequence[str] | None = None) -> None:
    """Write the table to a Parquet file batch by batch (bounded memory; needs pyarrow).

    partition_cols: write a Hive-partitioned dataset under the directory ``path`` instead
    (``path/protocol_name=TCP/part-0.parquet``...), one directory level per column, as
    pyarrow.dataset, DuckDB (``read_parquet('path/**/*.parquet', hive_partitioning=true)``),
    Dask and Spark read it. Batches are written as they come (at most 1,024 files open)."""
    frames._require("pyarrow")
    import pyarrow.parquet as pq

    reader = record_batches(obj, payload=payload)
    if partition_cols:
        _write_partitioned(reader, os.fspath(path), list(partition_cols))
        return
    with pq.ParquetWriter(os.fspath(path), reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def _write_partitioned(reader: Any, base: str, cols: list[str]) -> None:
    """Hive partitions of a batch stream. Partition values are the columns' plain values:
    dictionary columns are decoded first (each batch has its own dictionary), so a value
    names the same directory in every batch."""
    pa = frames._require("pyarrow")
    import pyarrow.dataset as ds

    missing = [c for c in cols if c not in reader.schema.names]
    if missing:
        raise ValueError("partition_cols: no column %s; the columns are %s"
                         % (", ".join(map(repr, missing)), ", ".join(reader.schema.names)))
    fields = [reader.schema.field(c) for c in cols]
    plain = [f.type.value_type if pa.types.is_dictionary(f.type) else f.type for f in fields]
    bad = [c for c, t in zip(cols, plain) if pa.types.is_nested(t) or pa.types.is_binary(t)
           or pa.types.is_large_binary(t)]
    if bad:
        raise ValueError("partition_cols: %s cannot name a directory (lists and bytes cannot)" % ", ".join(bad))
    schema = reader.schema
    for c, t in zip(cols, plain):
        i = schema.get_field_index(c)
        schema = schema.set(i, pa.field(c, t, schema.field(i).nullable))

    def plain_batches() -> Iterator[Any]:
        for batch in reader:
            yield pa.RecordBatch.from_arrays(
                [batch.column(i).cast(schema.field(i).type) if schema.field(i).type != batch.schema.field(i).type
                 else batch.column(i) for i in range(batch.num_columns)], schema=schema)

    ds.write_dataset(pa.RecordBatchReader.from_batches(schema, plain_batches()), base, format="parquet",
                     partitioning=ds.partitioning(pa.schema([pa.field(c, t) for c, t in zip(cols, plain)]),
                                                  flavor="hive"),
                     existing_data_behavior="overwrite_or_ignore", basename_template="part-{i}.parquet")


@contextlib.contextmanager
def _text_out(target: str | os.PathLike[str] | IO[str]) -> Iterator[IO[str]]:
    if hasattr(target, "write"):
        yield target  # type: ignore[misc]
        return
    with open(os.fspath(target), "w", newline="") as out:
        yield out


def _flat_lists(batch: Any) -> Any:
    """A batch whose list columns are strings of their items joined by ',' (for CSV)."""
    pa = frames._require("pyarrow")
    import pyarrow.compute as pc

    cols = []
    for col, field in zip(batch.columns, batch.schema):
        if pa.types.is_list(field.type):
            col = pc.binary_join(pc.cast(col, pa.list_(pa.string())), ",")
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def to_csv(obj: Any, path: str | os.PathLike[str] | IO[str], payload: bool = False) -> int:
    """Write the table as CSV batch by batch (one header row; missing values empty; times in
    ISO 8601 with +00:00; lists joined by ','); returns the rows written."""
    reader = record_batches(obj, payload=payload)
    rows = 0
    with _text_out(path) as out:
        for batch in reader:
            frames.batch_to_pandas(_flat_lists(batch)).to_csv(out, index=False, header=rows == 0)
            rows += batch.num_rows or 0
        if rows == 0:  # no rows: the header alone
            frames.batch_to_pandas(reader.schema.empty_table()).to_csv(out, index=False)
    return rows


def json_lines(df: pandas.DataFrame, out: IO[str]) -> None:
    """A DataFrame as JSON Lines: one object per row, times in ISO 8601 (ns, UTC)."""
    if len(df):
        text = df.to_json(orient="records", lines=True, date_format="iso", date_unit="ns")
        out.write(text if text.endswith("\n") else text + "\n")


def to_json(obj: Any, path: str | os.PathLike[str] | IO[str], payload: bool = False) -> int:
    """Write the table as JSON Lines batch by batch; returns the rows written."""
    rows = 0
    with _text_out(path) as out:
        for batch in record_batches(obj, payload=payload):
            json_lines(frames.batch_to_pandas(batch), out)
            rows += batch.num_rows
    return rows
