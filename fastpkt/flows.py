"""Flow aggregation: ``fastpkt.flows()`` and the DataFrame/Arrow/CSV/Parquet exports.

The work runs in C (``fastpkt._fastpkt.Flows``): records are pulled, dissected and fed to a
flow table with the GIL released; no Python packet objects are made. This module only opens
the sources and names the exports (every table's are in :mod:`fastpkt.tables`).

Note: ``fastpkt.flows`` is the function (re-exported by the package); import helpers from
this module with ``from fastpkt.flows import flows_to_pandas``.
"""
from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Union, cast

from . import tables
from .views import progress_callback
from ._fastpkt import DisplayFilter, Flows, Reader

if TYPE_CHECKING:
    from ._fastpkt import _OnError

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
    display_filter: str | DisplayFilter | None = None,
    max_hello_fields: int = 16384,
    workers: int | None = None,
    defragment: bool | str | None = None,
    decapsulate: bool | None = None,
    tunnel_key: str = "inner",
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
    filter, on_error, display_filter: passed to the Readers fastpkt opens (the engine sees
        only the packets that pass them). BPF decides per frame as captured; with
        ``defragment`` on, the display filter decides after reassembly, as ``tshark -Y``: on
        the datagram a completing fragment makes.
    progress: True for a bar (tqdm.auto's when installed: a widget in Jupyter), False for none;
        None (default): a bar on a terminal or in Jupyter for inputs of 64 MiB or more; or a
        callable ``progress(bytes_read, total_bytes)`` called between chunks of records.
    tls: fill sni, alpn, ja3 and ja4 from each connection's whole ClientHello (TCP
        reassembled, QUIC decrypted). False: sni from single-packet hellos only (cheaper).
    max_hello_fields: bytes of a ClientHello's fields kept while it streams (see
        ``client_hellos``).

    workers: engines run in parallel, each on its own thread and its share of the flows (see
        ``fastpkt.parallel``): same records, order and flow ids as one. None (default):
        ``$FASTPKT_WORKERS`` if set, else the usable cores for paths and in-memory captures of
        64 MiB or more (not compressed files), else 1; ``workers=1`` forces one engine
        (``stats['workers']`` is there when several ran). A run with
        several workers keeps its records until the end (like ``to_pandas()``; Streams are
        handed out as the workers run), and
        max_memory/max_flows are divided between the workers.
    defragment: IP fragments are reassembled before the flow table (default; a policy name
        as for ``fastpkt.open``): a datagram counts once, when complete, with its reassembled
        length, and fragments of datagrams never completed are not counted
        (``stats['defrag']``). False: every fragment counts as captured. An open Reader
        keeps its own setting.
    decapsulate: key flows on the innermost packet of a tunnel plus the tunnel's id (columns
        ``tunnel``, ``tunnel_id``), as ``fastpkt.open()`` decodes it (default). False: flows
        of the outer headers. An open Reader keeps its own setting.
    tunnel_key: 'inner' (default): as decapsulate says. 'outer': one flow per outermost IP
        5-tuple (VXLAN, Geneve, GTP-U: the outer UDP ports; GRE, IP in IP: the outer IP pair
        with protocol 47/4/41, ports 0), as tshark's ``-z conv`` with the tunnel dissector
        disabled. Such a flow's keys and counters (packets, bytes) are the outer headers', the
        ones ``decapsulate=False`` gives, and it reads them that way: a tunnel carries many
        inner connections, so one flow's inner fields (TCP state, SNI) would mix them.
        Not with ``decapsulate=True`` nor an open Reader (open it with decapsulate=False).

    Iterate the result to stream Flow records in expiry order (not kept: bounded memory),
    or call ``to_pandas()`` / ``to_arrow()`` / ``len()`` to read everything and keep all.
    TCP flows closed by FIN (both ways) or RST are emitted 5 s of packet time after the
    close (Zeek's tcp_close_delay; at most idle_timeout) so late ACKs are counted; at end of
    input they keep their 'fin'/'rst' reason.
    """
    options = dict(bidirectional=bool(bidirectional), idle_timeout=idle_timeout, active_timeout=active_timeout,
                   max_flows=max_flows, max_memory=max_memory, progress=progress_callback(progress, "flows"),
                   tls=bool(tls), max_hello_fields=max_hello_fields, on_memory_error=on_memory_error)
    if _outer_key(tunnel_key, "flows"):
        if isinstance(source, Reader) or decapsulate:
            raise ValueError("flows(tunnel_key='outer') reads the outer headers: not with decapsulate=True "
                             "or an open Reader (open it with decapsulate=False)")
        decapsulate = False
    return cast("Flows", _engine(Flows, source, workers, options, filter, on_error, "flows", display_filter,
                                 defragment, decapsulate))


def _outer_key(tunnel_key: str, what: str, outer_ok: bool = True) -> bool:
    """Whether ``tunnel_key`` asks for outer keys; ValueError for other values, or for 'outer'
    where the engine's records mean nothing per outer tunnel (``outer_ok`` False)."""
    if tunnel_key not in ("inner", "outer"):
        raise ValueError("tunnel_key must be 'inner' or 'outer', not %r" % (tunnel_key,))
    if tunnel_key == "outer" and not outer_ok:
        raise ValueError("%s(tunnel_key='outer'): a tunnel's outer 5-tuple carries many TCP connections "
                         "(or is UDP), so they cannot be reassembled per tunnel; decapsulate=False "
                         "reads the outer headers' own TCP" % what)
    return tunnel_key == "outer"


def _engine(engine: Any, source: Any, workers: int | None, options: dict[str, Any], filter: str | None,  # noqa: A002
            on_error: str, what: str, display_filter: str | DisplayFilter | None,
            defragment: bool | str | None = None, decapsulate: bool | None = None) -> Any:
    """One engine over the source, or ``workers`` of them merged (fastpkt.parallel)."""
    from . import parallel

    n = parallel.resolve_workers(workers, source, on_data=options.get("on_data"))
    if display_filter is not None and not isinstance(display_filter, DisplayFilter):
        display_filter = DisplayFilter(display_filter)  # compiled once for every worker
    if n == 1:
        return engine(_readers(source, filter, on_error, what, display_filter, defragment, decapsulate), **options)
    options.pop("on_data", None)
    return parallel.run(engine, lambda: _readers(source, filter, on_error, what, display_filter, defragment,
                                                 decapsulate), n, options)


def _readers(source: Any, filter: str | None, on_error: str, what: str,  # noqa: A002
             display_filter: str | DisplayFilter | None = None,
             defragment: bool | str | None = None, decapsulate: bool | None = None) -> list[Reader]:
    """The Readers an engine runs over: one per source (a list is merged in time order)."""
    from . import _source  # the package's source normaliser

    if isinstance(source, Reader):
        if filter is not None or display_filter is not None or defragment is not None or decapsulate is not None:
            raise ValueError("filter, display_filter, defragment and decapsulate apply to sources fastpkt "
                             "opens; open the Reader with them")
        return [source]
    if defragment is None:
        defragment = True
    decapsulate = decapsulate is None or bool(decapsulate)
    if display_filter is not None and not isinstance(display_filter, DisplayFilter):
        display_filter = DisplayFilter(display_filter)  # compiled once for every source
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("%s() needs at least one source" % what)
        return [s if isinstance(s, Reader) else
                Reader(_source(s), filter=filter, on_error=cast("_OnError", on_error), display_filter=display_filter,
                       defragment=defragment, decapsulate=decapsulate)
                for s in source]
    return [Reader(_source(source), filter=filter, on_error=cast("_OnError", on_error), display_filter=display_filter,
                   defragment=defragment, decapsulate=decapsulate)]


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
