"""HTTP/1.x messages on reassembled TCP streams.

    import fastpkt as fp
    from fastpkt.http import HttpRequest, to_pandas
    for msg in fp.http("trace.pcap", decode=True):
        if isinstance(msg, HttpRequest):
            print(msg.method, msg.host, msg.uri, msg.response and msg.response.status)
    df = to_pandas(fp.http("trace.pcap"))

Parsing runs in C (``csrc/stream/http_stream.c``, RFC 9112) with the GIL released; this
module builds the message objects, decodes Content-Encoding on request and makes tables.
Bytes the capture lacks are never invented: a body that spans a gap holds only the bytes
present, has ``body_complete=False`` and counts the rest in ``body_missing``.
"""
from __future__ import annotations

import gc
import importlib
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Union, cast, overload

from ._fastpkt import _http_parse

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow

def _brotli_module() -> Any:
    """brotli or brotlicffi (the same API) when one is installed, else None."""
    for name in ("brotli", "brotlicffi"):
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    return None


_brotli = _brotli_module()

__all__ = [
    "HttpHeaders", "HttpRequest", "HttpResponse", "HttpMessages", "HttpDirection",
    "HttpTable", "messages", "http", "http_rows", "to_pandas", "DECODE_LIMIT",
]

#: Largest body ``decode=True`` produces; a bigger one keeps its raw bytes (``decode_error``).
DECODE_LIMIT = 256 * 1024 * 1024


class HttpHeaders(Mapping[str, str]):
    """Header fields in wire order with case-insensitive lookup.

    ``h["content-type"]`` joins repeated fields with ", " (RFC 9110 section 5.3);
    ``h.get_all("set-cookie")`` lists them one by one; ``h.fields`` is the list of
    ``(name, value)`` pairs as received. Iterating yields each name once.
    """

    __slots__ = ("fields", "_lookup")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self.fields: list[tuple[str, str]] = list(fields)
        self._lookup: dict[str, tuple[str, list[str]]] | None = None  # built on first use

    def _index(self) -> dict[str, tuple[str, list[str]]]:
        """lower-case name -> (name as first received, values)"""
        if self._lookup is None:
            lookup: dict[str, tuple[str, list[str]]] = {}
            for name, value in self.fields:
                lookup.setdefault(name.lower(), (name, []))[1].append(value)
            self._lookup = lookup
        return self._lookup

    def __getitem__(self, name: str) -> str:
        try:
            return ", ".join(self._index()[name.lower()][1])
        except (KeyError, AttributeError):
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index()

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._index().values())

    def __len__(self) -> int:
        return len(self._index())

    def get_all(self, name: str) -> list[str]:
        """Every value of the field `name`, in order ([] when absent)."""
        entry = self._index().get(name.lower())
        return list(entry[1]) if entry else []

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HttpHeaders):
            return self.fields == other.fields
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HttpHeaders({self.fields!r})"


class HttpDirection(NamedTuple):
    """How parsing of one direction ended."""

    stop: str                   # end, incomplete, error, tunnel, desync, limit
    parsed: int                 # data offset where parsing ended
    skipped: int                # bytes passed over while resynchronising after gaps
    anomalies: tuple[str, ...]  # e.g. ('bad_start_line',), ('gap',)


@dataclass(eq=False, repr=False, slots=True, kw_only=True)
class HttpMessage:
    """Fields shared by requests and responses."""

    version: str
    headers: HttpHeaders
    body: bytes
    body_complete: bool               # every body byte present and the framing ended
    index: int                        # position among its direction's messages
    trailers: HttpHeaders = field(default_factory=HttpHeaders)
    body_missing: int = 0             # body bytes lost in capture gaps
    framing: str = "none"             # none, length, chunked, close (RFC 9112 section 6.3)
    anomalies: tuple[str, ...] = ()
    data_start: int = 0               # offsets of the message in its direction's data
    data_end: int = 0
    raw_body: bytes | None = None     # the body before Content-Encoding decoding (decode=True)
    decode_error: str | None = None   # why decode=True left the body as received
    stream_id: int | None = None      # set by fastpkt.http()
    client_ip: str | None = None
    client_port: int | None = None
    server_ip: str | None = None
    server_port: int | None = None

    @property
    def content_type(self) -> str | None:
        """Media type without parameters, lower-case (``text/html``)."""
        value = self.headers.get("content-type")
        if value is None:
            return None
        return value.split(";", 1)[0].strip().lower() or None

    def _repr_html_(self) -> str:
        from . import views

        return views.html(self)

    def _flags(self) -> str:
        out = f" body={len(self.body)}B"
        if not self.body_complete:
            out += " incomplete"
        if self.decode_error:
            out += " decode_error"
        if self.anomalies:
            out += " anomalies=" + ",".join(self.anomalies)
        return out


