"""Offline replay: the packet sources of ``sniff(offline=...)``."""
from __future__ import annotations

import heapq
import os
from typing import Any, Iterator

from ._fastpkt import Packet, PacketList, Reader
from .writers import capture_bytes

__all__ = ["open_offline"]


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, bytes, os.PathLike))


def _time_ns(p: Packet) -> int:
    return p.time_ns


def open_offline(offline: Any, filter: str | None,  # noqa: A002
                 display_filter: Any = None) -> tuple[Iterator[Packet], list[Reader], int | None]:
    """(packet iterator, readers to close, link type) for ``sniff(offline=...)``: a Reader as
    it is, paths (several merged in time order), Packets (filters run over an in-memory
    copy), or anything ``fastpkt.open`` takes."""
    from . import open as fp_open

    if isinstance(offline, Reader):
        if filter or display_filter is not None:
            raise ValueError("sniff(offline=reader): the Reader is already open; give it the filters")
        return iter(offline), [], offline.linktype
    if isinstance(offline, (list, tuple)) and offline and all(_is_path(x) for x in offline):
        readers = [fp_open(x, filter=filter, display_filter=display_filter) for x in offline]
        if len(readers) == 1:
            return iter(readers[0]), readers, readers[0].linktype
        merged = heapq.merge(*readers, key=_time_ns)  # ties: the earlier file first
        return merged, readers, readers[0].linktype
    if isinstance(offline, (list, tuple, PacketList)) or isinstance(offline, Packet):
        packets = [offline] if isinstance(offline, Packet) else list(offline)
        if not all(isinstance(p, Packet) for p in packets):
            raise TypeError("sniff(offline=[...]) takes capture file paths or fastpkt Packets")
        if not filter and display_filter is None:
            lt = packets[0].linktype if packets else None
            return iter(packets), [], lt
        # run the filters in C over an in-memory copy of the packets
        reader = Reader(memoryview(capture_bytes(packets)), filter=filter, display_filter=display_filter)
        return iter(reader), [reader], reader.linktype
    reader = fp_open(offline, filter=filter, display_filter=display_filter)
    return iter(reader), [reader], reader.linktype
