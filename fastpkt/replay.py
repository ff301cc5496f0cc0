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


def open_offline(offline: Any, filter: str | None) -> tuple[Iterator[Packet], list[Reader], int | None]:  # noqa: A002
    """(packet iterator, readers to close, link type) for ``sniff(offline=...)``: a Reader as
    it is, paths (several merged in time order), Packets (BPF run over an in-memory copy), or
    anything ``fastpkt.open`` takes."""
    from . import open as fp_open

    if isinstance(offline, Reader):
        if filter:
            raise ValueError("sniff(offline=reader): the Reader is already open; give it the filter")
        return iter(offline), [], offline.linktype
    if isinstance(offline, (list, tuple)) and offline and all(_is_path(x) for x in offline):
        readers = [fp_open(x, filter=filter) for x in offline]
        if len(readers) == 1:
            return iter(readers[0]), readers, readers[0].linktype
        merged = heapq.merge(*readers, key=_time_ns)  # ties: the earlier file first
        return merged, readers, readers[0].linktype
    if isinstance(offline, (list, tuple, PacketList)) or isinstance(offline, Packet):
        packets = [offline] if isinstance(offline, Packet) else list(offline)
        if not all(isinstance(p, Packet) for p in packets):
            raise TypeError("sniff(offline=[...]) takes capture file paths or fastpkt Packets")
        if not filter:
            lt = packets[0].linktype if packets else None
            return iter(packets), [], lt
        # run the BPF filter in C over an in-memory copy of the packets
        reader = Reader(memoryview(capture_bytes(packets)), filter=filter)
        return iter(reader), [reader], reader.linktype
    reader = fp_open(offline, filter=filter)
    return iter(reader), [reader], reader.linktype
