"""TLS ClientHellos over TCP and QUIC: ``fastpkt.client_hellos()`` and its DataFrame.

The search runs in C on the flow engine's connections with the GIL released: TCP bytes are
reassembled (so hellos split over segments and records, retransmitted or reordered, are
found), QUIC Initials are decrypted with the keys RFC 9001/9369 derive from the client's
connection ID, and detection is by content on any port. Each record carries the hello's
fields, JA3/JA4 fingerprints and, when seen, the server's choice (version, cipher, JA3S).
"""
from __future__ import annotations

import os
from typing import IO, Any, Callable, Iterable, Union, cast

from ._fastpkt import ClientHello, ClientHellos, DisplayFilter, Reader
from .flows import _engine, _outer_key
from .views import progress_callback


Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Reader]

__all__ = ["client_hellos", "hellos_to_pandas", "ClientHello", "ClientHellos"]


def client_hellos(
    source: Source | Iterable[str | os.PathLike[str]],
    *,
    filter: str | None = None,  # noqa: A002
    on_error: str = "raise",
    idle_timeout: float = 120.0,
    max_flows: int = 1_000_000,
    max_hello_fields: int = 16384,
    max_memory: int | None = None,
    on_memory_error: str = "raise",
    progress: bool | None | Callable[[int, int], Any] = None,
    display_filter: str | DisplayFilter | None = None,
    workers: int | None = None,
    defragment: bool | str | None = None,
    decapsulate: bool | None = None,
    tunnel_key: str = "inner",
) -> ClientHellos:
    """Every TLS ClientHello of a capture (TCP on any port, QUIC v1/v2), in C.

    Iterate for ClientHello records: a record is handed out as soon as the server's answer
    (ServerHello) is seen, or when the connection ends without one. ``.to_pandas()`` gives
    one row per hello; ``.stats['tls']`` counts what was searched and found.

    ClientHellos of any size (up to the protocol's 2**24-1 bytes, over any number of TLS
    records, TCP segments or QUIC CRYPTO frames) are parsed as they stream: only their
    fields are kept, at most ``max_hello_fields`` bytes per hello (default 16 KiB; cipher
    suites get half of it). What does not fit is skipped and the record says so
    (``tls_hello_over_cap``, counted in ``stats['tls']['hello_over_cap']``); a header
    claiming more than a ClientHello can hold is flagged ``tls_hello_implausible_length``;
    a hello cut by a gap or the connection's end is reported as far as it went
    (``tls_hello_truncated``, ``hello_partial``).
    max_flows, max_memory, on_memory_error: as for ``fastpkt.flows`` (a hello evicted
    before its ServerHello is reported with anomaly 'evicted').
    display_filter: a Wireshark display filter run in C on each packet first (after IP
        reassembly, as for ``fastpkt.flows``).
    workers: parallel engines, as for ``fastpkt.flows`` (same records in the same order).
    defragment: as for ``fastpkt.flows``: IP fragments are reassembled first (default).
    decapsulate: as for ``fastpkt.flows``: search the connections inside tunnels.
    tunnel_key: 'inner' only; 'outer' raises ValueError (hellos belong to inner connections).
    """
    _outer_key(tunnel_key, "client_hellos", outer_ok=False)
    options = dict(idle_timeout=idle_timeout, max_flows=max_flows, progress=progress_callback(progress, "hellos"),
                   max_hello_fields=max_hello_fields, max_memory=max_memory, on_memory_error=on_memory_error)
    return cast("ClientHellos", _engine(ClientHellos, source, workers, options, filter, on_error, "client_hellos",
                                        display_filter, defragment, decapsulate))


def hellos_to_pandas(hellos: Iterable[ClientHello]) -> Any:
    """One row per ClientHello: times as datetime64[ns, UTC], ports as uint16, repeated strings
    as categoricals, lists (ciphers, extensions, alpn, ...) as tuples."""
    from . import frames, tables

    if isinstance(hellos, ClientHellos):
        return tables.to_pandas(hellos)
    return frames.to_pandas(tables._record_specs(tables.HELLO_COLUMNS, [tuple(h) for h in hellos]))
