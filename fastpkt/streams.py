"""TCP stream reassembly: ``fastpkt.streams()``, ``save_streams()`` and Stream helpers.

The reassembly runs in C (``fastpkt._fastpkt.Streams``) on the flow engine's connections,
with the GIL released: bytes come out in sequence order exactly once, retransmissions and
overlaps resolved by "first data wins" (a differing copy is flagged
``stream_overlap_inconsistent``), and holes in the capture reported as gaps, never filled.

Note: ``fastpkt.streams`` is the function (re-exported by the package).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Union, cast

from ._fastpkt import DisplayFilter, Reader, Stream, StreamChunk, Streams
from .flows import _engine, _outer_key
from .views import progress_callback

if TYPE_CHECKING:
    from .http import HttpMessages

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Reader]


def streams(
    source: Source | Iterable[str | os.PathLike[str]],
    *,
    filter: str | None = None,  # noqa: A002
    on_error: str = "raise",
    idle_timeout: float = 120.0,
    depth: int | None = None,
    max_buffered: int = 4 << 20,
    max_buffered_total: int = 256 << 20,
    max_flows: int = 1_000_000,
    max_memory: int | None = None,
    on_memory_error: str = "raise",
    store: bool = True,
    on_data: Callable[[StreamChunk], Any] | None = None,
    progress: bool | None | Callable[[int, int], Any] = None,
    display_filter: str | DisplayFilter | None = None,
    workers: int | None = None,
    defragment: bool | str | None = None,
    decapsulate: bool | None = None,
    tunnel_key: str = "inner",
) -> Streams:
    """Reassemble every TCP connection of a capture, in C.

    source: anything ``fastpkt.open`` accepts, a list of paths (merged in time order) or
        an open Reader.
    idle_timeout: seconds of packet time without a packet before a connection is handed
        out as 'timeout'. Connections closed by FIN or RST leave 1 s (packet time) later.
    depth: bytes kept per direction (like Suricata's reassembly depth); the rest is
        counted and the stream's state is 'truncated'. None: everything.
    max_buffered / max_buffered_total: out-of-order bytes waiting behind a hole, per
        direction and over all connections. At the cap the hole is skipped and reported
        as a gap (counted in ``stats['reassembly']['forced_gaps']``).
    max_flows, max_memory, on_memory_error: as for ``fastpkt.flows``; stored stream bytes,
        out-of-order segments and queued on_data chunks count in max_memory, so a stream
        holding more than it is evicted in pieces: use ``store=False`` with ``on_data``.
    store: keep each direction's bytes on the Stream (client_data, server_data). With
        ``store=False`` and ``on_data``, memory stays bounded whatever the stream sizes.
    on_data: callable(StreamChunk) given in-order data as it becomes contiguous:
        ``chunk.stream_id, chunk.direction ('client'|'server'), chunk.offset, chunk.data,
        chunk.gap`` (bytes missing just before this chunk). Called between batches of
        records; every chunk of a stream comes before the Stream itself is yielded.
    progress: as for ``fastpkt.flows`` (a bar past 64 MiB when someone watches; False: none).
    display_filter: a Wireshark display filter run in C on each packet before TCP
        reassembly (only the segments it passes are reassembled), after IP reassembly (a
        fragmented segment is tested whole, as tshark -Y does).

    workers: parallel engines, as for ``fastpkt.flows`` (same Streams in the same order; not
        with on_data). max_buffered_total, max_memory and max_flows are divided between them.
        Streams are handed out while the workers run; those waiting for a slow consumer count
        in max_memory, and a full share makes one engine go on past the Streams already
        handed out (``stats['fallback']``).
    defragment: as for ``fastpkt.flows``: IP fragments are reassembled before TCP
        reassembly (default), so a fragmented segment is one segment.
    decapsulate: as for ``fastpkt.flows``: reassemble the TCP connections inside tunnels.
    tunnel_key: 'inner' only; 'outer' raises ValueError (one outer tunnel carries many
        connections: no byte stream to reassemble per tunnel).

    Iterate the result for Stream objects as connections end (or call ``.run()`` when
    only on_data matters). ``.stats`` has the counters, ``stats['reassembly']`` the
    reassembler's (gaps, retransmitted and inconsistent bytes, buffer peaks, cuts).
    """
    from . import parallel

    _outer_key(tunnel_key, "streams", outer_ok=False)
    n = parallel.resolve_workers(workers, source, on_data=on_data)
    options = dict(idle_timeout=idle_timeout, max_flows=max_flows, max_memory=max_memory,
                   on_memory_error=on_memory_error, depth=depth, max_buffered=max_buffered,
                   max_buffered_total=max(0, max_buffered_total // n), store=bool(store), on_data=on_data,
                   progress=progress_callback(progress, "streams"))
    return cast("Streams", _engine(Streams, source, n, options, filter, on_error, "streams", display_filter,
                                   defragment, decapsulate))


def _safe(ip: str) -> str:
    return ip.replace(":", "-")


def stream_filenames(s: Stream) -> tuple[str, str]:
    """The course's names: ``stream_{id}_{src}_{sport}_to_{dst}_{dport}.bin`` per direction."""
    c, cp, sv, sp = _safe(s.client_ip), s.client_port, _safe(s.server_ip), s.server_port
    return (f"stream_{s.stream_id}_{c}_{cp}_to_{sv}_{sp}.bin",
            f"stream_{s.stream_id}_{sv}_{sp}_to_{c}_{cp}.bin")


def stream_save(s: Stream, directory: str | os.PathLike[str]) -> list[Path]:
    """Write each direction that has data to its own file in ``directory``."""
    if not s.stored:
        raise ValueError("this Stream was reassembled with store=False: its bytes went to on_data")
    out = Path(directory)
    paths = []
    for name, data in zip(stream_filenames(s), (s.client_data, s.server_data)):
        if data:
            p = out / name
            try:
                f = open(p, "wb")
            except FileNotFoundError:  # the directory is made once, not checked per stream
                out.mkdir(parents=True, exist_ok=True)
                f = open(p, "wb")
            with f:
                f.write(data)
            paths.append(p)
    return paths


def save_streams(source: Source | Iterable[Stream], directory: str | os.PathLike[str],
                 **options: Any) -> list[Path]:
    """Reassemble ``source`` (or take already reassembled Streams) and save every
    direction with data under ``directory``; returns the paths written."""
    items: Iterable[Stream]
    if isinstance(source, Streams):
        items = source
    elif isinstance(source, (list, tuple)) and source and all(isinstance(x, Stream) for x in source):
        items = source
    else:
        items = streams(cast(Any, source), **options)  # not Streams: something streams() reads
    Path(directory).mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for s in items:
        paths.extend(stream_save(s, directory))
    return paths


def stream_http_messages(s: Stream, decode: bool = False) -> HttpMessages:
    """HTTP/1.x requests and responses of one stream (see fastpkt.http)."""
    from .http import messages

    if not s.stored:
        raise ValueError("this Stream was reassembled with store=False: no bytes to parse")
    return messages(s.client_data, s.server_data, s.client_gaps, s.server_gaps,
                         s.client_closed, s.server_closed, decode)
