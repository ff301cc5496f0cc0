"""Capture files written from Python objects: ``RotatingWriter`` (a ``fastpkt.Writer`` that
starts a new file by size or packet time: ``sniff(write=..., rotate_bytes=...)``) and
``capture_bytes`` (packets as an in-memory capture, for C code that reads captures: BPF over
Packets, ``SniffResult.to_packetlist()``). The records are written in C either way.
"""
from __future__ import annotations

import io
import os
from time import time_ns as _now_ns  # write() has a parameter named time
from typing import Any, Literal, Sequence, TypeVar, cast

from ._fastpkt import Packet, Writer

__all__ = ["RotatingWriter", "capture_bytes"]
_W = TypeVar("_W", bound="OpenedOnWrite")


class OpenedOnWrite:
    """A ``Writer`` opened by the first write (it takes the first packet's link type):
    ``flush``, ``close`` and the context manager, for the writers built on it."""

    _writer: Writer | None = None

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def capture_bytes(packets: Sequence[Packet], linktype: int = 1) -> bytes:
    """The packets as a capture file in memory, written by the C writer: a little-endian
    nanosecond pcap when they share one link type (``linktype`` when there are none), else a
    pcapng with one interface per link type. Times, captured bytes and wire lengths are kept
    exactly."""
    linktypes = {p.linktype for p in packets}
    out = io.BytesIO()
    if len(linktypes) > 1:
        writer = Writer(out, format="pcapng")
    else:
        lt = next(iter(linktypes)) if linktypes else linktype
        snaplen = max([262144] + [p.caplen for p in packets])
        writer = Writer(out, linktype=lt, snaplen=snaplen, nanosecond=True)
    with writer:
        for p in packets:
            writer.write(p)
    return out.getvalue()