@dataclass(eq=False, repr=False, slots=True, kw_only=True)
class HttpRequest(HttpMessage):
    method: str
    uri: str
    response: HttpResponse | None = None  # the final response (interim 1xx ones point here too)

    @property
    def host(self) -> str | None:
        """The Host field, else the authority of an absolute-form target."""
        host = self.headers.get("host")
        if host is not None:
            return host
        scheme, sep, rest = self.uri.partition("://")
        if sep and scheme.isalpha():
            return rest.split("/", 1)[0].split("?", 1)[0] or None
        return None

    def __repr__(self) -> str:
        host = self.host
        where = f"{host}{self.uri}" if host and self.uri.startswith("/") else self.uri
        return f"<HttpRequest {self.method} {where} {self.version}{self._flags()}>"


@dataclass(eq=False, repr=False, slots=True, kw_only=True)
class HttpResponse(HttpMessage):
    status: int
    reason: str
    request: HttpRequest | None = None  # None when no request was outstanding

    @property
    def interim(self) -> bool:
        """A 1xx response other than 101: the final response to the request follows."""
        return 100 <= self.status < 200 and self.status != 101

    def __repr__(self) -> str:
        ctype = f" {self.content_type}" if self.content_type else ""
        return f"<HttpResponse {self.status} {self.reason}{ctype}{self._flags()}>"


HttpMessageT = Union[HttpRequest, HttpResponse]


class _HttpExports:
    """The table exports of HttpTable and HttpMessages (``fastpkt.tables``): one row per
    request with its final response, through the Arrow PyCapsule interface and to_*()."""

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        from . import tables

        return tables.arrow_c_stream(self, requested_schema)

    def __arrow_c_schema__(self) -> Any:
        from . import tables

        return tables.arrow_c_schema(self)

    def to_pandas(self) -> pandas.DataFrame:
        from . import tables

        return tables.to_pandas(self)

    def to_arrow(self) -> pyarrow.Table:
        from . import tables

        return tables.to_arrow(self)

    def to_polars(self) -> polars.DataFrame:
        from . import tables

        return tables.to_polars(self)

    def to_parquet(self, path: str | os.PathLike[str], partition_cols: Sequence[str] | None = None) -> None:
        from . import tables

        tables.to_parquet(self, path, partition_cols=partition_cols)

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        from . import tables

        tables.to_csv(self, path)

    def record_batches(self, batch_size: int | None = None) -> pyarrow.RecordBatchReader:
        from . import tables

        return cast("pyarrow.RecordBatchReader", tables.record_batches(self, batch_size))

    def _repr_html_(self) -> str:
        from . import views

        return views.html(self)


if TYPE_CHECKING:
    class _MessageSequence(Sequence[HttpMessageT]):
        pass
else:
    class _MessageSequence:
        """Sequence's methods without being a ``collections.abc.Sequence``: Polars'
        ``pl.DataFrame(x)`` converts any Sequence item by item (here, dataclasses holding
        their stream) before it looks for ``__arrow_c_stream__``."""

        def __contains__(self, value):
            return any(m is value or m == value for m in self)

        def __reversed__(self):
            return reversed(self._messages)

        def index(self, value, start=0, stop=None):
            return self._messages.index(value, start, len(self) if stop is None else stop)

        def count(self, value):
            return self._messages.count(value)


class HttpMessages(_HttpExports, _MessageSequence):
    """The messages of one connection in stream order (a request, its interim and final
    responses, the next request, ...; responses nobody asked for last), with how each
    direction's parsing ended in ``client`` and ``server``. A sequence (indexing, ``len``,
    ``in``, ``index``, ``count``, ``reversed``) and a table (one row per request, as
    ``fastpkt.http()``'s), neither a ``list`` nor a ``collections.abc.Sequence``: DuckDB's
    replacement scan skips list subclasses and Polars reads a Sequence item by item, so
    ``duckdb.sql("select * from msgs")`` and ``pl.DataFrame(msgs)`` read its Arrow stream."""

    client: HttpDirection
    server: HttpDirection

    def __init__(self, messages: Iterable[HttpMessageT] = ()) -> None:
        self._messages = list(messages)

    def __len__(self) -> int:
        return len(self._messages)

    @overload
    def __getitem__(self, i: int) -> HttpMessageT: ...
    @overload
    def __getitem__(self, s: slice) -> list[HttpMessageT]: ...
    def __getitem__(self, i: int | slice) -> HttpMessageT | list[HttpMessageT]:
        return self._messages[i]

    def __iter__(self) -> Iterator[HttpMessageT]:
        return iter(self._messages)

    def __repr__(self) -> str:
        return "<fastpkt.HttpMessages: %d messages>" % len(self._messages)


