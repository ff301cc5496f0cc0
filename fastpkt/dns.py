"""DNS transactions: ``fastpkt.dns()``, one row per query paired with its response(s).

The pairing runs in C on the flow engine's connections with the GIL released
(``csrc/stream/dns_tracker.c``): a query and its responses meet on their connection (the
flow's 5-tuple, so ``flow_id`` is ``fastpkt.flows``' id for the same flow) and transaction
id, over UDP (DNS on port 53, mDNS 5353, LLMNR 5355) and over TCP port 53 (reassembled,
length-prefixed messages, any number per connection). Columns follow Zeek's dns.log.

Note: ``fastpkt.dns`` is the function (re-exported by the package), as with ``flows``.
"""
from __future__ import annotations

import os
from typing import IO, Any, Callable, Iterable, Union, cast

from ._fastpkt import DisplayFilter, DnsTransaction, DnsTransactions, Reader
from .flows import _engine
from .views import progress_callback

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], Reader]

__all__ = ["dns", "DnsTransaction", "DnsTransactions"]


def dns(
    source: Source | Iterable[str | os.PathLike[str]],
    *,
    display_filter: str | DisplayFilter | None = None,
    bpf: str | None = None,
    timeout: float = 10.0,
    idle_timeout: float = 120.0,
    max_flows: int = 1_000_000,
    max_memory: int | None = None,
    on_memory_error: str = "raise",
    on_error: str = "raise",
    defragment: bool | str | None = None,
    decapsulate: bool | None = None,
    progress: bool | None | Callable[[int, int], Any] = None,
    workers: int | None = None,
) -> DnsTransactions:
    """Every DNS transaction of a capture, in C.

    Iterate for DnsTransaction records as transactions close, or call ``to_pandas()``,
    ``to_arrow()``, ``to_polars()``, ``to_parquet()``, ``to_csv()`` (every export reads the
    capture once, through the table's Arrow stream); ``len()`` once read to the end.

    A row is a query and the responses with its id on its connection, or a response whose
    query was not seen (``ts`` is then the response's time and ``rtt`` None). The row
    closes ``timeout`` seconds of packet time after it opened (as the capture's clock
    passes it), or when its connection leaves the flow table (``idle_timeout`` without a
    packet, end of input, eviction): unanswered queries come out then. Open state is what
    the last ``timeout`` of traffic opened (``stats['dns']['state_peak_bytes']``): a UDP
    connection with nothing open gives its DNS state back at once. Until it closes,
    more responses with its id are counted (``responses``; one that differs from the first
    flags ``dns_responses_differ``) and the same question sent again is a retransmission
    (``queries``). Malformed messages (compression loops, counts that lie, cut messages)
    are rows with ``anomalies``; messages shorter than a DNS header have no id and are only
    counted (``stats['dns']['short_messages']``).

    source: as for ``fastpkt.flows`` (path, file object, bytes, a list merged in time order,
        or an open Reader).
    display_filter: a Wireshark display filter run in C on each packet first (after IP
        reassembly, as for ``fastpkt.flows``: ``"dns"`` keeps a fragmented answer).
    bpf: a BPF filter (tcpdump syntax) applied while reading.
    max_flows, max_memory, on_memory_error: as for ``fastpkt.flows``: open transactions are
        charged to the budget (``stats['memory']['dns']``); a connection evicted to stay
        within it closes its transactions with anomaly 'evicted' (counted in
        ``stats['dns']['evicted']``).
    defragment, decapsulate: as for ``fastpkt.flows`` (fragmented responses are reassembled;
        DNS inside tunnels is paired on the inner connection).
    workers: parallel engines, as for ``fastpkt.flows`` (same rows in the same order, with
        the same flow ids, as one engine).
    """
    options = dict(timeout=timeout, idle_timeout=idle_timeout, max_flows=max_flows, max_memory=max_memory,
                   on_memory_error=on_memory_error, progress=progress_callback(progress, "dns"))
    return cast("DnsTransactions", _engine(DnsTransactions, source, workers, options, bpf, on_error, "dns",
                                           display_filter, defragment, decapsulate))