class RotatingWriter(OpenedOnWrite):
    """A capture writer (``fastpkt.Writer``, pcap or pcapng) that starts a new file every
    ``rotate_bytes`` bytes and/or every ``rotate_seconds`` seconds of packet time. A context
    manager.

    Without rotation it writes ``path`` itself. With rotation the files are numbered from 1
    after the name: ``out.pcap`` -> ``out-0001.pcap``, ``out-0002.pcap``, ... (a name without
    an extension gets ``-0001`` at its end). ``paths`` lists the files written so far.

    rotate_bytes: a file is closed before the packet that would take it past this size
        (headers included), so files stay within it unless one packet is larger.
        rotate_seconds: a file holds packets whose time is less than this many seconds after
        its first packet's (packet time, like a capture's clock; a file is closed when the
        next packet comes, not on a timer).
    linktype / snaplen / nanosecond / big_endian / format: as ``fastpkt.Writer`` (format None:
        from the extension); ``linktype=None`` takes the first packet's, and the first file is
        then created at the first write (with a link type given, it is created at once, so an
        empty capture leaves an empty but valid file). A file this process is reading is
        replaced, never truncated (see ``Writer``).
    fcslen: the FCS bytes ending each frame, as ``Writer(fcslen=)``; None (default): the first
        packet's declaration (its capture's ``if_fcslen`` or pcap FCS bits; raw bytes: 0). Every
        file declares it (pcap: in its header, so a packet declaring another length is refused
        with ``ValueError``; pcapng: each packet goes to an interface declaring its own), so
        rotated files keep the FCS readers then find, as ``Writer`` does.
    """

    def __init__(self, path: str | os.PathLike[str], linktype: int | None = 1, snaplen: int = 262144,
                 nanosecond: bool | None = None, big_endian: bool = False, rotate_bytes: int | None = None,
                 rotate_seconds: float | None = None, format: str | None = None,  # noqa: A002
                 fcslen: int | None = None) -> None:
        if rotate_seconds is not None and rotate_seconds <= 0:
            raise ValueError("rotate_seconds must be > 0, not %r" % (rotate_seconds,))
        self.base = os.fspath(path)
        if isinstance(self.base, bytes):
            self.base = os.fsdecode(self.base)
        self.linktype = linktype
        self.snaplen = snaplen
        self.nanosecond = nanosecond
        self.big_endian = bool(big_endian)
        self.format = format
        self.fcslen = fcslen
        self.rotate_bytes = rotate_bytes
        self.rotate_ns = None if rotate_seconds is None else int(rotate_seconds * 1e9)
        self.rotating = rotate_bytes is not None or rotate_seconds is not None
        self.paths: list[str] = []
        self.packets_written = 0       # over all files
        self.file_packets = 0          # in the current file
        self.closed = False
        self._writer: Writer | None = None
        self._file_start_ns = 0
        if rotate_bytes is not None:
            header = self._new_writer(io.BytesIO(), 1).bytes_written
            if rotate_bytes <= header:
                raise ValueError("rotate_bytes must be larger than the %d-byte file header, not %r"
                                 % (header, rotate_bytes))
        if linktype is not None:
            self._open_next()

    def numbered_path(self, n: int) -> str:
        """The name of the n-th file (from 1) when rotating."""
        root, ext = os.path.splitext(self.base)
        return "%s-%04d%s" % (root, n, ext)

    @property
    def path(self) -> str | None:
        """The file being written (None before the first)."""
        return self.paths[-1] if self.paths else None

    @property
    def file_bytes(self) -> int:
        """Size of the current file (0 before the first)."""
        return self._writer.bytes_written if self._writer is not None else 0

    def _new_writer(self, target: Any, linktype: int) -> Writer:
        fmt = cast("Literal['pcap', 'pcapng'] | None", self.format)
        if fmt is None:
            fmt = "pcapng" if self.base.lower().endswith((".pcapng", ".ntar")) else "pcap"
        return Writer(target, linktype=linktype, snaplen=self.snaplen, nanosecond=self.nanosecond,
                      big_endian=self.big_endian, format=fmt, fcslen=self.fcslen)

    def _open_next(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        path = self.numbered_path(len(self.paths) + 1) if self.rotating else self.base
        self._writer = self._new_writer(path, self.linktype)  # type: ignore[arg-type]
        self.paths.append(path)
        self.file_packets = 0

    def write(self, packet: Packet | bytes, time: float | None = None, time_ns: int | None = None,
              wirelen: int | None = None) -> None:
        """Append a Packet (its own time) or raw bytes (``time``/``time_ns``, else now)."""
        if self.closed:
            raise ValueError("write to a closed RotatingWriter")
        if not isinstance(packet, Packet) and time_ns is None and time is None:
            time_ns = _now_ns()
        if self.fcslen is None:
            self.fcslen = packet.fcslen if isinstance(packet, Packet) else 0
            if self._writer is not None:  # made before it was known: again, declaring it (no packets yet)
                self._writer.close()
                self._writer = self._new_writer(self.paths[-1], self.linktype)  # type: ignore[arg-type]
        if self._writer is None:
            if self.linktype is None:
                self.linktype = packet.linktype if isinstance(packet, Packet) else 1
            self._open_next()
        writer = self._writer
        assert writer is not None
        if time_ns is None:
            time_ns = packet.time_ns if time is None else int(time * 1e9)  # type: ignore[union-attr]
        if self.file_packets:
            size = writer.record_size(packet, time, time_ns, wirelen) if self.rotate_bytes is not None else 0
            if (self.rotate_bytes is not None and writer.bytes_written + size > self.rotate_bytes) or \
                    (self.rotate_ns is not None and time_ns - self._file_start_ns >= self.rotate_ns):
                self._open_next()
                writer = self._writer
                assert writer is not None
        if self.file_packets == 0:
            self._file_start_ns = time_ns
        if time is not None:
            writer.write(packet, time=time, wirelen=wirelen)
        else:
            writer.write(packet, time_ns=time_ns, wirelen=wirelen)
        self.file_packets += 1
        self.packets_written += 1

    def close(self) -> None:
        """Close the current file (idempotent)."""
        super().close()
        self._writer = None
        self.closed = True

    def __repr__(self) -> str:
        return "<fastpkt.RotatingWriter %s: %d packets in %d files>" % (
            self.base, self.packets_written, len(self.paths))
