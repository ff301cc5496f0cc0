"""Flow aggregation: ``fastpkt.flows()`` and the DataFrame/Arrow/CSV/Parquet exports.

The work runs in C (``fastpkt._fastpkt.Flows``): records are pulled, dissected and fed to a
flow table with the GIL released; no Python packet objects are made. This module only opens
the sources, draws the progress bar and wraps ``Flows.columns()`` for pandas and pyarrow with
the helpers of :mod:`fastpkt.frames`.

Note: ``fastpkt.flows`` is the function (re-exported by the package); import helpers from
this module with ``from fastpkt.flows import flows_to_pandas``.
"""
from __future__ import annotations

import os
import sys
import time
from typing import IO, Any, Callable, Iterable, Union

from . import tables
from ._fastpkt import Flows, Reader

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Reader]


def flows(
    source: Source | Iterable[str | os.PathLike[str]],
    *,
    bidirectional: bool = True,
    idle_timeout: float = 120.0,
    active_timeout: float = 1800.0,
    max_flows: int = 1_000_000,
    max_memory: int | None = None,
    on_memory_error: str = "raise",
    filter: str | None = None,  # noqa: A002
    on_error: str = "raise",
    progress: bool | None | Callable[[int, int], Any] = None,
    tls: bool = True,
    max_hello_fields: int = 16384,
) -> Flows:
    """Aggregate a capture into flows, in C.

    source: anything ``fastpkt.open`` accepts (path, PathLike, "-", binary file object,
        in-memory capture), a list of paths (merged in time order), or an open Reader.
    bidirectional: one flow per conversation (first packet's sender is the client; a
        SYN-ACK seen first makes its receiver the client). False: one flow per direction.
    idle_timeout / active_timeout: seconds of packet time. A flow with no packet for
        idle_timeout is emitted ('idle'); one older than active_timeout is emitted at its
        next packet ('active') and continues as a new flow.
    max_flows: flows held at once; at the cap the least recently seen flow is evicted.
    max_memory: bytes the engine may hold (default 1 GiB, ``fastpkt.DEFAULT_MAX_MEMORY``):
        flow records and every per-connection state (hello search, QUIC, TLS, reassembly),
        charged at their real allocation sizes. Past it the least recently seen flows are
        evicted (expiration 'evicted', anomaly 'evicted'); ``stats['memory']`` has the bytes
        per component, ``stats['memory_peak']`` their high-water marks.
    on_memory_error: 'raise' (default): an allocation failure raises MemoryError once the
        records completed before it are handed out. 'drop': count it in
        ``stats['allocation_failures']``, flag the flow 'allocation_failed' and go on.
    filter, on_error: passed to the Readers fastpkt opens.
    progress: a bar on stderr (None: only when stderr is a terminal), or a callable
        ``progress(bytes_read, total_bytes)`` called between chunks of records.
    tls: fill sni, alpn, ja3 and ja4 from each connection's whole ClientHello (TCP
        reassembled, QUIC decrypted). False: sni from single-packet hellos only (cheaper).
    max_hello_fields: bytes of a ClientHello's fields kept while it streams (see
        ``client_hellos``).

    Iterate the result to stream Flow records in expiry order (not kept: bounded memory),
    or call ``to_pandas()`` / ``to_arrow()`` / ``len()`` to read everything and keep all.
    TCP flows closed by FIN (both ways) or RST are emitted 1 s of packet time after the
    close so the final ACK is counted; at end of input they keep their 'fin'/'rst' reason.
    """
    return Flows(_readers(source, filter, on_error, "flows"), bidirectional=bool(bidirectional),
                 idle_timeout=idle_timeout, active_timeout=active_timeout, max_flows=max_flows,
                 max_memory=max_memory, progress=_progress_callback(progress, "flows"), tls=bool(tls),
                 max_hello_fields=max_hello_fields, on_memory_error=on_memory_error)


def _readers(source: Any, filter: str | None, on_error: str, what: str) -> list[Reader]:  # noqa: A002
    """The Readers an engine runs over: one per source (a list is merged in time order)."""
    from . import _source  # the package's source normaliser

    if isinstance(source, Reader):
        if filter is not None:
            raise ValueError("filter applies to sources fastpkt opens; open the Reader with filter=...")
        return [source]
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("%s() needs at least one source" % what)
        return [s if isinstance(s, Reader) else
                Reader(_source(s), filter=filter, on_error=on_error) for s in source]
    return [Reader(_source(source), filter=filter, on_error=on_error)]


def _progress_callback(progress: Any, label: str) -> Any:
    if callable(progress):
        return progress
    if progress is None:
        progress = sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return _ProgressBar(label) if progress else None


class _ProgressBar:
    """A one-line bar of bytes consumed, redrawn at most 10 times a second."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._last = 0.0
        self._start = time.monotonic()
        self._done = False

    def __call__(self, pos: int, total: int) -> None:
        now = time.monotonic()
        finished = total and pos >= total
        if self._done or (now - self._last < 0.1 and not finished):
            return
        self._last = now
        mb = pos / 1e6
        rate = mb / max(now - self._start, 1e-9)
        if total:
            frac = min(pos / total, 1.0)
            bar = "#" * int(frac * 30)
            line = "\r%s [%-30s] %5.1f%% %8.1f MB %6.0f MB/s" % (self._label, bar, 100 * frac, mb, rate)
        else:
            line = "\r%s %8.1f MB %6.0f MB/s" % (self._label, mb, rate)
        sys.stderr.write(line)
        if finished:
            sys.stderr.write("\n")
            self._done = True
        sys.stderr.flush()


def flows_to_pandas(fl: Any) -> Any:
    """All flows as a pandas DataFrame (typed columns, categoricals for strings)."""
    return tables.to_pandas(fl)


def flows_to_arrow(fl: Any) -> Any:
    """All flows as a pyarrow Table with the same columns as ``flows_to_pandas``."""
    return tables.to_arrow(fl)


def flows_to_parquet(fl: Any, path: str | os.PathLike[str]) -> None:
    """Write all flows to a Parquet file (needs pyarrow)."""
    tables.to_parquet(fl, path)


def flows_to_csv(fl: Any, path: str | os.PathLike[str]) -> None:
    """Write all flows to a CSV file (one header row; missing values empty)."""
    tables.to_csv(fl, path)


_HTML_ROWS = 20


def flows_html(fl: Any) -> str:
    """Notebook view: counters and the first flows."""
    import html

    try:
        df = flows_to_pandas(fl)
    except (ImportError, RuntimeError) as exc:
        return "<pre>%s</pre>" % html.escape("%r\n%s" % (fl, exc))
    st = fl.stats
    title = "<p><b>Flows</b>: %d flows from %d packets (%s)</p>" % (
        len(df), st["packets"], ", ".join("%s %d" % kv for kv in st["flows_expired"].items() if kv[1]))
    return title + df.head(_HTML_ROWS).to_html(max_cols=16)