# ---- Content-Encoding ----------------------------------------------------------


def _inflate(data: bytes, wbits: int) -> tuple[bytes, bytes]:
    """One zlib/gzip/raw deflate stream: (decoded, bytes after it)."""
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, DECODE_LIMIT + 1)
    if len(out) > DECODE_LIMIT or d.unconsumed_tail:
        raise ValueError(f"decoded body exceeds {DECODE_LIMIT} bytes")
    if not d.eof:
        raise ValueError("compressed data ends early")
    return out, d.unused_data


def _gunzip(data: bytes) -> bytes:
    out, rest = _inflate(data, 31)
    parts = [out]
    while rest[:2] == b"\x1f\x8b":  # further gzip members (RFC 1952 section 2.2)
        out, rest = _inflate(rest, 31)
        parts.append(out)
        if sum(map(len, parts)) > DECODE_LIMIT:
            raise ValueError(f"decoded body exceeds {DECODE_LIMIT} bytes")
    return b"".join(parts)


def _inflate_any(data: bytes) -> bytes:
    """'deflate' is meant to be zlib-wrapped (RFC 9110 section 8.4.1.2) but is often raw."""
    try:
        return _inflate(data, 15)[0]
    except zlib.error:
        return _inflate(data, -15)[0]


def _unbrotli(data: bytes) -> bytes:
    if _brotli is None:
        raise ValueError("content-encoding br needs the brotli package")
    out: bytes = _brotli.decompress(data)
    if len(out) > DECODE_LIMIT:
        raise ValueError(f"decoded body exceeds {DECODE_LIMIT} bytes")
    return out


_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gunzip,
    "x-gzip": _gunzip,
    "deflate": _inflate_any,
    "br": _unbrotli,
    "identity": lambda data: data,
}


def _decode_body(msg: HttpMessage) -> None:
    value = msg.headers.get("content-encoding")
    if value is None or not msg.body:
        return
    data = msg.body
    try:
        for coding in reversed([c.strip().lower() for c in value.split(",") if c.strip()]):
            decoder = _DECODERS.get(coding)
            if decoder is None:
                raise ValueError(f"unsupported content-encoding {coding!r}")
            data = decoder(data)
    except (ValueError, zlib.error, getattr(_brotli, "error", ValueError)) as exc:
        msg.decode_error = f"{value}: {exc}"
        return
    msg.raw_body, msg.body = msg.body, data


# ---- parsing ---------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Building many linked objects at once makes the cyclic GC rescan the growing graph
    again and again (5x slower for 100k messages); they are all kept anyway."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

Gaps = Iterable[tuple[int, int]]


def _message(raw: tuple[Any, ...]) -> HttpMessageT:
    """One raw tuple of _http_parse (see its docstring) as an object, peers not yet linked."""
    (is_response, index, a, b, c, headers, trailers, body, complete, missing, framing,
     anomalies, start, end, _peer) = raw
    if is_response:
        return HttpResponse(
            version=a, status=b, reason=c, headers=HttpHeaders(headers),
            trailers=HttpHeaders(trailers), body=body, body_complete=complete,
            body_missing=missing, framing=framing, index=index, anomalies=anomalies,
            data_start=start, data_end=end)
    return HttpRequest(
        method=a, uri=b, version=c, headers=HttpHeaders(headers),
        trailers=HttpHeaders(trailers), body=body, body_complete=complete,
        body_missing=missing, framing=framing, index=index, anomalies=anomalies,
        data_start=start, data_end=end)


def messages(
    client_data: bytes,
    server_data: bytes,
    client_gaps: Gaps = (),
    server_gaps: Gaps = (),
    client_closed: bool = True,
    server_closed: bool = True,
    decode: bool = False,
) -> HttpMessages:
    """The HTTP/1.x messages of one TCP connection.

    client_data / server_data: each direction's bytes in order, holes removed.
    client_gaps / server_gaps: ``(offset, length)``: `length` bytes are missing just before
        ``data[offset]``. A body that spans a hole keeps the bytes present and is flagged
        (``body_complete=False``, ``body_missing``, anomaly 'gap'); framing lost in a hole
        is recovered by length arithmetic or by scanning for the next start line ('resync').
    client_closed / server_closed: the direction ended with FIN, all bytes present (a
        response without Content-Length is complete only then; an early end is 'truncated').
    decode: undo Content-Encoding gzip, deflate (zlib or raw), br (with the brotli package);
        the wire body moves to ``raw_body``; on failure the body stays and ``decode_error``
        says why.
    """
    with _gc_paused():
        raw, client_state, server_state = _http_parse(
            client_data, server_data, client_gaps, server_gaps, client_closed, server_closed)
        out = HttpMessages(map(_message, raw))
        for msg, item in zip(out, raw):
            peer = item[-1]
            if peer is None:
                continue
            if isinstance(msg, HttpResponse):
                msg.request = out[peer]  # type: ignore[assignment]
            else:
                msg.response = out[peer]  # type: ignore[assignment]
    out.client = HttpDirection(*client_state)
    out.server = HttpDirection(*server_state)
    if decode:
        for msg in out:
            _decode_body(msg)
    return out


def http(source: Any, *, decode: bool = False, **stream_options: Any) -> HttpTable:
    """HTTP/1.x messages of every TCP stream of a capture, stream by stream.

    source and stream_options (filter, display_filter, ...) go to ``fastpkt.streams``;
    each message carries the stream's ``stream_id`` and client/server addresses and ports.
    decode: see messages(). Iterate the result for the messages (once), or export it as a
    table: one row per request with its final response (``to_pandas()``, ``to_arrow()``,
    the Arrow stream).
    """
    return HttpTable(_http_messages(source, decode, stream_options))


def _http_messages(source: Any, decode: bool, stream_options: dict[str, Any]) -> Iterator[HttpMessageT]:
    from . import streams  # the package's function (defined after this module loads)

    return stream_messages(streams(source, **stream_options), decode)


def stream_messages(streams: Iterable[Any], decode: bool = False) -> Iterator[HttpMessageT]:
    """The HTTP messages of Streams, each with its stream's id, addresses and ports."""
    for stream in streams:
        for msg in stream.http_messages(decode=decode):
            msg.stream_id = stream.stream_id
            msg.client_ip, msg.client_port = stream.client_ip, stream.client_port
            msg.server_ip, msg.server_port = stream.server_ip, stream.server_port
            yield msg


class HttpTable(_HttpExports):
    """The HTTP messages of a capture (``fastpkt.http()``): an iterator of HttpRequest and
    HttpResponse in stream order, and a table (one row per request with its final response;
    responses without a request get their own row) through ``to_pandas()``, ``to_arrow()``,
    ``to_polars()``, ``to_parquet()``, ``to_csv()`` and the Arrow PyCapsule interface. Like
    the engines it reads its input once: iterate it or export it, not both."""

    def __init__(self, messages: Iterable[HttpMessageT]) -> None:
        self._it = iter(messages)

    def __iter__(self) -> HttpTable:
        return self

    def __next__(self) -> HttpMessageT:
        return next(self._it)

    def __repr__(self) -> str:
        return "<fastpkt.HttpTable>"


def http_rows(msgs: Iterable[HttpMessageT]) -> Iterator[tuple[Any, ...]]:
    """One row per request with its final response (responses without a request get a row
    of their own), in the order of ``tables.HTTP_COLUMNS``. ``body_complete`` is True when
    every body present is complete; ``content_type`` is the response's media type."""
    for msg in msgs:
        if isinstance(msg, HttpRequest):
            req, rsp = msg, msg.response
        elif msg.request is None:
            req, rsp = None, msg
        else:
            continue
        first = req or rsp
        assert first is not None
        names = dict.fromkeys(a for m in (req, rsp) if m is not None for a in m.anomalies)
        yield (first.stream_id, first.client_ip, first.client_port, first.server_ip, first.server_port,
               req.index if req else None, req.method if req else None, req.host if req else None,
               req.uri if req else None, first.version, rsp.status if rsp else None,
               rsp.reason if rsp else None, rsp.content_type if rsp else None,
               len(req.body) if req else None, len(rsp.body) if rsp else None,
               all(m.body_complete for m in (req, rsp) if m is not None), ",".join(names))


def to_pandas(msgs: Iterable[HttpMessageT]) -> pandas.DataFrame:
    """One row per request with its final response (see ``http_rows``)."""
    from . import frames, tables

    return cast("pandas.DataFrame", frames.to_pandas(tables._record_specs(tables.HTTP_COLUMNS, list(http_rows(msgs)))))
